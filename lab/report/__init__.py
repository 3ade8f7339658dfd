"""Everything a person or a CI job reads: live progress, results table, verdict, JSON, JUnit, Markdown.

This is the only place that draws on the console; library code reports progress through a callback.
"""
from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from lab.errors import BadInput, ReportError
from lab.checks.outcome import Outcome
from lab.escaping import markdown as md
from lab.escaping import terminal, xml_text
from lab.escaping.text import clean_tree, one_line, readable
from lab.observe.metrics import metrics
from lab.observe.trace import api_trace
from lab.run.record import RunRecord
from lab.scenario.model import Parameter

# CI logs are no terminal: give tables room rather than folding every cell into three lines.
console = Console(highlight=False, width=None if sys.stdout.isatty() else 120)


class ConsoleProgress:
    """Live progress: one timestamped line per step, so a long run never looks hung."""

    def __init__(self, title: str) -> None:
        self.started = time.monotonic()
        console.rule(f"[bold]{escape(title)}")

    def __call__(self, message: str) -> None:
        # Messages carry user text (--message "[red]"): never read as markup.
        # soft_wrap: one line per message however long, so `invoke all --jobs N` can tag it whole.
        console.print(f"[dim]{time.monotonic() - self.started:6.1f}s[/dim]  {escape(message)}", soft_wrap=True)


def result_document(outcome: Outcome) -> dict[str, Any]:
    """The result file, as tests/contracts/result.schema.json defines it (test_report checks it)."""
    record = outcome.record
    return {
        "scenario": record.plan.scenario.name,
        "passed": outcome.passed,
        "run_id": record.run_id,
        "started_at": outcome.started_at,
        "duration_s": round(outcome.duration_s, 3),
        "parameters": record.plan.parameters,
        # The seed of the impairments' random choices (--seed, or a student run's default): the
        # same seed and program meet the same losses again.
        **({"seed": record.plan.seed, "seed_source": record.plan.seed_source}
           if record.plan.seed is not None else {}),
        "impairment_backend": record.impairment_backend,
        "impairments": record.impairment_notes,
        "impairment_counters": record.impairment_counters,
        "metrics": metrics(record),
        "checks": [_check_item(c) for c in outcome.checks if c.applicable],
        "not_applicable": [{"name": c.name, "reason": c.detail} for c in outcome.checks if not c.applicable],
        "programs": programs(record.plan),
        **({"student_output": student_output(record)} if record.plan.students else {}),
        "timings_s": {k: round(v, 3) for k, v in outcome.timings.items()},
        "lesson": record.plan.scenario.lesson,
        "artifacts": [],
        **(_capture_fields(record) if record.captures is not None else {}),
        **({"api_trace": api_trace_of(record)} if record.traces else {}),
    }


def _capture_fields(record: RunRecord) -> dict[str, Any]:
    from lab.report.capture import capture_fields  # decoding and charts: only for captured runs

    return capture_fields(record)


def api_trace_of(record: Any) -> dict[str, Any]:
    """The traced hosts' socket calls, one column per host in the scenario's order."""
    traced = [(h.name, h.program, record.trace_of_host(h.name))
              for h in record.plan.scenario.hosts if h.trace]
    return api_trace([(name, program, text) for name, program, text in traced if text is not None])


