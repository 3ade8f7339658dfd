"""Students' programs that attack the lab's supervisor, on the real engine (issue 13).

The lab trusts the JSON events of images/apps/programs/student_run.py. Before this was fixed the
program ran as the supervisor's own user: it could write a clean `exited rc=0` into the
supervisor's stdout (/proc/<ppid>/fd/1), or kill the supervisor and run on past the wall clock.
The attackers are in tests/abusers/; each prints what it tried and what the kernel answered.
"""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from lab.report.document import result_document

from lab import catalog

from lab.grading import submission
from lab.common import APPS_IMAGE
from lab.engines.base import HostSpec, LabRun
from lab.scenario.plan import build_plan
from lab.run.runner import STUDENT_LIMITS
from lab.scenario_run import run_scenario
from lab.run.supervision import STUDENT_LOG_BYTES

ABUSERS = Path(__file__).resolve().parents[2] / "tests/abusers"

pytestmark = pytest.mark.integration


def run(engine, name: str, keep: bool = False, **paths: Path):
    students = {role: submission.read_program(path) for role, path in paths.items()}
    plan = build_plan(catalog.load(name), {}, students=students)
    outcome = run_scenario(engine, plan, progress=lambda message: None, keep=keep)
    return outcome, result_document(outcome)


def verdicts(document) -> dict[str, dict]:
    return {c["name"]: c for c in document["checks"]}


def test_a_forged_clean_exit_does_not_hide_the_crash(engine, built_images, no_leftovers):
    outcome, document = run(engine, "udp-echo", client=ABUSERS / "forge_exit_client.py")
    crash = verdicts(document)["your client runs without an error"]
    assert not crash["passed"] and "RuntimeError: crashed after forging" in crash["hint"]
    for position, printed in enumerate(document["student_output"]["client"], start=1):
        assert printed["stdout"].count("refused: /proc/") == 2, printed["stdout"]   # its supervisor's and PID 1's
        assert printed["ended"]["rc"] == 1 and printed["ended"]["reason"] == "exited"
    runs = [c for c in outcome.record.clients if " run " in c.instance]
    assert [r.rc for r in runs] == [1, 1]                       # the engine's exit code of each run
    assert all(len(r.all("exited")) == 1 for r in runs)


def test_a_forged_listening_event_does_not_make_a_crashed_server_listen(engine, built_images, no_leftovers):
    outcome, document = run(engine, "udp-echo", server=ABUSERS / "forge_listening_server.py")
    started = verdicts(document)["your server listens on port 12000"]
    assert not started["passed"] and "exit status 1" in started["detail"]
    assert "RuntimeError: crashed after forging" in started["hint"]
    events = outcome.record.service_events["server"]
    assert [e["event"] for e in events if e["event"] != "output"] == ["started", "exited"]


def test_a_program_cannot_kill_its_supervisor_and_the_wall_clock_still_stops_it(engine, built_images, session):
    limit = catalog.load("udp-echo").students["client"].limit_s   # the wall clock of a client run (30 s)
    started = time.monotonic()
    outcome, document = run(engine, "udp-echo", keep=True, client=ABUSERS / "kill_supervisor_client.py")
    try:
        ends = verdicts(document)["your client ends by itself"]
        assert not ends["passed"] and "wall-clock" in ends["detail"]
        for printed in document["student_output"]["client"]:
            assert "refused: kill" in printed["stdout"] and "killed" not in printed["stdout"]
            assert printed["stopped"]["what"] == "wall-clock" and printed["ended"]["signal"] == "SIGKILL"
            assert limit <= printed["ended"]["seconds"] < limit + 2
        assert [c.rc for c in outcome.record.clients if " run " in c.instance] == [137, 137]
        assert time.monotonic() - started < 2 * limit + 30   # two runs, each ended by the wall clock
        # Nothing of the student's is left running in its host after the runs; the supervisor held
        # no capability while the program ran, the program none at all.
        client = engine.client.containers.get(f"socklab-{outcome.record.run_id}-client")
        users = client.exec_run(["sh", "-c", "ps -eo user= | sort -u"]).output.decode().split()
        assert "student" not in users, users
        host_config = client.attrs["HostConfig"]
        assert host_config["CapDrop"] == ["ALL"]
        assert sorted(c.removeprefix("CAP_") for c in host_config["CapAdd"]) == ["SETGID", "SETUID"]
        assert "no-new-privileges" in host_config["SecurityOpt"]
    finally:
        engine.remove_labelled(outcome.record.run_id)
    assert engine.count_labelled(outcome.record.run_id) == (0, 0)


def test_a_program_that_signals_its_supervisor_then_floods_is_still_cut(engine, built_images, no_leftovers):
    outcome, document = run(engine, "udp-echo", server=ABUSERS / "kill_supervisor_flood_server.py")
    events = outcome.record.service_events["server"]
    stdout = "".join(e["text"] for e in events if e.get("event") == "output" and e.get("stream") == "stdout")
    assert stdout.count("refused: SIG") == 4 and "signalled" not in stdout
    assert [e for e in events if e["event"] == "exited"][0]["reason"] == "output"
    assert len(stdout.encode()) <= 64 * 1024
    assert not outcome.passed


def test_the_engine_caps_a_students_host_log_whatever_writes_into_it(engine, built_images, session):
    """What no supervisor stands between: 8 MiB printed straight into the container's log."""
    written = 8 * 1024 * 1024
    flood = f"import sys\nfor _ in range({written // 1024}): sys.stdout.write('x' * 1023 + '\\n')\n"
    with LabRun(engine, "cap" + str(int(time.time()) % 10**6), "log-cap") as lab:
        lab.start(HostSpec("flood", APPS_IMAGE, ("python3", "-c", flood), "service", limits=STUDENT_LIMITS))
        container = lab._container("flood")   # the Docker engine's own view of it
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            container.reload()
            if container.status == "exited":
                break
            time.sleep(0.2)
        assert container.attrs["State"]["ExitCode"] == 0
        log_config = container.attrs["HostConfig"]["LogConfig"]
        assert log_config["Type"] == "json-file"
        assert log_config["Config"] == {"max-size": str(STUDENT_LOG_BYTES // 2), "max-file": "2"}
        kept = len(lab.logs("flood").encode())
        print(f"written {written} bytes, the engine kept {kept}")
        assert 0 < kept <= STUDENT_LOG_BYTES < written
