"""The strace parser and the API-trace checks, on real strace output of the four programs.

The files in tests/unit/strace/ are what `strace -f` (lab.scenario.plan.STRACE_ARGV) wrote for one run of
each program in containers (tcp-client 172.19.0.4 -> tcp-server 172.19.0.2, udp-client 172.19.0.4 ->
udp-server 172.19.0.3), Python's startup included.
"""
from pathlib import Path

import pytest

from lab.report.document import result_document
from lab.report.markdown import markdown
from lab.report.result_console import print_outcome

from lab import catalog

from lab.observe import trace
from lab.observe.observation import observe
from lab.checks import REGISTRY, run_checks
from lab.scenario.plan import STRACE_ARGV, build_plan
from lab.run.record import ClientRun, RunRecord

STRACE = Path(__file__).parent / "strace"
PROGRAMS = ("tcp_server", "tcp_client", "udp_server", "udp_client")


def judged(name: str, record):
    """A trace check as the dispatcher calls it: the record and its observation."""
    return REGISTRY[name](record, observe(record))


def text(name: str) -> str:
    return (STRACE / f"{name}.txt").read_text()


def calls_of(name: str) -> list[str]:
    return [c.text() for c in trace.socket_calls(text(name))[0]]


def test_tcp_server_calls_in_textbook_order_with_the_new_descriptor():
    assert calls_of("tcp_server") == [
        "socket(AF_INET, SOCK_STREAM) = 3", "setsockopt(3, SO_REUSEADDR) = 0",
        "bind(3, 0.0.0.0:12000) = 0", "listen(3, 1) = 0", "accept4(3) = 4 from 172.19.0.4:40544",
        "recvfrom(4) = 25", "sendto(4) = 25", "close(4) = 0", "close(3) = 0"]


def test_clients_name_lookups_are_set_apart_and_python_startup_is_not_a_socket_call():
    calls, hidden = trace.socket_calls(text("udp_client"))
    assert [c.text() for c in calls] == [
        "socket(AF_INET, SOCK_DGRAM) = 3", "sendto(3, 172.19.0.3:12000) = 31",
        "recvfrom(3) = 31 from 172.19.0.3:12000", "close(3) = 0"]
    # two nscd attempts (socket + connect + close each) and the DNS query (socket, setsockopt,
    # connect, sendto, recvfrom, close)
    assert hidden == 12
    assert calls_of("tcp_client") == [
        "socket(AF_INET, SOCK_STREAM) = 3", "connect(3, 172.19.0.2:12000) = -1 EINPROGRESS",
        "getsockopt(3, SO_ERROR) = 0", "sendto(3) = 25", "recvfrom(3) = 25", "close(3) = 0"]


def test_udp_server_replies_to_the_address_recvfrom_returned():
    calls = trace.socket_calls(text("udp_server"))[0]
    received = next(c for c in calls if c.name == "recvfrom")
    sent = next(c for c in calls if c.name == "sendto")
    assert received.address == sent.address == ("172.19.0.4", 55369)
    assert sent.ret == received.ret == 31 and sent.t > received.t


def test_unfinished_and_resumed_halves_are_joined_in_the_order_entered():
    output = (
        "[pid   101] 1.000001 accept4(3,  <unfinished ...>\n"
        "[pid   102] 1.000002 close(7) = 0\n"
        '[pid   101] 1.500000 <... accept4 resumed>{sa_family=AF_INET, sin_port=htons(40000), '
        'sin_addr=inet_addr("10.0.0.2")}, [16], SOCK_CLOEXEC) = 5\n')
    calls = trace.parse_calls(output)
    assert [(c.name, c.pid, c.t, c.ret) for c in calls] == [("accept4", 101, 1.000001, 5),
                                                           ("close", 102, 1.000002, 0)]
    assert calls[0].address == ("10.0.0.2", 40000) and calls[0].fd == 3


def test_a_call_still_blocked_when_read_has_no_result_and_errors_keep_their_name():
    calls = trace.parse_calls('2.0 socket(AF_INET, SOCK_STREAM|SOCK_CLOEXEC, IPPROTO_IP) = 3\n'
                              '2.1 connect(3, {sa_family=AF_INET, sin_port=htons(12000), '
                              'sin_addr=inet_addr("10.0.0.9")}, 16) = -1 ECONNREFUSED (Connection refused)\n'
                              '2.2 accept4(3, ')
    assert calls[1].errno == "ECONNREFUSED" and calls[1].ret == -1 and not calls[1].ok
    assert calls[1].text() == "connect(3, 10.0.0.9:12000) = -1 ECONNREFUSED"
    assert calls[2].ret is None and calls[2].text() == "accept4(3) = … (still waiting)"


def test_strace_notices_signals_and_exit_lines_are_not_calls():
    output = ("--- SIGTERM {si_signo=SIGTERM} ---\n+++ exited with 0 +++\n"
              "strace: Process 7 attached\n1.0 close(3) = 0\n")
    assert [c.name for c in trace.parse_calls(output)] == ["close"]


