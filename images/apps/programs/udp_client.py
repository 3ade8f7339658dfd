#!/usr/bin/env python3
"""UDP uppercase echo client: the textbook's UDPClient.py, made observable.

The socket calls, in the textbook's order:

    socket() -> sendto(message, (server, port)) -> recvfrom() -> close()

No connect() and no handshake: every datagram carries the server's address. UDP does not
retransmit, so a lost datagram or reply shows up here as a `timeout`.

With --connect, connect() is called on the UDP socket first. It sends nothing; it fixes the
peer so send()/recv() can be used, and it lets the kernel report an ICMP "port unreachable" as
ECONNREFUSED (`error` event). An unconnected socket never sees that error: it just times out.

Datagram n (from 1) carries "seq=<n> <message>". After sending it, the client waits for the
reply with THAT seq until --timeout has passed since the send, never longer. Replies to an
earlier seq arriving meanwhile are reported (`late`, or `duplicate` if that seq already had its
reply) and the wait goes on. --interval seconds pass between the end of one wait and the next
send, so the whole run takes at most count * (timeout + interval) plus start-up.

Events (one JSON object per line on stdout, see events.py; each also carries `client_name`):
    connected {local, peer}                      (--connect only)
    sent      {seq, bytes, text, to}             (+ ttl with --show-ttl: the TTL its packets leave with)
    received  {seq, bytes, text, from, rtt_ms}
    timeout   {seq, waited_ms, runnable_ms}      runnable_ms: the part of the wait it was ready
                                                 to run but waiting for a CPU (if the kernel says)
    late      {seq, rtt_ms, bytes, from}         reply to an earlier seq that had timed out
    duplicate {seq, rtt_ms, bytes, from}         another reply to an already answered seq
    ignored   {bytes, text, from}                a datagram without a seq we sent
    error     {seq, during, errno, name, message}   during: resolve | connect | send | recv
    summary   {sent, received, lost_seqs, loss_rate, rtt_ms, timeouts, errors, late, duplicates}
              rtt_ms = {min, p50, p95, max} or null when no reply came; always printed last.

Exit code: 0 if at least one reply came back (or --count 0), else 1.
"""

from __future__ import annotations

import argparse
import math
import socket
import sys
import time

import events

PROGRAM = "udp-client"
RECV_SIZE = 2048  # as in the textbook


def run(args: argparse.Namespace, out: events.Events) -> int:
    tally = Tally()
    try:
        server_ip = socket.gethostbyname(args.host)  # resolved once: events show the IP
    except OSError as exc:
        out.emit("error", seq=None, during="resolve", **events.error_fields(exc))
        out.emit("summary", **tally.summary())
        return 1
    server_address = (server_ip, args.port)

    # socket(): a UDP socket (SOCK_DGRAM); no connection is set up.
    client_socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    events.stop_on_signals()
    try:
        if args.connect:
            # connect() on UDP: no packet is sent; it only fixes the peer, and lets ICMP
            # errors come back to us as ECONNREFUSED.
            client_socket.connect(server_address)
            out.emit("connected", local=events.address(client_socket.getsockname()),
                     peer=events.address(client_socket.getpeername()))
        # --show-ttl: the TTL this socket's packets leave with (IP_TTL; the system default unless set).
        ttl = {"ttl": client_socket.getsockopt(socket.IPPROTO_IP, socket.IP_TTL)} if args.show_ttl else {}
        for seq in range(1, args.count + 1):
            if seq > 1 and args.interval:
                time.sleep(args.interval)
            message = f"seq={seq} {args.message}".encode()
            tally.sent_at[seq] = time.monotonic()
            runnable_at_send = events.runnable_s()
            try:
                # sendto(): the datagram carries the server's address (send() once connected).
                if args.connect:
                    client_socket.send(message)
                else:
                    client_socket.sendto(message, server_address)
            except OSError as exc:
                out.emit("error", seq=seq, during="send", **events.error_fields(exc))
                tally.errors += 1
                del tally.sent_at[seq]
                continue
            out.emit("sent", seq=seq, bytes=len(message), text=events.text(message),
                     to=events.address(server_address), **ttl)
            deadline = tally.sent_at[seq] + args.timeout
            try:
                # recvfrom(): wait for the reply to THIS datagram, and learn who sent it.
                reply, from_address = receive_reply(client_socket, seq, deadline, tally, out)
            except TimeoutError:
                runnable_now = events.runnable_s()
                runnable = ({"runnable_ms": events.ms(runnable_now - runnable_at_send)}
                            if runnable_now is not None and runnable_at_send is not None else {})
                out.emit("timeout", seq=seq, waited_ms=events.ms(time.monotonic()
                                                                 - tally.sent_at[seq]), **runnable)
                tally.timeouts += 1
            except OSError as exc:
                out.emit("error", seq=seq, during="recv", **events.error_fields(exc))
                tally.errors += 1
            else:
                rtt_ms = events.ms(time.monotonic() - tally.sent_at[seq])
                tally.rtts[seq] = rtt_ms
                out.emit("received", seq=seq, bytes=len(reply), text=events.text(reply),
                         rtt_ms=rtt_ms, **{"from": events.address(from_address)})
    except events.Stop:
        pass  # interrupted: still print the summary of what happened so far
    except OSError as exc:  # connect() failed
        out.emit("error", seq=None, during="connect", **events.error_fields(exc))
        tally.errors += 1
    finally:
        # close(): free the socket.
        client_socket.close()
    out.emit("summary", **tally.summary())
    return 0 if tally.rtts or args.count == 0 else 1


