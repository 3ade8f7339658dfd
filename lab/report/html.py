"""One self-contained HTML page per run: what a student opens after `--report-dir`.

Verdict, lesson, parameters, checks (expected and seen), what the clients measured, the message
sequence chart (inline SVG) and the plots (inline PNG as data: URIs), so the one file can be
mailed or uploaded as it is; pcaps are linked, since they sit beside it. Built from the result
document (the JSON contract) and the artefact files it lists; every text that came from a user or
a program is escaped.
"""
from __future__ import annotations

import base64
import re
from lab.escaping.html_text import escape
from lab.report import side_by_side
from pathlib import Path
from typing import Any

STYLE = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1d1d1f;
       max-width: 1100px; margin: 0 auto; padding: 1.2em 1.5em 3em; }
h1 { font-size: 1.5em; margin: 0.2em 0; } h2 { font-size: 1.15em; margin: 1.6em 0 0.5em;
     border-bottom: 1px solid #ddd; padding-bottom: 0.2em; }
.verdict { padding: 0.7em 1em; border-radius: 6px; font-weight: 600; font-size: 1.1em; }
.passed { background: #e6f4ea; color: #1e6b34; border: 1px solid #a8d5b5; }
.failed { background: #fdecea; color: #a32017; border: 1px solid #f1b0aa; }
.lesson { font-style: italic; color: #444; margin: 0.6em 0 0; }
.meta { color: #666; font-size: 0.9em; }
table { border-collapse: collapse; margin: 0.3em 0; font-size: 0.93em; }
th, td { text-align: left; padding: 0.3em 0.7em; border-bottom: 1px solid #eee; vertical-align: top; }
th { background: #f6f6f6; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.mark { font-weight: 700; } tr.ok td.mark { color: #1e6b34; } tr.bad td.mark { color: #a32017; }
tr.bad td { background: #fff6f5; }
figure { margin: 0.8em 0 1.4em; } figcaption { color: #555; font-size: 0.9em; }
figure img { max-width: 100%; border: 1px solid #eee; }
.chart { overflow-x: auto; border: 1px solid #eee; padding: 0.4em; }
.chart svg { max-width: 100%; height: auto; }
.hint { color: #8a5a00; }
code { background: #f3f3f3; padding: 0 0.25em; border-radius: 3px; }
"""

PLOT_CAPTIONS = {
    "rtt-by-seq": "Each dot is one datagram's round trip; a cross marks a datagram (or its reply) "
                  "that was lost: UDP never sent it again.",
    "rtt-distribution": "How the round-trip times spread, against the delay configured on the link.",
    "bytes-over-time": "Bytes the server's TCP acknowledged over time: the lossy transfer stalls "
                       "while TCP retransmits, yet every byte arrives.",
}


def file_name(document: dict[str, Any]) -> str:
    return f"{document['scenario']}.html"


def render(document: dict[str, Any], directory: Path) -> str:
    """The page for one result document; artefacts are read from `directory`."""
    artifacts = [str(a) for a in document.get("artifacts", [])]
    # The overview first (plots), then the detail a long run makes long (the chart).
    parts = [_header(document), _checks(document), _metrics(document), _plots(document, artifacts, directory),
             side_by_side.html(document), _api_trace(document), _chart(document, artifacts, directory), _connections(document),
             _impairments(document), _parameters(document), _files(document, artifacts)]
    title = f"socklab {document['scenario']}: {'PASSED' if document['passed'] else 'FAILED'}"
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width\"><title>{escape(title)}</title>"
            f"<style>{STYLE}</style></head>\n<body>\n" + "\n".join(p for p in parts if p)
            + "\n</body></html>\n")


def write(document: dict[str, Any], directory: Path) -> Path:
    path = directory / file_name(document)
    path.write_text(render(document, directory), encoding="utf-8")
    return path


def _header(document: dict[str, Any]) -> str:
    checks = document["checks"]
    passed = sum(bool(c["passed"]) for c in checks)
    word = "PASSED" if document["passed"] else "FAILED"
    backend = (f", impairments by {escape(str(document['impairment_backend']))}"
               if document.get("impairment_backend") else "")
    meta = [f"run {escape(str(document.get('run_id', '')))}", escape(str(document.get("started_at", ""))),
            f"{document['duration_s']:.1f} s"]
    return (f"<h1>socklab — {escape(document['scenario'])}</h1>\n"
            f"<div class=\"verdict {'passed' if document['passed'] else 'failed'}\" id=\"verdict\">"
            f"{'✔' if document['passed'] else '✘'} {escape(document['scenario'])}: {word} — "
            f"{passed}/{len(checks)} checks passed{backend}</div>\n"
            f"<p class=\"lesson\">{escape(str(document.get('lesson', '')))}</p>\n"
            f"<p class=\"meta\">{' · '.join(m for m in meta if m)}</p>")


def _checks(document: dict[str, Any]) -> str:
    rows = "".join(
        f"<tr class=\"{'ok' if c['passed'] else 'bad'}\"><td class=\"mark\">{'✔' if c['passed'] else '✘'}</td>"
        f"<td>{escape(str(c['name']))}</td><td>{escape(str(c.get('detail', '')))}"
        + (f"<br><span class=\"hint\">hint: {escape(str(c['hint']))}</span>" if c.get("hint") and not c["passed"] else "")
        + "</td></tr>\n"
        for c in document["checks"])
    return ("<h2>Checks</h2>\n<table id=\"checks\"><tr><th></th><th>check</th>"
            f"<th>what was expected and what was seen</th></tr>\n{rows}</table>")


def _metrics(document: dict[str, Any]) -> str:
    hosts = document.get("metrics", {}).get("hosts", {})
    out = []
    if hosts:
        out.append("<h2>Measured by the clients</h2>\n<table id=\"metrics\"><tr><th>host</th><th>sent</th>"
                   "<th>received</th><th>loss</th><th>RTT p50</th><th>RTT p95</th><th>goodput</th>"
                   "<th>retransmits</th></tr>")
        for host, f in hosts.items():
            transfer = f.get("transfer") or {}
            rtt = {} if transfer else (f.get("rtt_ms") or {})
            if transfer:
                cells = [f"{transfer['bytes']} B", "intact" if transfer.get("intact") else "CORRUPT", "–"]
            else:
                cells = [str(f.get("sent", "–")), str(f.get("received", "–")),
                         f"{f['loss_rate']:.1%}" if "loss_rate" in f else "–"]
            cells += [f"{rtt['p50']:.2f} ms" if rtt else "–", f"{rtt['p95']:.2f} ms" if rtt else "–",
                      f"{transfer['goodput_mbit_s']:.1f} Mbit/s" if transfer else "–",
                      str(f["retrans_segs"]) if f.get("retrans_segs") is not None else "–"]
            out.append(f"<tr><td>{escape(host)}</td>" + "".join(f"<td class=\"num\">{escape(c)}</td>" for c in cells)
                       + "</tr>")
        out.append("</table>")
    return "\n".join(out)


def _impairments(document: dict[str, Any]) -> str:
    out = []
    notes = [escape(str(n)) for n in document.get("impairments", [])]
    for where, counted in (document.get("impairment_counters") or {}).items():
        shown = ", ".join(f"{k} {v}" for k, v in counted.items() if v) or "nothing counted"
        notes.append(f"{escape(str(document.get('impairment_backend')))} on {escape(where)}: {escape(shown)}")
    if notes:
        out.append("<h2>Impairments</h2>\n<ul>" + "".join(f"<li>{n}</li>" for n in notes) + "</ul>")
    return "\n".join(out)


def _parameters(document: dict[str, Any]) -> str:
    rows = "".join(f"<tr><td><code>--{escape(str(k).replace('_', '-'))}</code></td><td>{escape(str(v))}</td></tr>"
                   for k, v in document.get("parameters", {}).items())
    return f"<h2>Parameters</h2>\n<table id=\"parameters\">{rows}</table>" if rows else ""


# An SVG file may start with an XML declaration or a doctype: neither may stand inside HTML.
_PROLOGUE = re.compile(r"^\s*(<\?xml[^>]*\?>\s*)?(<!DOCTYPE[^>]*>\s*)?", re.I)


def _table(element_id: str, titles: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{escape(t)}</th>" for t in titles)
    body = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>\n" for row in rows)
    return f"<table id=\"{element_id}\"><tr>{head}</tr>\n{body}</table>"


def _api_trace(document: dict[str, Any]) -> str:
    """The socket calls of each traced program side by side: the unit's 10-mark table."""
    api = document.get("api_trace")
    if not api or not api.get("columns"):
        return ""
    columns = api["columns"]
    titles = [f"{c['title']} ({c['host']})" if c.get("title") != c["host"] else c["host"] for c in columns]
    depth = max(len(c["calls"]) for c in columns)
    rows = [[c["calls"][i]["text"] if i < len(c["calls"]) else "" for c in columns] for i in range(depth)]
    notes = [f"{c['host']}: {c['tracer_error']}" for c in columns if c.get("tracer_error")]
    notes.append(str(api.get("notes", "")))
    return (f"<h2>Socket calls seen by {escape(str(api.get('tracer', 'the tracer')))}, in order</h2>\n"
            + _table("api-trace", titles, rows)
            + "".join(f"<p class=\"meta\">{escape(n)}</p>" for n in notes if n))


def _connections(document: dict[str, Any]) -> str:
    """Each captured TCP connection as a timeline: packets and the programs' events, one clock."""
    out = []
    for c in document.get("tcp_connections", []):
        out.append(f"<h2>TCP connection {escape(str(c['client']))} → {escape(str(c['server']))}: "
                   f"{escape(str(c.get('closed_first') or 'nobody'))} closed first</h2>")
        rows = [[f"{r['ms']:.3f}", str(r["host"]),
                 str(r["what"]) if r.get("kind") == "packet" else f"{r['what']} (event)", str(r.get("detail", ""))]
                for r in c.get("timeline", [])]
        out.append(_table("tcp-timeline", ["ms", "host", "packet or event", "call / detail"], rows))
    return "\n".join(out)


def _chart(document: dict[str, Any], artifacts: list[str], directory: Path) -> str:
    charts = [a for a in artifacts if a.endswith(".sequence.svg") and (directory / a).is_file()]
    losses = [str(loss.get("text", "")) for loss in document.get("capture_losses", [])]
    if not charts and not losses:
        return ""
    out = ["<h2>Message sequence chart</h2>"] + [f"<p>{escape(text)}.</p>" for text in losses if text]
    for name in charts:
        svg = _PROLOGUE.sub("", (directory / name).read_text(encoding="utf-8"))
        if not svg.lstrip().startswith("<svg"):
            continue  # not an SVG document: never paste arbitrary markup into the page
        out.append(f"<div class=\"chart\" id=\"sequence-chart\">{svg}</div>"
                   f"<p class=\"meta\">Also as <a href=\"{escape(name)}\">{escape(name)}</a>.</p>")
    return "\n".join(out)


def _plots(document: dict[str, Any], artifacts: list[str], directory: Path) -> str:
    images = [a for a in artifacts if a.endswith(".png") and (directory / a).is_file()]
    if not images:
        return ""
    out = ["<h2>Plots</h2>"]
    for name in images:
        data = base64.b64encode((directory / name).read_bytes()).decode("ascii")
        kind = name.removeprefix(f"{document['scenario']}.").removesuffix(".png")
        caption = PLOT_CAPTIONS.get(kind, kind)
        out.append(f"<figure class=\"plot\"><img src=\"data:image/png;base64,{data}\" alt=\"{escape(kind)}\">"
                   f"<figcaption>{escape(caption)} ({escape(name)})</figcaption></figure>")
    return "\n".join(out)


def _files(document: dict[str, Any], artifacts: list[str]) -> str:
    """Pcaps (with host, interface and packet count when the result tells them) and other files."""
    captures = {c.get("file"): c for c in document.get("captures", []) if isinstance(c, dict)}
    rows = []
    for name in artifacts:
        if name.endswith((".png", ".html", ".sequence.svg")):
            continue  # inside the page already
        about = captures.get(name)
        what = (f"capture on {about.get('instance') or about.get('host')} {about.get('interface', '')}: "
                f"{about.get('packets', '?')} packets" if about else "")
        rows.append(f"<li><a href=\"{escape(name)}\">{escape(name)}</a>"
                    + (f" — {escape(what)}" if what else "") + "</li>")
    if not rows:
        return ""
    return ("<h2>Files</h2>\n<p class=\"meta\">Beside this page; open a pcap with Wireshark or "
            "<code>tcpdump -r</code>.</p>\n<ul id=\"files\">" + "".join(rows) + "</ul>")