def test_a_reused_descriptor_belongs_to_its_new_socket():
    """fd 3 is first a DNS socket (hidden), then the program's own socket (kept)."""
    calls, hidden = trace.socket_calls(text("udp_client"))
    assert hidden and calls[0].fd is None and calls[0].ret == 3 and calls[-1].text() == "close(3) = 0"


# ----- the checks, over a record of the api-trace scenario --------------------------------
def record_with(traces: dict[str, str]) -> RunRecord:
    plan = build_plan(catalog.load("api-trace"), {})
    clients = [ClientRun("tcp-client", "tcp-client", 0, [], 0.0, 1.0),
               ClientRun("udp-client", "udp-client", 0, [], 0.0, 1.0)]
    return RunRecord(plan, "abc123", {}, clients, traces=traces)


def real_traces() -> dict[str, str]:
    return {name.replace("_", "-"): text(name) for name in PROGRAMS}


TRACE_CHECKS = ("trace_starts_at_socket", "trace_listen_accept_server_only", "trace_accept_new_descriptor",
                "trace_no_connect", "trace_reply_to_sender")


@pytest.mark.parametrize("name", TRACE_CHECKS)
def test_each_trace_check_passes_on_the_real_traces(name):
    result = judged(name, record_with(real_traces()))
    assert result.passed, result.detail


def test_a_udp_client_that_connects_fails_the_no_connect_check():
    traces = real_traces()
    traces["udp-client"] = traces["udp-client"].replace(
        'sendto(3, "seq=1', 'connect(3, {sa_family=AF_INET, sin_port=htons(12000), '
        'sin_addr=inet_addr("172.19.0.3")}, 16) = 0\n1795701671.986376 sendto(3, "seq=1')
    result = judged("trace_no_connect", record_with(traces))
    assert not result.passed and "connect(3, 172.19.0.3:12000) = 0" in result.detail


def test_a_reply_to_another_address_fails_the_reply_check():
    traces = real_traces()
    traces["udp-server"] = traces["udp-server"].replace("htons(55369), sin_addr=inet_addr(\"172.19.0.4\")}, 16)",
                                                        "htons(55369), sin_addr=inet_addr(\"172.19.0.9\")}, 16)")
    result = judged("trace_reply_to_sender", record_with(traces))
    assert not result.passed and "172.19.0.9" in result.detail


def test_talking_on_the_listening_socket_fails_the_new_descriptor_check():
    traces = real_traces()
    traces["tcp-server"] = traces["tcp-server"].replace("recvfrom(4,", "recvfrom(3,")
    result = judged("trace_accept_new_descriptor", record_with(traces))
    assert not result.passed and "send/recv used ['3', '4']" in result.detail


def test_listen_in_a_client_fails_the_server_only_check():
    traces = real_traces()
    traces["tcp-client"] += "1795701671.9 listen(3, 5) = 0\n"
    result = judged("trace_listen_accept_server_only", record_with(traces))
    assert not result.passed and "tcp-client: listen(3, 5) = 0" in result.detail


def test_a_tracer_that_could_not_start_fails_and_says_why():
    traces = real_traces()
    traces["udp-server"] = "strace: test_ptrace_get_syscall_info: PTRACE_TRACEME: Operation not permitted\n"
    result = judged("trace_starts_at_socket", record_with(traces))
    assert not result.passed and "Operation not permitted" in result.detail


def test_the_result_markdown_and_console_carry_the_four_column_table():
    from lab.checks.outcome import Outcome

    record = record_with(real_traces())
    document = result_document(Outcome(record, run_checks(record), "2026-11-26T00:00:00Z", 3.0))
    api = document["api_trace"]
    assert [c["title"] for c in api["columns"]] == ["TCP server", "TCP client", "UDP server", "UDP client"]
    assert api["columns"][0]["calls"][4]["ret"] == 4 and api["columns"][3]["name_lookup_calls_hidden"] == 12
    text = markdown(document)
    assert "| TCP server (tcp-server) | TCP client (tcp-client) | UDP server (udp-server) | UDP client (udp-client) |" in text
    assert "| `socket(AF_INET, SOCK_STREAM) = 3` | `socket(AF_INET, SOCK_STREAM) = 3` | `socket(AF_INET, SOCK_DGRAM) = 3` |" in text
    print_outcome(document)  # draws without error


def test_plan_starts_traced_programs_under_strace_and_others_not():
    plan = build_plan(catalog.load("api-trace"), {})
    assert plan.instance("tcp-server").argv[:len(STRACE_ARGV)] == STRACE_ARGV
    assert plan.instance("tcp-server").traced
    echo = build_plan(catalog.load("tcp-echo"), {})
    assert echo.instance("server").argv[0] == "python3" and not echo.instance("server").traced


def test_trace_must_be_a_boolean_and_needs_a_program():
    base = {"lesson": "x.", "steps": [{"start": "server"}]}
    with pytest.raises(Exception, match="trace: true or false"):
        catalog.parse("t", {**base, "hosts": [{"name": "server", "program": "tcp-server", "trace": "yes"}]})
    with pytest.raises(Exception, match="runs nothing to trace"):
        catalog.parse("t", {**base, "hosts": [{"name": "server", "program": "none", "trace": True}]})
