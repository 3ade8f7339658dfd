"""tcp-backlog's checks over records shaped like real runs (times in seconds, hold 200 ms)."""
import pytest

from lab import catalog
from lab.run.capture import CaptureFile, Captures
from lab.checks import REGISTRY
from lab.checks.backlog import turns
from lab.errors import ParameterError
from lab.observe.pcap import Packet
from lab.scenario.plan import START_AT, build_plan
from lab.run.record import ClientRun, RunRecord
from lab.run.runner import _at

SERVER = ("10.0.0.2", 12000)


def client(n: int, start: float, handshake_ms: float, replied: float, rtt_ms: float) -> ClientRun:
    local = [f"10.0.0.{10 + n}", 40000 + n]
    connected_at = start + handshake_ms / 1000
    events = [{"event": "connected", "t": connected_at, "local": local, "peer": list(SERVER),
               "handshake_ms": handshake_ms},
              {"event": "sent", "t": connected_at, "bytes": 5, "text": "hello"},
              {"event": "received", "t": replied, "bytes": 5, "text": "HELLO", "rtt_ms": rtt_ms},
              {"event": "closed", "t": replied}]
    return ClientRun(f"client-{n}", "client", 0, events, start - 1, replied + 0.01)


def server_events(spans: list[tuple[int, float, float]], sends: bool = True) -> list[dict]:
    """(client n, accepted at, closed at) in accept order; each reply sent 1 ms before the close
    (without `sends`: a server that says nothing of its sends, as a student's does not)."""
    events = [{"event": "listening", "t": 0.0, "proto": "tcp", "listen_fd": 3}]
    for conn_id, (n, opened, closed) in enumerate(spans, start=1):
        events.append({"event": "accepted", "t": opened, "conn_id": conn_id, "listen_fd": 3, "conn_fd": 4,
                       "client": [f"10.0.0.{10 + n}", 40000 + n]})
        if sends:
            events.append({"event": "sent", "t": closed - 0.001, "conn_id": conn_id, "bytes": 5, "text": "HELLO"})
        events.append({"event": "closed", "t": closed, "conn_id": conn_id})
    return sorted(events, key=lambda e: e["t"])


def record(mode: str, clients: list[ClientRun], spans, captures=None, sends: bool = True) -> RunRecord:
    plan = build_plan(catalog.load("tcp-backlog"), {"server_mode": mode})
    return RunRecord(plan, "abc123", {"server": server_events(spans, sends)}, clients, captures=captures)


def iterative_run(captures=None) -> RunRecord:
    """Five clients at 100.000 s; 1-3 fit the queue; 4 and 5 got in after their SYN's retransmission."""
    t = 100.0
    clients = [client(1, t, 1, t + 0.201, 200), client(2, t, 1, t + 0.405, 404),
               client(3, t, 1, t + 0.610, 609), client(4, t, 1020, t + 1.225, 204),
               client(5, t, 1021, t + 1.430, 409)]
    spans = [(1, t + 0.001, t + 0.201), (2, t + 0.201, t + 0.405), (3, t + 0.405, t + 0.610),
             (4, t + 1.021, t + 1.225), (5, t + 1.225, t + 1.430)]
    return record("iterative", clients, spans, captures)


def test_turns_follow_the_servers_accept_order_and_measure_from_connect():
    found = turns(iterative_run())
    assert [t.instance for t in found] == [f"client-{n}" for n in range(1, 6)]
    assert [round(t.wait_ms) for t in found] == [201, 405, 610, 1225, 1430]


def test_iterative_turns_pass_and_a_wait_that_does_not_grow_fails():
    assert REGISTRY["tcp_served_in_turn"](iterative_run()).passed
    assert REGISTRY["tcp_waits_overlap"](iterative_run()) is None  # not this mode's check
    t = 100.0
    clients = [client(1, t, 1, t + 0.201, 200), client(2, t + 0.3, 1, t + 0.405, 100)]
    result = REGISTRY["tcp_served_in_turn"](record("iterative", clients, [(1, t, t + 0.201), (2, t + 0.301, t + 0.405)]))
    assert not result.passed and "1. client-1 201 ms, 2. client-2 105 ms" in result.detail


def test_reply_gaps_are_taken_on_the_servers_clock_when_it_reports_its_sends():
    """Seen at load 2.6: client-2 read its reply 66 ms late, so two replies the server sent 200 ms
    apart reached their clients 134 ms apart. The server's own send times decide; without them
    (a server that reports nothing) the clients' receive times do, and that gap fails."""
    t = 100.0
    clients = [client(1, t, 1, t + 0.201, 200), client(2, t, 1, t + 0.405 + 0.066, 470),
               client(3, t, 1, t + 0.605, 604)]
    spans = [(1, t + 0.001, t + 0.201), (2, t + 0.201, t + 0.405), (3, t + 0.405, t + 0.606)]
    on_server = REGISTRY["tcp_served_in_turn"](record("iterative", clients, spans))
    assert on_server.passed and "replies 204, 201 ms apart (sent by the server;" in on_server.detail
    on_clients = REGISTRY["tcp_served_in_turn"](record("iterative", clients, spans, sends=False))
    assert not on_clients.passed and "replies 270, 134 ms apart (received by the clients;" in on_clients.detail
    too_close = [(1, t + 0.001, t + 0.201), (2, t + 0.201, t + 0.301), (3, t + 0.301, t + 0.606)]
    assert not REGISTRY["tcp_served_in_turn"](record("iterative", clients, too_close)).passed


