"""Live progress on the console: a run's timestamped steps, `invoke all --jobs N`'s tagged lines
and blocks, and `invoke grade`'s bar of students with its ETA. Each says something at least every
step, so that a long run never looks hung."""
from __future__ import annotations

import threading
import time
from typing import Any

from rich.markup import escape

from lab.escaping.text import one_line
from lab.report.console import console


class ConsoleProgress:
    """Live progress: one timestamped line per step, so a long run never looks hung."""

    def __init__(self, title: str) -> None:
        self.started = time.monotonic()
        console().rule(f"[bold]{escape(title)}")

    def __call__(self, message: str) -> None:
        # Messages carry user text (--message "[red]"): never read as markup.
        # soft_wrap: one line per message however long, so `invoke all --jobs N` can tag it whole.
        console().print(f"[dim]{time.monotonic() - self.started:6.1f}s[/dim]  {escape(message)}", soft_wrap=True)



_batch_lock = threading.Lock()   # whole lines and whole blocks, whichever scenario prints



def batch_started(count: int, jobs: int) -> None:
    console().rule(f"[bold]{count} scenarios, up to {jobs} at once")



def batch_progress(name: str, line: str) -> None:
    """A progress line of one of several scenarios running at once, tagged with its name."""
    with _batch_lock:
        console().print(f"[cyan]{escape(name):<18}[/cyan] {escape(line)}")



def batch_finished(name: str, code: int, seconds: float, output: str) -> None:
    """A scenario of the batch ended: everything it printed but progress, as one block."""
    with _batch_lock:
        console().rule(f"{escape(name)} (exit {code}, {seconds:.1f} s)", align="left")
        if output:
            console().print(output, markup=False, highlight=False, soft_wrap=True)



def eta(done: int, total: int, elapsed: float) -> float | None:
    """Seconds left at the pace so far (None before the first student is done).

    >>> eta(2, 10, 30.0)
    120.0
    """
    if done == 0 or total == 0:
        return None
    return elapsed / done * (total - done)



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
        console().rule(f"[bold]{escape(title)}")
        self._bar = Progress(TextColumn("students"), BarColumn(), MofNCompleteColumn(),
                             TextColumn("ETA"), TimeRemainingColumn(), console=console(),
                             disable=not console().is_terminal)
        self._task = self._bar.add_task("grade", total=total)

    def __enter__(self) -> GradeProgress:
        self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._bar.stop()

    def line(self, message: str) -> None:
        console().print(f"[dim]{time.monotonic() - self.started:6.1f}s[/dim]  {escape(message)}")

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

