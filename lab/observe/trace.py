"""Socket calls from a program's ``strace -f`` output: the API trace the unit's 10-mark question asks for.

Pure (no Docker): the lab starts a traced program as ``strace -f ... python3 program.py`` in its own
container (a parent may trace its own child, so the program keeps no capability), collects what
strace wrote to stderr, and this module turns it into the socket calls in the order observed, with
their return values.

What is kept: calls of the socket family (socket, bind, listen, accept/accept4, connect,
send/sendto/sendmsg/sendmmsg, recv/recvfrom/recvmsg/recvmmsg, shutdown, setsockopt, getsockopt of
SO_ERROR) and close() of a descriptor that is a socket. What is set apart: the C library's own
sockets of a name lookup (a datagram socket to port 53, a Unix socket to nscd) — the program never
wrote those calls, ``gethostbyname()`` did — counted, not listed. Python's startup (closing its
module files) comes before the first socket() and is not a socket call either.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

# A traced program runs under lab.scenario.plan.STRACE_ARGV, which traces only the calls this module
# reads (-e trace=%network,close) with epoch times (-ttt) comparable with the programs' events.

SOCKET_CALLS = frozenset({
    "socket", "bind", "listen", "accept", "accept4", "connect", "send", "sendto", "sendmsg",
    "sendmmsg", "recv", "recvfrom", "recvmsg", "recvmmsg", "shutdown", "setsockopt", "getsockopt",
    "close",
})
ACCEPT_CALLS = frozenset({"accept", "accept4"})
SEND_CALLS = frozenset({"send", "sendto", "sendmsg", "sendmmsg"})
RECV_CALLS = frozenset({"recv", "recvfrom", "recvmsg", "recvmmsg"})
RESOLVER_PORT = 53

_LINE = re.compile(r"^(?:\[pid\s+(?P<pid>\d+)\]\s+)?(?:(?P<t>\d+\.\d+)\s+)?(?P<body>.*)$")
_RESUMED = re.compile(r"^<\.\.\. (?P<name>\w+) resumed>\s?(?P<rest>.*)$")
_UNFINISHED = re.compile(r"^(?P<head>.*?)\s*<unfinished \.\.\.>$")
_CALL = re.compile(r"^(?P<name>\w+)\((?P<args>.*)$")
_RESULT = re.compile(r"^(?P<args>.*)\)\s+=\s+(?P<ret>-?\d+|\?)(?:\s+(?P<errno>E[A-Z0-9]+)(?:\s+\(.*\))?)?"
                     r"(?:\s+\(.*\))?$")
_SOCKADDR = re.compile(r'sin_port=htons\((?P<port>\d+)\),\s*sin_addr=inet_addr\("(?P<ip>[0-9.]+)"\)')
_FAMILY = re.compile(r"sa_family=(AF_\w+)")


@dataclass(frozen=True)
class SocketCall:
    """One system call as strace saw it: name, descriptor, result, and the address it carried.

    ``ret`` is None for a call still blocked when the trace was read (e.g. the next accept()).
    ``address`` is the sockaddr in the call (bind/connect/sendto: given; accept/recvfrom: filled
    in by the kernel), as ``(ip, port)``.
    """

    name: str
    args: str
    ret: int | None
    errno: str | None = None
    t: float | None = None
    pid: int | None = None
    fd: int | None = None
    address: tuple[str, int] | None = None
    family: str | None = None

    @property
    def ok(self) -> bool:
        return self.ret is not None and self.ret >= 0

    def text(self) -> str:
        """The call as a student would write it in the table, with what it returned.

        >>> SocketCall("listen", "3, 1", 0, fd=3).text()
        'listen(3, 1) = 0'
        """
        shown = _display_args(self)
        result = "…" if self.ret is None else (f"-1 {self.errno}" if self.errno else str(self.ret))
        note = ""
        if self.address and self.name in ACCEPT_CALLS | RECV_CALLS and self.ok:
            note = f" from {self.address[0]}:{self.address[1]}"
        return f"{self.name}({shown}) = {result}{note}" + (" (still waiting)" if self.ret is None else "")

    def as_dict(self) -> dict[str, Any]:
        return {"call": self.name, "fd": self.fd, "ret": self.ret, "errno": self.errno, "t": self.t,
                "address": list(self.address) if self.address else None, "text": self.text()}


def _display_args(call: SocketCall) -> str:
    """Only what the lesson needs: descriptor, address, backlog, option; no buffers or lengths."""
    parts = [p.strip() for p in _split_args(call.args)]
    addr = f"{call.address[0]}:{call.address[1]}" if call.address else None
    if call.name == "socket":
        kind = [k for k in (parts[1] if len(parts) > 1 else "").split("|") if k.startswith("SOCK_")
                and k not in ("SOCK_CLOEXEC", "SOCK_NONBLOCK")]
        return ", ".join([parts[0] if parts else "?"] + kind)
    fd = str(call.fd) if call.fd is not None else (parts[0] if parts else "")
    if call.name == "listen":
        return f"{fd}, {parts[1]}" if len(parts) > 1 else fd
    if call.name in ("bind", "connect") or (call.name in SEND_CALLS and addr):
        return f"{fd}, {addr}" if addr else fd
    if call.name in ("setsockopt", "getsockopt"):
        return f"{fd}, {parts[2]}" if len(parts) > 2 else fd
    if call.name == "shutdown":
        return f"{fd}, {parts[1]}" if len(parts) > 1 else fd
    return fd


def _split_args(args: str) -> list[str]:
    """Top-level comma split of strace's argument text (braces, brackets and strings kept whole).

    >>> _split_args('3, {sa_family=AF_INET, sin_port=htons(1)}, [16], "a,b"')
    ['3', ' {sa_family=AF_INET, sin_port=htons(1)}', ' [16]', ' "a,b"']
    """
    parts, depth, quoted, escaped, current = [], 0, False, False, []
    for char in args:
        if quoted:
            current.append(char)
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                quoted = False
            continue
        if char == '"':
            quoted = True
        elif char in "{[(":
            depth += 1
        elif char in "}])":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    if current:
        parts.append("".join(current))
    return parts


def parse_line(line: str) -> tuple[int | None, float | None, str]:
    """(pid, time, body) of one strace line; pid and time None where strace printed none."""
    match = _LINE.match(line.rstrip("\n"))
    assert match is not None  # the pattern matches any line
    pid = int(match["pid"]) if match["pid"] else None
    return pid, float(match["t"]) if match["t"] else None, match["body"]


def parse_calls(text: str) -> list[SocketCall]:
    """Every traced system call of an strace output, in the order they were entered.

    A call that blocked while another process printed appears as ``name(args <unfinished ...>``
    and later ``<... name resumed>rest``: the two halves are joined (and keep the entry's place and
    time). A call with no result yet (the trace was read while it blocked) gets ``ret=None``.
    """
    calls: list[SocketCall | None] = []
    pending: dict[tuple[int | None, str], tuple[int, str, float | None]] = {}
    for line in text.splitlines():
        pid, t, body = parse_line(line)
        if not body or body.startswith(("---", "+++", "strace:")):
            continue
        resumed = _RESUMED.match(body)
        if resumed:
            key = (pid, resumed["name"])
            if key not in pending:
                continue
            index, head, entered = pending.pop(key)
            call = _complete(resumed["name"], head + resumed["rest"], pid, entered)
            calls[index] = call
            continue
        unfinished = _UNFINISHED.match(body)
        if unfinished:
            opened = _CALL.match(unfinished["head"])
            if opened:
                pending[(pid, opened["name"])] = (len(calls), opened["args"], t)
                calls.append(SocketCall(opened["name"], opened["args"].rstrip(", "), None, t=t, pid=pid))
            continue
        opened = _CALL.match(body)
        if opened:
            calls.append(_complete(opened["name"], opened["args"], pid, t))
    return [c for c in calls if c is not None]


def _complete(name: str, rest: str, pid: int | None, t: float | None) -> SocketCall:
    """A call from its argument text up to and including ``) = ret [ERRNO (message)]``."""
    result = _RESULT.match(rest)
    if result is None:  # still blocked when the trace was read
        args, ret, error = rest.rstrip(", "), None, None
    else:
        args, error = result["args"], result["errno"]
        ret = None if result["ret"] == "?" else int(result["ret"])
    first = _split_args(args)[:1]
    fd = int(first[0]) if name != "socket" and first and first[0].strip().isdigit() else None
    address = _SOCKADDR.search(args)
    family = _FAMILY.search(args)
    return SocketCall(name, args, ret, error, t, pid, fd,
                      (address["ip"], int(address["port"])) if address else None,
                      family.group(1) if family else None)


@dataclass
class _Socket:
    """One socket's life in the trace: from socket()/accept() to close()."""

    calls: list[int] = field(default_factory=list)  # indexes into the call list
    resolver: bool = False


