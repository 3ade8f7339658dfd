"""`index.html` of `invoke grade`: the whole class on one page, for the teacher.

One self-contained, offline file (no external resource; a Content-Security-Policy that forbids
any): a row per student, a column per scenario and role (✔ / ✘ / error / n/a) whose cell links to
that run's own HTML page, sorting by student or by score (a few lines of inline script that only
reorders rows), the class's most common failed checks with the students who hit each, and a
histogram of the scores as inline SVG.

Pure: plain rows in, text out. Everything a student controls (the student's name = the folder
name, a check's detail, a reason quoting their file) goes through lab.escaping.html_text, and the
script reads only numbers and sorts existing nodes: no student text is ever parsed as markup.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import quote

from lab.escaping.html_text import text as esc

MARKS = {"passed": ("✔", "passed"), "failed": ("✘", "failed"), "error": ("error", "error"),
         "not-applicable": ("n/a", "na")}
HISTOGRAM_BINS = 10
COMMON_FAILURES_SHOWN = 10

STYLE = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1d1d1f;
       max-width: 1200px; margin: 0 auto; padding: 1.2em 1.5em 3em; }
h1 { font-size: 1.5em; margin: 0.2em 0; } h2 { font-size: 1.15em; margin: 1.6em 0 0.5em;
     border-bottom: 1px solid #ddd; padding-bottom: 0.2em; }
.meta { color: #666; font-size: 0.9em; }
table { border-collapse: collapse; margin: 0.3em 0; font-size: 0.93em; }
th, td { text-align: left; padding: 0.3em 0.7em; border-bottom: 1px solid #eee; vertical-align: top; }
th { background: #f6f6f6; } th small { font-weight: normal; color: #666; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.cell { text-align: center; font-weight: 700; }
td.passed a, td.passed { color: #1e6b34; } td.failed a, td.failed { color: #a32017; background: #fff6f5; }
td.error a, td.error { color: #8a5a00; background: #fff8e6; } td.na { color: #999; font-weight: normal; }
td.cell a { text-decoration: none; display: block; }
button { font: inherit; margin-right: 0.5em; padding: 0.2em 0.8em; }
.students { color: #444; font-size: 0.9em; }
svg text { font-family: system-ui, sans-serif; font-size: 12px; fill: #333; }
"""

# Reorders the existing rows by a number or a name kept in data-* attributes: no text is parsed.
SCRIPT = """
function sortClass(by) {
  const body = document.getElementById("class-rows");
  const rows = Array.from(body.rows);
  rows.sort(function (a, b) {
    if (by === "score") {
      const d = parseFloat(b.dataset.score) - parseFloat(a.dataset.score);
      if (d !== 0) { return d; }
    }
    return a.dataset.student.localeCompare(b.dataset.student);
  });
  rows.forEach(function (row) { body.appendChild(row); });
  document.getElementById("sorted-by").textContent = by;
}
"""


@dataclass(frozen=True)
class ClassRun:
    """One cell of the page: a student's program in one role of one scenario.

    ``page`` is the run's HTML page relative to index.html (None when the run wrote none: a
    file that could not run, a role the student did not fill).
    """

    student: str
    scenario: str
    role: str
    outcome: str                     # passed | failed | error | not-applicable
    failed_checks: tuple[str, ...] = ()
    reason: str = ""
    page: str | None = None


@dataclass
class StudentLine:
    """One row: the student's cells by (scenario, role), and the score over every graded check."""

    student: str
    score: int = 0
    max_score: int = 0
    cells: dict[tuple[str, str], ClassRun] = field(default_factory=dict)

    @property
    def fraction(self) -> float:
        return self.score / self.max_score if self.max_score else 0.0


def page_link(folder: str, file: str) -> str:
    """A relative link to ``folder/file``, every character that means something in a URL encoded.

    >>> page_link("ada lovelace", "udp-echo.server.html")
    'ada%20lovelace/udp-echo.server.html'
    >>> page_link("x?#\\"<", "a.html")
    'x%3F%23%22%3C/a.html'
    """
    return f"{quote(folder, safe='')}/{quote(file, safe='')}"


