"""The run's message sequence chart, drawn like the textbook's figures: SVG and Mermaid.

One lifeline per host, time running down; one arrow per captured packet from the host that sent it
to the host it was for, labelled with what it is (SYN, SYN/ACK, data, FIN, a datagram) and the
socket call that caused it; a packet lost on the way is an arrow that stops midway with a cross.
Program events that no packet shows (``accept()`` returning) are notes on their lifeline.

Pure rendering: the chart (lab.observe.chart, built once per run with the rest of the
observation) in, text out; nothing here decides what is drawn.
"""
from __future__ import annotations

from lab.escaping.xml_text import escape
from lab.observe.chart import Chart, Note
from lab.observe.timeline import Arrow

# ----- SVG ----------------------------------------------------------------------------------------
SPACING = 340
LEFT = 110          # room for the time column
TOP = 24
HEAD_H = 46
ROW = 38
NOTE_ROW = 30
SLANT = 12          # an arrow arrives a little lower than it leaves: time passes on the way
FONT = "font-family='DejaVu Sans, Arial, sans-serif'"


def render_svg(chart: Chart, title: str = "") -> str:
    """A self-contained SVG (no scripts, no external fonts) of the chart."""
    columns = max(2, len(chart.lifelines))
    width = LEFT + 60 + (columns - 1) * SPACING + 140
    x = {name: LEFT + 60 + i * SPACING for i, (name, _) in enumerate(chart.lifelines)}
    body: list[str] = []
    y = TOP + HEAD_H + 36 + (22 if title else 0)
    for row in chart.rows:
        if isinstance(row, Arrow):
            body.append(_svg_arrow(row, x, y, chart.start))
            y += ROW
        elif isinstance(row, Note):
            body.append(_svg_note(row, x, y, chart.start))
            y += NOTE_ROW
        else:
            body.append(f"<text class='gap' x='{width / 2:.0f}' y='{y + 4}' text-anchor='middle' "
                        f"font-size='13' fill='#555' font-style='italic'>{escape(row.text)}</text>")
            y += ROW
    for line, text in enumerate(("Arrows: packets from the captures, at the time the sender sent them; "
                                 "[call]: the socket call that caused it.",
                                 "Yellow: the programs' own events. A cross: lost on the way "
                                 "(in the sender's capture, never in the receiver's).")):
        body.append(f"<text class='legend' x='12' y='{y + 16 + 15 * line}' font-size='11' fill='#555'>"
                    f"{escape(text)}</text>")
    height = y + 50
    head: list[str] = []
    title_y = TOP + 4
    if title:
        head.append(f"<text x='{width / 2:.0f}' y='{title_y + 8}' text-anchor='middle' font-size='16' "
                    f"font-weight='bold'>{escape(title)}</text>")
    box_y = TOP + (26 if title else 0)
    for name, caption in chart.lifelines:
        cx = x[name]
        head.append(f"<g class='lifeline' data-host='{escape(name)}'>"
                    f"<rect x='{cx - 120}' y='{box_y}' width='240' height='{HEAD_H}' rx='6' "
                    f"fill='#eef3fb' stroke='#3b5b92'/>"
                    f"<text x='{cx}' y='{box_y + 20}' text-anchor='middle' font-size='15' "
                    f"font-weight='bold'>{escape(name)}</text>"
                    f"<text x='{cx}' y='{box_y + 38}' text-anchor='middle' font-size='12' "
                    f"fill='#444'>{escape(caption[len(name):].strip())}</text>"
                    f"<line x1='{cx}' y1='{box_y + HEAD_H}' x2='{cx}' y2='{height - 10}' stroke='#3b5b92' "
                    f"stroke-dasharray='5,4'/></g>")
    head.append(f"<text x='12' y='{box_y + HEAD_H + 22}' font-size='11' fill='#555'>time (ms)</text>")
    defs = ("<defs><marker id='head' markerWidth='10' markerHeight='8' refX='9' refY='4' "
            "orient='auto'><path d='M0,0 L10,4 L0,8 z' fill='#222'/></marker></defs>")
    return (f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
            f"viewBox='0 0 {width} {height}' {FONT}>"
            f"<rect width='100%' height='100%' fill='white'/>{defs}"
            + "".join(head) + "".join(body) + "</svg>\n")


