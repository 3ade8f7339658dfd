#!/usr/bin/env python3
"""UDP uppercase echo server: the textbook's UDPServer.py, made observable.

The socket calls, in the textbook's order:

    socket() -> bind() -> loop: recvfrom() -> sendto(reply, client_address)

No listen(), no accept(), no connection: ONE socket serves every client. The server learns where
to reply only from recvfrom(), which returns the sender's address with each datagram.

Events (one JSON object per line on stdout, see events.py):
    listening {proto: "udp", addr, fd}
    received  {client, bytes, text, seq}   seq = n when the text starts with "seq=<n> ", else null
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


def serve(args: argparse.Namespace, out: events.Events) -> int:
    # socket(): one UDP socket (SOCK_DGRAM) for all clients.
    server_socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    handled = 0
    reason = "max-datagrams"
    try:  # ...until SIGTERM/SIGINT (events.Stop) or --max-datagrams
        # bind(): give it the port clients send to ("" = every local address).
        server_socket.bind((args.bind, args.port))
        out.emit("listening", proto="udp", addr=events.address(server_socket.getsockname()),
                 fd=server_socket.fileno())
        print("The UDP server is ready to receive", file=sys.stderr)

        while args.max_datagrams == 0 or handled < args.max_datagrams:
            # recvfrom(): wait for a datagram; it also gives the client's address.
            message, client_address = server_socket.recvfrom(args.recv_size)
            handled += 1
            client = events.address(client_address)
            out.emit("received", client=client, bytes=len(message), text=events.text(message),
                     seq=events.datagram_seq(message))
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


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="UDP uppercase echo server (JSON events on stdout)")
    parser.add_argument("--bind", default="", help='address to bind ("" = all, the default)')
    parser.add_argument("--port", type=events.port_number, default=12000)
    parser.add_argument("--max-datagrams", type=events.non_negative_int, default=0,
                        help="exit 0 after answering N datagrams (0 = forever)")
    parser.add_argument("--recv-size", type=events.positive_int, default=2048)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    events.stop_on_signals()
    return serve(args, events.Events(PROGRAM))


if __name__ == "__main__":
    sys.exit(main())
