"""A student's program's socket calls set beside the reference program's, step by step.

Pure: two strace outputs in (the student's, from the supervisor's ``trace`` events, and the lab's
own program traced the same way in the same role and scenario), rows out. Each call is written
in the unit's words — socket, bind, listen, accept, connect, send/sendto, recv/recvfrom, close —
with its descriptor, address and byte counts (Python's ``send()`` reaches the kernel as
``sendto()`` with no address: it is shown as the ``send()`` the student wrote).

The two lists are aligned on those names (difflib), so a missing listen() or an extra close()
shows as a gap on one side. A loop of the reference's (a client that sends 200 datagrams) is
folded into its first pass and a count, so that one run of a student's client meets one pass.
The student's trace comes from strace running as the student's own user: it is the student's
account of its calls, read as hostile text, shown and used for hints, never for a verdict.
"""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Any

from lab.observe.trace import ACCEPT_CALLS, SocketCall, _split_args, socket_calls

TRACER = "strace -f (as your program's parent, no capability)"
MAX_ROWS = 80
# strace -f -o FILE writes "PID  time call"; on stderr (api-trace) "[pid PID] time call".
_PID_PREFIX = re.compile(r"^(\d+)\s+(?=\d+\.\d+\s)", re.M)


def normalise(text: str) -> str:
    """strace's ``-o FILE`` lines in the form lab.observe.trace reads (``[pid N]`` first).

    >>> normalise("12    1.5 listen(3, 1) = 0")
    '[pid 12] 1.5 listen(3, 1) = 0'
    """
    return _PID_PREFIX.sub(r"[pid \1] ", text)


def trace_text(events: list[dict[str, Any]]) -> str | None:
    """The strace output a supervisor streamed as ``trace`` events; None when it sent none."""
    chunks = [str(e.get("text", "")) for e in events if e.get("event") == "trace"]
    return normalise("".join(chunks)) if chunks else None


@dataclass(frozen=True)
class UnitCall:
    """One call as the unit names it, with what the lesson needs of it."""

    name: str                 # socket | bind | listen | accept | connect | send | sendto | recv | recvfrom | close | ...
    fd: int | None
    ret: int | None
    text: str
    asked: int | None = None  # a receive: the buffer size it asked for
    kind: str = ""            # socket(): SOCK_STREAM | SOCK_DGRAM
    port: int | None = None   # bind/connect/sendto: the port in the address
    repeated: int = 1         # a folded loop: how many passes this call stands for


def unit_name(call: SocketCall) -> str:
    """accept4 → accept; sendto/recvfrom with no address → send/recv (what Python's calls were)."""
    if call.name in ACCEPT_CALLS:
        return "accept"
    if call.name == "sendto" and call.address is None:
        return "send"
    if call.name == "recvfrom" and call.address is None and "NULL" in call.args:
        return "recv"
    return call.name


def unit_call(call: SocketCall) -> UnitCall:
    """The call in the unit's words, e.g. ``recvfrom(3, up to 4 B) = 4 B from 10.0.0.2:12000``."""
    name = unit_name(call)
    parts = [p.strip() for p in _split_args(call.args)]
    result = "…" if call.ret is None else (f"-1 {call.errno}" if call.errno else str(call.ret))
    addr = f"{call.address[0]}:{call.address[1]}" if call.address else ""
    fd = "?" if call.fd is None else str(call.fd)
    asked = kind = None
    if name == "socket":
        kind = next((k for k in (parts[1] if len(parts) > 1 else "").split("|") if k in ("SOCK_STREAM", "SOCK_DGRAM")), "")
        text = f"socket({parts[0] if parts else '?'}, {kind or '?'}) = {result}"
    elif name in ("bind", "connect"):
        text = f"{name}({fd}, {addr or '?'}) = {result}"
    elif name == "listen":
        text = f"listen({fd}, {parts[1] if len(parts) > 1 else '?'}) = {result}"
    elif name == "accept":
        text = f"accept({fd}) = {result}" + (f" from {addr}" if addr and call.ok else "")
    elif name in ("send", "sendto"):
        size = parts[2] if len(parts) > 2 else "?"
        text = f"{name}({fd}, {size} B{' to ' + addr if addr else ''}) = {result}" + (" B" if call.ok else "")
    elif name in ("recv", "recvfrom"):
        asked = int(parts[2]) if len(parts) > 2 and parts[2].isdigit() else None
        text = (f"{name}({fd}, up to {asked if asked is not None else '?'} B) = {result}" + (" B" if call.ok else "")
                + (f" from {addr}" if addr and call.ok else ""))
    else:
        text = call.text()
    if call.ret is None:   # the arguments strace had not printed yet are not shown
        text = f"{name}({fd}) … still waiting" if name != "socket" else text
    return UnitCall(name, call.fd, call.ret, text, asked, kind or "",
                    call.address[1] if call.address else None)


def unit_calls(text: str | None) -> list[UnitCall]:
    """The program's own socket calls (name lookups set apart) in the unit's words."""
    if not text:
        return []
    return [unit_call(c) for c in socket_calls(normalise(text))[0]]


def server_waiting_trimmed(calls: list[UnitCall]) -> list[UnitCall]:
    """A server's calls without the accept()/recv() it was waiting in when the lab stopped it:
    waiting for the next client is what a server does, not a difference worth a row."""
    if calls and calls[-1].ret is None and calls[-1].name in ("accept", "recv", "recvfrom"):
        return calls[:-1]
    return calls


