"""Students' programs without Docker: files, roles in scenarios, plans, hints and verdicts."""
from __future__ import annotations

import doctest
from pathlib import Path

import pytest

from lab.checks import hints

from lab import catalog

from lab.grading import submission
from lab.checks import CheckResult, run_checks
from lab.errors import BadInput, ScenarioFileError
from lab.scenario.plan import SERVER_ALIAS, build_plan
from lab.run.record import ClientRun, RunRecord
from lab.checks.outcome import Outcome

SUBMISSIONS = Path(__file__).resolve().parents[1] / "submissions"


def test_doctests_of_the_student_modules():
    for module in (submission, hints):
        assert doctest.testmod(module).failed == 0


# ----- files -------------------------------------------------------------------------------
@pytest.mark.parametrize("name, kind", [
    ("TCPServer.py", "tcp-server"), ("tcpserver.py", "tcp-server"), ("tcp_server.py", "tcp-server"),
    ("TCP-Client.py", "tcp-client"), ("UDPSERVER.PY", "udp-server"), ("Udp_Client.py", "udp-client"),
    ("server.py", None), ("TCPServer.py.bak", None), ("TCPServer2.py", None), ("UDPClient.txt", None),
])
def test_file_names_are_matched_case_insensitively(name, kind):
    assert submission.kind_of_file(name) == kind


def test_a_missing_path_a_directory_a_binary_and_non_utf8_are_bad_input(tmp_path):
    binary = tmp_path / "TCPServer.py"
    binary.write_bytes(b"\x7fELF\x02\x01\x01\x00\x00")
    latin = tmp_path / "UDPServer.py"
    latin.write_bytes("print('café')\n".encode("latin-1"))
    empty = tmp_path / "UDPClient.py"
    empty.write_text("\n\n")
    huge = tmp_path / "TCPClient.py"
    huge.write_text("#" * (submission.MAX_SOURCE_BYTES + 1))
    cases = {tmp_path / "nope.py": "no such file", tmp_path: "is a directory", binary: "binary",
             latin: "not UTF-8", empty: "empty", huge: "at most"}
    for path, words in cases.items():
        with pytest.raises(submission.SubmissionError, match=words) as caught:
            submission.read_program(path, "--server")
        assert caught.value.exit_code == 2
        assert str(caught.value).startswith(f"--server {path}")


def test_a_syntax_error_is_not_refused_here(tmp_path):
    """Valid text with bad Python runs, so that the student sees Python's own message as a failed check."""
    program = submission.read_program(SUBMISSIONS / "syntax-error/TCPServer.py")
    assert program.name == "TCPServer.py" and "bind" in program.source


def test_a_class_folder_lists_every_student_and_their_programs(tmp_path):
    (tmp_path / "ada").mkdir()
    (tmp_path / "ada" / "tcp_server.py").write_text("pass\n")
    (tmp_path / "ada" / "UDPClient.py").write_text("pass\n")
    (tmp_path / "ada" / "notes.txt").write_text("hello\n")
    (tmp_path / "bob").mkdir()
    (tmp_path / "bob" / "TCPServer.py").write_text("pass\n")
    (tmp_path / "bob" / "tcpserver.py").write_text("pass\n")
    (tmp_path / "eve").mkdir()
    (tmp_path / "eve" / "server.py").write_text("pass\n")
    (tmp_path / ".git").mkdir()
    students = {s.student: s for s in submission.scan_class(tmp_path)}
    assert set(students) == {"ada", "bob", "eve"}
    assert set(students["ada"].files) == {"tcp-server", "udp-client"}
    assert students["bob"].problems and "two files for tcp-server" in students["bob"].problems[0]
    assert students["eve"].files == {}


def test_a_folder_holding_the_programs_itself_is_one_student(tmp_path):
    (tmp_path / "UDPServer.py").write_text("pass\n")
    [only] = submission.scan_class(tmp_path)
    assert only.student == tmp_path.name and set(only.files) == {"udp-server"}


def test_a_class_folder_without_programs_is_bad_input(tmp_path):
    with pytest.raises(BadInput, match="no student programs found"):
        submission.scan_class(tmp_path)
    with pytest.raises(BadInput, match="no such directory"):
        submission.scan_class(tmp_path / "missing")


# ----- scenarios and plans -----------------------------------------------------------------
def test_scenarios_declare_the_roles_a_student_may_fill():
    roles = {name: set(catalog.load(name).students) for name in catalog.available()}
    assert roles["tcp-sequential"] == {"server"}
    assert roles["udp-echo"] == {"server", "client"}
    assert roles["udp-loss"] == {"client"}
    assert roles["tcp-echo"] == {"server", "client"}
    assert roles["udp-no-server"] == set()


