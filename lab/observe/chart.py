"""The run's message sequence chart as a model: lifelines, arrows, notes and gaps in time order.

One lifeline per host (clients left, services right), one arrow per captured packet from the host
that sent it to the host it was for, program events that no packet shows (``accept()`` returning)
as notes on their lifeline. Long runs keep the first MAX_ARROWS packets, every lost one after them,
and a gap saying how many were left out, so the chart stays readable.

Pure: built once per run by lab.observe.observation from lab.observe.timeline's arrows and the
programs' events; lab.report.sequence_chart draws it (SVG, Mermaid) without computing anything.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lab.observe.timeline import Arrow, events_by_instance
from lab.run.record import RunRecord

MAX_ARROWS = 40
NOTE_EVENTS = {  # events that no packet shows, and what the textbook calls them
    "accepted": "accept() returns a new socket",
    "connected": "connect() returns",
    "closed": "close() returns",
}
TCP_PROGRAMS = ("tcp-server", "tcp-client")



@dataclass(frozen=True)
class Note:
    """A program event on one lifeline."""

    at: float
    who: str
    text: str



@dataclass(frozen=True)
class Gap:
    """Packets left out of the chart at this point."""

    count: int
    text: str



@dataclass
class Chart:
    lifelines: list[tuple[str, str]]                       # (instance, caption)
    rows: list[Arrow | Note | Gap] = field(default_factory=list)
    start: float = 0.0
    drawn: int = 0                                         # arrows drawn
    omitted: int = 0                                       # packets left out

    def position(self, who: str) -> int:
        return [name for name, _ in self.lifelines].index(who)



def build_chart(arrows: list[Arrow], record: RunRecord, max_arrows: int = MAX_ARROWS) -> Chart:
    """Lifelines (clients left, services right), then arrows and notes in time order."""
    roles = {i.name: (i.role, i.program) for i in record.plan.instances}
    shown = [a for a in arrows if a.sender in roles and a.receiver in roles]
    names = sorted({a.sender for a in shown} | {a.receiver for a in shown},
                   key=lambda n: (roles[n][0] != "client", list(roles).index(n)))
    addresses = record.captures.addresses if record.captures else {}
    lifelines = [(n, f"{n} {' '.join(a for a in addresses.get(n, {}).values() if a)}".strip()) for n in names]
    chart = Chart(lifelines, start=shown[0].sent if shown else 0.0)
    notes = [Note(e["t"], who, NOTE_EVENTS[e["event"]])
             for who, events in events_by_instance(record).items()
             if who in names and roles[who][1] in TCP_PROGRAMS
             for e in events if e.get("event") in NOTE_EVENTS and isinstance(e.get("t"), (int, float))]
    notes.sort(key=lambda n: n.at)
    skipped = 0
    for position, arrow in enumerate(shown):
        while notes and notes[0].at <= arrow.sent:
            note = notes.pop(0)
            if position <= max_arrows:  # notes only where every packet is drawn
                chart.rows.append(note)
        if position < max_arrows or arrow.lost:
            if skipped:
                chart.rows.append(_gap(skipped))
                chart.omitted, skipped = chart.omitted + skipped, 0
            chart.rows.append(arrow)
            chart.drawn += 1
        else:
            skipped += 1
    if len(shown) <= max_arrows:
        chart.rows += notes
    if skipped:
        chart.rows.append(_gap(skipped))
        chart.omitted += skipped
    return chart



def _gap(count: int) -> Gap:
    return Gap(count, f"… {count} packet{'s' if count != 1 else ''} not drawn (none of them lost) …")



def chart_summary(chart: Chart) -> dict[str, Any]:
    """What the result file says about the chart."""
    return {"arrows": chart.drawn, "omitted": chart.omitted,
            "lost": sum(1 for r in chart.rows if isinstance(r, Arrow) and r.lost),
            "hosts": [name for name, _ in chart.lifelines]}

