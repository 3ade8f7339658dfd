"""What a student should change, read from what the lab observed. Pure: events in, one sentence out.

A failed check says what was expected and what was seen; the hint says *why*, in the terms of the
lesson (the listening socket, the timeout, upper case), so that a student can act on it alone.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lab.common import sentence
from lab.run.record import BoundSocket, ClientRun

PORT = 12000
KINDS = {"tcp": "TCP (stream, SOCK_STREAM)", "udp": "UDP (datagram, SOCK_DGRAM)"}


@dataclass(frozen=True)
class ServerSeen:
    """What the lab observed of a student's server, beside its clients' events.

    ``sockets`` is None when the lab did not look (or the look failed): a hint then says nothing
    about what was bound. ``ended`` is the supervisor's ``exited`` event when the program ended.
    """

    proto: str = "tcp"
    stderr: str = ""
    sockets: tuple[BoundSocket, ...] | None = None
    ended: dict[str, Any] | None = None


def seen_sockets(sockets: tuple[BoundSocket, ...]) -> str:
    """The sockets a listing showed, as a student reads them.

    >>> seen_sockets((BoundSocket("udp", "0.0.0.0", 12001),)), seen_sockets(())
    ('udp 0.0.0.0:12001', 'none')
    """
    return "; ".join(s.text() for s in sockets) or "none"


def socket_hint(sockets: tuple[BoundSocket, ...] | None, proto: str) -> str:
    """What is wrong with the sockets the lab saw bound on a student's server ('' when nothing is).

    Only what the listing showed is named: the loopback address, another port, the other socket
    type. An empty listing is not blamed here (the program may have crashed or ended; the caller
    says so).

    >>> socket_hint((BoundSocket("tcp", "127.0.0.1", 12000),), "tcp")
    "your server listens on 127.0.0.1:12000, the loopback address only, which other hosts cannot reach: bind(('', 12000)) to listen on every address"
    >>> socket_hint((BoundSocket("udp", "0.0.0.0", 12001),), "udp")
    "your server's socket is bound to udp port 12001, not 12000: bind(('', 12000))"
    >>> socket_hint((BoundSocket("udp", "0.0.0.0", 12000),), "tcp")[:75]
    "your server's socket on port 12000 is a UDP (datagram, SOCK_DGRAM) socket: "
    >>> socket_hint((BoundSocket("tcp", "0.0.0.0", 12000),), "tcp")
    ''
    """
    if not sockets:
        return ""
    mine = [s for s in sockets if s.proto == proto]
    on_port = [s for s in mine if s.port == PORT]
    if on_port and not all(s.loopback for s in on_port):
        return ""
    verb = "listens on" if proto == "tcp" else "is bound to"
    if on_port:
        where = on_port[0]
        return (f"your server {verb} {where.address}:{PORT}, the loopback address only, which other hosts "
                f"cannot reach: bind(('', {PORT})) to {'listen on' if proto == 'tcp' else 'receive on'} "
                "every address")
    other = "udp" if proto == "tcp" else "tcp"
    if any(s.proto == other and s.port == PORT for s in sockets):
        needs = ("socket(AF_INET, SOCK_STREAM), then bind(), listen() and accept()" if proto == "tcp" else
                 "socket(AF_INET, SOCK_DGRAM), then bind() and recvfrom()")
        return (f"your server's socket on port {PORT} is a {KINDS[other]} socket: this scenario needs a "
                f"{KINDS[proto]} server — {needs}")
    if mine:
        ports = ", ".join(str(p) for p in sorted({s.port for s in mine}))
        return f"your server's socket is bound to {proto} port {ports}, not {PORT}: bind(('', {PORT}))"
    return ""


def nothing_bound(sockets: tuple[BoundSocket, ...] | None, proto: str) -> str:
    """What the lab's own look saw when nothing served port 12000 ('' when it did not look)."""
    if sockets is None:
        return ""
    return (f"the lab saw no {proto} socket on port {PORT} on your server's host "
            f"(bound: {seen_sockets(sockets)})")


# Python's messages that name a mistake of the unit, and what to change (first match wins).
CRASH_ADVICE: tuple[tuple[str, str], ...] = (
    ("a bytes-like object is required", "a socket sends bytes, not str: encode() the str first "
                                        "(sentence.encode())"),
    ("'str' object has no attribute 'decode'", "decode() only the bytes that recv()/recvfrom() returned; "
                                               "a str is already decoded"),
    ("can't concat str to bytes", "decode() the bytes that recv() returned before joining them with a str"),
    ("Missing parentheses in call to 'print'", "this is Python 2 syntax: in Python 3, print is a function — "
                                               "print(...)"),
    ("name 'raw_input' is not defined", "raw_input() is Python 2's: in Python 3 it is input()"),
)
# Advice that holds only when the student's line that raised calls this (the traceback shows it).
CRASH_ADVICE_AT: tuple[tuple[str, str, str], ...] = (
    ("Bad file descriptor", "accept(", "accept() was called on a listening socket already closed: close only "
                                       "the connection socket that accept() returned"),
)


