"""The four textbook programs over real sockets on 127.0.0.1, run as subprocesses.

Servers bind port 0 and the tests read the real port from their `listening` event, so no two
runs race for a port. Every program runs from a temporary working directory, which also proves
that `import events` works from the script's own directory.
"""

from __future__ import annotations

import contextlib
import errno
import json
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

PROGRAMS = Path(__file__).resolve().parents[2] / "images" / "apps" / "programs"
LOOPBACK = "127.0.0.1"
MIB = 1024 * 1024


def command(script: str, *args: object) -> list[str]:
    return [sys.executable, str(PROGRAMS / script), *(str(arg) for arg in args)]


def parse_events(stdout: str, program: str) -> list[dict]:
    """Every stdout line must be one JSON event of `program` with a plausible timestamp."""
    events = [json.loads(line) for line in stdout.splitlines() if line.strip()]
    for event in events:
        assert isinstance(event["event"], str)
        assert event["program"] == program
        assert abs(event["t"] - time.time()) < 60
    return events


def names(events: list[dict]) -> list[str]:
    return [event["event"] for event in events]


def only(events: list[dict], name: str) -> list[dict]:
    return [event for event in events if event["event"] == name]


class Server:
    """A server subprocess whose stdout lines are collected by a thread as they come."""

    def __init__(self, script: str, program: str, args: list[object], cwd: Path) -> None:
        self.program = program
        self.proc = subprocess.Popen(command(script, *args), stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, cwd=cwd)
        self.lines: queue.Queue[str] = queue.Queue()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.seen: list[str] = []

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line)

    def next_event(self, timeout: float = 5.0) -> dict:
        line = self.lines.get(timeout=timeout)
        self.seen.append(line)
        return parse_events(line, self.program)[0]

    def listening_port(self) -> int:
        event = self.next_event()
        assert event["event"] == "listening"
        assert event["addr"][0] == LOOPBACK and event["addr"][1] > 0
        return event["addr"][1]

    def finish(self, timeout: float = 5.0) -> tuple[int, list[dict]]:
        """Wait for the exit; return its code and ALL its events (including those already read)."""
        rc = self.proc.wait(timeout=timeout)
        self.reader.join(timeout=timeout)
        while not self.lines.empty():
            self.seen.append(self.lines.get())
        return rc, parse_events("".join(self.seen), self.program)


@pytest.fixture
def start_server(tmp_path):
    started: list[Server] = []

    def start(script: str, program: str, *args: object) -> Server:
        server = Server(script, program, ["--bind", LOOPBACK, "--port", 0, *args], tmp_path)
        started.append(server)
        return server

    yield start
    for server in started:
        if server.proc.poll() is None:
            server.proc.kill()
            server.proc.wait(timeout=5)
        server.proc.stdout.close()
        server.proc.stderr.close()


@pytest.fixture
def run_client(tmp_path):
    def run(script: str, program: str, *args: object, timeout: float = 10.0):
        started = time.monotonic()
        done = subprocess.run(command(script, *args), check=False, capture_output=True, text=True,
                              timeout=timeout, cwd=tmp_path)
        elapsed = time.monotonic() - started
        return done.returncode, parse_events(done.stdout, program), elapsed

    return run


def free_port(kind: int) -> int:
    """A loopback port nobody listens on (bound for a moment, then released)."""
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind((LOOPBACK, 0))
        return probe.getsockname()[1]


# --- TCP ----------------------------------------------------------------------------------------