def test_a_students_table_is_validated():
    base = {"lesson": "x", "hosts": [{"name": "server", "program": "udp-server"},
                                     {"name": "client", "program": "udp-client"}],
            "steps": [{"start": "server"}, {"run": "client"}]}
    with pytest.raises(ScenarioFileError, match="students.server.host"):
        catalog.parse("x", {**base, "students": {"server": {"host": "client"}}})
    with pytest.raises(ScenarioFileError, match="'router' is not one of"):
        catalog.parse("x", {**base, "students": {"router": {"host": "server"}}})
    with pytest.raises(ScenarioFileError, match="points"):
        catalog.parse("x", {**base, "checks": [{"check": "replies_uppercase", "points": -1}]})
    parsed = catalog.parse("x", {**base, "checks": [{"check": "replies_uppercase", "points": 3}]})
    assert parsed.checks[0].points == 3 and parsed.checks[0].args == {}


def _program(name: str) -> submission.StudentProgram:
    return submission.program_from_bytes(b"print('hi')\n", name, name)


def test_a_students_server_replaces_the_lab_server_with_its_limits_and_the_textbook_alias():
    plan = build_plan(catalog.load("udp-echo"), {}, students={"client": _program("UDPClient.py")})
    server, client = plan.instance("server"), plan.instance("client")
    assert SERVER_ALIAS in server.aliases and server.student is None
    assert client.student and client.argv[1].endswith("student_run.py")
    assert "--name" in client.argv and "UDPClient.py" in client.argv
    assert client.inputs == ("hello from client run 1", "hello from client run 2")
    assert plan.student_hosts() == {"client": "client"}


def test_a_role_the_scenario_does_not_offer_is_bad_input():
    with pytest.raises(BadInput, match="takes no student client"):
        build_plan(catalog.load("tcp-sequential"), {}, students={"client": _program("TCPClient.py")})


def test_a_student_run_starts_from_the_slots_defaults_but_the_user_wins():
    scenario = catalog.load("udp-loss")
    student = {"client": _program("UDPClient.py")}
    assert build_plan(scenario, {}, students=student).parameters["loss"] == "50%"
    assert build_plan(scenario, {"loss": "30%"}, students=student).parameters["loss"] == "30%"
    assert build_plan(scenario, {}).parameters["loss"] == "20%"


# ----- hints -------------------------------------------------------------------------------
def _run(name: str, *events: dict, rc: int = 0, sentence: str | None = None) -> ClientRun:
    return ClientRun(name, name.split(" ")[0].rsplit("-", 1)[0], rc, list(events), 0.0, 1.0, "", sentence)


def test_the_second_client_refused_names_the_closed_listening_socket():
    served = _run("client-1", {"event": "connected", "local": ["10.0.0.3", 4000]},
                  {"event": "sent", "text": "hello"}, {"event": "received", "text": "HELLO"})
    refused = _run("client-2", {"event": "error", "during": "connect", "name": "ECONNREFUSED"}, rc=1)
    hint = hints.lab_client_hint([served, refused])
    assert hint.startswith("the 2nd client was refused: the listening socket was closed after the 1st client")


def test_hints_for_lowercase_no_reply_and_a_crash():
    lower = _run("client", {"event": "sent", "seq": 1, "text": "seq=1 hello"},
                 {"event": "received", "seq": 1, "text": "seq=1 hello"})
    assert hints.lab_client_hint([lower]).startswith("reply not upper case")
    silent = _run("client", {"event": "sent", "seq": 1, "text": "seq=1 hello"},
                  {"event": "timeout", "seq": 1, "waited_ms": 2000}, rc=1)
    assert "sendto() each reply to the address that recvfrom() returned" in hints.lab_client_hint([silent])
    crashed = hints.lab_client_hint([silent], 'Traceback:\n  File "UDPServer.py", line 7, in <module>\n'
                                              "NameError: name 'modifed' is not defined\n")
    assert crashed == "no reply came back: your program crashed: NameError: name 'modifed' is not defined " \
                      "(UDPServer.py, line 7)"


def test_a_crash_inside_the_library_names_the_students_line():
    # The server that closes its listening socket after the first client: accept() raises in socket.py.
    stderr = ('Traceback (most recent call last):\n  File "TCPServer.py", line 7, in <module>\n'
              "    connection_socket, addr = server_socket.accept()\n"
              '  File "/usr/lib/python3.11/socket.py", line 294, in accept\n    fd, addr = self._accept()\n'
              "OSError: [Errno 9] Bad file descriptor\n")
    assert hints.python_message(stderr) == "OSError: [Errno 9] Bad file descriptor (TCPServer.py, line 7)"
    library_only = 'Traceback:\n  File "/usr/lib/python3.11/socket.py", line 294, in accept\nOSError: x\n'
    assert hints.python_message(library_only) == "OSError: x (/usr/lib/python3.11/socket.py, line 294)"