def crash_advice(stderr: str) -> str:
    """What to change for a crash whose message the unit explains ('' for any other crash).

    >>> crash_advice("TypeError: a bytes-like object is required, not 'str'")[:35]
    'a socket sends bytes, not str: enco'
    """
    error = last_line(stderr)
    advice = next((advice for words, advice in CRASH_ADVICE if words in error), "")
    code = own_code_line(stderr)
    return advice or next((advice for words, call, advice in CRASH_ADVICE_AT if words in error and call in code), "")


def own_code_line(stderr: str) -> str:
    """The source line Python showed under the innermost frame of the student's own file.

    >>> own_code_line('  File "TCPServer.py", line 7, in <module>\\n    c, a = s.accept()\\n  File "/usr/lib/socket.py", line 2\\n    x\\n')
    'c, a = s.accept()'
    """
    lines = stderr.splitlines()
    code = ""
    for index, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith('File "'):
            name = stripped[6:].partition('"')[0]
            if "/" not in name and not name.startswith("<") and index + 1 < len(lines):
                following = lines[index + 1].strip()
                code = "" if following.startswith(("File \"", "^", "~")) else following
    return code


def crash_hint(stderr: str, who: str = "your program") -> str:
    """'<who> crashed: <Python's message> — <advice>' ('' when it did not crash).

    >>> crash_hint('  File "UDPClient.py", line 6\\nTypeError: a bytes-like object is required\\n', "your client")[:90]
    'your client crashed: TypeError: a bytes-like object is required (UDPClient.py, line 6) — a'
    """
    message = python_message(stderr)
    if not message:
        return ""
    advice = crash_advice(stderr)
    return f"{who} crashed: {message}" + (f" — {advice}" if advice else "")


def misdirected_hint(runs: list[ClientRun]) -> str:
    """Replies that reached another client than the one that sent the datagram ('' when none did).

    What each lab client received counts: its replies, and the datagrams it set aside (a
    duplicate, late or foreign one). One client getting more datagrams than it sent while
    another got none is a reply sent to a fixed address, not to the one recvfrom() returned.
    """
    kinds = ("received", "duplicate", "late", "ignored")
    got = {run.instance: sum(len(run.all(kind)) for kind in kinds) for run in runs}
    sent = {run.instance: len(run.all("sent")) for run in runs}
    flooded = [name for name in got if got[name] > sent[name]]
    starved = [name for name in got if sent[name] and not got[name]]
    foreign = [run.instance for run in runs
               if any(e.get("text", "") not in {s.get("text", "").upper() for s in run.all("sent")}
                      for e in run.all("received"))]
    if not (flooded or foreign) or not (starved or foreign):
        return ""
    where = (flooded or foreign)[0]
    return (f"replies went to the wrong client: {where} got {got[where]} datagram(s) for the {sent[where]} it "
            f"sent, {len(starved)} other client(s) got none — reply to the address recvfrom() returned with "
            "this datagram: server_socket.sendto(reply, client_address)")


def ended_hint(ended: dict[str, Any], served: int, proto: str) -> str:
    """A server that ended by itself (exit status, no crash) after serving `served` clients."""
    status = f"exit status {ended.get('rc')}" if ended.get("rc") is not None else f"killed by {ended.get('signal')}"
    after = (f"after serving {served} client{'s' if served != 1 else ''}" if served else
             "before serving any client")
    loop = "while True: accept() ..." if proto == "tcp" else "while True: recvfrom() ..."
    return f"your server ended ({status}) {after}: a server runs until it is stopped ({loop})"


def ordinal(n: int) -> str:
    """1st, 2nd, 3rd, 4th ... as a student reads it.

    >>> [ordinal(n) for n in (1, 2, 3, 4, 11, 12, 13, 21, 22)]
    ['1st', '2nd', '3rd', '4th', '11th', '12th', '13th', '21st', '22nd']
    """
    if 10 <= n % 100 <= 20:
        return f"{n}th"
    return f"{n}{ {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


