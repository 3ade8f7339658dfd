"""What a student's socket calls did differently from the reference's, in the unit's words.

Pure: the two call lists (lab.observe.student_trace) and how the run ended in, sentences out,
e.g. "your server never called listen()". Each sentence names only what the trace showed. The
trace is the student's own (strace ran as their user), so these sentences feed hints and the
side-by-side, never a check's verdict.
"""
from __future__ import annotations

from typing import Any

from lab.observe.student_trace import UnitCall

TALK = ("send", "sendto", "recv", "recvfrom")


def _names(calls: list[UnitCall]) -> set[str]:
    return {c.name for c in calls}


def differences(role: str, proto: str, yours: list[UnitCall], reference: list[UnitCall],
                stopped: dict[str, Any] | None = None) -> list[str]:
    """The differences worth a student's attention, most telling first.

    ``stopped``: the supervisor's ``limit`` event when the lab had to stop the program.

    >>> from lab.observe.student_trace import UnitCall as C
    >>> ref = [C("socket", None, 3, "", kind="SOCK_STREAM"), C("bind", 3, 0, ""), C("listen", 3, 0, ""),
    ...        C("accept", 3, 4, ""), C("recv", 4, 5, ""), C("send", 4, 5, ""), C("close", 4, 0, "")]
    >>> differences("server", "tcp", ref[:2] + ref[3:], ref)
    ['your server never called listen()']
    >>> differences("server", "tcp", ref + [C("close", 3, 0, "")], ref)
    ['your server closed its listening socket (fd 3) after the first accept()']
    """
    who = f"your {role}"
    found: list[str] = []
    if not yours:
        return [f"{who} made no socket call the tracer saw"] if reference else []
    kinds = {c.kind for c in yours if c.name == "socket" and c.kind}
    wanted = {c.kind for c in reference if c.name == "socket" and c.kind}
    if wanted and kinds and not kinds & wanted:
        found.append(f"{who} created a {'/'.join(sorted(kinds))} socket; the reference a {'/'.join(sorted(wanted))} one")
    for name in ("socket", "bind", "listen", "accept", "connect"):
        if name in _names(reference) and name not in _names(yours):
            found.append(f"{who} never called {name}()")
    if not any(c.name in TALK for c in yours) and any(c.name in TALK for c in reference):
        found.append(f"{who} never sent or received anything")
    found += _listening_closed(who, yours, reference)
    if proto == "udp" and role == "client" and "connect" in _names(yours) and "connect" not in _names(reference):
        found.append("your UDP client called connect() — allowed, but then it only hears that one server")
    if proto == "udp" and role == "server" and "connect" in _names(yours):
        found.append("your UDP server called connect(): it then answers only that one client")
    found += _bound_ports(who, yours, reference)
    found += _short_receives(proto, yours)
    found += _blocked_at_the_end(who, yours, stopped)
    return found


def _listening_closed(who: str, yours: list[UnitCall], reference: list[UnitCall]) -> list[str]:
    """A listening socket closed after an accept(), when the reference keeps its open."""
    listening = {c.fd for c in yours if c.name == "listen" and c.fd is not None}
    accepted = 0
    for call in yours:
        if call.name == "accept" and call.fd in listening and call.ret is not None and call.ret >= 0:
            accepted += call.repeated
        if call.name == "close" and call.fd in listening and accepted:
            kept_open = not any(c.name == "close" and c.fd in {r.fd for r in reference if r.name == "listen"}
                                and _after_first_accept(reference, c) for c in reference)
            if kept_open:
                nth = "first" if accepted == 1 else f"{accepted} accept()s, after the last"
                return [f"{who} closed its listening socket (fd {call.fd}) after the {nth} accept()"]
    return []


def _after_first_accept(calls: list[UnitCall], target: UnitCall) -> bool:
    seen = False
    for call in calls:
        if call.name == "accept":
            seen = True
        if call is target:
            return seen
    return False


def _bound_ports(who: str, yours: list[UnitCall], reference: list[UnitCall]) -> list[str]:
    mine = {c.port for c in yours if c.name == "bind" and c.port is not None}
    theirs = {c.port for c in reference if c.name == "bind" and c.port is not None}
    if mine and theirs and not mine & theirs:
        return [f"{who} bound port {', '.join(map(str, sorted(mine)))}; the reference binds "
                f"{', '.join(map(str, sorted(theirs)))}"]
    return []


