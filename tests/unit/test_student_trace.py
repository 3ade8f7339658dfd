"""A student's calls beside the reference's, without Docker: strace lines in, rows and sentences out."""
from __future__ import annotations

import doctest

from lab.checks import trace_diff
from lab.observe import student_trace

REFERENCE_SERVER = """\
12    1.0 socket(AF_INET, SOCK_STREAM|SOCK_CLOEXEC, IPPROTO_IP) = 3
12    1.1 setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0
12    1.2 bind(3, {sa_family=AF_INET, sin_port=htons(12000), sin_addr=inet_addr("0.0.0.0")}, 16) = 0
12    1.3 listen(3, 1) = 0
12    1.4 accept4(3, {sa_family=AF_INET, sin_port=htons(40000), sin_addr=inet_addr("10.0.0.3")}, [16], SOCK_CLOEXEC) = 4
12    1.5 recvfrom(4, "hello", 1024, 0, NULL, NULL) = 5
12    1.6 sendto(4, "HELLO", 5, 0, NULL, 0) = 5
12    1.7 close(4) = 0
12    1.8 accept4(3, {sa_family=AF_INET, sin_port=htons(40001), sin_addr=inet_addr("10.0.0.4")}, [16], SOCK_CLOEXEC) = 4
12    1.9 recvfrom(4, "hello", 1024, 0, NULL, NULL) = 5
12    2.0 sendto(4, "HELLO", 5, 0, NULL, 0) = 5
12    2.1 close(4) = 0
12    2.2 accept4(3, {sa_family=AF_INET, sin_port=htons(40002), sin_addr=inet_addr("10.0.0.5")}, [16], SOCK_CLOEXEC) = 4
12    2.3 recvfrom(4, "hello", 1024, 0, NULL, NULL) = 5
12    2.4 sendto(4, "HELLO", 5, 0, NULL, 0) = 5
12    2.5 close(4) = 0
"""
CLOSES_LISTENER = "\n".join(line for line in REFERENCE_SERVER.splitlines()[:8] if "setsockopt" not in line) \
    + "\n12    1.8 close(3) = 0\n"
NO_LISTEN = "\n".join(line for line in REFERENCE_SERVER.splitlines() if "listen(" not in line) + "\n"
UDP_CLIENT = """\
9     1.0 socket(AF_INET, SOCK_DGRAM|SOCK_CLOEXEC, IPPROTO_IP) = 3
9     1.1 sendto(3, "hello from client run 1", 23, 0, {sa_family=AF_INET, sin_port=htons(12000), sin_addr=inet_addr("10.0.0.2")}, 16) = 23
"""
NO_TIMEOUT = UDP_CLIENT + "9     1.2 recvfrom(3,  <unfinished ...>) = ?\n"
SHORT = UDP_CLIENT + ('9     1.2 recvfrom(3, "HELL", 4, 0, {sa_family=AF_INET, sin_port=htons(12000), '
                      'sin_addr=inet_addr("10.0.0.2")}, [16]) = 4\n9     1.3 close(3) = 0\n')
CONNECTED = """\
9     1.0 socket(AF_INET, SOCK_DGRAM|SOCK_CLOEXEC, IPPROTO_IP) = 3
9     1.1 connect(3, {sa_family=AF_INET, sin_port=htons(12000), sin_addr=inet_addr("10.0.0.2")}, 16) = 0
9     1.2 sendto(3, "hello", 5, 0, NULL, 0) = 5
9     1.3 recvfrom(3, "HELLO", 2048, 0, NULL, NULL) = 5
9     1.4 close(3) = 0
"""
REFERENCE_CLIENT = UDP_CLIENT + ('9     1.2 recvfrom(3, "HELLO FROM CLIENT RUN 1", 2048, 0, {sa_family=AF_INET, '
                                 'sin_port=htons(12000), sin_addr=inet_addr("10.0.0.2")}, [16]) = 23\n'
                                 '9     1.3 close(3) = 0\n')


def _calls(text: str) -> list[student_trace.UnitCall]:
    return student_trace.unit_calls(text)


def test_doctests():
    assert doctest.testmod(student_trace).failed == 0 and doctest.testmod(trace_diff).failed == 0


def test_calls_in_the_units_words_with_descriptors_addresses_and_byte_counts():
    texts = [c.text for c in _calls(REFERENCE_SERVER)][:8]
    assert texts == ["socket(AF_INET, SOCK_STREAM) = 3", "setsockopt(3, SO_REUSEADDR) = 0",
                     "bind(3, 0.0.0.0:12000) = 0", "listen(3, 1) = 0", "accept(3) = 4 from 10.0.0.3:40000",
                     "recv(4, up to 1024 B) = 5 B", "send(4, 5 B) = 5 B", "close(4) = 0"]
    assert [c.text for c in _calls(UDP_CLIENT)][1] == "sendto(3, 23 B to 10.0.0.2:12000) = 23 B"


def test_the_reference_loop_is_folded_and_aligned_with_one_pass():
    reference = student_trace.fold_loops(_calls(REFERENCE_SERVER))
    assert [(c.name, c.repeated) for c in reference][4:] == [("accept", 3), ("recv", 3), ("send", 3), ("close", 3)]
    rows = student_trace.align(_calls(CLOSES_LISTENER), reference)
    assert [r.mark for r in rows] == ["same", "only-reference", "same", "same", "same", "same", "same", "same",
                                      "only-yours"]
    assert rows[-1].yours == "close(3) = 0" and rows[4].reference.endswith("×3")


