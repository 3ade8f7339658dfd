"""The section "Your program's socket calls, beside the reference's" in HTML, Markdown and the terminal.

Drawn from the result's ``student_trace`` (lab.checks.trace_diff.side_by_side). Every call text
came from the student's program (addresses, counts) and is escaped for its format.
"""
from __future__ import annotations

from typing import Any

from lab.escaping import markdown as md
from lab.escaping.html_text import text as esc

TITLE = "Your program's socket calls, beside the reference's"
MARKS = {"same": "", "differs": "≠", "only-yours": "+ yours only", "only-reference": "− missing"}
STYLE = """
table.side-by-side td { font-family: ui-monospace, "SFMono-Regular", Menlo, monospace; font-size: 0.88em; }
table.side-by-side tr.differs td, table.side-by-side tr.only-yours td, table.side-by-side tr.only-reference td
  { background: #fff6f5; }
table.side-by-side td.mark { color: #a32017; font-family: system-ui, sans-serif; white-space: nowrap; }
ul.differences li { color: #a32017; }
"""


def _heading(role: str, shown: dict[str, Any]) -> str:
    run = f", run {shown['run']}" if shown.get("run") else ""
    return f"your {role}{run}, traced by {shown.get('tracer', 'strace')}"


def html(document: dict[str, Any]) -> str:
    traces = document.get("student_trace") or {}
    if not traces:
        return ""
    out = [f"<style>{STYLE}</style><h2 id=\"side-by-side\">{esc(TITLE)}</h2>"]
    for role, shown in traces.items():
        out.append(f"<p class=\"meta\">{esc(_heading(role, shown))}</p>")
        if shown.get("differences"):
            out.append("<ul class=\"differences\">" + "".join(f"<li>{esc(d)}</li>" for d in shown["differences"])
                       + "</ul>")
        rows = "".join(f"<tr class=\"{esc(r['mark'])}\"><td>{esc(r['yours'])}</td><td>{esc(r['reference'])}</td>"
                       f"<td class=\"mark\">{esc(MARKS.get(r['mark'], ''))}</td></tr>\n" for r in shown.get("rows", []))
        out.append(f"<table class=\"side-by-side\" id=\"side-by-side-{esc(role)}\"><tr><th>your {esc(role)}</th>"
                   f"<th>the reference {esc(role)}</th><th></th></tr>\n{rows}</table>")
        if shown.get("reference_note"):
            out.append(f"<p class=\"meta\">{esc(shown['reference_note'])}</p>")
    return "\n".join(out)


def markdown_lines(document: dict[str, Any]) -> list[str]:
    traces = document.get("student_trace") or {}
    lines: list[str] = []
    for role, shown in traces.items():
        lines += ["", f"#### {TITLE} ({md.text(_heading(role, shown))})", ""]
        lines += [f"- ≠ {md.text(d)}" for d in shown.get("differences", [])]
        lines += ["", f"| your {role} | the reference {role} | |", "|---|---|---|"]
        lines += [f"| {md.code(r['yours'], in_table=True)} | {md.code(r['reference'], in_table=True)} | "
                  f"{MARKS.get(r['mark'], '')} |" for r in shown.get("rows", [])]
        if shown.get("reference_note"):
            lines += ["", md.text(shown["reference_note"])]
    return lines


def terminal_rows(shown: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(r["yours"], r["reference"], MARKS.get(r["mark"], "")) for r in shown.get("rows", [])]
