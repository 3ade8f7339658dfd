"""What a run showed, decoded once: the one typed observation that checks and reports read.

After a run (lab.scenario_run), :func:`observe` decodes the record once: the clients' figures,
the traced programs' socket calls, the captures' packets as arrows, what was lost on each path,
each TCP connection with its findings and timeline, and the sequence chart. The checks judge it
and every report format renders it; neither decodes a pcap, parses a trace or lays out a chart.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lab.observe.chart import Chart, build_chart
from lab.observe.metrics import metrics
from lab.observe.timeline import (
    Arrow,
    HandshakeFindings,
    PathLoss,
    TcpConnection,
    TimelineRow,
    analyse_connection,
    arrows,
    events_by_instance,
    tcp_connections,
    timeline_rows,
    udp_losses,
)
from lab.observe.trace import SocketCall, api_trace_columns, socket_calls
from lab.run.record import RunRecord


@dataclass(frozen=True)
class ConnectionView:
    """One TCP connection of the captures: its packets, what a student should see in it, and its
    timeline of packets and program events."""

    connection: TcpConnection
    findings: HandshakeFindings
    timeline: tuple[TimelineRow, ...]


@dataclass(frozen=True)
class TracedHost:
    """One traced host's socket calls, in the order its tracer saw them."""

    host: str
    program: str
    text: str                       # the tracer's output as it came
    calls: tuple[SocketCall, ...]
    name_lookup_calls_hidden: int


@dataclass(frozen=True)
class Observation:
    """Everything a run showed that a check or a report reads, decoded once."""

    metrics: dict[str, Any]                          # the result's `metrics` (the contract)
    traced: tuple[TracedHost, ...] = ()              # scenario order; empty: nothing traced
    api_trace: dict[str, Any] | None = None          # the result's `api_trace` (None: not traced)
    captured: bool = False                           # the run captured and pcaps came back
    arrows: tuple[Arrow, ...] = ()                   # every captured packet, sender to receiver
    losses: tuple[PathLoss, ...] = ()                # UDP datagrams lost on each path
    connections: tuple[ConnectionView, ...] = ()     # each TCP connection to the lesson's port
    chart: Chart | None = None                       # None: no capture
    capture_problem: str = ""                        # the captures could not be decoded: why

    def calls_of(self, host: str) -> tuple[SocketCall, ...]:
        """A traced host's socket calls; ValueError when the host was not traced."""
        for traced in self.traced:
            if traced.host == host:
                return traced.calls
        raise ValueError(f"host '{host}' was not traced (trace = true in the scenario)")

    def captured_arrows(self) -> tuple[Arrow, ...]:
        """The arrows, or ValueError saying why there are none to judge."""
        if self.capture_problem:
            raise ValueError(f"the captures could not be read: {self.capture_problem}")
        if not self.captured:
            raise ValueError("nothing was captured (the scenario needs capture = true or --capture)")
        return self.arrows


def observe(record: RunRecord) -> Observation:
    """Decode what the run produced, once (pure: no engine, no files but the record's)."""
    traced = tuple(_traced(record))
    seen: dict[str, Any] = {"metrics": metrics(record), "traced": traced}
    if record.traces:
        seen["api_trace"] = api_trace_columns([(t.host, t.program, t.text, list(t.calls), t.name_lookup_calls_hidden)
                                               for t in traced])
    captures = record.captures
    if captures is not None:
        seen["captured"] = bool(captures.files)
        try:
            all_arrows = arrows(captures, record) if captures.files else []
        except Exception as error:  # a capture that cannot be read fails its checks, not the run
            seen["capture_problem"] = repr(error)
            all_arrows = []
        events = events_by_instance(record)
        seen["arrows"] = tuple(all_arrows)
        seen["losses"] = tuple(udp_losses(all_arrows))
        seen["connections"] = tuple(
            ConnectionView(c, analyse_connection(c), tuple(timeline_rows(c, events)))
            for c in tcp_connections(all_arrows))
        seen["chart"] = build_chart(all_arrows, record)
    return Observation(**seen)


def _traced(record: RunRecord) -> list[TracedHost]:
    found = []
    for host in record.plan.scenario.hosts:
        if not host.trace:
            continue
        text = record.trace_of_host(host.name)
        if text is None:
            continue
        calls, hidden = socket_calls(text)
        found.append(TracedHost(host.name, host.program, text, tuple(calls), hidden))
    return found
