"""Which process owns a run's objects, and whether that process is still alive.

Every object a run creates is labelled ``io.socklab.owner=<host>:<pid>:<start>``, where ``start``
is the process's start time as the kernel counts it (``/proc/<pid>/stat``, field 22), so that a
recycled pid is never mistaken for the owner. An owner is *dead* only when it is certain: same
host, and no process with that pid and start time. An owner on another machine, or one whose
liveness cannot be read, counts as alive: `invoke clean --stale` must never remove a live run.
"""
from __future__ import annotations

import os
import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from lab.common import LABEL_KEPT, LABEL_OWNER, LABEL_RUN



@dataclass(frozen=True)
class Owner:
    """A process that made objects: where it ran, its pid, its start time ("" when unknown)."""

    host: str
    pid: int
    start: str

    def label(self) -> str:
        return f"{self.host}:{self.pid}:{self.start}"

    @classmethod
    def parse(cls, text: str) -> Owner | None:
        """The owner a label names, or None for a label this version cannot read.

        >>> Owner.parse("lab1:42:9001")
        Owner(host='lab1', pid=42, start='9001')
        >>> Owner.parse("nonsense") is None
        True
        """
        host, _, rest = text.rpartition(":")
        host, _, pid = host.rpartition(":")
        if not host or not pid.isdigit():
            return None
        return cls(host, int(pid), rest)


@dataclass(frozen=True)
class LabelledObject:
    """An object an engine found by label: its kind ("container", "network", ...) and labels."""

    kind: str
    name: str
    labels: Mapping[str, str]


def _start_time(pid: int) -> str | None:
    """The kernel's start time of `pid` (clock ticks since boot), None when there is no such process.

    Off Linux (no /proc) the answer is "" when the pid exists: alive, start time unknown.
    """
    try:
        stat = open(f"/proc/{pid}/stat").read()
    except FileNotFoundError:
        if os.path.isdir("/proc/self"):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            return ""
        return ""
    except OSError:
        return ""
    # The command name (field 2) may hold spaces and parentheses: split after its last ")".
    fields = stat[stat.rindex(")") + 2:].split()
    return fields[19]


def me() -> Owner:
    """This process, as the owner label of everything it creates."""
    return Owner(socket.gethostname(), os.getpid(), _start_time(os.getpid()) or "")


def is_dead(owner: Owner) -> bool:
    """True only when the owner is certainly gone (same host, no process with its pid and start)."""
    if owner.host != socket.gethostname():
        return False
    now = _start_time(owner.pid)
    if now is None:
        return True
    return bool(owner.start and now and now != owner.start)


def stale_runs(objects: Iterable[LabelledObject]) -> dict[str, int]:
    """Run id -> number of objects, for runs whose owning process is certainly gone.

    A kept run (--keep) is left on purpose and never stale; an object without an owner label
    (made by an older socklab) is not judged: `invoke clean --run ID` removes it.
    """
    stale: dict[str, int] = {}
    for item in objects:
        labels = item.labels
        owner = Owner.parse(labels.get(LABEL_OWNER, ""))
        if owner is None or labels.get(LABEL_KEPT) == "true" or not is_dead(owner):
            continue
        run_id = labels.get(LABEL_RUN, "")
        stale[run_id] = stale.get(run_id, 0) + 1
    return stale
