"""Students' programs in the lab's roles, on the real engine: verdicts, hints and containment.

The sample submissions are in tests/submissions/ (the textbook's programs straight from the unit,
and the classic mistakes) and tests/abusers/ (programs that try to harm the machine).
"""
from __future__ import annotations

import glob
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import jsonschema
import pytest

from lab.report.document import result_document
from lab.report.markdown import markdown

from lab import catalog

from lab.grading import submission
from lab.scenario.plan import build_plan
from lab.scenario_run import run_scenario

ROOT = Path(__file__).resolve().parents[2]
SUBMISSIONS = ROOT / "tests/submissions"
ABUSERS = ROOT / "tests/abusers"
SCHEMA = json.loads((ROOT / "tests/contracts/result.schema.json").read_text())

pytestmark = pytest.mark.integration


def run(engine, name: str, overrides: dict | None = None, keep: bool = False, **paths: Path):
    students = {role: submission.read_program(path) for role, path in paths.items()}
    plan = build_plan(catalog.load(name), overrides or {}, students=students,
                      seed=(overrides or {}).pop("seed", None))
    outcome = run_scenario(engine, plan, progress=lambda message: None, keep=keep)
    document = result_document(outcome)
    jsonschema.validate(document, SCHEMA)
    return outcome, document


def verdicts(document) -> dict[str, dict]:
    return {c["name"]: c for c in document["checks"]}


@pytest.mark.parametrize("name, roles", [
    ("tcp-echo", {"server": "TCPServer.py", "client": "TCPClient.py"}),
    ("udp-echo", {"server": "UDPServer.py", "client": "UDPClient.py"}),
    ("tcp-sequential", {"server": "TCPServer.py"}),
    ("udp-multi-client", {"server": "UDPServer.py"}),
])
def test_the_textbook_programs_pass_unchanged(engine, built_images, no_leftovers, name, roles):
    outcome, document = run(engine, name, **{role: SUBMISSIONS / "textbook" / f for role, f in roles.items()})
    assert outcome.passed, [c for c in document["checks"] if not c["passed"]]
    for role, file in roles.items():
        assert document["programs"][role]["program"] == "student"
        assert document["programs"][role]["file"] == file
    assert all(not c.get("hint") for c in document["checks"])


def test_one_student_role_beside_the_labs_other_program_is_named_in_the_result(engine, built_images, no_leftovers):
    outcome, document = run(engine, "udp-echo", server=SUBMISSIONS / "textbook/UDPServer.py")
    assert outcome.passed
    assert document["programs"]["client"] == {"host": "client", "program": "lab", "name": "udp-client"}
    assert [c["name"] for c in document["not_applicable"]] == [
        "UDP: the server never accepted anything, because there is nothing to accept"]


def test_a_server_that_closes_its_listening_socket_fails_with_the_hint(engine, built_images, no_leftovers):
    outcome, document = run(engine, "tcp-sequential", server=SUBMISSIONS / "closes-listener/TCPServer.py")
    assert not outcome.passed
    replies = verdicts(document)["replies are the sentence in upper case"]
    assert not replies["passed"]
    assert replies["hint"].startswith(   # the program ended after the 1st client: that is what the lab saw
        "the 2nd client was refused: your server ended (exit status 0) after serving 1 client")
    assert not verdicts(document)["testinfra: the listening socket stays open between clients"]["passed"]


def test_a_lowercase_echo_fails_with_reply_not_upper_case(engine, built_images, no_leftovers):
    outcome, document = run(engine, "udp-echo", server=SUBMISSIONS / "lowercase/udpserver.py")
    replies = verdicts(document)["replies are the sentence in upper case"]
    assert not outcome.passed and not replies["passed"]
    assert replies["hint"].startswith("reply not upper case")


def test_a_client_without_timeout_under_loss_waits_forever_and_is_told_so(engine, built_images, no_leftovers):
    """Seed 3 drops run 2's datagram (userspace backend); the textbook client then blocks in recvfrom()
    on a blocking socket, which the kernel shows, and is stopped after the accepted 10 s, not the
    30 s wall clock."""
    started = time.monotonic()
    outcome, document = run(engine, "udp-loss", {"seed": "3"}, client=SUBMISSIONS / "no-timeout/udp_client.py")
    blocked = verdicts(document)["client never blocks past its timeout"]
    assert not outcome.passed and not blocked["passed"]
    assert blocked["hint"].startswith("your client would wait forever in recvfrom()")
    assert "a lost datagram needs a timeout" in blocked["hint"]
    assert "recvfrom() on a blocking socket (no settimeout)" in blocked["detail"], "what the kernel showed"
    assert "Input lowercase sentence:" in blocked["detail"], "what it printed before being stopped is kept"
    stopped = [r["stopped"] for r in document["student_output"]["client"] if r.get("stopped")]
    assert stopped and all(s["what"] == "waits-forever" and 10 <= s["waited_s"] < 12 for s in stopped)
    assert document["seed"] == 3 and document["seed_source"] == "--seed"
    assert time.monotonic() - started < 6 * (10 + 3) + 30