def test_overlapping_connections_fail_the_iterative_check():
    t = 100.0
    clients = [client(1, t, 1, t + 0.201, 200), client(2, t, 1, t + 0.405, 404)]
    result = REGISTRY["tcp_served_in_turn"](record("iterative", clients, [(1, t, t + 0.3), (2, t + 0.2, t + 0.405)]))
    assert not result.passed and "at most 2 connection(s) open at once" in result.detail


def test_threaded_waits_overlap_and_a_client_kept_waiting_fails():
    t = 100.0
    clients = [client(n, t, 1, t + 0.202, 201) for n in (1, 2, 3)]
    spans = [(n, t + 0.001 * n, t + 0.202) for n in (1, 2, 3)]
    passed = REGISTRY["tcp_waits_overlap"](record("threaded", clients, spans))
    assert passed.passed and "up to 3 connections open at once" in passed.detail
    assert REGISTRY["tcp_served_in_turn"](record("threaded", clients, spans)) is None
    clients[2] = client(3, t, 1, t + 0.6, 599)
    assert not REGISTRY["tcp_waits_overlap"](record("threaded", clients, spans)).passed


def syn(time: float, n: int, flags=("SYN",), to_client=False) -> Packet:
    ip, port = f"10.0.0.{10 + n}", 40000 + n
    ends = (SERVER[0], ip, SERVER[1], port) if to_client else (ip, SERVER[0], port, SERVER[1])
    return Packet(0, time, ends[0], ends[1], "tcp", 64, 1, 60, ends[2], ends[3], flags)


def server_capture(packets: list[Packet]) -> Captures:
    file = CaptureFile("server", "server", "eth0", "wire", "tcp-backlog.server.eth0.pcap", len(packets))
    return Captures([file], {file.file: tuple(packets)}, {"server": {"eth0": SERVER[0]}})


def test_late_syns_are_named_from_the_servers_capture():
    t = 100.0
    packets = [syn(t, n) for n in range(1, 6)] + [syn(t + 0.0002, n, ("SYN", "ACK"), True) for n in (1, 2, 3)]
    packets += [syn(t + 1.02, n) for n in (4, 5)] + [syn(t + 1.0202, n, ("SYN", "ACK"), True) for n in (4, 5)]
    result = REGISTRY["tcp_late_syn"](iterative_run(server_capture(sorted(packets, key=lambda p: p.time))))
    assert result.passed, result.detail
    assert "client-4: first SYN got no SYN/ACK (queue full), sent again 1.02 s later and answered" in result.detail
    assert "so 3 of 5 clients fit" in result.detail


def test_no_late_syn_when_the_queue_overflowed_fails():
    t = 100.0
    packets = [syn(t, n) for n in range(1, 6)] + [syn(t + 0.0002, n, ("SYN", "ACK"), True) for n in range(1, 6)]
    result = REGISTRY["tcp_late_syn"](iterative_run(server_capture(packets)))
    assert not result.passed and "no SYN was sent twice" in result.detail


def test_without_a_capture_the_late_connects_come_from_the_clients_timings():
    result = REGISTRY["tcp_late_syn"](iterative_run(captures=None))
    assert result.passed and "client-4 connect() took 1020 ms" in result.detail and "no capture" in result.detail


def test_server_mode_is_one_of_its_choices():
    with pytest.raises(ParameterError, match="--server-mode 'forked': allowed iterative, threaded"):
        build_plan(catalog.load("tcp-backlog"), {"server_mode": "forked"})


def test_parallel_clients_get_one_start_moment():
    plan = build_plan(catalog.load("tcp-backlog"), {"clients": "2", "hold": "300ms"})
    argv = plan.instance("client-1").argv
    assert START_AT in argv and _at(argv, "123.000")[argv.index(START_AT)] == "123.000"
    assert plan.instance("server").argv[-6:] == ("--backlog", "1", "--hold", "300ms", "--mode", "iterative")


def test_a_client_ready_after_the_start_moment_is_named():
    run = iterative_run()
    run.clients[4].events.insert(0, {"event": "start", "at": 99.0, "late_ms": 700.0})
    detail = REGISTRY["tcp_served_in_turn"](run).detail
    assert "ready after the common start moment, on a busy machine: client-5 700 ms" in detail