def last_line(text: str) -> str:
    """The line of a traceback that says what went wrong (its last non-empty line).

    >>> last_line("Traceback ...\\n  File \\"x.py\\", line 3\\nNameError: name 'y' is not defined\\n")
    "NameError: name 'y' is not defined"
    """
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def python_message(stderr: str) -> str:
    """Python's own message for a crash: the error line, with where it happened when shown.

    The place is the innermost line of the student's own file (named without a directory), not
    the library's (socket.py's accept() raising on a closed socket says nothing to a student);
    only a traceback with no such frame names the library's.

    >>> python_message('  File "UDPServer.py", line 2\\n    print("x"\\n         ^\\nSyntaxError: \\'(\\' was never closed\\n')
    "SyntaxError: '(' was never closed (UDPServer.py, line 2)"
    """
    error = last_line(stderr)
    frames = []
    for line in stderr.splitlines():
        stripped = line.strip()
        if stripped.startswith('File "'):
            name, _, rest = stripped[6:].partition('"')
            line_no = rest.split("line", 1)[-1].split(",")[0].strip() if "line" in rest else ""
            frames.append((name, line_no))
    own = [frame for frame in frames if "/" not in frame[0] and not frame[0].startswith("<")]
    where = ""
    if own or frames:
        name, line_no = (own or frames)[-1]
        where = f" ({name}, line {line_no})" if line_no else f" ({name})"
    return f"{error}{where}" if error else ""


def lab_client_hint(runs: list[ClientRun], server: ServerSeen | str = "") -> str:
    """Why the lab's clients were not served by a student's server: the first failure explains it.

    Runs are in the order the clients ran, so "the 2nd client was refused after the 1st was
    served" points at a listening socket closed after the first client. What the lab saw of the
    server (its crash, its end, the sockets bound) comes before any guess about its code.
    """
    if isinstance(server, str):   # the server's stderr alone
        server = ServerSeen(stderr=server)
    server_stderr = server.stderr
    crashed = crash_hint(server_stderr, "your program")
    sockets = socket_hint(server.sockets, server.proto)
    served_before = 0
    answered = sum(1 for run in runs if run.all("received"))
    for position, run in enumerate(runs, start=1):
        received = run.all("received")
        sent = run.all("sent")
        error = run.first("error")
        timeout = run.first("timeout")
        if error and error.get("during") == "resolve":
            return ("the lab's client could not look up the server's name (the engine's DNS did not answer "
                    "in time): not your program's doing; grade it again")
        if error and error.get("name") == "ECONNREFUSED" and error.get("during") == "connect":
            if served_before:
                refused = f"the {ordinal(position)} client was refused: "
                if crashed:
                    return refused + crashed
                if server.ended:
                    return refused + ended_hint(server.ended, served_before, server.proto)
                return (refused + f"the listening socket was closed after the {ordinal(served_before)} client; "
                        "keep it open and close only the connection socket that accept() returned")
            if sockets:
                return "the client was refused: " + sockets
            if crashed:
                return "the client was refused: " + crashed
            if server.ended:
                return "the client was refused: " + ended_hint(server.ended, 0, server.proto)
            seen = nothing_bound(server.sockets, "tcp")
            return ("the client was refused: " + (seen + ": " if seen else "nothing listened on port 12000 — ")
                    + "bind(('', 12000)) and listen() before accept()")
        if error and error.get("name") in ("ECONNRESET", "EPIPE"):
            return ("the server reset the connection before replying — "
                    + (crashed or "recv() the sentence, then send() the reply before close()"))
        if sent and not received:
            if timeout or (error and error.get("during") == "recv"):
                proto = "udp" if "seq" in (sent[0] or {}) else "tcp"
                if sockets:
                    return "no reply came back: " + sockets
                if crashed:
                    return "no reply came back: " + crashed
                if server.ended:
                    return "no reply came back: " + ended_hint(server.ended, answered, proto)
                if proto == "udp":
                    missed = sum(1 for r in runs if r.all("sent") and not r.all("received"))
                    whose = ("the client's address" if len(runs) == 1 else
                             f"{missed} of the {len(runs)} clients' addresses ({answered} got theirs)")
                    return (f"no reply came back to {whose} while your server kept running: sendto() each "
                            "reply to the address that recvfrom() returned with that datagram")
                waited = f" within {timeout['waited_ms'] / 1000:.1f} s" if timeout and timeout.get("waited_ms") else ""
                size = sum(int(s.get("bytes", len(str(s.get("text", ""))))) for s in sent)
                return (f"no reply came back{waited} after the client sent its {size} bytes, and your server "
                        "kept the connection open: send() the reply once recv() has returned the sentence — "
                        "the client waits for your reply before it closes, so a server that waits for the "
                        "client to close first (recv() returning b'') waits forever")
            return "the server sent an empty reply or closed the connection without replying — " + (
                crashed or "send() the upper-cased sentence before close()")
        for reply in received:
            asked = next((s for s in sent if s.get("seq") == reply.get("seq")), sent[0] if sent else {})
            hint = reply_hint(str(asked.get("text", "")), str(reply.get("text", "")))
            if hint:
                return hint
        if received:
            served_before = position
    return crashed or sockets