def test_a_client_with_a_five_second_timeout_passes_whenever_its_datagram_is_lost(engine, built_images,
                                                                                   no_leftovers):
    """Issue 13: settimeout(5) used to race the lab's 5 s wall clock and fail on every loss."""
    outcome, document = run(engine, "udp-loss", client=SUBMISSIONS / "settimeout-5s/UDPClient.py")
    assert outcome.passed, [c for c in document["checks"] if not c["passed"]]
    ends = verdicts(document)["client never blocks past its timeout"]
    assert "lost on the way: the datagram of run" in ends["detail"], "the run met at least one loss"
    assert document["seed_source"] == "default"
    waited = [r["ended"]["seconds"] for r in document["student_output"]["client"]]
    assert any(4.9 < s < 10 for s in waited), "a lost datagram's run ended when its own timeout fired"


def test_the_same_client_with_a_timeout_passes_under_loss(engine, built_images, no_leftovers):
    outcome, document = run(engine, "udp-loss", {"seed": "3"}, client=SUBMISSIONS / "with-timeout/UDPClient.py")
    assert outcome.passed, [c for c in document["checks"] if not c["passed"]]
    assert "lost on the way" in verdicts(document)["replies are the sentence in upper case"]["detail"]


def test_a_syntax_error_is_a_failed_check_quoting_python(engine, built_images, no_leftovers):
    outcome, document = run(engine, "tcp-echo", server=SUBMISSIONS / "syntax-error/TCPServer.py")
    start = verdicts(document)["your server listens on port 12000"]
    assert not outcome.passed and not start["passed"]
    assert "SyntaxError: '(' was never closed" in start["detail"]
    assert "TCPServer.py, line 3" in start["hint"]
    assert "SyntaxError" in document["student_output"]["server"][0]["stderr"]
    assert {c["name"] for c in document["not_applicable"]}, "the checks that could not run say so"


# ----- containment -------------------------------------------------------------------------
def test_a_student_program_runs_unprivileged_with_limits_on_internal_networks(engine, built_images, session):
    from lab.common import LABEL_RUN

    outcome, _ = run(engine, "udp-echo", keep=True, server=SUBMISSIONS / "textbook/UDPServer.py",
                     client=SUBMISSIONS / "textbook/UDPClient.py")
    run_id = outcome.record.run_id
    try:
        containers = engine.client.containers.list(all=True, filters={"label": f"{LABEL_RUN}={run_id}"})
        assert {c.labels["io.socklab.role"] for c in containers} == {"service", "client"}
        for container in containers:
            host_config = container.attrs["HostConfig"]
            # Only what the supervisor needs to start the program as another user than itself.
            assert host_config["CapDrop"] == ["ALL"] and sorted(host_config["CapAdd"]) == ["SETGID", "SETUID"]
            assert host_config["NanoCpus"] == 500_000_000
            assert host_config["Memory"] == 128 * 2**20 and host_config["MemorySwap"] == 128 * 2**20
            assert host_config["PidsLimit"] == 64
            assert "no-new-privileges" in host_config["SecurityOpt"]
            for network in container.attrs["NetworkSettings"]["Networks"]:
                assert engine.client.networks.get(network).attrs["Internal"] is True
            # Every process of the host: real/effective/saved uid and effective capabilities.
            listing = container.exec_run(["sh", "-c", "for s in /proc/[0-9]*/status; do "
                                          "grep -E '^(Uid|CapEff):' $s | tr -s '\\t\\n' '  '; echo; done"])
            processes = [line.split() for line in listing.output.decode().splitlines() if line.strip()]
            seen = {(tuple(p[1:4]), p[-1]) for p in processes}
            student, supervisor = ("1000",) * 3, ("1001", "1000", "1001")
            for uids, caps in seen:
                if uids[0] == "0":   # the engine's init, the idle sleep, this listing: root, two capabilities
                    assert int(caps, 16) & ~0xC0 == 0, (uids, caps)
                else:                # the program as student; its supervisor unable to do more than it
                    assert uids in (student, supervisor) and int(caps, 16) == 0, (uids, caps)
            if container.labels["io.socklab.role"] == "service":
                assert (student, "0000000000000000") in seen, seen   # the student's server, still running
        server = next(c for c in containers if c.labels["io.socklab.role"] == "service")
        aliases = server.attrs["NetworkSettings"]["Networks"][f"socklab-{run_id}-lan"]["Aliases"]
        assert "server" in aliases and "hostname" in aliases
        address = server.attrs["NetworkSettings"]["Networks"][f"socklab-{run_id}-lan"]["IPAddress"]
        client = next(c for c in containers if c.labels["io.socklab.role"] == "client")
        assert sorted(client.attrs["HostConfig"]["ExtraHosts"]) == sorted([f"hostname:{address}",
                                                                           f"server:{address}"])
    finally:
        engine.remove_labelled(run_id)


