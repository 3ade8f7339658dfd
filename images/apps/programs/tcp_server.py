#!/usr/bin/env python3
"""TCP uppercase echo server: the textbook's TCPServer.py, made observable.

The socket calls, in the textbook's order:

    socket() -> bind() -> listen() -> loop: accept() -> recv() -> send() -> close()

accept() returns a NEW connection socket for each client while the listening socket stays open
for the next one. The `accepted` event shows it: the connection socket has its own file descriptor
(conn_fd != listen_fd) and its own endpoint pair (conn_local, client).

The backlog lesson adds two options, neither in the textbook:
    --hold D     the server takes D (e.g. 200ms) over each client, between recv() and send(), so
                 clients that arrive at once must wait for those before them (iterative mode);
    --mode threaded  each accepted connection is served by its own thread, so the main loop is back
                 in accept() at once and the clients' waits overlap. Default: iterative, the
                 textbook's loop, one client at a time.

Events (one JSON object per line on stdout, see events.py):
    listening {proto, addr, listen_fd, backlog, mode, hold_ms}
    accepted  {conn_id, client, conn_local, conn_fd, listen_fd}
    received  {conn_id, bytes, text}          (+ sha256 with --until-eof; bytes is then the total)
    sent      {conn_id, bytes, text}
    error     {conn_id, errno, name, message} a client's connection failed: the server goes on;
                                              conn_id null: the server failed (bind...), exit 1
    closed    {conn_id}
    stopped   {reason: "max-clients" | "SIGTERM" | "SIGINT" | "error", clients}  (always last)

Bulk mode (--until-eof), for the loss lesson: read until the client shuts down its sending side
(recv() returns b""), then reply with the uppercase echo of "received <n> bytes sha256 <hex>",
e.g. for the 1 MiB pattern payload of `tcp_client.py --payload-bytes 1048576`:

    RECEIVED 1048576 BYTES SHA256 95ADD04F8D6EE129C763DB7E10D7CF1FB44A11119D25C981F0089BC2A94F854A

The client compares the digest case-insensitively with the one of what it sent.
"""

from __future__ import annotations

import argparse
import hashlib
import socket
import sys
import threading
import time

import events

PROGRAM = "tcp-server"


def serve(args: argparse.Namespace, out: events.Events) -> int:
    # socket(): the LISTENING socket (IPv4, SOCK_STREAM = TCP). It never carries client data.
    server_socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    conn_id = 0
    reason = "max-clients"
    try:  # ...until SIGTERM/SIGINT (events.Stop) or --max-clients
        # Not in the textbook: lets a restarted server bind its port again at once.
        server_socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # bind(): give the socket its port ("" = every local address).
        server_socket.bind((args.bind, args.port))
        # listen(): take connection requests; backlog = handshakes that may wait for accept().
        server_socket.listen(args.backlog)
        listen_fd = server_socket.fileno()
        out.emit("listening", proto="tcp", addr=events.address(server_socket.getsockname()),
                 listen_fd=listen_fd, backlog=args.backlog, mode=args.mode,
                 hold_ms=events.ms(args.hold))
        print("The TCP server is ready to receive", file=sys.stderr)

        workers = []
        while args.max_clients == 0 or conn_id < args.max_clients:
            # accept(): wait for a client whose three-way handshake is done, and get a NEW
            # connection socket for that client alone.
            connection_socket, client_address = server_socket.accept()
            conn_id += 1
            out.emit("accepted", conn_id=conn_id, client=events.address(client_address),
                     conn_local=events.address(connection_socket.getsockname()),
                     conn_fd=connection_socket.fileno(), listen_fd=listen_fd)
            if args.mode == "threaded":
                # Not in the textbook: a thread serves this client while we accept() the next.
                worker = threading.Thread(target=serve_client, daemon=True,
                                          args=(connection_socket, conn_id, args, out))
                worker.start()
                workers.append(worker)
            else:
                serve_client(connection_socket, conn_id, args, out)
        for worker in workers:
            worker.join()
    except events.Stop as stop:
        reason = stop.reason
    except OSError as exc:  # the server itself failed, e.g. bind(): EADDRINUSE
        reason = "error"
        out.emit("error", conn_id=None, **events.error_fields(exc))
    finally:
        server_socket.close()
    out.emit("stopped", reason=reason, clients=conn_id)
    return 1 if reason == "error" else 0


def serve_client(connection_socket: socket.socket, conn_id: int, args: argparse.Namespace,
                 out: events.Events) -> None:
    """One client's turn on its connection socket: recv(), (hold), send(), close()."""
    try:
        if args.until_eof:
            reply = receive_until_eof(connection_socket, conn_id, args.recv_size, out)
        else:
            # recv(): read the client's message from the connection socket.
            message = connection_socket.recv(args.recv_size)
            # ... to the end of its line, should it come in pieces (a Java client's writeBytes()).
            message = events.rest_of_line(connection_socket, message, args.recv_size)
            out.emit("received", conn_id=conn_id, bytes=len(message), text=events.text(message))
            reply = message.decode("utf-8", errors="replace").upper().encode()
        if args.hold:
            time.sleep(args.hold)  # --hold: the work this client costs; the others wait meanwhile
        # send(): the reply goes back on the same connection socket.
        sent = connection_socket.send(reply)
        out.emit("sent", conn_id=conn_id, bytes=sent, text=events.text(reply[:sent]))
    except OSError as exc:
        out.emit("error", conn_id=conn_id, **events.error_fields(exc))
    # close(): close THIS client's connection socket; the listening socket stays open.
    connection_socket.close()
    out.emit("closed", conn_id=conn_id)


def receive_until_eof(connection_socket: socket.socket, conn_id: int, recv_size: int,
                      out: events.Events) -> bytes:
    """Bulk mode: recv() until the client's FIN (b""), then build the digest reply."""
    digest = hashlib.sha256()
    total = 0
    first = b""
    while chunk := connection_socket.recv(recv_size):
        if not first:
            first = chunk
        digest.update(chunk)
        total += len(chunk)
    out.emit("received", conn_id=conn_id, bytes=total, sha256=digest.hexdigest(),
             text=events.text(first))
    return f"received {total} bytes sha256 {digest.hexdigest()}".upper().encode()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="TCP uppercase echo server (JSON events on stdout)")
    parser.add_argument("--bind", default="", help='address to bind ("" = all, the default)')
    parser.add_argument("--port", type=events.port_number, default=12000)
    parser.add_argument("--backlog", type=events.non_negative_int, default=1)
    parser.add_argument("--max-clients", type=events.non_negative_int, default=0,
                        help="exit 0 after serving N clients (0 = forever)")
    parser.add_argument("--recv-size", type=events.positive_int, default=1024)
    parser.add_argument("--hold", type=events.duration_s, default=0.0,
                        help="time taken over each client before replying, e.g. 200ms (default 0)")
    parser.add_argument("--mode", choices=("iterative", "threaded"), default="iterative",
                        help="iterative: one client at a time (the textbook); threaded: a thread each")
    parser.add_argument("--until-eof", action="store_true",
                        help="bulk mode: read until the client's FIN, reply with byte count and SHA256")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    events.stop_on_signals()
    return serve(args, events.Events(PROGRAM))


if __name__ == "__main__":
    sys.exit(main())