def test_tcp_echo_two_sequential_clients_get_their_own_connection_sockets(start_server, run_client):
    server = start_server("tcp_server.py", "tcp-server", "--max-clients", 2)
    port = server.listening_port()
    messages = ["hello from client one", "second client here"]

    clients = []
    for number, message in enumerate(messages, start=1):
        rc, events, _ = run_client("tcp_client.py", "tcp-client", "--host", LOOPBACK,
                                   "--port", port, "--message", message, "--name", f"c{number}")
        assert rc == 0, events
        assert names(events) == ["connected", "sent", "received", "closed"]
        assert {event["client_name"] for event in events} == {f"c{number}"}
        connected, sent, received, _ = events
        assert connected["peer"] == [LOOPBACK, port]
        assert connected["handshake_ms"] >= 0
        # The lab's client ends its sentence with a newline (a line-based server reads it with readLine()).
        assert sent["bytes"] == len(message) + 1 and sent["text"] == message + "\n"
        assert received["text"] == message.upper() + "\n" and received["bytes"] == len(message) + 1
        assert received["rtt_ms"] >= 0
        clients.append(connected)

    rc, events = server.finish()
    assert rc == 0
    assert names(events) == (["listening"] + ["accepted", "received", "sent", "closed"] * 2
                             + ["stopped"])
    listening = events[0]
    assert listening["proto"] == "tcp" and listening["backlog"] == 1
    accepted = only(events, "accepted")
    assert [event["conn_id"] for event in accepted] == [1, 2]
    for event, client in zip(accepted, clients):
        # A NEW socket per client: its own fd, while the listening socket stays the same one.
        assert event["listen_fd"] == listening["listen_fd"]
        assert event["conn_fd"] != event["listen_fd"]
        assert event["conn_local"] == [LOOPBACK, port]
        assert event["client"] == client["local"]
    assert accepted[0]["client"][1] != accepted[1]["client"][1]
    assert [event["text"] for event in only(events, "received")] == [m + "\n" for m in messages]
    assert [event["text"] for event in only(events, "sent")] == [m.upper() + "\n" for m in messages]
    assert [event["conn_id"] for event in only(events, "closed")] == [1, 2]
    assert events[-1]["reason"] == "max-clients" and events[-1]["clients"] == 2