def crash_or(advice: str, stderr: str) -> str:
    """Python's message (and what to change, where the unit explains it) when the program crashed, else the advice."""
    return crash_hint(stderr, "your program") or advice


def reply_hint(sent: str, reply: str) -> str:
    """What is wrong with one reply ('' when it is right).

    >>> reply_hint("hello from client", "hello from client")
    'reply not upper case: the server sent the sentence back unchanged; send message.upper()'
    >>> reply_hint("hello from client", "HELLO FROM CLIENT")
    ''
    >>> reply_hint("hello from client", "HELLO")
    "reply is only the first 5 of the sentence's 17 bytes (got 'HELLO'): your server read or sent part of it — recv() returns at most the number of bytes it is given: recv(1024)"
    >>> reply_hint("hello from client", "GOODBYE")
    "reply is not the whole sentence in upper case: sent 'hello from client', got 'GOODBYE'"
    """
    sent, reply = sentence(sent), sentence(reply)   # a line end is no part of the sentence
    if reply == sent.upper():
        return ""
    padding = len(reply) - len(reply.rstrip("\x00"))
    if padding and sentence(reply.rstrip("\x00")) == sent.upper():   # Java's new String(packet.getData())
        return ("the reply is the sentence in upper case followed by NUL bytes (the rest of the buffer): send only the bytes "
                "that came (Java: new String(packet.getData(), 0, packet.getLength()); C: the count recvfrom() returned)")
    if reply == sent:
        return "reply not upper case: the server sent the sentence back unchanged; send message.upper()"
    if reply.upper() == sent.upper():
        return f"reply not upper case: got {reply!r}; send message.upper()"
    if reply and sent.upper().startswith(reply.upper()):
        return (f"reply is only the first {len(reply.encode())} of the sentence's {len(sent.encode())} bytes "
                f"(got {reply!r}): your server read or sent part of it — recv() returns at most the number "
                "of bytes it is given: recv(1024)")
    return f"reply is not the whole sentence in upper case: sent {sent!r}, got {reply!r}"


def wait_hint(limit: dict[str, Any], role: str) -> str:
    """A wait the kernel showed had no end, or one longer than the lab accepts (see waits.py)."""
    call, seen = limit.get("blocked_in") or "a call", limit.get("seen") or ""
    accepted = float(limit.get("limit") or 0)
    if limit.get("what") == "timeout-too-long":
        return (f"your {role}'s timeout of {float(limit.get('wait_timeout_s') or 0):g} s is longer than the "
                f"{accepted:g} s the lab accepts ({seen}): use a shorter settimeout()")
    return (f"your {role} would wait forever in {call}() — the kernel showed {seen or 'no timeout'}, "
            f"blocked {float(limit.get('waited_s') or 0):g} s: a lost datagram needs a timeout — "
            "client_socket.settimeout(1.0), and catch socket.timeout to report the loss")


def limit_hint(limit: dict[str, Any], role: str, limit_s: float) -> str:
    """Why the lab had to stop a student's program, and what to change."""
    what = limit.get("what")
    if what in ("waits-forever", "timeout-too-long"):
        return wait_hint(limit, role)
    if what == "cpu":
        return f"your {role} used up its CPU time and was stopped (an endless loop?)"
    if what == "memory":
        return f"your {role} used more memory than it may and was stopped"
    if what == "output":
        return f"your {role} printed more than {int(limit.get('limit', 0)) // 1024} KiB and was stopped: print less"
    blocked = limit.get("blocked_in")
    if blocked in ("recvfrom", "recvmsg", "read") and role == "client":
        return (f"your client waited forever in {blocked}(): a lost datagram needs a timeout — "
                "client_socket.settimeout(1.0), and catch socket.timeout to report the loss")
    if blocked in ("accept", "accept4"):
        return f"your {role} was still waiting in accept() after {limit_s:g} s"
    if blocked:
        return f"your {role} was still waiting in {blocked}() after {limit_s:g} s: it must finish by itself"
    if limit.get("state") == "running":
        return (f"your {role} was still computing after {limit_s:g} s (an endless loop?): "
                "it must finish by itself")
    return f"your {role} did not finish within {limit_s:g} s"