def test_limit_hints_say_where_the_program_was():
    assert hints.limit_hint({"what": "wall-clock", "blocked_in": "recvfrom"}, "client", 5).startswith(
        "your client waited forever in recvfrom(): a lost datagram needs a timeout")
    assert "endless loop" in hints.limit_hint({"what": "wall-clock", "state": "running"}, "client", 5)
    assert "printed more than 64 KiB" in hints.limit_hint({"what": "output", "limit": 65536}, "server", 5)


# ----- verdicts ----------------------------------------------------------------------------
def _student_client_record(*runs: ClientRun, server_texts: tuple[str, ...] = ()) -> RunRecord:
    plan = build_plan(catalog.load("udp-loss"), {}, students={"client": _program("UDPClient.py")})
    record = RunRecord(plan, "abc123")
    record.service_events["server"] = [{"event": "received", "text": t} for t in server_texts]
    record.clients.extend(runs)
    return record


def _client_run(n: int, printed: str, *, limit: dict | None = None, rc: int | None = 0) -> ClientRun:
    events = [{"event": "started"}, {"event": "output", "stream": "stdout", "text": printed}]
    if limit:
        events.append({"event": "limit", **limit})
    events.append({"event": "exited", "rc": rc, "seconds": 0.2, "reason": "wall-clock" if limit else "exited"})
    return ClientRun(f"client run {n}", "client", 0, events, 0.0, 1.0, "", f"hello from client run {n}")


def test_checks_that_need_the_lab_programs_events_are_not_applicable_never_passed():
    record = _student_client_record(_client_run(1, "HELLO FROM CLIENT RUN 1\n"),
                                    server_texts=("hello from client run 1",))
    checks = run_checks(record)
    not_applicable = [c for c in checks if not c.applicable]
    assert {c.name.split(":")[0] for c in not_applicable} >= {
        "The measured loss is what a link with the configured loss gives, within its 99% interval"}
    assert all(not c.passed and c.points == 0 for c in not_applicable)
    assert all(c.passed for c in checks if c.applicable), [c for c in checks if not c.passed and c.applicable]
    outcome = Outcome(record, checks, "", 1.0)
    assert outcome.passed
    assert not Outcome(record, not_applicable, "", 1.0).passed, "only not-applicable checks never pass a run"


def test_a_client_stopped_in_recvfrom_fails_with_the_timeout_hint_and_keeps_its_output():
    record = _student_client_record(
        _client_run(1, "HELLO FROM CLIENT RUN 1\n"),
        _client_run(2, "Input lowercase sentence:", limit={"what": "wall-clock", "blocked_in": "recvfrom"}, rc=None),
        server_texts=("hello from client run 1",))
    verdicts = {c.name: c for c in run_checks(record)}
    blocked = verdicts["client never blocks past its timeout"]
    assert not blocked.passed and "Input lowercase sentence:" in blocked.detail
    assert blocked.hint.startswith("your client waited forever in recvfrom(): a lost datagram needs a timeout")
    assert verdicts["replies are the sentence in upper case"].passed, "the delivered sentence was printed"


def test_a_client_that_prints_nothing_useful_fails_the_replies_check():
    record = _student_client_record(_client_run(1, "Input lowercase sentence:hello from client run 1\n"),
                                    server_texts=("hello from client run 1",))
    replies = next(c for c in run_checks(record) if c.name == "replies are the sentence in upper case")
    assert not replies.passed and "printed the sentence it sent" in replies.hint


def test_points_come_from_the_scenario_file():
    scenario = catalog.parse("x", {
        "lesson": "x", "hosts": [{"name": "server", "program": "udp-server"},
                                 {"name": "client", "program": "udp-client"}],
        "steps": [{"start": "server"}, {"run": "client"}],
        "checks": [{"check": "replies_uppercase", "points": 5}]})
    record = RunRecord(build_plan(scenario, {}), "r")
    record.clients.append(_run("client", {"event": "sent", "seq": 1, "text": "a", "bytes": 1},
                               {"event": "received", "seq": 1, "text": "A", "bytes": 1}))
    [result] = run_checks(record)
    assert result.passed and result.points == 5
    assert isinstance(result, CheckResult)