def socket_calls(text: str) -> tuple[list[SocketCall], int]:
    """The program's own socket calls, from its first socket() on, and how many calls of the C
    library's name lookups were set apart.

    A descriptor counts as a socket from the socket()/accept() that returned it to its close();
    close() of any other descriptor (a file) is dropped. A socket whose life touches port 53, or
    that is a Unix socket (nscd), belongs to a name lookup, not to the program.
    """
    calls = [c for c in parse_calls(text) if c.name in SOCKET_CALLS]
    start = next((i for i, c in enumerate(calls) if c.name == "socket"), len(calls))
    calls = calls[start:]
    # Keyed by descriptor alone: threads (which -f shows as other pids) share one descriptor table.
    open_sockets: dict[int, _Socket] = {}
    lives: list[_Socket] = []
    owner: list[_Socket | None] = []
    for index, call in enumerate(calls):
        life: _Socket | None = None
        if call.name == "socket" or (call.name in ACCEPT_CALLS and call.ok):
            if call.ok and call.ret is not None:
                life = _Socket(resolver="AF_UNIX" in call.args or "AF_NETLINK" in call.args)
                open_sockets[call.ret] = life
                lives.append(life)
            if call.name in ACCEPT_CALLS and call.fd is not None:  # the listening socket's life too
                listening = open_sockets.get(call.fd)
                if listening is not None:
                    listening.calls.append(index)
        elif call.fd is not None:
            life = open_sockets.get(call.fd)
            if call.name == "close" and life is not None:
                del open_sockets[call.fd]
        if life is not None:
            life.calls.append(index)
            if call.address and call.address[1] == RESOLVER_PORT:
                life.resolver = True
            if call.family == "AF_UNIX":
                life.resolver = True
        owner.append(life)
    kept, hidden = [], 0
    for index, call in enumerate(calls):
        life = owner[index]
        if life is None:
            if call.name == "close":
                continue  # not a socket
            kept.append(call)
        elif life.resolver:
            hidden += 1
        else:
            kept.append(call)
    return kept, hidden

