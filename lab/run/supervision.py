"""What the lab trusts of a student's run: the supervisor's events, checked against the engine.

A student's program runs under images/apps/programs/student_run.py, which reports JSON events.
The supervisor is out of the program's reach (another user: the program can neither write into its
output nor signal it), and on top of that the engine has the last word on how a run ended: the
supervisor exits with the program's status, and a run's ``exited`` event is believed only when the
engine's exit code of that process says the same. Otherwise the run is recorded as the lab saw it:
its events without an end (the lab does not know how it ended).
"""
from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)

#: the supervisor starts as root with only these, and drops them (and root) before the program runs
SUPERVISOR_START_USER = "root"
SUPERVISOR_CAPABILITIES = ("SETUID", "SETGID")
#: the engine keeps at most this much of a student's host's log on disk (two files of half of it),
#: whatever writes into it. The supervisor's own output stays far below one file: it keeps 64 KiB of
#: what the program printed, which JSON escaping (a control byte: \u0001, \\u0001 in the engine's
#: file) makes at most ~7x larger.
STUDENT_LOG_BYTES = 2 * 1024 * 1024

# Linux's signal numbers (the container's kernel), whatever the runner's own platform numbers them.
_LINUX_SIGNALS = ("HUP INT QUIT ILL TRAP ABRT BUS FPE KILL USR1 SEGV USR2 PIPE ALRM TERM STKFLT CHLD "
                  "CONT STOP TSTP TTIN TTOU URG XCPU XFSZ VTALRM PROF WINCH IO PWR SYS").split()
SIGNAL_NUMBERS = {f"SIG{name}": number for number, name in enumerate(_LINUX_SIGNALS, start=1)}


def reported_status(exited: dict[str, Any]) -> int | None:
    """The exit status an ``exited`` event implies for its supervisor (128 + N for signal N).

    >>> reported_status({"rc": 1, "signal": None}), reported_status({"rc": None, "signal": "SIGKILL"})
    (1, 137)
    """
    if isinstance(exited.get("rc"), int):
        return int(exited["rc"])
    number = SIGNAL_NUMBERS.get(str(exited.get("signal")))
    return 128 + number if number else None


def checked_against_engine(events: list[dict[str, Any]], engine_status: int, what: str) -> list[dict[str, Any]]:
    """A run's events, its ``exited`` kept only if it is the one last event and the engine agrees.

    >>> ok = [{"event": "started"}, {"event": "exited", "rc": 1, "signal": None}]
    >>> checked_against_engine(ok, 1, "run") == ok
    True
    >>> checked_against_engine(ok, 0, "run")
    [{'event': 'started'}]
    """
    ends = [e for e in events if e.get("event") == "exited"]
    if len(ends) == 1 and events[-1] is ends[0] and reported_status(ends[0]) == engine_status:
        return events
    if ends:
        log.warning("%s: the supervisor's end (%s) is not what the engine saw (exit status %s); "
                    "recorded without an end", what, [reported_status(e) for e in ends], engine_status)
    return [e for e in events if e.get("event") != "exited"]