def _short_receives(proto: str, yours: list[UnitCall]) -> list[str]:
    """A UDP receive smaller than the datagram: the kernel drops the rest of it."""
    if proto != "udp":
        return []
    sent = [c.ret for c in yours if c.name in ("send", "sendto") and c.ret]
    for call in yours:
        if call.name in ("recv", "recvfrom") and call.asked and call.ret == call.asked:
            longer = [n for n in sent if n and n > call.asked]
            if longer:   # a client's reply is as long as the datagram it sent
                return [f"{call.name}() asked for {call.asked} bytes of a {longer[0]}-byte datagram: the rest was dropped"]
            return [f"{call.name}() asked for only {call.asked} bytes and got all {call.asked}: "
                    "a longer datagram loses the rest"]
    return []


def _blocked_at_the_end(who: str, yours: list[UnitCall], stopped: dict[str, Any] | None) -> list[str]:
    """The call the program was still blocked in when the lab stopped it."""
    if not stopped or not yours or yours[-1].ret is not None:
        return []
    last = yours[-1].name
    if stopped.get("what") in ("waits-forever", "wall-clock") and last in ("recv", "recvfrom", "accept", "connect"):
        how = "with no timeout " if stopped.get("what") == "waits-forever" or not stopped.get("wait_timeout_s") else ""
        return [f"{who} called {last}() {how}and was still blocked there when the lab stopped it"]
    return []


def _proto(record: Any, role: str) -> str:
    return record.plan.scenario.host(record.plan.slot(role).host).program.split("-")[0]


def _client_run(record: Any, host: str) -> tuple[int, Any] | None:
    """The run of a student's client to show: the first that the lab had to stop or that failed."""
    runs = record.clients_of(host)
    if not runs:
        return None
    for number, run in enumerate(runs, start=1):
        if run.first("limit") or run.rc != 0:
            return number, run
    return 1, runs[0]


def side_by_side(record: Any) -> dict[str, dict[str, Any]]:
    """Per student role: its calls and the reference's, aligned, and the differences in words.

    The result's ``student_trace`` (tests/contracts/result.schema.json).
    """
    from lab.observe import student_trace

    shown: dict[str, dict[str, Any]] = {}
    for host, role in record.plan.student_hosts().items():
        run_number = None
        if role == "server":
            events = record.events_of_host(host)
        else:
            picked = _client_run(record, host)
            if picked is None:
                continue
            run_number, run = picked
            events = run.events
        text = student_trace.trace_text(events)
        if text is None:
            continue
        yours = student_trace.unit_calls(text)
        reference_text = record.reference_traces.get(role)
        reference = student_trace.fold_loops(student_trace.unit_calls(reference_text)) if reference_text else []
        if role == "server":
            yours, reference = student_trace.server_waiting_trimmed(yours), student_trace.server_waiting_trimmed(reference)
        stopped = next((e for e in events if e.get("event") == "limit"), None)
        shown[role] = {
            "tracer": student_trace.TRACER,
            **({"run": run_number} if run_number else {}),
            "calls": [c.text for c in yours],
            "reference": [c.text + (f" ×{c.repeated}" if c.repeated > 1 else "") for c in reference],
            "reference_note": "" if reference_text else record.reference_problems.get(role, "no reference trace"),
            "rows": [r.as_dict() for r in student_trace.align(yours, reference)],
            "differences": differences(role, _proto(record, role), yours, reference, stopped)
                           if reference_text else differences(role, _proto(record, role), yours, yours, stopped),
        }
    return shown


def with_trace_hints(record: Any, results: list[Any]) -> list[Any]:
    """Each failed check's hint followed by what the student's calls did differently (at most two).

    The differences are the student's own account (their trace), so they add to a hint and never
    change a verdict; a run whose trace shows nothing unusual keeps its hints as they were.
    """
    from dataclasses import replace

    try:
        found = [d for shown in side_by_side(record).values() for d in shown["differences"]]
    except Exception:   # an unreadable trace must never cost the student their checks
        return results
    if not found:
        return results
    said = "; ".join(found[:2])
    out = []
    for result in results:
        if result.applicable and not result.passed:
            result = replace(result, hint=f"{result.hint} — your calls: {said}" if result.hint else f"your calls: {said}")
        out.append(result)
    return out
