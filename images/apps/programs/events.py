"""What the four socket programs print, and the few helpers they share.

Every program writes ONE JSON OBJECT PER LINE on stdout, flushed at once, so the lab's checks
read facts instead of scraping prose:

    {"event": "accepted", "t": 1718000000.123, "program": "tcp-server", "conn_id": 1, ...}

`t` is time.time() (seconds since the epoch, comparable across containers that share the host
clock). Socket addresses are `[ip, port]` lists. Anything meant for a human goes to stderr.

This file sits next to the programs and is imported as a plain sibling module (`import events`):
Python puts a script's own directory first on sys.path, so `python3 /opt/socklab/programs/x.py`
finds it from any working directory. Standard library only; Python 3.10+.
"""

from __future__ import annotations

import argparse
import errno
import json
import re
import signal
import socket
import sys
import threading
import time

TEXT_LIMIT = 200  # characters of payload text copied into events

# EAI_* codes of getaddrinfo()/gethostbyname() failures are not errno values.
_EAI_NAMES = {
    getattr(socket, name): name for name in dir(socket) if name.startswith("EAI_")
}


class Events:
    """Prints events for one program; `always` fields (e.g. client_name) go into every event."""

    def __init__(self, program: str, **always: object) -> None:
        self.program = program
        self.always = always
        self.lock = threading.Lock()  # a threaded server's workers emit too: one whole line each

    def emit(self, event: str, **fields: object) -> None:
        record = {"event": event, "t": time.time(), "program": self.program}
        record.update(self.always)
        record.update(fields)
        with self.lock:
            sys.stdout.write(json.dumps(record) + "\n")
            sys.stdout.flush()


def address(sockaddr: tuple) -> list:
    """('10.0.0.2', 12000) -> ['10.0.0.2', 12000], the form every event uses.

    >>> address(("127.0.0.1", 12000))
    ['127.0.0.1', 12000]
    """
    return [sockaddr[0], sockaddr[1]]


def text(data: bytes) -> str:
    """The first TEXT_LIMIT characters of a payload, decoded leniently for display.

    >>> text(b"hello")
    'hello'
    """
    return data[: TEXT_LIMIT * 4].decode("utf-8", errors="replace")[:TEXT_LIMIT]


def error_fields(exc: OSError) -> dict:
    """errno, its symbolic name and the message, e.g. for a refused connection:

    >>> error_fields(ConnectionRefusedError(111, "Connection refused"))["name"]
    'ECONNREFUSED'
    """
    code = exc.errno
    if isinstance(exc, socket.gaierror):
        name = _EAI_NAMES.get(code, "EAI_UNKNOWN")
    else:
        name = errno.errorcode.get(code, "UNKNOWN") if code is not None else "UNKNOWN"
    return {"errno": code, "name": name, "message": exc.strerror or str(exc)}


def ms(seconds: float) -> float:
    """Seconds -> milliseconds, rounded to the microsecond.

    >>> ms(0.0123456)
    12.346
    """
    return round(seconds * 1000.0, 3)


def runnable_s() -> float | None:
    """How long this thread has so far been ready to run but waiting for a CPU (the kernel's own
    count, /proc/thread-self/schedstat); None where the kernel does not keep it.

    A wait measured with the clock includes that time: on a busy machine a program whose timeout
    fired on time may get the CPU back only later. The difference says which it was.
    """
    try:
        with open("/proc/thread-self/schedstat") as stat:
            return int(stat.read().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return None


SEQ_PATTERN = re.compile(rb"^seq=(\d+) ", re.IGNORECASE)


def datagram_seq(data: bytes) -> int | None:
    """The n of a payload starting with `seq=<n> ` (any case, so the echoed `SEQ=<n> ` too).

    >>> datagram_seq(b"SEQ=7 HELLO"), datagram_seq(b"hello")
    (7, None)
    """
    match = SEQ_PATTERN.match(data)
    return int(match.group(1)) if match else None


class Phase:
    """Which blocking call a client is in, and since when: the `during`/`waited_ms` of reports."""

    def __init__(self) -> None:
        self.name = "start"
        self.since = time.monotonic()

    def enter(self, name: str) -> None:
        self.name = name
        self.since = time.monotonic()

    def waited_ms(self) -> float:
        return ms(time.monotonic() - self.since)


class Stop(Exception):
    """Raised in the main thread on SIGTERM or SIGINT, so a program can end its loop cleanly."""

    def __init__(self, signal_name: str) -> None:
        super().__init__(signal_name)
        self.reason = signal_name


def stop_on_signals() -> None:
    """SIGTERM/SIGINT raise Stop (once: a second signal during cleanup is ignored)."""

    def handler(signum: int, _frame: object) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        raise Stop(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


# Argument types shared by the programs' parsers.


def port_number(value: str) -> int:
    port = int(value)
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port must be 0-65535, got {port}")
    return port


def positive_float(value: str) -> float:
    number = float(value)
    if not number > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {value}")
    return number


def non_negative_float(value: str) -> float:
    number = float(value)
    if not number >= 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return number


def non_negative_int(value: str) -> int:
    number = int(value)
    if number < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return number


def positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return number


def duration_s(value: str) -> float:
    """A duration as users type it, in seconds: 200ms, 0.5s, or plain seconds; none/off = 0.

    >>> duration_s("200ms"), duration_s("1.5s"), duration_s("2"), duration_s("none")
    (0.2, 1.5, 2.0, 0.0)
    """
    text = value.strip().lower()
    if text in ("none", "off", ""):
        return 0.0
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(ms|s)?", text)
    if not match:
        raise argparse.ArgumentTypeError(f"expected a duration such as 200ms or 1.5s, got {value!r}")
    number = float(match.group(1))
    return number / 1000 if match.group(2) == "ms" else number


LINE_QUIET_S = 0.1   # a line-based peer's next bytes follow at once; a quiet this long ends the message


def rest_of_line(sock, first: bytes, limit: int, quiet_s: float = LINE_QUIET_S) -> bytes:
    """`first` (one recv()'s bytes), completed to the end of its line when the peer sends in pieces.

    The textbook's Java programs write a line with DataOutputStream.writeBytes(): one send() per
    character, so one recv() may hold only "H". The lab's programs read on while the message does
    not end with a newline, the peer keeps sending within `quiet_s`, and fewer than `limit` bytes
    came: a peer that sends all at once (Python's send(), a C send()) is answered as before, and a
    recv(4) lesson still stops at 4 bytes. A peer that resets the connection after a part (a server
    that read 4 bytes and closed with the rest unread) leaves that part as the message: what came
    is what the lesson shows.
    """
    message = first
    previous = sock.gettimeout()
    try:
        while message and not message.endswith(b"\n") and len(message) < limit:
            sock.settimeout(quiet_s)
            try:
                more = sock.recv(limit - len(message))
            except (TimeoutError, BlockingIOError, ConnectionError):
                break   # the line ends here: quiet, or the peer reset the connection after a part
            if not more:
                break
            message += more
    finally:
        sock.settimeout(previous)
    return message
