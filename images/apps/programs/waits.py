"""Where a student's program waits, and how long it would wait: read from the kernel, not guessed.

A client that handles a lost datagram is one whose wait has an end. The kernel shows it: the
system call a sleeping process is in and that call's arguments (``/proc/PID/syscall``), the
timeout those arguments point to (``/proc/PID/mem``, readable by the parent that started the
process, as the same user), and whether the socket it reads is non-blocking
(``/proc/PID/fdinfo/FD``). Python's ``settimeout(5)`` makes ``recvfrom()`` a non-blocking
``recvfrom`` after ``poll(fds, 1, 5000)``: a wait of 5 s. Without a timeout it is a plain
``recvfrom`` on a blocking socket, or ``poll(fds, 1, -1)``: a wait with no end of its own.

So the supervisor (student_run.py) judges a client's wait by what it is, at once and on every
machine alike, instead of racing a wall clock against the program's own timeout:

* a wait the kernel shows has no end (poll/epoll with -1, ppoll/select/pselect with no timeout),
  blocked ``grace_s`` (longer than any reply takes on the lab's path): **waits forever**;
* a blocking receive (recvfrom/recvmsg/read/accept/connect on a blocking socket): no timeout of
  Python's, but ``setsockopt(SO_RCVTIMEO)`` would be invisible here, so it is given the accepted
  maximum ``max_wait_s`` before it is judged to wait forever (a hint never blames what the lab
  did not see);
* a wait with a timeout above ``max_wait_s``, blocked ``grace_s``: **timeout too long**;
* anything else (a timeout up to ``max_wait_s``, a sleep, a running program): left to end by
  itself, under the wall clock (``--limit-s``, well above ``max_wait_s``).

Pure functions (parse_wait, judge) take what was read, so the unit tests feed them kernel lines.
"""
from __future__ import annotations

import platform
import struct
from collections.abc import Callable
from dataclasses import dataclass

WAITS_FOREVER = "waits-forever"
TIMEOUT_TOO_LONG = "timeout-too-long"
O_NONBLOCK = 0o4000

# Per architecture: syscall number -> (name, how its timeout is given, which argument).
#   "ms": an int of milliseconds (negative: none)   "timespec"/"timeval": a pointer (NULL: none)
#   "blocking": no timeout argument; the descriptor (argument 0) says whether it blocks
# A sleep (nanosleep, clock_nanosleep) is no wait for data: it always ends, under the wall clock.
_X86_64 = {
    7: ("poll", "ms", 2), 271: ("ppoll", "timespec", 2), 23: ("select", "timeval", 4),
    270: ("pselect6", "timespec", 4), 232: ("epoll_wait", "ms", 3), 281: ("epoll_pwait", "ms", 3),
    441: ("epoll_pwait2", "timespec", 3),
    45: ("recvfrom", "blocking", 0), 47: ("recvmsg", "blocking", 0), 0: ("read", "blocking", 0),
    43: ("accept", "blocking", 0), 288: ("accept4", "blocking", 0), 42: ("connect", "blocking", 0),
}
_AARCH64 = {
    73: ("ppoll", "timespec", 2), 72: ("pselect6", "timespec", 4), 22: ("epoll_pwait", "ms", 3),
    441: ("epoll_pwait2", "timespec", 3),
    207: ("recvfrom", "blocking", 0), 212: ("recvmsg", "blocking", 0), 63: ("read", "blocking", 0),
    202: ("accept", "blocking", 0), 242: ("accept4", "blocking", 0), 203: ("connect", "blocking", 0),
}
WAIT_CALLS = {"x86_64": _X86_64, "aarch64": _AARCH64}


@dataclass(frozen=True)
class Wait:
    """A system call a process sleeps in, with the end the kernel shows for it.

    ``timeout_s`` None: no end of its own. ``certain``: the kernel shows every way the call could
    end by itself (False for a blocking receive: SO_RCVTIMEO is not visible in /proc).
    """

    call: str
    timeout_s: float | None
    certain: bool
    seen: str   # what the kernel showed, as a student reads it: "poll(..., 5000 ms)"


def _signed(value: int, bits: int) -> int:
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


