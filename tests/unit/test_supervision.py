"""What the lab trusts of a student's run, without Docker: the engine's exit status over the
supervisor's word, and the hosts a student's program runs on (lab.run.supervision, lab.run.runner)."""
from __future__ import annotations

import doctest
import json
import subprocess
import sys
from pathlib import Path

from tests.unit.fake_engine import FakeEngine

from lab import catalog

from lab.grading import submission

from lab.run import supervision
from lab.common import CommandResult
from lab.engines.base import APP_USER
from lab.scenario.plan import build_plan
from lab.scenario_run import run_scenario
from lab.checks.student import NO_CRASH_CHECK, ENDS_CHECK

SUPERVISOR = Path(__file__).resolve().parents[2] / "images/apps/programs/student_run.py"


def test_doctests_of_the_supervision_module_and_the_supervisor():
    assert doctest.testmod(supervision).failed == 0
    done = subprocess.run([sys.executable, "-m", "doctest", str(SUPERVISOR)], capture_output=True, text=True,
                          timeout=30)
    assert done.returncode == 0, done.stdout + done.stderr


def _lines(*events: dict) -> str:
    return "".join(json.dumps(e) + "\n" for e in events)


STARTED = {"event": "started", "name": "UDPClient.py", "pid": 8}
CRASH = {"event": "output", "stream": "stderr", "text": "Traceback ...\nRuntimeError: boom\n"}


def test_an_end_the_engine_confirms_is_kept_as_it_is():
    events = [STARTED, {"event": "exited", "rc": None, "signal": "SIGKILL", "reason": "wall-clock"}]
    assert supervision.checked_against_engine(events, 137, "run 1") == events


def test_an_end_the_engine_contradicts_or_a_second_end_is_dropped():
    forged = {"event": "exited", "rc": 0, "signal": None, "reason": "exited"}
    real = {"event": "exited", "rc": 1, "signal": None, "reason": "exited"}
    assert supervision.checked_against_engine([STARTED, forged, CRASH, real], 1, "run") == [STARTED, CRASH]
    assert supervision.checked_against_engine([STARTED, forged], 1, "run") == [STARTED]
    assert supervision.checked_against_engine([STARTED, real, CRASH], 1, "run") == [STARTED, CRASH]
    # a supervisor that vanished (exit 137 from the engine, no end of its own): no end is made up
    assert supervision.checked_against_engine([STARTED], 137, "run") == [STARTED]


def test_signal_numbers_are_linuxs_whatever_the_runners_platform():
    assert supervision.reported_status({"rc": None, "signal": "SIGXCPU"}) == 128 + 24
    assert supervision.reported_status({"rc": None, "signal": "SIGBUS"}) == 128 + 7
    assert supervision.reported_status({"rc": None, "signal": "SIGNOPE"}) is None


def _client_run(stdout: str, rc: int):
    program = submission.program_from_bytes(b"print('hi')\n", "UDPClient.py", "UDPClient.py")
    plan = build_plan(catalog.load("udp-echo"), {}, students={"client": program})

    def answer(host: str, argv: list[str]) -> CommandResult:
        if argv[1].endswith("student_run.py"):
            return CommandResult(rc, stdout, "")
        return CommandResult(0, "", "")

    engine = FakeEngine(answer=answer)
    outcome = run_scenario(engine, plan, progress=lambda message: None)
    return engine, outcome


def test_a_clean_end_the_engine_did_not_see_is_not_a_clean_run():
    forged = _lines(STARTED, {"event": "exited", "rc": 0, "signal": None, "seconds": 0.1, "reason": "exited"},
                    CRASH)
    _, outcome = _client_run(forged, rc=1)
    verdicts = {c.name: c for c in outcome.checks}
    assert not verdicts[ENDS_CHECK].passed and "no end seen" in verdicts[ENDS_CHECK].detail
    assert not verdicts[NO_CRASH_CHECK].passed
    assert all(run.rc == 1 for run in outcome.record.clients if "run" in run.instance)


def test_a_students_hosts_start_the_supervisor_as_root_with_two_capabilities_and_a_log_cap():
    engine, outcome = _client_run(_lines(STARTED, {"event": "exited", "rc": 0, "signal": None, "seconds": 0.1,
                                                   "reason": "exited"}), rc=0)
    assert {c.name: c for c in outcome.checks}[NO_CRASH_CHECK].passed
    specs = engine.labs[0].specs
    student, lab_server = specs["client"], specs["server"]
    assert student.user == "root" and student.capabilities == ("SETUID", "SETGID") and student.read_only
    assert student.limits and student.limits.log_bytes == supervision.STUDENT_LOG_BYTES
    assert lab_server.user == APP_USER and lab_server.capabilities == ()
    assert not (lab_server.limits and lab_server.limits.log_bytes)
