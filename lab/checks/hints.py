"""What a student should change, read from what the lab observed. Pure: events in, one sentence out.

A failed check says what was expected and what was seen; the hint says *why*, in the terms of the
lesson (the listening socket, the timeout, upper case), so that a student can act on it alone.
"""
from __future__ import annotations

from typing import Any

from lab.common import sentence
from lab.run.record import ClientRun


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


def lab_client_hint(runs: list[ClientRun], server_stderr: str = "") -> str:
    """Why the lab's clients were not served by a student's server: the first failure explains it.

    Runs are in the order the clients ran, so "the 2nd client was refused after the 1st was
    served" points at a listening socket closed after the first client.
    """
    served_before = 0
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
                return (f"the {ordinal(position)} client was refused: the listening socket was closed after the "
                        f"{ordinal(served_before)} client; keep it open and close only the connection socket "
                        "that accept() returned")
            return ("the client was refused: nothing listened on port 12000 — "
                    + crash_or("bind(('', 12000)) and listen() before accept()", server_stderr))
        if error and error.get("name") in ("ECONNRESET", "EPIPE"):
            return ("the server reset the connection before replying — "
                    + crash_or("recv() the sentence, then send() the reply before close()", server_stderr))
        if sent and not received:
            if timeout or (error and error.get("during") == "recv"):
                proto = "udp" if "seq" in (sent[0] or {}) else "tcp"
                if proto == "udp":
                    return ("no reply came back: " + crash_or(
                        "sendto() the reply to the address that recvfrom() returned", server_stderr))
                return "no reply came back: " + crash_or("send() the reply on the connection socket", server_stderr)
            return "the server sent an empty reply or closed the connection without replying — " + crash_or(
                "send() the upper-cased sentence before close()", server_stderr)
        for reply in received:
            asked = next((s for s in sent if s.get("seq") == reply.get("seq")), sent[0] if sent else {})
            hint = reply_hint(str(asked.get("text", "")), str(reply.get("text", "")))
            if hint:
                return hint
        if received:
            served_before = position
    return crash_or("", server_stderr)


def crash_or(advice: str, stderr: str) -> str:
    """Python's message when the program crashed, else the advice."""
    message = python_message(stderr)
    if message:
        return f"your program crashed: {message}"
    return advice


def reply_hint(sent: str, reply: str) -> str:
    """What is wrong with one reply ('' when it is right).

    >>> reply_hint("hello from client", "hello from client")
    'reply not upper case: the server sent the sentence back unchanged; send message.upper()'
    >>> reply_hint("hello from client", "HELLO FROM CLIENT")
    ''
    >>> reply_hint("hello from client", "HELLO")
    "reply is not the whole sentence in upper case: sent 'hello from client', got 'HELLO'"
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