def common_failures(runs: Sequence[ClassRun]) -> list[tuple[str, int, list[str]]]:
    """(check, how many runs failed it, the students who did), most common first.

    >>> common_failures([ClassRun("b", "s", "server", "failed", ("x",)), ClassRun("a", "s", "client", "failed", ("x", "y"))])
    [('x', 2, ['a', 'b']), ('y', 1, ['a'])]
    """
    counts: dict[str, int] = {}
    who: dict[str, set[str]] = {}
    for run in runs:
        for check in run.failed_checks:
            counts[check] = counts.get(check, 0) + 1
            who.setdefault(check, set()).add(run.student)
    return sorted(((check, n, sorted(who[check])) for check, n in counts.items()), key=lambda t: (-t[1], t[0]))


def histogram(fractions: Sequence[float], bins: int = HISTOGRAM_BINS) -> list[int]:
    """How many scores fall in each tenth (the last bin holds 100%).

    >>> histogram([0.0, 0.05, 0.5, 1.0, 1.0])
    [2, 0, 0, 0, 0, 1, 0, 0, 0, 2]
    """
    counts = [0] * bins
    for value in fractions:
        counts[min(bins - 1, max(0, int(value * bins)))] += 1
    return counts


def histogram_svg(counts: Sequence[int]) -> str:
    """Bars of the score histogram as inline SVG (numbers only: no student text in it)."""
    width, height, left, bottom, top = 560, 200, 36, 34, 12
    bar = (width - left - 10) / len(counts)
    peak = max(counts, default=0) or 1
    parts = [f'<svg id="histogram" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" aria-label="score histogram">',
             f'<line x1="{left}" y1="{height - bottom}" x2="{width - 10}" y2="{height - bottom}" stroke="#999"/>']
    usable = height - bottom - top
    for index, count in enumerate(counts):
        x = left + index * bar
        h = usable * count / peak
        y = height - bottom - h
        parts.append(f'<rect class="bar" x="{x + 3:.1f}" y="{y:.1f}" width="{bar - 6:.1f}" height="{h:.1f}" '
                     f'fill="#4a7bd0"><title>{count} student(s)</title></rect>')
        if count:
            parts.append(f'<text x="{x + bar / 2:.1f}" y="{y - 3:.1f}" text-anchor="middle">{count}</text>')
        low, high = index * 100 // len(counts), (index + 1) * 100 // len(counts)
        parts.append(f'<text x="{x + bar / 2:.1f}" y="{height - bottom + 15}" text-anchor="middle" '
                     f'style="font-size:10px">{low}–{high}%</text>')
    parts.append(f'<text x="{left + (width - left) / 2:.0f}" y="{height - 4}" text-anchor="middle">'
                 'students by score (share of the points)</text></svg>')
    return "".join(parts)


def lines_of(runs: Sequence[ClassRun], scores: dict[str, tuple[int, int]]) -> list[StudentLine]:
    """One line per student, in the order first seen, with the cells and scores filled in."""
    lines: dict[str, StudentLine] = {}
    for run in runs:
        line = lines.setdefault(run.student, StudentLine(run.student, *scores.get(run.student, (0, 0))))
        line.cells[(run.scenario, run.role)] = run
    for student, (score, most) in scores.items():
        lines.setdefault(student, StudentLine(student, score, most))
    return list(lines.values())


def columns_of(runs: Sequence[ClassRun]) -> list[tuple[str, str]]:
    """(scenario, role) in the order the runs came, a server before a client; '-' rows (a student
    with no program at all) make no column."""
    seen: list[tuple[str, str]] = []
    for run in runs:
        key = (run.scenario, run.role)
        if run.scenario != "-" and key not in seen:
            seen.append(key)
    return seen


