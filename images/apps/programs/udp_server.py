#!/usr/bin/env python3
"""UDP uppercase echo server: the textbook's UDPServer.py, made observable.

The socket calls, in the textbook's order:

    socket() -> bind() -> loop: recvfrom() -> sendto(reply, client_address)

No listen(), no accept(), no connection: ONE socket serves every client. The server learns where
to reply only from recvfrom(), which returns the sender's address with each datagram.

--recv-ttl (the routed lesson, not in the textbook): the socket asks for IP_RECVTTL (no privilege
needed) and reads with recvmsg() instead of recvfrom() -- the same datagram and sender address,
plus the TTL the packet arrived with, which each router on the way has lowered by one.

Events (one JSON object per line on stdout, see events.py):
    listening {proto: "udp", addr, fd}
    received  {client, bytes, text, seq}   seq = n when the text starts with "seq=<n> ", else null
                                           (+ ttl with --recv-ttl)
    sent      {client, bytes, text}
    error     {client, errno, name, message}   sendto() failed: the server goes on;
                                               client null: the server failed (bind...), exit 1
    stopped   {reason: "max-datagrams" | "SIGTERM" | "SIGINT" | "error", datagrams} (always last)
"""

from __future__ import annotations

import argparse
import socket
import sys

import events

PROGRAM = "udp-server"
# Linux's IP_RECVTTL (<linux/in.h>); Python's socket module does not name it before 3.14.
IP_RECVTTL = getattr(socket, "IP_RECVTTL", 12)


def serve(args: argparse.Namespace, out: events.Events) -> int:
    # socket(): one UDP socket (SOCK_DGRAM) for all clients.
    server_socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    handled = 0
    reason = "max-datagrams"
    try:  # ...until SIGTERM/SIGINT (events.Stop) or --max-datagrams
        # bind(): give it the port clients send to ("" = every local address).
        server_socket.bind((args.bind, args.port))
        if args.recv_ttl:  # not in the textbook: each datagram's arrival TTL comes with it
            server_socket.setsockopt(socket.IPPROTO_IP, IP_RECVTTL, 1)
        out.emit("listening", proto="udp", addr=events.address(server_socket.getsockname()),
                 fd=server_socket.fileno())
        print("The UDP server is ready to receive", file=sys.stderr)

        while args.max_datagrams == 0 or handled < args.max_datagrams:
            ttl = {}
            if args.recv_ttl:
                # recvmsg(): recvfrom() plus ancillary data, here the packet's TTL.
                message, ancillary, _, client_address = server_socket.recvmsg(args.recv_size, 64)
                ttl = {"ttl": received_ttl(ancillary)}
            else:
                # recvfrom(): wait for a datagram; it also gives the client's address.
                message, client_address = server_socket.recvfrom(args.recv_size)
            handled += 1
            client = events.address(client_address)
            out.emit("received", client=client, bytes=len(message), text=events.text(message),
                     seq=events.datagram_seq(message), **ttl)
            reply = message.decode("utf-8", errors="replace").upper().encode()
            try:
                # sendto(): the reply is addressed to where the datagram came from.
                sent = server_socket.sendto(reply, client_address)
            except OSError as exc:
                out.emit("error", client=client, **events.error_fields(exc))
                continue
            out.emit("sent", client=client, bytes=sent, text=events.text(reply))
    except events.Stop as stop:
        reason = stop.reason
    except OSError as exc:  # the server itself failed, e.g. bind(): EADDRINUSE
        reason = "error"
        out.emit("error", client=None, **events.error_fields(exc))
    finally:
        server_socket.close()
    out.emit("stopped", reason=reason, datagrams=handled)
    return 1 if reason == "error" else 0


def received_ttl(ancillary: list) -> int | None:
    """The TTL from recvmsg()'s ancillary data (IP_TTL, a native int), or None without it.

    >>> received_ttl([(socket.IPPROTO_IP, socket.IP_TTL, (63).to_bytes(4, sys.byteorder))])
    63
    """
    for level, kind, data in ancillary:
        if level == socket.IPPROTO_IP and kind == socket.IP_TTL and len(data) >= 4:
            return int.from_bytes(data[:4], sys.byteorder)
    return None


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="UDP uppercase echo server (JSON events on stdout)")
    parser.add_argument("--bind", default="", help='address to bind ("" = all, the default)')
    parser.add_argument("--port", type=events.port_number, default=12000)
    parser.add_argument("--max-datagrams", type=events.non_negative_int, default=0,
                        help="exit 0 after answering N datagrams (0 = forever)")
    parser.add_argument("--recv-size", type=events.positive_int, default=2048)
    parser.add_argument("--recv-ttl", action="store_true",
                        help="report each datagram's arrival TTL (IP_RECVTTL, read with recvmsg())")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    events.stop_on_signals()
    return serve(args, events.Events(PROGRAM))


if __name__ == "__main__":
    sys.exit(main())