def test_an_endless_loop_fails_its_check_within_the_limit(engine, built_images, no_leftovers):
    started = time.monotonic()
    outcome, document = run(engine, "tcp-echo", client=ABUSERS / "busy_client.py")
    ends = verdicts(document)["your client ends by itself"]
    assert not ends["passed"] and "endless loop" in ends["hint"]
    assert time.monotonic() - started < 2 * (30 + 3) + 20   # the CPU limit or the 30 s wall clock


def test_a_program_that_never_exits_is_stopped_and_what_it_printed_is_kept(engine, built_images, no_leftovers):
    outcome, document = run(engine, "udp-echo", client=ABUSERS / "never_exits_client.py")
    ends = verdicts(document)["your client ends by itself"]
    assert not ends["passed"] and "about to wait" in ends["detail"]
    first = document["student_output"]["client"][0]
    assert first["stdout"] == "about to wait\n" and first["stopped"]["what"] == "wall-clock"
    assert first["input"] == "hello from client run 1" and first["ended"]["signal"] == "SIGKILL"
    assert "about to wait" in markdown(document)
    assert "time.sleep" not in ends["hint"] and ends["hint"]


def test_a_fork_bomb_fails_its_own_check_and_meets_the_pids_limit(engine, built_images, session):
    started = time.monotonic()
    outcome, document = run(engine, "udp-echo", keep=True, server=ABUSERS / "fork_bomb_server.py")
    try:
        assert not outcome.passed
        assert not verdicts(document)["your server listens on port 12000"]["passed"]
        assert time.monotonic() - started < 60
        server = engine.client.containers.get(f"socklab-{outcome.record.run_id}-server")
        assert server.attrs["HostConfig"]["PidsLimit"] == 64
        # The kernel's own account of the bomb, from the container's pids cgroup (v1 or v2 layout):
        # it never had more than 64 processes, and forks beyond them were refused.
        cgroups = [d for pattern in (f"/sys/fs/cgroup/pids/docker/{server.id}",
                                     f"/sys/fs/cgroup/pids/system.slice/docker-{server.id}.scope",
                                     f"/sys/fs/cgroup/system.slice/docker-{server.id}.scope")
                   for d in glob.glob(pattern)]
        if cgroups:
            folder = Path(cgroups[0])
            events = (folder / "pids.events").read_text().split()
            assert int(events[events.index("max") + 1]) > 0, "the kernel refused forks at the pids limit"
            peak = folder / "pids.peak"
            if peak.exists():
                assert int(peak.read_text()) <= 64
    finally:
        engine.remove_labelled(outcome.record.run_id)
    assert engine.count_labelled(outcome.record.run_id) == (0, 0)


def test_an_output_flood_is_cut_and_stops_the_program(engine, built_images, no_leftovers):
    outcome, document = run(engine, "udp-echo", server=ABUSERS / "flood_server.py")
    replies = verdicts(document).get("replies are the sentence in upper case") or \
        verdicts(document)["your server listens on port 12000"]
    assert not outcome.passed and not replies["passed"]
    assert "printed more than" in replies["hint"] + replies["detail"]
    printed = sum(len(e.get("text", "")) for e in outcome.record.service_events["server"] if e.get("event") == "output")
    assert printed <= 64 * 1024


def test_a_memory_hog_is_stopped_by_its_limit(engine, built_images, no_leftovers):
    outcome, document = run(engine, "udp-echo", server=ABUSERS / "memory_hog_server.py")
    failed = [c for c in document["checks"] if not c["passed"]]
    assert failed and any("128 MiB" in (c.get("hint", "") + c["detail"]) for c in failed)


# ----- the command line --------------------------------------------------------------------
def invoke(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "invoke", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)


def test_bad_submissions_exit_2_before_anything_exists(engine, built_images, no_leftovers, tmp_path):
    binary = tmp_path / "UDPServer.py"
    binary.write_bytes(b"\x00\x01\x02")
    latin = tmp_path / "TCPServer.py"
    latin.write_bytes(b"print('\xe9')\n")
    cases = [(["udp-echo", "--server", str(tmp_path / "missing.py")], "no such file"),
             (["udp-echo", "--server", str(tmp_path)], "is a directory"),
             (["udp-echo", "--server", str(binary)], "binary"),
             (["tcp-echo", "--server", str(latin)], "not UTF-8"),
             (["udp-loss", "--server", str(SUBMISSIONS / "textbook/UDPServer.py")],
              "scenario udp-loss has no role for a student's server; scenarios that take one: tcp-echo, "
              "tcp-sequential, udp-echo, udp-multi-client")]
    for args, words in cases:
        result = invoke("scenario", *args)
        assert result.returncode == 2, (args, result.stderr)
        assert words in result.stderr, result.stderr