def test_differences_in_the_units_words():
    reference = student_trace.fold_loops(_calls(REFERENCE_SERVER))
    assert trace_diff.differences("server", "tcp", _calls(CLOSES_LISTENER), reference) == [
        "your server closed its listening socket (fd 3) after the first accept()"]
    assert trace_diff.differences("server", "tcp", _calls(NO_LISTEN), reference) == [
        "your server never called listen()"]
    client = _calls(REFERENCE_CLIENT)
    assert trace_diff.differences("client", "udp", _calls(CONNECTED), client) == [
        "your UDP client called connect() — allowed, but then it only hears that one server"]
    assert trace_diff.differences("client", "udp", _calls(SHORT), client) == [
        "recvfrom() asked for 4 bytes of a 23-byte datagram: the rest was dropped"]
    stopped = {"event": "limit", "what": "waits-forever", "blocked_in": "recvfrom"}
    assert trace_diff.differences("client", "udp", _calls(NO_TIMEOUT), client, stopped) == [
        "your client called recvfrom() with no timeout and was still blocked there when the lab stopped it"]
    assert trace_diff.differences("client", "udp", client, client) == []


def test_hostile_trace_text_is_only_text():
    evil = '9     1.0 socket(AF_INET, SOCK_DGRAM, 0) = 3\n9 <script>alert(1)</script>\n\x1b[2J garbage ((((\n'
    calls = _calls(evil)
    assert [c.name for c in calls] == ["socket"]
    assert student_trace.trace_text([{"event": "trace", "text": evil}]).startswith("[pid 9] 1.0 socket(")


def test_a_students_arrows_are_labelled_with_its_own_calls():
    from lab.observe.pcap import Packet
    from lab.observe.timeline import Arrow

    trace = ("9     1.000 socket(AF_INET, SOCK_STREAM|SOCK_CLOEXEC, IPPROTO_IP) = 3\n"
             '9     1.001 connect(3, {sa_family=AF_INET, sin_port=htons(12000), sin_addr=inet_addr("10.0.0.2")}, 16) = 0\n'
             '9     1.010 sendto(3, "hello", 5, 0, NULL, 0) = 5\n'
             "9     1.020 close(3) = 0\n")
    def tcp(index, t, src, dst, flags, size=0):
        return Packet(index, t, src, dst, "tcp", 64, index, 60, 40000 if src.endswith("3") else 12000,
                      12000 if src.endswith("3") else 40000, flags=flags, payload_len=size)

    syn = tcp(0, 1.002, "10.0.0.3", "10.0.0.2", ("SYN",))
    data = tcp(1, 1.011, "10.0.0.3", "10.0.0.2", ("ACK", "PSH"), 5)
    fin = tcp(2, 1.021, "10.0.0.3", "10.0.0.2", ("FIN", "ACK"))
    reply = tcp(3, 1.015, "10.0.0.2", "10.0.0.3", ("ACK", "PSH"), 5)
    arrows = [Arrow("client", "server", p, p.time, p.time, False, "x", "lab's guess") for p in (syn, data, fin)]
    arrows.append(Arrow("server", "client", reply, 1.015, 1.016, False, "data 5 B", "send()"))
    labelled = student_trace.labelled_by_calls(arrows, "client", trace)
    assert [a.call for a in labelled] == ["connect(3)", "send(3, 5 B)", "close(3)", "send()"]


def test_a_student_runs_result_carries_the_side_by_side_as_the_schema_says():
    import json
    from pathlib import Path

    import jsonschema

    from lab import catalog
    from lab.report.document import result_document
    from lab.report.markdown import markdown
    from lab.checks import run_checks
    from lab.checks.outcome import Outcome
    from lab.run.record import ClientRun, RunRecord
    from lab.scenario.model import StudentProgram
    from lab.scenario.plan import build_plan

    schema = json.loads((Path(__file__).resolve().parents[1] / "contracts/student_trace.schema.json").read_text())
    program = StudentProgram("UDPClient.py", "UDPClient.py", "pass\n", "0" * 64)
    plan = build_plan(catalog.load("udp-echo"), {}, students={"client": program})
    events = [{"event": "started", "t": 1.0}, {"event": "trace", "text": NO_TIMEOUT},
              {"event": "limit", "what": "waits-forever", "blocked_in": "recvfrom", "limit": 10},
              {"event": "exited", "rc": None, "signal": "SIGKILL", "reason": "waits-forever"}]
    record = RunRecord(plan, "r", {"server": [{"event": "listening"}]},
                       [ClientRun("client run 1", "client", 137, events, 0.0, 1.0, "", "hello")])
    record.reference_traces["client"] = REFERENCE_CLIENT
    document = result_document(Outcome(record, run_checks(record), "now", 1.0, {}))
    jsonschema.validate(document["student_trace"], schema)
    shown = document["student_trace"]["client"]
    assert shown["run"] == 1 and shown["differences"] == [
        "your client called recvfrom() with no timeout and was still blocked there when the lab stopped it"]
    assert any("your calls: your client called recvfrom() with no timeout" in c.get("hint", "")
               for c in document["checks"] if not c["passed"])
    assert "Your program's socket calls, beside the reference's" in markdown(document)
    from lab.report.result_console import print_outcome

    print_outcome(document)   # the terminal draws it too
