"""The result document as Markdown, for a CI job summary and NAME.md: every text the run or a
student produced goes through lab.escaping.markdown, so none of it is read as Markdown or HTML."""
from __future__ import annotations

from typing import Any

from lab.escaping import markdown as md
from lab.escaping.text import readable
from lab.report.document import TIMELINE_ROWS, trace_rows, verdict_line


def markdown(document: dict[str, Any]) -> str:
    """The whole result: verdict, checks with hints, student programs and output, trace, captures."""
    lines = [f"### {'✅' if document['passed'] else '❌'} {verdict_line(document)}", "",
             f"_{document['lesson']}_", "", "| | check | detail |", "|---|---|---|"]
    for check in document["checks"]:
        detail = md.cell(check["detail"]) + (f" — **hint:** {md.text(check['hint'])}" if check.get("hint") else "")
        lines.append(f"| {'✅' if check['passed'] else '❌'} | {md.cell(check['name'])} | {detail} |")
    for check in document.get("not_applicable", []):
        lines.append(f"| ➖ | {md.cell(check['name'])} | not applicable: {md.text(check['reason'])} |")
    students = [f"{role}: {md.code(ran['file'])}" for role, ran in document.get("programs", {}).items()
                if ran.get("program") == "student"]
    if students:
        lines += ["", "Student programs — " + ", ".join(students)]
    lines += _student_output_markdown(document)
    if document.get("api_trace"):
        titles, rows = trace_rows(document["api_trace"])
        lines += ["", f"Socket calls seen by `{document['api_trace']['tracer']}`, in order:", "",
                  "| " + " | ".join(titles) + " |", "|" + "---|" * len(titles)]
        lines += ["| " + " | ".join(md.code(c, in_table=True) for c in row) + " |" for row in rows]
        lines += ["", f"_{document['api_trace']['notes']}_"]
    lines += _capture_markdown(document)
    return "\n".join(lines) + "\n"



def _student_output_markdown(document: dict[str, Any]) -> list[str]:
    """What each student program printed, folded (a failed check's hint often needs it): in a fence
    longer than any backtick run it holds, so none of it is read as Markdown or HTML."""
    lines: list[str] = []
    for role, runs in document.get("student_output", {}).items():
        for number, run in enumerate(runs, start=1):
            title = f"What the {role} printed" + (f" (run {number}, input {run['input']!r})" if "input" in run else "")
            ended = run.get("ended") or {}
            how = (f"exit status {ended['rc']}" if ended.get("rc") is not None else
                   f"stopped ({ended.get('reason')})" if ended else "still running when the lab stopped it")
            printed = readable(run["stdout"] + run["stderr"])[-4000:].rstrip("\n")
            lines += ["", f"<details><summary>{md.html_text(f'{title} — {how}')}</summary>", "",
                      *md.fenced(printed or "(nothing)"), "</details>"]
    return lines



def _capture_markdown(document: dict[str, Any]) -> list[str]:
    """Captures, losses, the TCP timeline and the sequence chart (Mermaid, rendered by GitHub)."""
    if "captures" not in document:
        return []
    lines = ["", "#### Captures", "", "| host | interface | view | packets | file |", "|---|---|---|---|---|"]
    for c in document["captures"]:
        shown = f"`{c['file']}`" if c["kept"] else "not kept (no --report-dir)"
        lines.append(f"| {c['instance']} | {c['interface']} | {c['view']} | {c['packets']} | {shown} |")
    for loss in document.get("capture_losses", []):
        lines.append(f"\n{loss['text']}.")
    for connection in document.get("tcp_connections", []):
        lines += ["", f"#### TCP connection {connection['client']} → {connection['server']}"
                  f" ({connection['closed_first'] or 'nobody'} closed first)", "",
                  "| ms | host | packet or event | call / detail |", "|---:|---|---|---|"]
        for row in connection["timeline"][:TIMELINE_ROWS]:
            what = md.cell(row["what"]) if row["kind"] == "packet" else f"*{md.text(row['what'])}* (event)"
            lines.append(f"| {row['ms']:.3f} | {md.cell(row['host'])} | {what} | {md.cell(row['detail'])} |")
        if len(connection["timeline"]) > TIMELINE_ROWS:
            lines.append(f"\n… {len(connection['timeline']) - TIMELINE_ROWS} more rows in the JSON result "
                         "(`tcp_connections`).")
    chart = document.get("sequence_chart") or {}
    if chart.get("mermaid"):
        left_out = f", {chart['omitted']} packets left out" if chart["omitted"] else ""
        lines += ["", f"#### Sequence chart ({chart['arrows']} packets drawn{left_out}, {chart['lost']} lost)",
                  "", *md.fenced(chart["mermaid"].rstrip("\n"), info="mermaid")]
        if chart.get("svg"):
            lines += ["", f"SVG: `{chart['svg']}`"]
    return lines

