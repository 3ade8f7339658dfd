"""C and Java programs in the lab's roles, on the real engine: built, run, checked and graded like Python.

The reference programs are tests/submissions/textbook-c and textbook-java (the textbook's four
programs in each language); the classic mistakes are tests/submissions/c-* and java-*, one folder
each, graded here as one class: each row's outcome and the reason or hint it gives are asserted.
"""
from __future__ import annotations

import csv
import json
import shutil
import time
from pathlib import Path

import pytest

from lab import catalog
from lab.grading import grade as grading
from lab.grading import submission
from lab.report.document import result_document
from lab.run import build
from lab.scenario.plan import build_plan
from lab.scenario_run import run_scenario

ROOT = Path(__file__).resolve().parents[2]
SUBMISSIONS = ROOT / "tests/submissions"

pytestmark = pytest.mark.integration

# Every scenario role a student's program may fill, and the reference file for it.
ROLES = {("tcp-echo", "server"): "TCPServer", ("tcp-echo", "client"): "TCPClient",
         ("tcp-sequential", "server"): "TCPServer", ("udp-echo", "server"): "UDPServer",
         ("udp-echo", "client"): "UDPClient", ("udp-loss", "client"): "UDPClient",
         ("udp-multi-client", "server"): "UDPServer"}

# The classic mistakes: (student folder, scenario, role) -> (outcome, text the reason or a failed
# check's hint must hold). Rows not listed must be "not-applicable" (a role the folder has no file for).
CORPUS = {
    ("c-build-error", "tcp-echo", "server"): ("error", "build failed: tcp_server.c:6: expected ',' or ';' before 'struct'"
                                                       " — line 6: struct sockaddr_in address = {0};"),
    ("c-build-error", "tcp-sequential", "server"): ("error", "build failed: tcp_server.c:6: expected"),
    ("c-closes-listener", "tcp-echo", "server"): ("failed", "testinfra: server listens on tcp/12000"),
    ("c-closes-listener", "tcp-sequential", "server"): (
        "failed", "the 2nd client was refused: your program crashed: accept: Bad file descriptor"),
    ("c-lowercase", "udp-echo", "server"): ("failed", "reply not upper case: the server sent the sentence back unchanged"),
    ("c-lowercase", "udp-multi-client", "server"): ("failed", "reply not upper case"),
    ("c-no-timeout", "udp-echo", "client"): ("passed", ""),
    ("c-no-timeout", "udp-loss", "client"): ("failed", "a lost datagram needs a timeout"),
    ("c-wrong-port", "udp-echo", "server"): ("failed", "bind(('', 12000))"),
    ("c-wrong-port", "udp-multi-client", "server"): ("failed", "bind(('', 12000))"),
    ("java-build-error", "udp-echo", "server"): ("error", "build failed: udp_server.java:10: ';' expected"
                                                          " — line 10: DatagramPacket receivePacket"),
    ("java-build-error", "udp-multi-client", "server"): ("error", "build failed: udp_server.java:10: ';' expected"),
    ("java-nul-padding", "udp-echo", "server"): ("failed", "followed by NUL bytes (the rest of the buffer): send only the bytes that came"),
    ("java-nul-padding", "udp-multi-client", "server"): ("failed", "followed by NUL bytes (the rest of the buffer)"),
    ("java-closes-listener", "tcp-echo", "server"): ("failed", "at TCPServer.main(TCPServer.java:14)"),
    ("java-closes-listener", "tcp-sequential", "server"): (
        "failed", "the 2nd client was refused"),
    ("java-no-timeout", "udp-echo", "client"): ("passed", ""),
    ("java-no-timeout", "udp-loss", "client"): ("failed", "a lost datagram needs a timeout"),
    ("java-lowercase", "tcp-echo", "server"): ("failed", "reply not upper case: the server sent the sentence back unchanged"),
    ("java-lowercase", "tcp-sequential", "server"): ("failed", "reply not upper case"),
}