def _three_clients_at_once(port: int) -> list[tuple[int, list[dict]]]:
    results: list[tuple[int, list[dict]]] = []

    def one(number: int) -> None:
        done = subprocess.run(command("tcp_client.py", "--host", LOOPBACK, "--port", port,
                                      "--message", f"client {number}", "--name", f"c{number}"),
                              capture_output=True, text=True, timeout=10)
        results.append((done.returncode, parse_events(done.stdout, "tcp-client")))

    threads = [threading.Thread(target=one, args=(n,)) for n in range(1, 4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_tcp_iterative_server_holds_each_client_in_turn(start_server):
    """--hold 300ms, iterative: one connection at a time, each lasting the hold."""
    server = start_server("tcp_server.py", "tcp-server", "--max-clients", 3, "--hold", "300ms")
    port = server.listening_port()
    results = _three_clients_at_once(port)
    assert all(rc == 0 for rc, _ in results), results
    rc, events = server.finish()
    assert rc == 0 and events[0]["mode"] == "iterative" and events[0]["hold_ms"] == 300
    spans = sorted((a["t"], c["t"]) for a, c in zip(only(events, "accepted"), only(events, "closed")))
    assert all(end - start >= 0.3 for start, end in spans)
    assert all(later[0] >= earlier[1] for earlier, later in zip(spans, spans[1:])), spans
    assert names(events)[1:5] == ["accepted", "received", "sent", "closed"]


def test_tcp_threaded_server_serves_clients_at_the_same_time(start_server):
    server = start_server("tcp_server.py", "tcp-server", "--max-clients", 3, "--hold", "300ms",
                          "--mode", "threaded")
    port = server.listening_port()
    results = _three_clients_at_once(port)
    assert all(rc == 0 for rc, _ in results), results
    rc, events = server.finish()
    assert rc == 0 and events[0]["mode"] == "threaded"
    opened = {e["conn_id"]: e["t"] for e in only(events, "accepted")}
    closed = {e["conn_id"]: e["t"] for e in only(events, "closed")}
    assert len(closed) == 3 and events[-1]["event"] == "stopped"
    # every connection is open while another is: the waits overlap
    assert max(opened.values()) < min(closed.values())


def test_tcp_bulk_mode_delivers_one_mib_intact(start_server, run_client):
    server = start_server("tcp_server.py", "tcp-server", "--max-clients", 1, "--until-eof")
    port = server.listening_port()

    rc, events, _ = run_client("tcp_client.py", "tcp-client", "--host", LOOPBACK, "--port", port,
                               "--payload-bytes", MIB)
    assert rc == 0, events
    assert [n for n in names(events) if n != "progress"] == [
        "connected", "sent", "received", "transfer", "tcp_stats", "closed"]
    # Progress while the payload is on its way: from 0 to every byte acknowledged, never backwards.
    progress = only(events, "progress")
    assert names(events).index("progress") == 1 and names(events)[::-1].index("progress") > 2
    assert progress[0]["bytes_acked"] == 0 and progress[-1]["bytes_acked"] == MIB, progress
    assert all(a["bytes_acked"] <= b["bytes_acked"] and a["seconds"] <= b["seconds"]
               for a, b in zip(progress, progress[1:]))
    transfer = only(events, "transfer")[0]
    assert transfer["bytes"] == MIB and transfer["intact"] is True
    assert transfer["sha256_server"] == transfer["sha256_sent"]
    assert len(transfer["sha256_sent"]) == 64
    assert transfer["seconds"] > 0 and transfer["goodput_mbit_s"] > 0
    stats = only(events, "tcp_stats")[0]
    assert stats["retrans_segs"] >= 0 and stats["out_segs"] > 0

    rc, server_events = server.finish()
    assert rc == 0
    received = only(server_events, "received")[0]
    assert received["bytes"] == MIB  # counted by the server itself
    assert received["sha256"] == transfer["sha256_sent"]
    assert only(server_events, "sent")[0]["text"] == (
        f"RECEIVED {MIB} BYTES SHA256 {transfer['sha256_sent'].upper()}")


def test_tcp_bulk_mode_reports_a_digest_mismatch(run_client):
    """A fake server that answers with a wrong digest: the client must say `intact: false`."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind((LOOPBACK, 0))
    listener.listen(1)
    listener.settimeout(10)
    wrong = "0" * 64

    def fake_server() -> None:
        connection, _ = listener.accept()
        with connection:
            connection.settimeout(10)
            total = 0
            while chunk := connection.recv(65536):
                total += len(chunk)
            connection.sendall(f"RECEIVED {total} BYTES SHA256 {wrong}".encode())

    thread = threading.Thread(target=fake_server, daemon=True)
    thread.start()
    try:
        rc, events, _ = run_client("tcp_client.py", "tcp-client", "--host", LOOPBACK,
                                   "--port", listener.getsockname()[1], "--payload-bytes", 4096)
    finally:
        thread.join(timeout=10)
        listener.close()
    assert rc == 1
    transfer = only(events, "transfer")[0]
    assert transfer["intact"] is False and transfer["sha256_server"] == wrong


@contextlib.contextmanager
def delayed_echo_server(delay: float) -> Iterator[int]:
    """A one-connection TCP server in a thread on 127.0.0.1 (yields its port): reads one
    message, waits `delay` s, answers it upper-cased."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind((LOOPBACK, 0))
    listener.listen(1)
    listener.settimeout(10)

    def serve() -> None:
        connection, _ = listener.accept()
        with connection:
            connection.settimeout(10)
            message = connection.recv(1024)
            time.sleep(delay)
            connection.sendall(message.upper())

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        thread.join(timeout=10)
        listener.close()


def test_tcp_rtt_counts_the_servers_delay(run_client):
    with delayed_echo_server(delay=0.2) as port:
        rc, events, _ = run_client("tcp_client.py", "tcp-client", "--host", LOOPBACK,
                                   "--port", port, "--message", "slow")
    assert rc == 0, events
    received = only(events, "received")[0]
    assert received["text"] == "SLOW\n"
    assert 190 <= received["rtt_ms"] < 2000


@contextlib.contextmanager
def line_server_in_pieces() -> Iterator[int]:
    """The textbook's Java TCPServer's way: readLine(), then writeBytes(upper + '\\n'), one send() per byte."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind((LOOPBACK, 0))
    listener.listen(1)
    listener.settimeout(10)

    def serve() -> None:
        connection, _ = listener.accept()
        with connection:
            connection.settimeout(10)
            line = connection.makefile("rb").readline()   # waits for the newline, as readLine() does
            for byte in line.upper():
                connection.send(bytes([byte]))
                time.sleep(0.001)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        thread.join(timeout=10)
        listener.close()


def test_tcp_client_works_with_a_line_based_server_that_writes_byte_by_byte(run_client):
    with line_server_in_pieces() as port:
        rc, events, _ = run_client("tcp_client.py", "tcp-client", "--host", LOOPBACK,
                                   "--port", port, "--message", "hello there", "--timeout", "3")
    assert rc == 0, events
    assert only(events, "received")[0]["text"] == "HELLO THERE\n"


def test_tcp_server_reads_a_line_sent_byte_by_byte(start_server):
    server = start_server("tcp_server.py", "tcp-server", "--max-clients", 1)
    with socket.create_connection((LOOPBACK, server.listening_port()), timeout=5) as client:
        for byte in b"hi java\n":   # DataOutputStream.writeBytes(): one send() per character
            client.send(bytes([byte]))
            time.sleep(0.001)
        reply = client.makefile("rb").readline()
    assert reply == b"HI JAVA\n"
    rc, events = server.finish()
    assert only(events, "received")[0]["text"] == "hi java\n"


# Runs tcp_client.main() with a stdout that blocks for 200 ms after the `sent` event (as a full
# pipe or a slow log collector would): the reply is already in the socket buffer when recv() is
# entered, so only a clock started at send() sees the 200 ms.
SLOW_STDOUT_DRIVER = """
import sys, time
sys.path.insert(0, sys.argv[1])
import events, tcp_client
emit = events.Events.emit
def slow_emit(self, event, **fields):
    emit(self, event, **fields)
    if event == "sent":
        time.sleep(0.2)
events.Events.emit = slow_emit
sys.exit(tcp_client.main(sys.argv[2:]))
"""


def test_tcp_rtt_is_measured_from_send_not_from_recv(tmp_path):
    """The server answers at once but the client is busy for 200 ms between send() and recv():
    rtt_ms must include those 200 ms (a clock started at recv() would report ~0 ms)."""
    with delayed_echo_server(delay=0) as port:
        done = subprocess.run([sys.executable, "-c", SLOW_STDOUT_DRIVER, str(PROGRAMS),
                               "--host", LOOPBACK, "--port", str(port)],
                              check=False, capture_output=True, text=True, timeout=10,
                              cwd=tmp_path)
    events = parse_events(done.stdout, "tcp-client")
    assert done.returncode == 0, done.stdout + done.stderr
    assert names(events) == ["connected", "sent", "received", "closed"]
    assert only(events, "received")[0]["rtt_ms"] >= 190


def test_tcp_client_without_server_reports_refused_quickly(run_client):
    rc, events, elapsed = run_client("tcp_client.py", "tcp-client", "--host", LOOPBACK,
                                     "--port", free_port(socket.SOCK_STREAM), "--timeout", 5)
    assert rc == 1
    assert names(events) == ["error", "closed"]
    error = events[0]
    assert error["during"] == "connect"
    assert error["name"] == "ECONNREFUSED" and error["errno"] == errno.ECONNREFUSED
    assert elapsed < 3.0  # refused at once, not after the 5 s timeout


@pytest.mark.parametrize(("script", "program"), [("tcp_server.py", "tcp-server"),
                                                  ("udp_server.py", "udp-server")])
def test_servers_stop_cleanly_on_sigterm(start_server, script, program):
    server = start_server(script, program)
    server.listening_port()
    server.proc.send_signal(signal.SIGTERM)
    rc, events = server.finish()
    assert rc == 0
    assert events[-1]["event"] == "stopped" and events[-1]["reason"] == "SIGTERM"


@pytest.mark.parametrize(("script", "program", "kind"),
                         [("tcp_server.py", "tcp-server", socket.SOCK_STREAM),
                          ("udp_server.py", "udp-server", socket.SOCK_DGRAM)])
def test_servers_report_a_port_in_use_and_exit_1(tmp_path, script, program, kind):
    with socket.socket(socket.AF_INET, kind) as holder:
        holder.bind((LOOPBACK, 0))  # no SO_REUSEADDR: the server's bind() must fail
        if kind == socket.SOCK_STREAM:
            holder.listen(1)
        done = subprocess.run(command(script, "--bind", LOOPBACK, "--port",
                                      holder.getsockname()[1]),
                              check=False, capture_output=True, text=True, timeout=10, cwd=tmp_path)
    events = parse_events(done.stdout, program)
    assert done.returncode == 1
    assert names(events) == ["error", "stopped"]
    assert events[0]["name"] == "EADDRINUSE" and events[1]["reason"] == "error"


# --- UDP ----------------------------------------------------------------------------------------


def test_udp_echo_twenty_datagrams_matched_by_seq(start_server, run_client):
    server = start_server("udp_server.py", "udp-server", "--max-datagrams", 20)
    port = server.listening_port()

    rc, events, _ = run_client("udp_client.py", "udp-client", "--host", LOOPBACK, "--port", port,
                               "--count", 20, "--timeout", 1, "--name", "u1")
    assert rc == 0, events
    assert names(events) == ["sent", "received"] * 20 + ["summary"]
    assert {event["client_name"] for event in events} == {"u1"}
    sent, received = only(events, "sent"), only(events, "received")
    assert [event["seq"] for event in sent] == list(range(1, 21))
    assert [event["seq"] for event in received] == list(range(1, 21))
    for event in sent:
        assert event["to"] == [LOOPBACK, port]
        assert event["text"] == f"seq={event['seq']} hello from the udp client"
    for event in received:
        assert event["from"] == [LOOPBACK, port]
        assert event["text"] == f"SEQ={event['seq']} HELLO FROM THE UDP CLIENT"
        assert event["rtt_ms"] >= 0
    summary = events[-1]
    assert (summary["sent"], summary["received"], summary["lost_seqs"]) == (20, 20, [])
    assert summary["loss_rate"] == 0 and summary["timeouts"] == 0 and summary["errors"] == 0
    rtt = summary["rtt_ms"]
    assert rtt["min"] <= rtt["p50"] <= rtt["p95"] <= rtt["max"]
    assert rtt["min"] == min(event["rtt_ms"] for event in received)
    assert rtt["max"] == max(event["rtt_ms"] for event in received)

    rc, server_events = server.finish()
    assert rc == 0
    server_received = only(server_events, "received")
    assert [event["seq"] for event in server_received] == list(range(1, 21))
    assert len({tuple(event["client"]) for event in server_received}) == 1  # one client socket
    assert all(event["client"] == reply["client"] for event, reply
               in zip(server_received, only(server_events, "sent")))
    assert server_events[-1]["reason"] == "max-datagrams"


def test_udp_ttl_leaves_and_arrives_as_the_kernel_says(start_server, run_client):
    """On loopback nothing routes: the TTL the client's socket sends with is the one that arrives."""
    server = start_server("udp_server.py", "udp-server", "--max-datagrams", 2, "--recv-ttl")
    port = server.listening_port()
    rc, events, _ = run_client("udp_client.py", "udp-client", "--host", LOOPBACK, "--port", port,
                               "--count", 2, "--show-ttl")
    assert rc == 0, events
    sent = [e["ttl"] for e in only(events, "sent")]
    assert len(sent) == 2 and 1 <= sent[0] <= 255
    _, server_events = server.finish()
    received = only(server_events, "received")
    assert [e["ttl"] for e in received] == sent
    assert [e["client"] for e in received] == [e["client"] for e in only(server_events, "sent")]


def test_udp_unconnected_client_without_server_times_out_on_time(run_client):
    count, timeout = 3, 0.3
    rc, events, elapsed = run_client("udp_client.py", "udp-client", "--host", LOOPBACK,
                                     "--port", free_port(socket.SOCK_DGRAM),
                                     "--count", count, "--timeout", timeout)
    assert rc == 1
    assert names(events) == ["sent", "timeout"] * count + ["summary"]
    for event in only(events, "timeout"):
        assert timeout * 1000 <= event["waited_ms"] < timeout * 1000 + 150
        assert 0 <= event["runnable_ms"] <= event["waited_ms"]   # the kernel's count, read around the wait
    summary = events[-1]
    assert summary["received"] == 0 and summary["lost_seqs"] == [1, 2, 3]
    assert summary["loss_rate"] == 1.0 and summary["rtt_ms"] is None
    assert summary["timeouts"] == count and summary["errors"] == 0
    assert count * timeout <= elapsed < count * timeout + 1.0


def test_udp_connected_client_without_server_gets_econnrefused(run_client):
    rc, events, elapsed = run_client("udp_client.py", "udp-client", "--host", LOOPBACK,
                                     "--port", free_port(socket.SOCK_DGRAM),
                                     "--count", 3, "--timeout", 1, "--connect")
    assert rc == 1
    assert names(events) == ["connected"] + ["sent", "error"] * 3 + ["summary"]
    for error in only(events, "error"):
        assert error["name"] == "ECONNREFUSED" and error["errno"] == errno.ECONNREFUSED
        assert error["during"] == "recv"
    summary = events[-1]
    assert summary["errors"] == 3 and summary["timeouts"] == 0 and summary["received"] == 0
    assert elapsed < 1.0  # the ICMP error arrives at once: no datagram waited for its timeout


def test_udp_client_reports_late_and_duplicate_replies(run_client):
    """Fake server: answers seq 1 twice, seq 2 only after the client gave up on it, seq 3 at once.

    Client timeline (timeout 0.5 s): seq 1 answered; the duplicate of seq 1 arrives while it waits
    for seq 2, which times out at 0.5 s; seq 3 is sent; the answer to seq 2 comes at ~0.75 s
    (`late`), then seq 3's answer (`received`).
    """
    fake = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    fake.bind((LOOPBACK, 0))
    fake.settimeout(10)

    def fake_server() -> None:
        for _ in range(3):
            data, client = fake.recvfrom(2048)
            reply = data.upper()
            if data.startswith(b"seq=1 "):
                fake.sendto(reply, client)
            elif data.startswith(b"seq=2 "):
                time.sleep(0.75)
            fake.sendto(reply, client)

    thread = threading.Thread(target=fake_server, daemon=True)
    thread.start()
    try:
        rc, events, _ = run_client("udp_client.py", "udp-client", "--host", LOOPBACK,
                                   "--port", fake.getsockname()[1], "--count", 3,
                                   "--timeout", 0.5)
    finally:
        thread.join(timeout=10)
        fake.close()
    assert rc == 0
    assert names(events) == ["sent", "received", "sent", "duplicate", "timeout", "sent", "late",
                             "received", "summary"]
    assert only(events, "duplicate")[0]["seq"] == 1
    late = only(events, "late")[0]
    assert late["seq"] == 2 and late["rtt_ms"] > 500
    assert [event["seq"] for event in only(events, "received")] == [1, 3]
    summary = events[-1]
    assert summary["received"] == 2 and summary["lost_seqs"] == [2]
    assert summary["late"] == 1 and summary["duplicates"] == 1 and summary["timeouts"] == 1


def test_udp_client_with_count_zero_sends_nothing_and_succeeds(run_client):
    rc, events, _ = run_client("udp_client.py", "udp-client", "--host", LOOPBACK,
                               "--port", free_port(socket.SOCK_DGRAM), "--count", 0)
    assert rc == 0
    assert names(events) == ["summary"]
    assert events[0]["sent"] == 0 and events[0]["rtt_ms"] is None


@pytest.mark.parametrize("module", ["events.py", "tcp_client.py", "udp_client.py"])
def test_helper_doctests_pass(module):
    """The docstring examples (address(), error_fields(), nearest-rank rtt_stats(), ...)."""
    done = subprocess.run([sys.executable, "-m", "doctest", str(PROGRAMS / module)],
                          check=False, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stdout + done.stderr
