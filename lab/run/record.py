"""What a run observed: events per container, probe observations, timings. Pure data."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lab.scenario.plan import Plan

if TYPE_CHECKING:
    from lab.run.capture import Captures


def parse_events(text: str) -> list[dict[str, Any]]:
    """JSON events from a program's stdout, one per line; anything else is ignored.

    >>> parse_events('{"event": "listening", "port": 12000}\\nnoise\\n')
    [{'event': 'listening', 'port': 12000}]
    """
    events = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(event, dict) and "event" in event:
                events.append(event)
    return events


@dataclass
class RoutingObservation:
    """What testinfra saw once the subnets and routes were set: `ip route` and IPv4 forwarding."""

    routes: dict[str, list[str]] = field(default_factory=dict)     # host -> lines of `ip route`
    forwarding: dict[str, str] = field(default_factory=dict)       # host -> /proc/sys/.../ip_forward
    underlay: dict[str, dict[str, str]] = field(default_factory=dict)  # host -> network -> Docker IPv4


@dataclass
class ClientRun:
    """One client program's run: its events, exit code and wall-clock bounds."""

    instance: str
    host: str
    rc: int
    events: list[dict[str, Any]]
    started: float
    ended: float
    stderr: str = ""
    sentence: str | None = None   # a student's client: what it read from its standard input

    def printed(self, stream: str = "stdout") -> str:
        """What a student's program printed (from the supervisor's ``output`` events)."""
        return "".join(e.get("text", "") for e in self.events
                       if e.get("event") == "output" and e.get("stream") == stream)

    def first(self, name: str) -> dict[str, Any] | None:
        return next((e for e in self.events if e.get("event") == name), None)

    def all(self, name: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("event") == name]


@dataclass(frozen=True)
class BoundSocket:
    """A TCP socket listening or a UDP socket bound on a host, as testinfra's listing showed it.

    >>> BoundSocket("tcp", "127.0.0.1", 12000).text(), BoundSocket("udp", "::", 12001).text()
    ('tcp 127.0.0.1:12000', 'udp [::]:12001')
    >>> BoundSocket("tcp", "127.0.0.1", 12000).loopback, BoundSocket("tcp", "0.0.0.0", 12000).loopback
    (True, False)
    """

    proto: str      # tcp | udp
    address: str    # the local address it is bound to: 0.0.0.0 / :: for every address
    port: int

    @property
    def loopback(self) -> bool:
        """Bound to a loopback address: reachable from its own host only."""
        return self.address.startswith("127.") or self.address == "::1"

    def text(self) -> str:
        address = f"[{self.address}]" if ":" in self.address else self.address
        return f"{self.proto} {address}:{self.port}"


@dataclass(frozen=True)
class ProbeObservation:
    """One testinfra look: which probe, when (after which client), what it saw.

    ``sockets``: every listening TCP and bound UDP socket of the looked-at host at that moment
    (Docker's own DNS left out), so that a hint can name what was bound; None when the look failed.
    """

    probe: str
    after: str | None
    passed: bool
    detail: str
    sockets: tuple[BoundSocket, ...] | None = None


@dataclass
class RunRecord:
    """Everything the checks may look at once the run is over."""

    plan: Plan
    run_id: str
    service_events: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    clients: list[ClientRun] = field(default_factory=list)
    probes: list[ProbeObservation] = field(default_factory=list)
    impairment_backend: str | None = None
    impairment_notes: list[str] = field(default_factory=list)
    impaired_instances: set[str] = field(default_factory=set)
    impairment_counters: dict[str, dict[str, int]] = field(default_factory=dict)
    impairment_problems: list[str] | None = None  # None: not re-verified (no impairment, or cut short)
    timed_out: str | None = None  # what was still running when the scenario's time ran out
    captures: Captures | None = None  # None: nothing was captured
    traces: dict[str, str] = field(default_factory=dict)  # instance -> strace output (lab.observe.trace)
    routing: RoutingObservation | None = None  # routed lessons: what each host's routes were
    student_failure: str | None = None  # a student's server that never listened: why
    # What testinfra saw bound on that server's host when it failed to listen (None: not looked).
    server_sockets: tuple[BoundSocket, ...] | None = None

    def clients_of(self, host: str) -> list[ClientRun]:
        return [c for c in self.clients if c.host == host]

    def trace_of_host(self, host: str) -> str | None:
        """The strace output of a traced host's (first) instance; None when it was not traced."""
        for instance in self.plan.of_host(host):
            if instance.name in self.traces:
                return self.traces[instance.name]
        return None
    def student_output(self, instance: str, stream: str = "stdout") -> str:
        """What a student's service printed so far (its supervisor's ``output`` events)."""
        return "".join(e.get("text", "") for e in self.service_events.get(instance, [])
                       if e.get("event") == "output" and e.get("stream") == stream)

    def events_of_host(self, host: str) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        for instance in self.plan.of_host(host):
            events += self.service_events.get(instance.name, [])
        return events