def _cell(run: ClassRun | None) -> str:
    if run is None:
        return '<td class="cell na">–</td>'
    mark, css = MARKS.get(run.outcome, ("?", "na"))
    why = "; ".join(run.failed_checks) or run.reason or run.outcome
    title = f' title="{esc(why)}"'
    if run.page:
        return f'<td class="cell {css}"{title}><a href="{esc(run.page)}">{esc(mark)}</a></td>'
    return f'<td class="cell {css}"{title}>{esc(mark)}</td>'


def _student_cell(line: StudentLine, runs: Sequence[ClassRun]) -> str:
    """The name, and why a student with no run at all has none (a refused folder, no program)."""
    missing = [r.reason for r in runs if r.student == line.student and r.scenario == "-" and r.reason]
    note = f'<br><span class="meta">{esc(missing[0])}</span>' if missing else ""
    return f'<td class="student">{esc(line.student)}{note}</td>'


def render(runs: Sequence[ClassRun], scores: dict[str, tuple[int, int]], title: str = "socklab grades",
           generated: str = "") -> str:
    """The page; ``scores`` is student → (points earned, points possible)."""
    lines = sorted(lines_of(runs, scores), key=lambda line: line.student)
    columns = columns_of(runs)
    head = "".join(f"<th>{esc(scenario)}<br><small>{esc(role)}</small></th>" for scenario, role in columns)
    body = []
    for line in lines:
        cells = "".join(_cell(line.cells.get(column)) for column in columns)
        percent = f"{line.fraction:.0%}" if line.max_score else "–"
        body.append(f'<tr class="student-row" data-student="{esc(line.student)}" data-score="{line.fraction:.4f}">'
                    f"{_student_cell(line, runs)}<td class=\"num\">{line.score}/{line.max_score}</td>"
                    f"<td class=\"num\">{percent}</td>{cells}</tr>")
    failures = common_failures(runs)
    failure_rows = "".join(
        f"<tr><td>{esc(check)}</td><td class=\"num\">{count}</td>"
        f"<td class=\"students\">{esc(', '.join(students))}</td></tr>"
        for check, count, students in failures[:COMMON_FAILURES_SHOWN])
    failure_table = (f'<table id="common-failures"><tr><th>check</th><th>runs that failed it</th><th>students</th></tr>'
                     f"{failure_rows}</table>" if failure_rows else '<p id="common-failures">No check failed.</p>')
    graded = [line.fraction for line in lines if line.max_score]
    counts = {o: sum(r.outcome == o for r in runs) for o in MARKS}
    summary = (f"{len(lines)} student(s), {len(columns)} scenario role(s); runs: {counts['passed']} passed, "
               f"{counts['failed']} failed, {counts['error']} error, {counts['not-applicable']} n/a")
    csp = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta http-equiv=\"Content-Security-Policy\" content=\"{csp}\">"
            f"<meta name=\"viewport\" content=\"width=device-width\"><title>{esc(title)}</title>"
            f"<style>{STYLE}</style><script>{SCRIPT}</script></head>\n<body>\n"
            f"<h1>{esc(title)}</h1>\n<p class=\"meta\" id=\"summary\">{esc(summary)}"
            + (f" · {esc(generated)}" if generated else "") + "</p>\n"
            "<h2>Students</h2>\n<p><button type=\"button\" id=\"sort-student\" onclick=\"sortClass('student')\">"
            "sort by student</button><button type=\"button\" id=\"sort-score\" onclick=\"sortClass('score')\">"
            "sort by score</button><span class=\"meta\">sorted by <span id=\"sorted-by\">student</span>; "
            "each mark opens that run's page</span></p>\n"
            f"<table id=\"class\"><thead><tr><th>student</th><th>points</th><th>score</th>{head}</tr></thead>\n"
            f"<tbody id=\"class-rows\">{''.join(body)}</tbody></table>\n"
            f"<h2>The class's most common failed checks</h2>\n{failure_table}\n"
            f"<h2>Scores</h2>\n{histogram_svg(histogram(graded))}\n"
            "<p class=\"meta\">gradebook.csv and gradebook.md beside this page hold the same rows.</p>\n"
            "</body></html>\n")