def parse_wait(line: str, machine: str, read_memory: Callable[[int, int], bytes | None],
               nonblocking: Callable[[int], bool | None]) -> Wait | None:
    """The wait in a ``/proc/PID/syscall`` line, or None (running, or a call that is no wait here).

    >>> parse_wait("7 0x7ffd 0x1 0x1388 0x0 0x0 0x0 0x7ffd 0x7f", "x86_64", None, None)
    Wait(call='poll', timeout_s=5.0, certain=True, seen='poll(..., 5000 ms)')
    >>> parse_wait("7 0x7ffd 0x1 0xffffffffffffffff 0x0 0x0 0x0 0x7ffd 0x7f", "x86_64", None, None).timeout_s is None
    True
    """
    fields = line.split()
    if not fields or fields[0] == "running":
        return None
    try:
        number = int(fields[0])
        args = [int(a, 16) for a in fields[1:7]]
    except ValueError:
        return None
    known = WAIT_CALLS.get(machine, {}).get(number)
    if known is None or len(args) < 6:
        return None
    name, kind, position = known
    arg = args[position]
    if kind == "ms":
        ms = _signed(arg, 32)
        if ms < 0:
            return Wait(name, None, True, f"{name}(..., -1): no timeout")
        return Wait(name, ms / 1000, True, f"{name}(..., {ms} ms)")
    if kind in ("timespec", "timeval"):
        if arg == 0:
            return Wait(name, None, True, f"{name}(..., NULL): no timeout")
        raw = read_memory(arg, 16) if read_memory else None
        if raw is None or len(raw) < 16:
            return Wait(name, 0.0, False, f"{name}(..., a timeout it could not read)")
        seconds, fraction = struct.unpack("<qq", raw[:16])   # x86_64 and aarch64: little-endian
        divisor = 1e6 if kind == "timeval" else 1e9
        timeout = seconds + fraction / divisor
        return Wait(name, timeout, True, f"{name}(..., {timeout:g} s)")
    blocking = None if nonblocking is None else nonblocking(arg)
    if blocking is None:
        return None
    if blocking:   # a non-blocking descriptor does not sleep in this call: nothing to judge
        return None
    return Wait(name, None, False, f"{name}() on a blocking socket (no settimeout)")


def judge(wait: Wait | None, blocked_s: float, max_wait_s: float, grace_s: float) -> str | None:
    """WAITS_FOREVER, TIMEOUT_TOO_LONG, or None: let the program go on.

    >>> forever = Wait("poll", None, True, "")
    >>> judge(forever, 1.0, 10, 2), judge(forever, 2.0, 10, 2)
    (None, 'waits-forever')
    >>> judge(Wait("poll", 5.0, True, ""), 4.9, 10, 2) is None
    True
    >>> judge(Wait("poll", 60.0, True, ""), 2.0, 10, 2)
    'timeout-too-long'
    >>> blocking = Wait("recvfrom", None, False, "")
    >>> judge(blocking, 9.9, 10, 2), judge(blocking, 10.0, 10, 2)
    (None, 'waits-forever')
    """
    if wait is None:
        return None
    if wait.timeout_s is None:
        needed = grace_s if wait.certain else max(grace_s, max_wait_s)
        return WAITS_FOREVER if blocked_s >= needed else None
    if wait.timeout_s > max_wait_s and blocked_s >= grace_s:
        return TIMEOUT_TOO_LONG
    return None


def current_wait(pid: int) -> tuple[str, Wait | None]:
    """This process's wait as the kernel shows it now: (the raw syscall line, the Wait or None)."""
    try:
        with open(f"/proc/{pid}/syscall") as handle:
            line = handle.read().strip()
    except OSError:
        return "", None

    def read_memory(address: int, size: int) -> bytes | None:
        try:
            with open(f"/proc/{pid}/mem", "rb", buffering=0) as memory:
                memory.seek(address)
                return memory.read(size)
        except (OSError, ValueError, OverflowError):
            return None

    def nonblocking(fd: int) -> bool | None:
        try:
            with open(f"/proc/{pid}/fdinfo/{fd}") as handle:
                for entry in handle:
                    if entry.startswith("flags:"):
                        return bool(int(entry.split()[1], 8) & O_NONBLOCK)
        except (OSError, ValueError, IndexError):
            return None
        return None

    return line, parse_wait(line, platform.machine(), read_memory, nonblocking)


class WaitWatch:
    """Follows one process's waits between looks: how long it has been in the same call."""

    def __init__(self, pid: int, max_wait_s: float, grace_s: float,
                 look: Callable[[int], tuple[str, Wait | None]] = current_wait) -> None:
        self.pid, self.max_wait_s, self.grace_s, self.look = pid, max_wait_s, grace_s, look
        self._line = ""
        self._since = 0.0
        self.wait: Wait | None = None
        self.blocked_s = 0.0

    def verdict(self, now: float) -> str | None:
        """Look again; the judgement once the same wait has lasted long enough (see judge())."""
        line, wait = self.look(self.pid)
        if wait is None or line != self._line:
            self._line, self._since = line, now
        self.wait = wait
        self.blocked_s = now - self._since if wait is not None else 0.0
        return judge(wait, self.blocked_s, self.max_wait_s, self.grace_s)