def _trace_rows(api: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Column titles and rows (call n of every column) of the API trace table."""
    columns = api["columns"]
    titles = [f"{c['title']} ({c['host']})" if c["title"] != c["host"] else c["host"] for c in columns]
    depth = max((len(c["calls"]) for c in columns), default=0)
    rows = [[c["calls"][i]["text"] if i < len(c["calls"]) else "" for c in columns] for i in range(depth)]
    return titles, rows


def _check_item(check: Any) -> dict[str, Any]:
    item = {"name": check.name, "passed": check.passed, "detail": check.detail, "points": check.points}
    if check.hint and not check.passed:
        item["hint"] = check.hint
    return item


def programs(plan: Any) -> dict[str, dict[str, str]]:
    """Which program ran on each host that a student may fill: the lab's own, or a student's file."""
    ran: dict[str, dict[str, str]] = {}
    for role, slot in plan.scenario.students.items():
        if role in plan.students:
            ran[role] = {"host": slot.host, **plan.students[role].describe()}
        else:
            ran[role] = {"host": slot.host, "program": "lab", "name": plan.scenario.host(slot.host).program}
    return ran


def student_output(record: Any) -> dict[str, list[dict[str, Any]]]:
    """What each student program printed and how it ended, per role (a client: per run).

    Streamed out while it ran, so it is here even when the lab had to stop the program.
    """
    def one(events: list[dict[str, Any]], sentence: str | None = None) -> dict[str, Any]:
        text = {stream: "".join(e.get("text", "") for e in events
                                if e.get("event") == "output" and e.get("stream") == stream)
                for stream in ("stdout", "stderr")}
        ended = next((e for e in events if e.get("event") == "exited"), None)
        limit = next((e for e in events if e.get("event") == "limit"), None)
        entry: dict[str, Any] = {**text, "ended": None if ended is None else
                                 {k: ended.get(k) for k in ("rc", "signal", "reason", "seconds")}}
        if limit:
            entry["stopped"] = {k: limit.get(k) for k in ("what", "blocked_in", "state")}
            entry["stopped"].update({k: limit[k] for k in ("seen", "wait_timeout_s", "waited_s") if k in limit})
        if sentence is not None:
            entry["input"] = sentence
        return entry

    shown: dict[str, list[dict[str, Any]]] = {}
    for host, role in record.plan.student_hosts().items():
        if role == "server":
            shown[role] = [one(record.events_of_host(host))]
        else:
            shown[role] = [one(run.events, run.sentence) for run in record.clients_of(host)]
    return shown


def verdict_line(document: dict[str, Any]) -> str:
    passed = sum(c["passed"] for c in document["checks"])
    total = len(document["checks"])
    word = "PASSED" if document["passed"] else "FAILED"
    backend = f", impairments by {document['impairment_backend']}" if document["impairment_backend"] else ""
    if document.get("seed") is not None:
        backend += f", seed {document['seed']}" + (" (default)" if document.get("seed_source") == "default" else "")
    return (f"{document['scenario']}: {word} — {passed}/{total} checks passed in "
            f"{document['duration_s']:.1f} s{backend}")


def print_outcome(document: dict[str, Any]) -> None:
    hosts = document["metrics"].get("hosts", {})
    if hosts:
        figures = Table(title="Measured by the clients", title_justify="left")
        for column in ("host", "sent", "received", "loss", "RTT p50", "RTT p95", "goodput", "retransmits"):
            figures.add_column(column, justify="left" if column == "host" else "right")
        for host, f in hosts.items():
            rtt = f.get("rtt_ms") or {}
            transfer = f.get("transfer") or {}
            if transfer:  # a bulk TCP transfer: one message each way, bytes are what matter
                sent, received, loss = f"{transfer['bytes']} B", "intact" if transfer["intact"] else "CORRUPT", "–"
                rtt = {}  # the wait for the digest after the upload is no round-trip time
            else:
                sent, received, loss = str(f["sent"]), str(f["received"]), f"{f['loss_rate']:.1%}"
            figures.add_row(escape(host), sent, received, loss,
                            f"{rtt['p50']:.2f} ms" if rtt else "–", f"{rtt['p95']:.2f} ms" if rtt else "–",
                            f"{transfer['goodput_mbit_s']:.1f} Mbit/s" if transfer else "–",
                            str(f["retrans_segs"]) if "retrans_segs" in f else "–")
        console.print(figures)
    for where, counted in document.get("impairment_counters", {}).items():
        shown = ", ".join(f"{k} {v}" for k, v in counted.items() if v)
        console.print(f"[dim]{document['impairment_backend']} on {escape(where)}: {escape(shown or 'nothing counted')}[/dim]")
    if document.get("api_trace"):
        print_api_trace(document["api_trace"])
    _print_captures(document)
    table = Table(title="Checks", title_justify="left")
    table.add_column("", width=2)
    table.add_column("check")
    table.add_column("what was expected and seen", overflow="fold")
    for check in document["checks"]:
        mark = "[green]✔[/green]" if check["passed"] else "[red]✘[/red]"
        detail = terminal.text(check["detail"])
        if check.get("hint"):
            detail += f"\n[yellow]hint: {terminal.text(check['hint'])}[/yellow]"
        table.add_row(mark, terminal.text(check["name"]), detail)
    for check in document.get("not_applicable", []):
        table.add_row("–", terminal.text(check["name"]), f"[dim]not applicable: {terminal.text(check['reason'])}[/dim]")
    console.print(table)
    for role, ran in document.get("programs", {}).items():
        if ran.get("program") == "student":
            console.print(f"[dim]{role}: student's {terminal.text(ran['file'])} on host {escape(ran['host'])}[/dim]")
    colour = "green" if document["passed"] else "red"
    console.print(f"[bold {colour}]{escape(verdict_line(document))}[/bold {colour}]")


def print_api_trace(api: dict[str, Any]) -> None:
    """The socket calls of each traced program side by side, as the unit's 10-mark answer."""
    titles, rows = _trace_rows(api)
    table = Table(title=f"Socket calls seen by {api['tracer']}, in order", title_justify="left")
    for title in titles:
        table.add_column(escape(title), overflow="fold")
    for row in rows:
        table.add_row(*(terminal.text(cell) for cell in row))
    console.print(table)
    for column in api["columns"]:
        if column["tracer_error"]:
            console.print(f"[red]{escape(column['host'])}: {escape(column['tracer_error'])}[/red]")
    hidden = [f"{c['host']} {c['name_lookup_calls_hidden']}" for c in api["columns"] if c["name_lookup_calls_hidden"]]
    if hidden:
        console.print(f"[dim]calls of the C library's name lookup (gethostbyname) not shown: {escape(', '.join(hidden))}[/dim]")
    console.print(f"[dim]{escape(api['notes'])}[/dim]")


TIMELINE_ROWS = 40  # a bulk transfer has thousands of segments: the console and Markdown show the start


def _print_captures(document: dict[str, Any]) -> None:
    """Which pcaps, what they say was lost, and each TCP connection's timeline."""
    if "captures" not in document:
        return
    for c in document["captures"]:
        where = c["file"] if c["kept"] else "decoded, not kept: add --report-dir DIR to keep the pcaps"
        view = "sent by its sockets" if c["view"] == "sent" else "on the wire"
        console.print(f"[dim]capture {escape(c['instance'])} {escape(c['interface'])} ({view}): "
                      f"{c['packets']} packets — {escape(where)}[/dim]")
    for loss in document.get("capture_losses", []):
        console.print(escape(loss["text"]))
    for connection in document.get("tcp_connections", []):
        table = Table(title=f"TCP connection {connection['client']} → {connection['server']}: "
                            f"{connection['closed_first'] or 'nobody'} closed first", title_justify="left")
        for column in ("ms", "host", "packet / event", "call / detail"):
            table.add_column(column, justify="right" if column == "ms" else "left")
        for row in connection["timeline"][:TIMELINE_ROWS]:
            what = escape(row["what"]) if row["kind"] == "packet" else f"[italic]{escape(row['what'])}[/italic]"
            table.add_row(f"{row['ms']:.3f}", escape(row["host"]), what, escape(row["detail"]))
        console.print(table)
        if len(connection["timeline"]) > TIMELINE_ROWS:
            console.print(f"[dim]… {len(connection['timeline']) - TIMELINE_ROWS} more rows "
                          "(tcp_connections in the JSON result)[/dim]")


def print_scenarios(entries: list[tuple[str, str]], parameters: list[Parameter] | None = None) -> None:
    """`invoke scenarios`: name first, then the one-line lesson (plain text, easy to grep); with
    parameters, one indented line each: the option as typed, its default, what is allowed."""
    for name, lesson in entries:
        print(f"{name:<20} {lesson}")
        for parameter in parameters or ():
            option = f"--{parameter.name.replace('_', '-')} {parameter.default}"
            allowed = "|".join(parameter.choices) if parameter.choices else parameter.kind
            if parameter.minimum is not None or parameter.maximum is not None:
                low = "" if parameter.minimum is None else _number(parameter.minimum)
                high = "" if parameter.maximum is None else _number(parameter.maximum)
                allowed += f" {low}..{high}"
            print(f"    {option:<24} {allowed:<16} {parameter.help}".rstrip())


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def print_scenarios_json(entries: list[tuple[str, str]]) -> None:
    """`invoke scenarios --json`: ``[{"name", "lesson"}, ...]`` on one line, for CI to build its
    job matrix from (``fromJSON`` in a workflow) instead of keeping its own copy of the list."""
    print(json.dumps([{"name": name, "lesson": lesson} for name, lesson in entries]))


def print_findings(findings: list[tuple[str, str]]) -> None:
    """`invoke doctor`: one finding a line, what it means for the user included."""
    for topic, text in findings:
        console.print(f"[bold]{topic}[/bold]: {escape(text)}")


def interrupted() -> None:
    console.print("[yellow]interrupted: the lab was torn down[/yellow]")


def command_hint(run_id: str, hosts: list[str] | tuple[str, ...]) -> str:
    """What --keep prints: the exact command for the first host, e.g. the server."""
    first = "server" if "server" in hosts else (hosts[0] if hosts else "HOST")
    return f"invoke shell {first} --run {run_id}"


def eta(done: int, total: int, elapsed: float) -> float | None:
    """Seconds left at the pace so far (None before the first student is done).

    >>> eta(2, 10, 30.0)
    120.0
    """
    if done == 0 or total == 0:
        return None
    return elapsed / done * (total - done)


def kept(run_id: str, hosts: list[str], engine: str = "docker") -> None:
    if engine == "swarm":
        console.print(f"[yellow]kept run {run_id} running on the swarm (hosts: {escape(', '.join(hosts))}): "
                      f"SOCKLAB_ENGINE=swarm {escape(command_hint(run_id, hosts))} opens a shell; "
                      f"docker service ps --filter label=io.socklab.run={run_id} shows where each runs; "
                      f"remove it with: invoke clean --engine swarm --run {run_id}[/yellow]")
        return
    console.print(f"[yellow]kept run {run_id} running (hosts: {escape(', '.join(hosts))}): "
                  f"open a shell with: {escape(command_hint(run_id, hosts))}; "
                  f"docker ps --filter label=io.socklab.run={run_id}; "
                  f"remove it with: invoke clean --run {run_id}[/yellow]")


def opening_shell(run_id: str, scenario: str, host: str) -> None:
    console.print(f"[dim]shell on {escape(host)} of run {run_id} ({escape(scenario)}); `exit` leaves it, "
                  f"the lab stays until: invoke clean --run {run_id}[/dim]")


def writable_directory(report_dir: str) -> Path:
    """The report directory, made now and written to once: a bad path is bad input (exit 2),
    found before a run or a class is started rather than after its results exist."""
    path = Path(report_dir)
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".socklab-write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as error:
        raise BadInput(f"--report-dir {report_dir}: cannot write there ({error.strerror or error})") from None
    return path


def cleaned(containers: int, networks: int, run_id: str | None) -> None:
    which = f"run {run_id}" if run_id else "any run"
    console.print(f"removed {containers} container(s) and {networks} network(s) of {which} "
                  "(label io.socklab.run)")


def cleaned_stale(runs: list[str], containers: int, networks: int) -> None:
    if not runs:
        console.print("no objects of dead runs (every labelled object belongs to a live or kept run)")
        return
    console.print(f"removed {containers} container(s) and {networks} network(s) of {len(runs)} dead "
                  f"run(s): {escape(', '.join(runs))}")


def stale_notice(stale: dict[str, int]) -> None:
    """Before a run: objects that runs whose process died (killed, engine restarted) left behind."""
    total = sum(stale.values())
    console.print(f"[yellow]{total} object(s) of dead runs ({escape(', '.join(sorted(stale)))}) are "
                  "still on the engine: invoke clean --stale[/yellow]")


def scenario_error(name: str, error: Exception) -> None:
    console.print(f"[red]{escape(name)}: {escape(str(error))}[/red]")


def wrote_compose(path: Path) -> None:
    # -p: Compose 1.29 reads no project name from the file; `docker compose` (v2) takes the same.
    console.print(f"wrote {path}: docker-compose -p {path.stem} -f {path} up (after invoke build)")


def print_summary(codes: dict[str, int], seconds: dict[str, float] | None = None) -> None:
    """One row per scenario of a run-all, then a one-line verdict."""
    meaning = {0: "[green]passed[/green]", 1: "[red]a check failed[/red]", 2: "[red]bad input[/red]",
               3: "[red]environment problem[/red]", 130: "[yellow]interrupted[/yellow]"}
    table = Table(title="All scenarios", title_justify="left")
    table.add_column("scenario")
    table.add_column("outcome")
    table.add_column("time", justify="right")
    for name, code in codes.items():
        took = (seconds or {}).get(name)
        table.add_row(name, meaning.get(code, f"exit {code}"), f"{took:.1f} s" if took is not None else "–")
    console.print(table)
    passed = sum(code == 0 for code in codes.values())
    colour = "green" if passed == len(codes) else "red"
    console.print(f"[bold {colour}]{passed}/{len(codes)} scenarios passed[/bold {colour}]")


_batch_lock = threading.Lock()   # whole lines and whole blocks, whichever scenario prints


def batch_started(count: int, jobs: int) -> None:
    console.rule(f"[bold]{count} scenarios, up to {jobs} at once")


def batch_progress(name: str, line: str) -> None:
    """A progress line of one of several scenarios running at once, tagged with its name."""
    with _batch_lock:
        console.print(f"[cyan]{escape(name):<18}[/cyan] {escape(line)}")


def batch_finished(name: str, code: int, seconds: float, output: str) -> None:
    """A scenario of the batch ended: everything it printed but progress, as one block."""
    with _batch_lock:
        console.rule(f"{escape(name)} (exit {code}, {seconds:.1f} s)", align="left")
        if output:
            console.print(output, markup=False, highlight=False, soft_wrap=True)


def junit_xml(document: dict[str, Any]) -> str:
    """The run as a JUnit test suite; every text through lab.escaping.xml_text, so that a control
    character a student's program printed never makes the file unreadable."""
    x = xml_text.text
    failures = sum(not c["passed"] for c in document["checks"])
    suite = ElementTree.Element("testsuite", name=x(f"socklab.{document['scenario']}"),
                                tests=str(len(document["checks"])), failures=str(failures),
                                time=f"{document['duration_s']:.3f}")
    for check in document["checks"]:
        case = ElementTree.SubElement(suite, "testcase", classname=x(f"socklab.{document['scenario']}"),
                                      name=x(check["name"]))
        if not check["passed"]:
            text = check["detail"] + (f"\nhint: {check['hint']}" if check.get("hint") else "")
            ElementTree.SubElement(case, "failure", message=x(check["detail"][:200])).text = x(text)
        else:
            ElementTree.SubElement(case, "system-out").text = x(check["detail"])
    for check in document.get("not_applicable", []):
        case = ElementTree.SubElement(suite, "testcase", classname=x(f"socklab.{document['scenario']}"),
                                      name=x(check["name"]))
        ElementTree.SubElement(case, "skipped", message=x(f"not applicable: {check['reason']}"[:200]))
    suite.set("skipped", str(len(document.get("not_applicable", []))))
    return ElementTree.tostring(suite, encoding="unicode")


def markdown(document: dict[str, Any]) -> str:
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
        titles, rows = _trace_rows(document["api_trace"])
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


def write_plots(record: RunRecord, directory: Path) -> list[str]:
    """The scenario's plots as PNG files in `directory`; their names, for the result's artifacts."""
    from lab.report import plots

    try:
        return [path.name for path in plots.draw(record, directory)]
    except (OSError, ValueError) as error:
        raise ReportError(f"drawing the plots into {directory} failed: {error}") from None


def write_reports(document: dict[str, Any], directory: Path, files: dict[str, str] | None = None) -> list[Path]:
    """NAME.json (the contract), NAME.junit.xml and NAME.md in `directory`, plus `files`
    (artifacts by name, e.g. the sequence chart's SVG from lab.report.capture.artifact_files),
    and last NAME.html, which embeds the artefacts already there (chart, plots).
    """
    from lab.report import html as html_report

    name = document["scenario"]
    paths = [directory / f"{name}.json", directory / f"{name}.junit.xml", directory / f"{name}.md"]
    if html_report.file_name(document) not in document["artifacts"]:
        document["artifacts"].append(html_report.file_name(document))
    try:
        directory.mkdir(parents=True, exist_ok=True)
        paths[0].write_text(json_text(document), encoding="utf-8")
        paths[1].write_text(junit_xml(document) + "\n", encoding="utf-8")
        paths[2].write_text(markdown(document), encoding="utf-8")
        for file_name, text in (files or {}).items():
            paths.append(directory / file_name)
            paths[-1].write_text(text)
        paths.append(html_report.write(document, directory))
    except (OSError, ValueError) as error:
        raise ReportError(f"writing the reports to {directory} failed: {error}") from None
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a", encoding="utf-8") as handle:
            handle.write(markdown(document))
    return paths


# ----- invoke grade ------------------------------------------------------------------------
def json_text(document: dict[str, Any]) -> str:
    """A result document as the JSON file the contract describes."""
    return json.dumps(clean_tree(document), indent=2, allow_nan=False) + "\n"


class GradeProgress:
    """`invoke grade`'s progress: a bar of students done / total with an ETA, and a line per student.

    On a terminal the bar redraws in place; in a CI log (no terminal) each finished student is one
    line with the count and the ETA, so a long grade never looks hung.
    """

    def __init__(self, title: str, total: int) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.total = total
        self.done = 0
        self.started = time.monotonic()
        self._lock = threading.Lock()
        console.rule(f"[bold]{escape(title)}")
        self._bar = Progress(TextColumn("students"), BarColumn(), MofNCompleteColumn(),
                             TextColumn("ETA"), TimeRemainingColumn(), console=console,
                             disable=not console.is_terminal)
        self._task = self._bar.add_task("grade", total=total)

    def __enter__(self) -> GradeProgress:
        self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._bar.stop()

    def line(self, message: str) -> None:
        console.print(f"[dim]{time.monotonic() - self.started:6.1f}s[/dim]  {escape(message)}")

    def student_done(self, student: str, rows: list[Any]) -> None:

        with self._lock:
            self.done += 1
            done = self.done
            self._bar.update(self._task, completed=done)
        counts = {o: sum(r.outcome == o for r in rows) for o in ("passed", "failed", "error", "not-applicable")}
        summary = ", ".join(f"{n} {o}" for o, n in counts.items() if n) or "nothing to run"
        left = eta(done, self.total, time.monotonic() - self.started)
        self.line(f"{one_line(student)}: {summary} — {done}/{self.total} students"
                  + (f", ETA {left:.0f} s" if left else ""))


def print_gradebook(rows: list[Any], out: Path, seeds: tuple[str, ...] | list[str] = ()) -> None:
    """The gradebook as a table, each scenario's impairment seed, where the files are, and a one-line verdict."""
    marks = {"passed": "[green]passed[/green]", "failed": "[red]failed[/red]", "error": "[red]error[/red]",
             "not-applicable": "[dim]n/a[/dim]"}
    table = Table(title="Gradebook", title_justify="left")
    for column in ("student", "scenario", "role", "outcome", "failed checks / why"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(terminal.text(row.student), escape(row.scenario), escape(row.role), marks[row.outcome],
                      terminal.text("; ".join(row.failed_checks) or row.reason))
    console.print(table)
    for line in seeds:
        console.print(escape(line.replace("`", "")))
    students = {r.student for r in rows}
    clean = {s for s in students if all(r.outcome in ("passed", "not-applicable") for r in rows if r.student == s)}
    console.print(f"wrote {out / 'gradebook.csv'}, {out / 'gradebook.md'}, {out / 'result.json'}, "
                  f"{out / 'autograding-result.txt'} and one folder per student")
    colour = "green" if clean == students else "yellow"
    console.print(f"[bold {colour}]graded {len(students)} student(s): {len(clean)} passed every run, "
                  f"{len(students) - len(clean)} did not[/bold {colour}]")


def grade_environment_errors(errors: list[str]) -> None:
    console.print("[red]some runs met an environment problem (not the students' fault); run them again:[/red]")
    for error in errors:
        console.print(f"[red]  {escape(error)}[/red]")