def _grade(class_dir: Path, out: Path, jobs: int = 2) -> dict[tuple[str, str, str], tuple[str, str]]:
    """Grade a class folder; (student, scenario, role) -> (outcome, reason or every hint of the run)."""
    assert grading.grade(str(class_dir), jobs=jobs, report_dir=str(out)) == 0
    rows = {}
    with open(out / "gradebook.csv", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            said = row["failed_checks"]
            document = out / row["student"] / f"{row['scenario']}.{row['role']}.json"
            if document.exists():
                said += " | " + " | ".join(c.get("hint") or "" for c in json.loads(document.read_text())["checks"])
            rows[(row["student"], row["scenario"], row["role"])] = (row["outcome"], said)
    return rows


@pytest.mark.parametrize("language", ["c", "java"])
def test_the_reference_programs_pass_every_scenario_they_can_fill(engine, built_images, no_leftovers, tmp_path,
                                                                  language):
    rows = _grade(SUBMISSIONS / f"textbook-{language}", tmp_path / "grades")
    assert {(s, r): o for (_, s, r), (o, _) in rows.items()} == {key: "passed" for key in ROLES}, rows


@pytest.mark.parametrize("language", ["c", "java"])
def test_the_classic_mistakes_get_their_verdict_and_reason(engine, built_images, no_leftovers, tmp_path, language):
    class_dir = tmp_path / "class"
    for folder in sorted(SUBMISSIONS.glob(f"{language}-*")):
        shutil.copytree(folder, class_dir / folder.name)
    rows = _grade(class_dir, tmp_path / "grades")
    expected = {key: value for key, value in CORPUS.items() if key[0].startswith(f"{language}-")}
    assert len({key[0] for key in expected}) >= 4
    for key, (outcome, said) in rows.items():
        if key not in expected:
            assert outcome == "not-applicable", (key, outcome, said)
            continue
        want_outcome, want_text = expected[key]
        assert (outcome, want_text in said) == (want_outcome, True), (key, outcome, said)
    assert set(expected) <= set(rows)


def test_a_build_is_cached_by_its_source_and_a_rebuild_is_not_needed(engine, built_images, no_leftovers, tmp_path,
                                                                      monkeypatch):
    monkeypatch.setenv("SOCKLAB_CACHE", str(tmp_path / "cache"))
    program = submission.read_program(SUBMISSIONS / "textbook-c/UDPServer.c")
    cold = build.build(engine, program, lambda message: None)
    warm_started = time.monotonic()
    warm = build.build(engine, program, lambda message: None)
    assert not cold.cached and cold.artifact and cold.entry == "program" and not cold.reason
    assert warm.cached and warm.artifact == cold.artifact and time.monotonic() - warm_started < 1.0
    assert len(list((tmp_path / "cache/builds").glob("*.json"))) == 1


def test_a_c_server_that_never_exits_shows_what_it_printed(engine, built_images, no_leftovers):
    """stdio into a pipe is fully buffered; the lab runs C programs unbuffered, so the output shows."""
    program = build.built(engine, submission.read_program(SUBMISSIONS / "textbook-c/UDPServer.c"), lambda m: None)
    plan = build_plan(catalog.load("udp-echo"), {}, students={"server": program})
    outcome = run_scenario(engine, plan, progress=lambda message: None)
    document = result_document(outcome)
    assert outcome.passed, [c for c in document["checks"] if not c["passed"]]
    printed = "".join(e.get("text", "") for e in outcome.record.service_events["server"] if e.get("event") == "output")
    assert "The server is ready to receive" in printed
    assert document["programs"]["server"]["language"] == "c"


def test_two_languages_for_one_role_are_an_error_row_not_a_crash(engine, built_images, no_leftovers, tmp_path):
    student = tmp_path / "class" / "ada"
    student.mkdir(parents=True)
    shutil.copy(SUBMISSIONS / "textbook/UDPServer.py", student / "UDPServer.py")
    shutil.copy(SUBMISSIONS / "textbook-c/UDPServer.c", student / "udp_server.c")
    rows = _grade(tmp_path / "class", tmp_path / "grades")
    assert rows[("ada", "udp-echo", "server")] == (
        "error", "two languages for udp-server: UDPServer.py (Python), udp_server.c (C); keep only the one to be graded")
