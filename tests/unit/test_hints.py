"""Hint selection from what the lab observed (no Docker): the socket bound, the bytes that came
back, how the server ended, Python's message. A hint names only what was seen."""
from __future__ import annotations

import doctest

import pytest

from lab import catalog
from lab.checks import hints, run_checks
from lab.checks.hints import ServerSeen
from lab.grading import submission
from lab.scenario.plan import build_plan
from lab.run.record import BoundSocket, ClientRun, ProbeObservation, RunRecord

LOOPBACK = (BoundSocket("tcp", "127.0.0.1", 12000),)


def test_doctests():
    assert doctest.testmod(hints).failed == 0


def _run(name: str, *events: dict, rc: int = 0) -> ClientRun:
    return ClientRun(name, name.rsplit("-", 1)[0], rc, list(events), 0.0, 1.0)


def _refused(name: str = "client") -> ClientRun:
    return _run(name, {"event": "error", "during": "connect", "name": "ECONNREFUSED"}, rc=1)


def _served(name: str, text: str = "hello", reply: str | None = None) -> ClientRun:
    return _run(name, {"event": "connected", "local": ["10.0.0.3", 4000]}, {"event": "sent", "bytes": 5, "text": text},
                {"event": "received", "text": text.upper() if reply is None else reply})


# ----- the sockets the lab saw ---------------------------------------------------------------
@pytest.mark.parametrize("sockets, proto, words", [
    (LOOPBACK, "tcp", "listens on 127.0.0.1:12000, the loopback address only"),
    ((BoundSocket("udp", "::1", 12000),), "udp", "is bound to ::1:12000, the loopback address only"),
    ((BoundSocket("tcp", "0.0.0.0", 12001),), "tcp", "bound to tcp port 12001, not 12000"),
    ((BoundSocket("udp", "0.0.0.0", 12000),), "tcp", "is a UDP (datagram, SOCK_DGRAM) socket"),
    ((BoundSocket("tcp", "0.0.0.0", 12000),), "udp", "is a TCP (stream, SOCK_STREAM) socket"),
])
def test_a_socket_hint_names_the_address_port_or_type_seen(sockets, proto, words):
    assert words in hints.socket_hint(sockets, proto)


@pytest.mark.parametrize("sockets", [None, (), (BoundSocket("tcp", "0.0.0.0", 12000),),
                                     (BoundSocket("tcp", "127.0.0.1", 12000), BoundSocket("tcp", "::", 12000))])
def test_no_socket_hint_when_the_lab_did_not_look_saw_nothing_or_saw_it_right(sockets):
    assert hints.socket_hint(sockets, "tcp") == ""


def test_a_refused_client_names_the_loopback_bind_not_a_closed_listener():
    hint = hints.lab_client_hint([_refused()], ServerSeen(sockets=LOOPBACK))
    assert hint.startswith("the client was refused: your server listens on 127.0.0.1:12000")
    assert "stay open" not in hint and "nothing listened" not in hint


def test_a_refused_client_without_a_look_blames_no_address():
    unseen = hints.lab_client_hint([_refused()], ServerSeen(sockets=None))
    assert "127.0.0.1" not in unseen and "loopback" not in unseen and "12001" not in unseen
    looked = hints.lab_client_hint([_refused()], ServerSeen(sockets=()))
    assert looked.startswith("the client was refused: the lab saw no tcp socket on port 12000 on your server's "
                             "host (bound: none)")


def test_the_second_client_refused_after_the_server_ended_says_it_ended():
    ended = {"event": "exited", "rc": 0, "reason": "exited"}
    hint = hints.lab_client_hint([_served("client-1"), _refused("client-2")], ServerSeen(ended=ended))
    assert hint.startswith("the 2nd client was refused: your server ended (exit status 0) after serving 1 client")
    alive = hints.lab_client_hint([_served("client-1"), _refused("client-2")], ServerSeen())
    assert alive.startswith("the 2nd client was refused: the listening socket was closed after the 1st client")


def test_a_crash_at_accept_on_a_closed_socket_names_the_listening_socket():
    stderr = ('Traceback (most recent call last):\n  File "TCPServer.py", line 8, in <module>\n'
              "    connection_socket, addr = server_socket.accept()\n"
              '  File "/usr/lib/python3.11/socket.py", line 294, in accept\n    fd, addr = self._accept()\n'
              "OSError: [Errno 9] Bad file descriptor\n")
    hint = hints.lab_client_hint([_served("client-1"), _refused("client-2")], ServerSeen(stderr=stderr))
    assert hint == ("the 2nd client was refused: your program crashed: OSError: [Errno 9] Bad file descriptor "
                    "(TCPServer.py, line 8) — accept() was called on a listening socket already closed: close "
                    "only the connection socket that accept() returned")
    elsewhere = stderr.replace("connection_socket, addr = server_socket.accept()", "data = conn.recv(1024)")
    assert "accept()" not in hints.crash_advice(elsewhere), "the advice holds only for the line that raised"


def test_a_partial_reply_names_the_bytes_that_came_back():
    hint = hints.lab_client_hint([_served("client", "hello from client", "HELL")])
    assert hint.startswith("reply is only the first 4 of the sentence's 17 bytes (got 'HELL')")


def test_a_tcp_client_that_timed_out_on_an_open_connection_names_what_was_seen():
    waited = _run("client", {"event": "connected"}, {"event": "sent", "bytes": 17, "text": "hello from client"},
                  {"event": "timeout", "during": "recv", "waited_ms": 5004.0}, rc=1)
    hint = hints.lab_client_hint([waited], ServerSeen())
    assert hint.startswith("no reply came back within 5.0 s after the client sent its 17 bytes, and your server "
                           "kept the connection open")
    ended = hints.lab_client_hint([waited], ServerSeen(ended={"rc": 0}))
    assert ended.startswith("no reply came back: your server ended (exit status 0) before serving any client")