def test_scenario_with_a_students_program_from_the_command_line(engine, built_images, no_leftovers, tmp_path):
    result = invoke("scenario", "udp-echo", "--client", str(SUBMISSIONS / "textbook/UDPClient.py"),
                    "--report-dir", str(tmp_path))
    assert result.returncode == 0, result.stdout[-3000:]
    document = json.loads((tmp_path / "udp-echo.json").read_text())
    assert document["programs"]["client"]["file"] == "UDPClient.py"


# ----- invoke grade --------------------------------------------------------------------------
def test_grade_a_class_in_parallel_with_an_abuser_and_a_bad_file(engine, built_images, no_leftovers, tmp_path):
    """A fork bomb beside a correct student, two runs at once: the correct one still passes."""
    import base64
    import csv
    import shutil

    class_dir = tmp_path / "class"
    (class_dir / "alice").mkdir(parents=True)
    shutil.copy(SUBMISSIONS / "textbook/UDPServer.py", class_dir / "alice/udpserver.py")
    shutil.copy(SUBMISSIONS / "textbook/TCPServer.py", class_dir / "alice/TCP_Server.py")
    (class_dir / "bomber").mkdir()
    shutil.copy(ABUSERS / "fork_bomb_server.py", class_dir / "bomber/UDPServer.py")
    (class_dir / "lower").mkdir()
    shutil.copy(SUBMISSIONS / "lowercase/udpserver.py", class_dir / "lower/UDPServer.py")
    (class_dir / "binary").mkdir()
    (class_dir / "binary/UDPServer.py").write_bytes(b"\x7fELF\x02\x01\x01\x00")
    out = tmp_path / "grades"
    result = invoke("grade", str(class_dir), "--scenarios", "udp-echo,tcp-sequential", "--jobs", "2",
                    "--report-dir", str(out))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "4/4 students" in result.stdout
    rows = {(r["student"], r["scenario"], r["role"]): r
            for r in csv.DictReader((out / "gradebook.csv").open())}
    assert rows[("alice", "udp-echo", "server")]["outcome"] == "passed"
    assert rows[("alice", "tcp-sequential", "server")]["outcome"] == "passed"
    assert rows[("alice", "udp-echo", "client")]["outcome"] == "not-applicable"
    assert rows[("bomber", "udp-echo", "server")]["outcome"] == "failed"
    assert "your server listens on port 12000" in rows[("bomber", "udp-echo", "server")]["failed_checks"]
    assert rows[("lower", "udp-echo", "server")]["failed_checks"] == "replies are the sentence in upper case"
    assert rows[("binary", "udp-echo", "server")]["outcome"] == "error"
    assert "binary file" in rows[("binary", "udp-echo", "server")]["failed_checks"]
    document = json.loads((out / "alice/udp-echo.server.json").read_text())
    jsonschema.validate(document, SCHEMA)
    assert document["programs"]["server"]["file"] == "udpserver.py"
    legacy = json.loads(base64.b64decode((out / "autograding-result.txt").read_text()))
    assert legacy["version"] == 1 and legacy["status"] == "error"   # the binary file could not run
    alice = json.loads((out / "alice/result.json").read_text())
    assert alice["schema"] == "classroom50/result/v1" and alice["score"] == alice["max-score"] > 0


def test_grade_bad_input_exits_2(tmp_path):
    assert invoke("grade", str(tmp_path / "missing")).returncode == 2
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "UDPServer.py").write_text("pass\n")
    result = invoke("grade", str(tmp_path), "--scenarios", "udp-no-server", "--report-dir", str(tmp_path / "o"))
    assert result.returncode == 2 and "takes no student program" in result.stderr


def test_grade_interrupted_tears_everything_down(engine, built_images, no_leftovers, tmp_path):
    import shutil
    import signal

    for student in ("a", "b", "c"):
        (tmp_path / "class" / student).mkdir(parents=True)
        shutil.copy(SUBMISSIONS / "textbook/UDPServer.py", tmp_path / "class" / student / "UDPServer.py")
    child = subprocess.Popen([sys.executable, "-m", "invoke", "grade", str(tmp_path / "class"), "--jobs", "2",
                              "--report-dir", str(tmp_path / "out")], cwd=ROOT, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while engine.count_labelled(session=os.environ["SOCKLAB_SESSION"])[0] == 0 and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(1.0)   # runs under way
    child.send_signal(signal.SIGINT)
    out, err = child.communicate(timeout=120)
    assert child.returncode == 130, (out[-2000:], err[-2000:])
    assert "interrupted" in out + err
