#!/usr/bin/env python3
"""TCP uppercase echo client: the textbook's TCPClient.py, made observable.

The socket calls, in the textbook's order:

    socket() -> connect() -> send() -> recv() -> close()

connect() is where the three-way handshake happens (SYN, SYN-ACK, ACK); `handshake_ms` is how
long it took. --timeout bounds connect() and each recv(). --start-at T waits until the moment T
before it begins, so that several clients (in separate containers) connect at once.

Events (one JSON object per line on stdout, see events.py; each also carries `client_name`):
    start     {at, late_ms}                    (--start-at only) late_ms: how late it was ready
    connected {local, peer, handshake_ms}
    sent      {bytes, text}
    received  {bytes, text, rtt_ms}            rtt_ms: from just before send() to recv()'s return
                                               (bulk mode: from shutdown(SHUT_WR) to the EOF)
    error     {during, errno, name, message}   during: resolve | connect | send | recv
    timeout   {during, waited_ms}
    closed    {}
  bulk mode (--payload-bytes N) adds:
    progress  {seconds, bytes_acked}     while the payload is on its way: bytes the server's TCP
                                         has acknowledged (TCP_INFO), `seconds` after the first
                                         send; at the start, then per 1% of the payload or 0.1 s
    transfer  {bytes, seconds, goodput_mbit_s, sha256_sent, sha256_server, intact}
    tcp_stats {retrans_segs, out_segs}   deltas of /proc/net/snmp Tcp counters (whole netns)

Bulk mode: sendall() N bytes of a fixed pattern, shutdown(SHUT_WR) (our FIN: "no more data,
but I still listen"), read the server's reply until EOF and compare its SHA256 with ours.
`seconds` runs from the first byte sent to the reply read, and goodput = N * 8 / seconds.
In bulk mode `rtt_ms` is NOT measured from send(): it runs from shutdown(SHUT_WR) to the end of
the reply, i.e. the time the server needs to drain what is still in flight, hash it and answer.
The payload goes out in 64 KiB sendall() calls, each bounded by --timeout: the transfer may take
as long as it needs while it makes progress, but fails after --timeout without any.
A small watcher thread (ProgressWatch) reads how much the server has acknowledged while the
socket calls above run unchanged in the main thread: the `progress` events plot delivery over time.

Exit code: 0 success; 1 on error, timeout, empty reply or a bulk transfer that is not intact.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import socket
import struct
import sys
import threading
import time
from pathlib import Path

import events

PROGRAM = "tcp-client"
RECV_SIZE = 1024  # as in the textbook
CHUNK = 64 * 1024
PATTERN = b"socklab bulk payload 0123456789 abcdefghijklmnopqrstuvwxyz\n"
DIGEST_REPLY = re.compile(rb"^RECEIVED (\d+) BYTES SHA256 ([0-9A-F]{64})\s*$", re.IGNORECASE)


def run(args: argparse.Namespace, out: events.Events) -> int:
    if args.start_at:  # clients in separate containers connect at the same moment
        time.sleep(max(0.0, args.start_at - time.time()))
        out.emit("start", at=args.start_at, late_ms=events.ms(max(0.0, time.time() - args.start_at)))
    phase = events.Phase()
    snmp_before = read_tcp_counters() if args.payload_bytes else None
    ok = False
    # socket(): a TCP client socket; the OS picks its port when it connects.
    client_socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    client_socket.settimeout(args.timeout)
    try:
        phase.enter("resolve")
        server_ip = socket.gethostbyname(args.host)  # resolved once: events show the IP
        phase.enter("connect")
        # connect(): the three-way handshake with the server's listening socket.
        client_socket.connect((server_ip, args.port))
        out.emit("connected", local=events.address(client_socket.getsockname()),
                 peer=events.address(client_socket.getpeername()),
                 handshake_ms=phase.waited_ms())
        if args.payload_bytes:
            ok = bulk_transfer(client_socket, args.payload_bytes, phase, out)
        else:
            # The sentence ends with a newline: a line-based server (the textbook's Java TCPServer
            # reads it with readLine()) answers only once the line is complete; the lab's checks
            # compare sentences without it (lab.common.sentence).
            message = args.message.encode() + b"\n"
            phase.enter("send")
            sent_at = time.monotonic()  # the RTT clock starts here, not when recv() is entered
            # send(): our message, on the connected socket (no address needed).
            sent = client_socket.send(message)
            out.emit("sent", bytes=sent, text=events.text(message[:sent]))
            phase.enter("recv")  # --timeout (and a timeout's waited_ms) count from here
            # recv(): wait for the server's reply (it may already be waiting in our buffer).
            reply = client_socket.recv(RECV_SIZE)
            # ... to the end of its line, should it come in pieces (a Java server's writeBytes()).
            reply = events.rest_of_line(client_socket, reply, RECV_SIZE)
            out.emit("received", bytes=len(reply), text=events.text(reply),
                     rtt_ms=events.ms(time.monotonic() - sent_at))
            ok = len(reply) > 0
    except TimeoutError:
        out.emit("timeout", during=phase.name, waited_ms=phase.waited_ms())
    except OSError as exc:
        out.emit("error", during=phase.name, **events.error_fields(exc))
    finally:
        # close(): end the connection (our FIN) and free the socket.
        client_socket.close()
    if snmp_before is not None:
        out.emit("tcp_stats", **counter_deltas(snmp_before, read_tcp_counters()))
    out.emit("closed")
    return 0 if ok else 1


def bulk_transfer(client_socket: socket.socket, size: int, phase: events.Phase,
                  out: events.Events) -> bool:
    """Send `size` pattern bytes, half-close, read the digest reply; True if it matches."""
    data = payload(size)
    sha256_sent = hashlib.sha256(data).hexdigest()
    phase.enter("send")
    started = time.monotonic()
    with ProgressWatch(client_socket, size, started, out):
        view = memoryview(data)
        for offset in range(0, size, CHUNK):
            phase.enter("send")  # the timeout counts from the last progress
            client_socket.sendall(view[offset:offset + CHUNK])
        out.emit("sent", bytes=size, text=events.text(data))
        # shutdown(SHUT_WR): send our FIN, i.e. "no more data", but keep receiving.
        client_socket.shutdown(socket.SHUT_WR)
        phase.enter("recv")
        shut_at = phase.since
        reply = b""
        while chunk := client_socket.recv(RECV_SIZE):
            reply += chunk
            phase.enter("recv")
        seconds = time.monotonic() - started
    out.emit("received", bytes=len(reply), text=events.text(reply),
             rtt_ms=events.ms(time.monotonic() - shut_at))
    match = DIGEST_REPLY.match(reply)
    sha256_server = match.group(2).decode().lower() if match else None
    intact = bool(match) and int(match.group(1)) == size and sha256_server == sha256_sent
    out.emit("transfer", bytes=size, seconds=round(seconds, 6),
             goodput_mbit_s=round(size * 8 / seconds / 1e6, 3),
             sha256_sent=sha256_sent, sha256_server=sha256_server, intact=intact)
    return intact


class ProgressWatch:
    """Emits `progress` events from a thread while a bulk transfer runs (a context manager).

    It only reads the socket's TCP_INFO (tcpi_bytes_acked: what the server's TCP acknowledged,
    i.e. delivered), so the textbook's calls stay as they are in the main thread. It looks every
    millisecond and emits at 1% steps of the payload, or after 0.1 s without one, so a stall
    under loss shows as a flat stretch and a fast transfer still gets its points.
    """

    POLL_S = 0.001
    QUIET_S = 0.1

    def __init__(self, sock: socket.socket, size: int, started: float, out: events.Events) -> None:
        self.sock, self.size, self.started, self.out = sock, size, started, out
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.watch, daemon=True)
        self.last_bytes = 0

    def __enter__(self) -> ProgressWatch:
        self.out.emit("progress", seconds=0.0, bytes_acked=0)
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        self.thread.join()
        acked = self.acked()  # the last point, once the reply is in (or it failed)
        if acked is not None and acked != self.last_bytes:
            self.emit(acked)

    def acked(self) -> int | None:
        acked = bytes_acked(self.sock)
        return None if acked is None else min(acked, self.size)  # our FIN is no payload

    def emit(self, acked: int) -> None:
        self.out.emit("progress", seconds=round(time.monotonic() - self.started, 6), bytes_acked=acked)
        self.last_bytes = acked

    def watch(self) -> None:
        step = max(1, self.size // 100)
        last_at = self.started
        while not self.done.wait(self.POLL_S):
            acked = self.acked()
            now = time.monotonic()
            if acked is None:
                return  # no TCP_INFO here (not Linux): no progress events
            grown = acked - self.last_bytes
            if grown >= step or (grown and now - last_at >= self.QUIET_S) or now - last_at >= 10 * self.QUIET_S:
                self.emit(acked)
                last_at = now
            if acked >= self.size:
                return


# struct tcp_info (linux/tcp.h): tcpi_bytes_acked, a u64, sits at byte 120 (Linux 4.1 and later).
TCPI_BYTES_ACKED = 120


def bytes_acked(sock: socket.socket) -> int | None:
    """Payload bytes the peer's TCP has acknowledged, or None where TCP_INFO does not tell.

    The kernel's count includes our SYN and, at the end, our FIN (one sequence number each); the
    SYN is taken off here, the FIN by whoever knows the payload's size (ProgressWatch caps at it).
    """
    try:
        info = sock.getsockopt(socket.IPPROTO_TCP, getattr(socket, "TCP_INFO", 11), 256)
    except OSError:
        return None
    if len(info) < TCPI_BYTES_ACKED + 8:
        return None
    return max(0, struct.unpack_from("<Q", info, TCPI_BYTES_ACKED)[0] - 1)  # less the SYN


def payload(size: int) -> bytes:
    """`size` bytes of PATTERN repeated: deterministic, printable, easy to recognise in a capture.

    >>> payload(10)
    b'socklab bu'
    """
    return (PATTERN * (size // len(PATTERN) + 1))[:size]


def read_tcp_counters(path: Path = Path("/proc/net/snmp")) -> dict[str, int] | None:
    """The `Tcp:` counters of this network namespace, or None where /proc/net/snmp is missing."""
    try:
        rows = [line.split()[1:] for line in path.read_text().splitlines()
                if line.startswith("Tcp:")]
    except OSError:
        return None
    if len(rows) < 2:
        return None
    return dict(zip(rows[0], (int(value) for value in rows[1])))


def counter_deltas(before: dict[str, int] | None, after: dict[str, int] | None) -> dict:
    def delta(name: str) -> int | None:
        if not before or not after or name not in before or name not in after:
            return None
        return after[name] - before[name]

    return {"retrans_segs": delta("RetransSegs"), "out_segs": delta("OutSegs")}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="TCP uppercase echo client (JSON events on stdout)")
    parser.add_argument("--host", default="server", help="server name or IP (default: server)")
    parser.add_argument("--port", type=events.port_number, default=12000)
    parser.add_argument("--message", default="hello from the tcp client")
    parser.add_argument("--timeout", type=events.positive_float, default=5.0,
                        help="seconds allowed for connect() and for each recv() (default 5)")
    parser.add_argument("--payload-bytes", type=events.non_negative_int, default=0,
                        help="bulk mode: send N pattern bytes, half-close, check the server's SHA256")
    parser.add_argument("--start-at", type=events.non_negative_float, default=0.0,
                        help="wait until this moment (seconds since the epoch) before socket(): "
                             "clients in separate containers then connect at once")
    parser.add_argument("--name", default=socket.gethostname(),
                        help="id of this client, printed as client_name in every event")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return run(args, events.Events(PROGRAM, client_name=args.name))


if __name__ == "__main__":
    sys.exit(main())