def fold_loops(calls: list[UnitCall], longest: int = 4, at_least: int = 3) -> list[UnitCall]:
    """A block of calls repeated ``at_least`` times in a row becomes its first pass, counted.

    >>> names = [UnitCall(n, 3, 0, n) for n in ["socket"] + ["sendto", "recvfrom"] * 5 + ["close"]]
    >>> [(c.name, c.repeated) for c in fold_loops(names)]
    [('socket', 1), ('sendto', 5), ('recvfrom', 5), ('close', 1)]
    """
    out: list[UnitCall] = []
    i = 0
    while i < len(calls):
        for period in range(1, longest + 1):
            block = [c.name for c in calls[i:i + period]]
            count = 1
            while [c.name for c in calls[i + count * period:i + (count + 1) * period]] == block:
                count += 1
            if count >= at_least and len(block) == period:
                out += [UnitCall(c.name, c.fd, c.ret, c.text, c.asked, c.kind, c.port, count)
                        for c in calls[i:i + period]]
                i += count * period
                break
        else:
            out.append(calls[i])
            i += 1
    return out


@dataclass(frozen=True)
class Row:
    """One step of the side-by-side: the student's call, the reference's, and how they compare."""

    yours: str
    reference: str
    mark: str   # same | differs | only-yours | only-reference

    def as_dict(self) -> dict[str, str]:
        return {"yours": self.yours, "reference": self.reference, "mark": self.mark}


def _shown(call: UnitCall) -> str:
    return call.text + (f" ×{call.repeated}" if call.repeated > 1 else "")


def align(yours: list[UnitCall], reference: list[UnitCall]) -> list[Row]:
    """Both lists step by step, matched on the calls' names; gaps where one side has no such call."""
    rows: list[Row] = []
    matcher = difflib.SequenceMatcher(a=[c.name for c in yours], b=[c.name for c in reference], autojunk=False)
    for op, a0, a1, b0, b1 in matcher.get_opcodes():
        if op == "equal":
            rows += [Row(_shown(a), _shown(b), "same") for a, b in zip(yours[a0:a1], reference[b0:b1])]
            continue
        mine, theirs = yours[a0:a1], reference[b0:b1]
        for index in range(max(len(mine), len(theirs))):
            a = mine[index] if index < len(mine) else None
            b = theirs[index] if index < len(theirs) else None
            mark = "differs" if a and b else ("only-yours" if a else "only-reference")
            rows.append(Row(_shown(a) if a else "", _shown(b) if b else "", mark))
    return rows[:MAX_ROWS]


# Which of a student's calls can put a packet of this kind on the wire (the chart's arrow labels).
_CAUSES = {"syn": ("connect",), "data": ("send", "sendto", "sendmsg"), "fin": ("close", "shutdown"),
           "datagram": ("send", "sendto", "sendmsg")}


def _cause(packet: Any) -> str | None:
    if packet.proto == "udp":
        return "datagram"
    if packet.proto != "tcp" or packet.has("RST"):
        return None
    if packet.has("SYN") and not packet.has("ACK"):
        return "syn"
    if packet.has("FIN"):
        return "fin"
    return "data" if packet.payload_len else None


def short_text(call: SocketCall) -> str:
    """An arrow's label: the call with its descriptor (and size), e.g. ``close(4)``, ``sendto(3, 23 B)``."""
    name = unit_name(call)
    parts = [p.strip() for p in _split_args(call.args)]
    fd = "?" if call.fd is None else str(call.fd)
    if name in ("send", "sendto") and len(parts) > 2:
        return f"{name}({fd}, {parts[2]} B)"
    return f"{name}({fd})"


def labelled_by_calls(arrows: list[Any], instance: str, text: str | None, slack_s: float = 0.002) -> list[Any]:
    """The arrows a student's host sent, labelled with the student's own call that caused each:
    the last call of the matching kind made before the packet left (strace's and the capture's
    clocks are the same kernel clock). The SYN/ACK is the kernel's answer to the student's listen().
    """
    from dataclasses import replace

    if not text:
        return arrows
    calls = [c for c in socket_calls(normalise(text))[0] if c.t is not None]
    listened = next((c for c in calls if c.name == "listen" and c.ok), None)
    out = []
    for arrow in arrows:
        if arrow.sender != instance:
            out.append(arrow)
            continue
        packet = arrow.packet
        if packet.proto == "tcp" and packet.has("SYN", "ACK"):
            label = f"kernel, for {short_text(listened)}" if listened else "kernel"
            out.append(replace(arrow, call=label))
            continue
        cause = "syn" if arrow.call == "connect()" else _cause(packet)   # the handshake's ACK: still connect()
        names = _CAUSES.get(cause or "", ())
        before = [c for c in calls if unit_name(c) in names or c.name in names]
        before = [c for c in before if c.t is not None and c.t <= arrow.sent + slack_s]
        out.append(replace(arrow, call=short_text(before[-1])) if before else arrow)
    return out


def student_arrows(found: list[Any], record: Any) -> list[Any]:
    """The run's arrows; those a student's program sent labelled with its own calls (its trace)."""
    for host, role in record.plan.student_hosts().items():
        for instance in record.plan.of_host(host):
            if role == "server":
                found = labelled_by_calls(found, instance.name, trace_text(record.service_events.get(instance.name, [])))
            else:   # each run of a student's client is its own process: its traces one after another
                found = labelled_by_calls(found, instance.name, "".join(
                    trace_text(run.events) or "" for run in record.clients_of(host)))
    return found