def receive_reply(client_socket: socket.socket, seq: int, deadline: float, tally: Tally,
                  out: events.Events) -> tuple[bytes, tuple]:
    """recvfrom() until the reply for `seq` arrives; TimeoutError once `deadline` has passed.

    Other datagrams that arrive meanwhile are reported (late/duplicate/ignored) and skipped.
    """
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        client_socket.settimeout(remaining)
        reply, from_address = client_socket.recvfrom(RECV_SIZE)
        reply_seq = events.datagram_seq(reply)
        if reply_seq == seq:
            return reply, from_address
        source = {"from": events.address(from_address)}
        if reply_seq in tally.sent_at and reply_seq < seq:
            kind = "duplicate" if reply_seq in tally.rtts else "late"
            if kind == "late":
                tally.late += 1
            else:
                tally.duplicates += 1
            out.emit(kind, seq=reply_seq, bytes=len(reply), **source,
                     rtt_ms=events.ms(time.monotonic() - tally.sent_at[reply_seq]))
        else:
            out.emit("ignored", bytes=len(reply), text=events.text(reply), **source)


class Tally:
    """What happened to each datagram, summarised at the end."""

    def __init__(self) -> None:
        self.sent_at: dict[int, float] = {}  # seq -> time.monotonic() of its sendto()
        self.rtts: dict[int, float] = {}  # seq -> rtt_ms of its in-time reply
        self.timeouts = 0
        self.errors = 0
        self.late = 0
        self.duplicates = 0

    def summary(self) -> dict:
        sent = len(self.sent_at)
        lost = [seq for seq in self.sent_at if seq not in self.rtts]
        return {
            "sent": sent,
            "received": len(self.rtts),
            "lost_seqs": lost,
            "loss_rate": round(len(lost) / sent, 6) if sent else 0.0,
            "rtt_ms": rtt_stats(list(self.rtts.values())),
            "timeouts": self.timeouts,
            "errors": self.errors,
            "late": self.late,
            "duplicates": self.duplicates,
        }


def rtt_stats(rtts: list[float]) -> dict | None:
    """min, p50, p95, max of the RTTs, or None when there are none.

    Percentiles use the NEAREST-RANK method: the p-th percentile of n sorted values is the value
    at rank ceil(p/100 * n) (1-based), so it is always one of the measured RTTs.

    >>> rtt_stats([4.0, 1.0, 3.0, 2.0])
    {'min': 1.0, 'p50': 2.0, 'p95': 4.0, 'max': 4.0}
    >>> rtt_stats([]) is None
    True
    """
    if not rtts:
        return None
    ordered = sorted(rtts)

    def nearest_rank(p: float) -> float:
        return ordered[max(1, math.ceil(p / 100 * len(ordered))) - 1]

    return {"min": ordered[0], "p50": nearest_rank(50), "p95": nearest_rank(95),
            "max": ordered[-1]}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="UDP uppercase echo client (JSON events on stdout)")
    parser.add_argument("--host", default="server", help="server name or IP (default: server)")
    parser.add_argument("--port", type=events.port_number, default=12000)
    parser.add_argument("--message", default="hello from the udp client")
    parser.add_argument("--count", type=events.non_negative_int, default=1,
                        help="datagrams to send (default 1)")
    parser.add_argument("--timeout", type=events.positive_float, default=1.0,
                        help="seconds to wait for each reply, counted from its sendto()")
    parser.add_argument("--interval", type=events.non_negative_float, default=0.0,
                        help="seconds to pause between one datagram's wait and the next send")
    parser.add_argument("--connect", action="store_true",
                        help="connect() the UDP socket first (ICMP errors become ECONNREFUSED)")
    parser.add_argument("--show-ttl", action="store_true",
                        help="report the TTL the datagrams leave with (getsockopt IP_TTL)")
    parser.add_argument("--name", default=socket.gethostname(),
                        help="id of this client, printed as client_name in every event")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return run(args, events.Events(PROGRAM, client_name=args.name))


if __name__ == "__main__":
    sys.exit(main())
