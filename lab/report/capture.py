"""What a captured run adds to its result: pcaps as artifacts, losses, the TCP timeline, the chart.

Rendering only: the losses, connections and chart come from the run's observation
(lab.observe.observation, decoded once), so the JSON, the Markdown and the SVG all tell the same
story as the checks that judged it.
"""
from __future__ import annotations

from typing import Any

from lab.observe.chart import chart_summary
from lab.observe.observation import Observation
from lab.report.sequence_chart import render_mermaid, render_svg
from lab.run.record import RunRecord


def chart_file(record: RunRecord) -> str:
    return f"{record.plan.scenario.name}.sequence.svg"


def capture_fields(record: RunRecord, seen: Observation) -> dict[str, Any]:
    """The additive result fields of a captured run (none for a run without capture).

    `artifacts` lists the pcaps and the chart only when they are kept (--report-dir); without it
    the pcaps were decoded and removed, and each `captures` entry says ``kept: false``.
    """
    captures = record.captures
    if captures is None or seen.chart is None:
        return {}
    kept = captures.kept_in is not None
    chart = seen.chart
    fields: dict[str, Any] = {
        "artifacts": ([f.file for f in captures.files] + ([chart_file(record)] if chart.drawn else []))
        if kept else [],
        "captures": [{"host": f.host, "instance": f.instance, "interface": f.interface, "view": f.view,
                      "file": f.file, "packets": f.packets, "kept": kept} for f in captures.files],
        "capture_losses": [{"from": p.sender, "to": p.receiver, "sent": p.sent, "arrived": p.arrived,
                            "lost": p.lost, "lost_seqs": list(p.lost_seqs), "text": p.describe()}
                           for p in seen.losses],
        "sequence_chart": {**chart_summary(chart), "svg": chart_file(record) if kept and chart.drawn else None,
                           "mermaid": render_mermaid(chart) if chart.drawn else None},
    }
    if seen.connections:
        fields["tcp_connections"] = [
            {"client": view.connection.client, "server": view.connection.server,
             "closed_first": view.findings.closed_first,
             "timeline": [{"ms": r.at_ms, "host": r.who, "kind": r.kind, "what": r.what, "detail": r.detail}
                          for r in view.timeline]}
            for view in seen.connections]
    return fields


def artifact_files(record: RunRecord, seen: Observation, title: str = "") -> dict[str, str]:
    """Files beside the JSON besides the pcaps (already written): the chart's SVG."""
    captures = record.captures
    if captures is None or captures.kept_in is None or not captures.files or seen.chart is None:
        return {}
    if not seen.chart.drawn:
        return {}
    return {chart_file(record): render_svg(seen.chart, title or f"{record.plan.scenario.name} — run {record.run_id}")}