PROGRAM_TITLES = {"tcp-server": "TCP server", "tcp-client": "TCP client",
                  "udp-server": "UDP server", "udp-client": "UDP client"}
NOTES = ("Python's send() and recv() reach the kernel as sendto() and recvfrom() with no address; "
         "a socket with a timeout connects without blocking (connect() = -1 EINPROGRESS), waits, "
         "and reads the outcome with getsockopt(SO_ERROR).")


def api_trace(traced: list[tuple[str, str, str]]) -> dict[str, Any]:
    """The result's ``api_trace``: one column per traced host (host, program, strace text), each
    with its socket calls in the order observed."""
    return api_trace_columns([(host, program, text, *socket_calls(text)) for host, program, text in traced])


def api_trace_columns(traced: list[tuple[str, str, str, list[SocketCall], int]]) -> dict[str, Any]:
    """The same, from calls already parsed (host, program, strace text, calls, lookups hidden)."""
    columns = []
    for host, program, text, calls, hidden in traced:
        problem = next((line.strip() for line in text.splitlines() if line.startswith("strace:")), None)
        columns.append({"host": host, "program": program, "title": PROGRAM_TITLES.get(program, host),
                        "calls": [c.as_dict() for c in calls], "name_lookup_calls_hidden": hidden,
                        "tracer_error": problem})
    return {"tracer": "strace -f", "columns": columns, "notes": NOTES}
