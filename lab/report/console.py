"""The one terminal the lab draws on, and the short messages of the commands around a run.

The console is made when it is first drawn on, not at import: importing the report layer (a test,
`invoke --list`, the grading) opens nothing, and a test or a CI wrapper can hand in its own
(`use(Console(file=...))`). Library code never prints; it reports through a progress callback.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from lab import engines
from lab.escaping import terminal

if TYPE_CHECKING:
    from lab.scenario.model import Parameter

_current: Console | None = None


def console() -> Console:
    """The console, made on first use. CI logs are no terminal: tables get room (120 columns)
    rather than folding every cell into three lines."""
    global _current
    if _current is None:
        _current = Console(highlight=False, width=None if sys.stdout.isatty() else 120)
    return _current


def use(replacement: Console | None) -> Console | None:
    """Draw on `replacement` from now on (None: a fresh console on next use); returns the previous one."""
    global _current
    previous, _current = _current, replacement
    return previous


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
        console().print(f"[bold]{topic}[/bold]: {escape(text)}")



def interrupted() -> None:
    console().print("[yellow]interrupted: the lab was torn down[/yellow]")



def command_hint(run_id: str, hosts: list[str] | tuple[str, ...]) -> str:
    """What --keep prints: the exact command for the first host, e.g. the server."""
    first = "server" if "server" in hosts else (hosts[0] if hosts else "HOST")
    return f"invoke shell {first} --run {run_id}"



def kept(run_id: str, hosts: list[str], engine_name: str, engine_advice: str) -> None:
    """What --keep leaves: the shell command, the engine's own look at the run (Engine.kept_advice)
    and the clean command, each naming the engine where it is not the default one."""
    shell = engines.environment(engine_name) + command_hint(run_id, hosts)
    console().print(f"[yellow]kept run {run_id} running (hosts: {escape(', '.join(hosts))}): "
                    f"open a shell with: {escape(shell)}; {escape(engine_advice)}; "
                    f"remove it with: invoke clean{escape(engines.option(engine_name))} --run {run_id}[/yellow]")


def opening_shell(run_id: str, scenario: str, host: str) -> None:
    console().print(f"[dim]shell on {escape(host)} of run {run_id} ({escape(scenario)}); `exit` leaves it, "
                  f"the lab stays until: invoke clean --run {run_id}[/dim]")



def cleaned(containers: int, networks: int, run_id: str | None) -> None:
    which = f"run {run_id}" if run_id else "any run"
    console().print(f"removed {containers} container(s) and {networks} network(s) of {which} "
                  "(label io.socklab.run)")



def cleaned_stale(runs: list[str], containers: int, networks: int) -> None:
    if not runs:
        console().print("no objects of dead runs (every labelled object belongs to a live or kept run)")
        return
    console().print(f"removed {containers} container(s) and {networks} network(s) of {len(runs)} dead "
                  f"run(s): {escape(', '.join(runs))}")



def stale_notice(stale: dict[str, int]) -> None:
    """Before a run: objects that runs whose process died (killed, engine restarted) left behind."""
    total = sum(stale.values())
    console().print(f"[yellow]{total} object(s) of dead runs ({escape(', '.join(sorted(stale)))}) are "
                  "still on the engine: invoke clean --stale[/yellow]")



def scenario_error(name: str, error: Exception) -> None:
    console().print(f"[red]{escape(name)}: {escape(str(error))}[/red]")



def wrote_compose(path: Path) -> None:
    # -p: Compose 1.29 reads no project name from the file; `docker compose` (v2) takes the same.
    console().print(f"wrote {path}: docker-compose -p {path.stem} -f {path} up (after invoke build)")



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
    console().print(table)
    passed = sum(code == 0 for code in codes.values())
    colour = "green" if passed == len(codes) else "red"
    console().print(f"[bold {colour}]{passed}/{len(codes)} scenarios passed[/bold {colour}]")



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
    console().print(table)
    for line in seeds:
        console().print(escape(line.replace("`", "")))
    students = {r.student for r in rows}
    clean = {s for s in students if all(r.outcome in ("passed", "not-applicable") for r in rows if r.student == s)}
    console().print(f"wrote {out / 'gradebook.csv'}, {out / 'gradebook.md'}, {out / 'result.json'}, "
                  f"{out / 'autograding-result.txt'} and one folder per student")
    colour = "green" if clean == students else "yellow"
    console().print(f"[bold {colour}]graded {len(students)} student(s): {len(clean)} passed every run, "
                  f"{len(students) - len(clean)} did not[/bold {colour}]")



def grade_environment_errors(errors: list[str]) -> None:
    console().print("[red]some runs met an environment problem (not the students' fault); run them again:[/red]")
    for error in errors:
        console().print(f"[red]  {escape(error)}[/red]")