def _svg_arrow(arrow: Arrow, x: dict[str, float], y: float, start: float) -> str:
    x1, x2 = x[arrow.sender], x[arrow.receiver]
    y2 = y + SLANT
    direction = 1 if x2 > x1 else -1
    label = escape(arrow.what + (f"  [{arrow.call}]" if arrow.call else "") + ("  LOST" if arrow.lost else ""))
    colour = "#c62828" if arrow.lost else "#222"
    parts = [f"<g class='arrow' data-lost='{str(arrow.lost).lower()}' data-from='{escape(arrow.sender)}' "
             f"data-to='{escape(arrow.receiver)}'>",
             f"<text x='12' y='{y + 10}' font-size='11' fill='#555'>{(arrow.sent - start) * 1000:8.3f}</text>"]
    if arrow.lost:
        xm, ym = x1 + (x2 - x1) * 0.55, y + SLANT * 0.55
        parts.append(f"<line x1='{x1}' y1='{y}' x2='{xm:.1f}' y2='{ym:.1f}' stroke='{colour}' stroke-width='1.6'/>")
        parts.append(f"<path class='cross' d='M{xm - 7:.1f},{ym - 7:.1f} L{xm + 7:.1f},{ym + 7:.1f} "
                     f"M{xm - 7:.1f},{ym + 7:.1f} L{xm + 7:.1f},{ym - 7:.1f}' stroke='{colour}' stroke-width='2.6'/>")
    else:
        parts.append(f"<line x1='{x1}' y1='{y}' x2='{x2 - direction * 2}' y2='{y2}' stroke='{colour}' "
                     f"stroke-width='1.6' marker-end='url(#head)'/>")
    parts.append(f"<text x='{(x1 + x2) / 2:.0f}' y='{y - 4}' text-anchor='middle' font-size='12.5' "
                 f"fill='{colour}'>{label}</text></g>")
    return "".join(parts)


def _svg_note(note: Note, x: dict[str, float], y: float, start: float) -> str:
    cx = x[note.who]
    width = 8 + 6.6 * len(note.text)
    return (f"<g class='note'><text x='12' y='{y + 14}' font-size='11' fill='#555'>"
            f"{(note.at - start) * 1000:8.3f}</text>"
            f"<rect x='{cx - width / 2:.0f}' y='{y}' width='{width:.0f}' height='20' fill='#fff8d6' "
            f"stroke='#b59a2a'/><text x='{cx}' y='{y + 14}' text-anchor='middle' font-size='12'>"
            f"{escape(note.text)}</text></g>")


# ----- Mermaid ------------------------------------------------------------------------------------
def render_mermaid(chart: Chart) -> str:
    """The same chart as a Mermaid sequenceDiagram (GitHub renders it in Markdown)."""
    ids = {name: f"h{i}" for i, (name, _) in enumerate(chart.lifelines)}
    lines = ["sequenceDiagram"]
    for name, caption in chart.lifelines:
        lines.append(f"    participant {ids[name]} as {_mermaid_text(caption)}")
    for row in chart.rows:
        if isinstance(row, Arrow):
            arrow = "-x" if row.lost else "->>"
            text = row.label + (" (lost)" if row.lost else "")
            lines.append(f"    {ids[row.sender]}{arrow}{ids[row.receiver]}: {_mermaid_text(text)}")
        elif isinstance(row, Note):
            lines.append(f"    Note over {ids[row.who]}: {_mermaid_text(row.text)}")
        else:
            first, last = ids[chart.lifelines[0][0]], ids[chart.lifelines[-1][0]]
            lines.append(f"    Note over {first},{last}: {_mermaid_text(row.text)}")
    return "\n".join(lines) + "\n"


def _mermaid_text(text: str) -> str:
    """Message text Mermaid reads literally: no statement separators, comments or entity codes.

    >>> _mermaid_text("a; b #1 %% c")
    'a, b no.1 % c'
    """
    return " ".join(text.replace(";", ",").replace("#", "no.").replace("%%", "%").split())