def test_udp_clients_without_replies_are_counted_not_guessed_at():
    def udp(name: str, answered: bool) -> ClientRun:
        last = ({"event": "received", "seq": 1, "text": f"SEQ=1 HELLO FROM {name.upper()}"} if answered else
                {"event": "timeout", "seq": 1, "waited_ms": 2000})
        return _run(name, {"event": "sent", "seq": 1, "text": f"seq=1 hello from {name}"}, last)
    runs = [udp("client-1", False), udp("client-2", True), udp("client-3", False)]
    assert hints.lab_client_hint(runs, ServerSeen(proto="udp")).startswith(
        "no reply came back to 2 of the 3 clients' addresses (1 got theirs) while your server kept running")
    assert hints.misdirected_hint(runs) == ""
    flooded = [_run("client-1", {"event": "sent", "seq": 1, "text": "seq=1 a"},
                    {"event": "received", "seq": 1, "text": "SEQ=1 A"}, {"event": "ignored", "text": "SEQ=1 B"}),
               udp("client-2", False)]
    assert hints.misdirected_hint(flooded).startswith(
        "replies went to the wrong client: client-1 got 2 datagram(s) for the 1 it sent, 1 other client(s) got none")


@pytest.mark.parametrize("error, words", [
    ("TypeError: a bytes-like object is required, not 'str'", "encode()"),
    ("AttributeError: 'str' object has no attribute 'decode'", "a str is already decoded"),
    ("SyntaxError: Missing parentheses in call to 'print'. Did you mean print(...)?", "Python 2 syntax"),
    ("NameError: name 'raw_input' is not defined", "in Python 3 it is input()"),
    ("NameError: name 'modifed' is not defined", ""),
])
def test_python_messages_of_the_unit_get_their_advice(error, words):
    advice = hints.crash_advice(f'  File "UDPClient.py", line 6, in <module>\n    x\n{error}\n')
    assert (words in advice) if words else advice == ""


# ----- the checks of a student's server, from a record --------------------------------------
def _server_record(scenario: str, name: str = "TCPServer.py") -> RunRecord:
    program = submission.program_from_bytes(b"pass\n", name, name)
    return RunRecord(build_plan(catalog.load(scenario), {}, students={"server": program}), "r")


def _checks(record: RunRecord) -> dict:
    return {c.name: c for c in run_checks(record)}


def test_a_server_on_the_wrong_port_is_told_the_port_it_bound():
    record = _server_record("udp-echo", "UDPServer.py")
    record.student_failure = "UDPServer.py did not bind port 12000 within 5 s"
    record.server_sockets = (BoundSocket("udp", "0.0.0.0", 12001),)
    start = _checks(record)["your server listens on port 12000"]
    assert not start.passed and start.detail.endswith("; bound: udp 0.0.0.0:12001")
    assert start.hint == "your server's socket is bound to udp port 12001, not 12000: bind(('', 12000))"


def test_a_server_that_bound_nothing_is_told_so_only_when_the_lab_looked():
    record = _server_record("tcp-echo")
    record.student_failure = "TCPServer.py did not bind port 12000 within 5 s"
    assert _checks(record)["your server listens on port 12000"].hint.startswith("create the socket")
    record.server_sockets = ()
    assert _checks(record)["your server listens on port 12000"].hint.startswith(
        "the lab saw no tcp socket on port 12000 on your server's host (bound: none): create the socket")


def test_a_datagram_socket_in_the_tcp_server_is_named_by_its_type():
    record = _server_record("tcp-echo")
    record.service_events["server"] = [{"event": "started", "t": 0.0},
                                       {"event": "listening", "proto": "udp", "port": 12000, "t": 0.1}]
    start = _checks(record)["your server listens on port 12000"]
    assert not start.passed and "is a UDP (datagram, SOCK_DGRAM) socket" in start.hint


def test_testinfras_look_names_the_loopback_bind_in_the_probe_and_reply_checks():
    record = _server_record("tcp-echo")
    record.service_events["server"] = [{"event": "started", "t": 0.0},
                                       {"event": "listening", "proto": "tcp", "port": 12000, "t": 0.1}]
    record.clients = [_refused("client")]
    record.probes = [ProbeObservation("server-listening", "client", False,
                                      "tcp://0.0.0.0:12000 not listening (bound: tcp 127.0.0.1:12000)", LOOPBACK)]
    checks = _checks(record)
    probe = checks["testinfra: server listens on tcp/12000"]
    replies = checks["replies are the sentence in upper case"]
    assert probe.hint.startswith("your server listens on 127.0.0.1:12000, the loopback address only")
    assert replies.hint.startswith("the client was refused: your server listens on 127.0.0.1:12000")
    assert "stay open" not in probe.hint + replies.hint


def test_a_listing_gives_the_bound_sockets_without_dockers_dns():
    from lab.run.looks import Listing, bound_sockets

    listing = Listing([("tcp", "127.0.0.11", 41234), ("udp", "127.0.0.11", 53000), ("tcp", "127.0.0.1", 12000),
                       ("udp", "0.0.0.0", 12001), ("udp", "0.0.0.0", 12001)], [])
    assert bound_sockets(listing, ("127.0.0.11",)) == (BoundSocket("tcp", "127.0.0.1", 12000), BoundSocket("udp", "0.0.0.0", 12001))
