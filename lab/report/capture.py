"""What a captured run adds to its result: pcaps as artifacts, losses, the TCP timeline, the chart.

Pure data for lab.report (which draws the console and writes the files): built from the record,
so the JSON, the Markdown and the SVG all tell the same story.
"""
from __future__ import annotations

from typing import Any

from lab.run.record import RunRecord
from lab.report.sequence_chart import build_chart, chart_summary, render_mermaid, render_svg
from lab.observe.timeline import analyse_connection, arrows, events_by_instance, tcp_connections, timeline_rows, udp_losses


def student_arrows(record: RunRecord) -> list[Any]:
    """The run's arrows; those a student's program sent labelled with its own calls (its trace)."""
    from lab.observe.student_trace import labelled_by_calls, trace_text

    assert record.captures is not None
    found = arrows(record.captures, record)
    for host, role in record.plan.student_hosts().items():
        for instance in record.plan.of_host(host):
            if role == "server":
                text = trace_text(record.service_events.get(instance.name, []))
                found = labelled_by_calls(found, instance.name, text)
            else:   # each run of a student's client is its own process: its traces one after another
                found = labelled_by_calls(found, instance.name, "".join(
                    trace_text(run.events) or "" for run in record.clients_of(host)))
    return found


def chart_file(record: RunRecord) -> str:
    return f"{record.plan.scenario.name}.sequence.svg"


def capture_fields(record: RunRecord) -> dict[str, Any]:
    """The additive result fields of a captured run (none for a run without capture).

    `artifacts` lists the pcaps and the chart only when they are kept (--report-dir); without it
    the pcaps were decoded and removed, and each `captures` entry says ``kept: false``.
    """
    captures = record.captures
    if captures is None:
        return {}
    kept = captures.kept_in is not None
    all_arrows = student_arrows(record) if captures.files else []
    chart = build_chart(all_arrows, record)
    fields: dict[str, Any] = {
        "artifacts": ([f.file for f in captures.files] + ([chart_file(record)] if chart.drawn else []))
        if kept else [],
        "captures": [{"host": f.host, "instance": f.instance, "interface": f.interface, "view": f.view,
                      "file": f.file, "packets": f.packets, "kept": kept} for f in captures.files],
        "capture_losses": [{"from": p.sender, "to": p.receiver, "sent": p.sent, "arrived": p.arrived,
                            "lost": p.lost, "lost_seqs": list(p.lost_seqs), "text": p.describe()}
                           for p in udp_losses(all_arrows)],
        "sequence_chart": {**chart_summary(chart), "svg": chart_file(record) if kept and chart.drawn else None,
                           "mermaid": render_mermaid(chart) if chart.drawn else None},
    }
    connections = tcp_connections(all_arrows)
    if connections:
        events = events_by_instance(record)
        fields["tcp_connections"] = []
        for connection in connections:
            findings = analyse_connection(connection)
            fields["tcp_connections"].append({
                "client": connection.client, "server": connection.server,
                "closed_first": findings.closed_first,
                "timeline": [{"ms": r.at_ms, "host": r.who, "kind": r.kind, "what": r.what, "detail": r.detail}
                             for r in timeline_rows(connection, events)],
            })
    return fields


def artifact_files(record: RunRecord, title: str = "") -> dict[str, str]:
    """Files beside the JSON besides the pcaps (already written): the chart's SVG."""
    captures = record.captures
    if captures is None or captures.kept_in is None or not captures.files:
        return {}
    chart = build_chart(student_arrows(record), record)
    if not chart.drawn:
        return {}
    return {chart_file(record): render_svg(chart, title or f"{record.plan.scenario.name} — run {record.run_id}")}
