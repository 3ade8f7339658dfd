"""`invoke all --jobs N`: scenarios as separate processes, at most N at once, readable output."""
from __future__ import annotations

import io
import sys
import threading

from rich.console import Console

from lab import app, batch
from lab.report import console as report_console
from lab.report.progress import ConsoleProgress


def fake_scenario(tmp_path, name: str) -> list[str]:
    """A stand-in for `invoke scenario NAME`: prints like one, records when it ran, exits by name."""
    code = {"fails": 1, "no-engine": 3}.get(name, 0)
    script = f"""
import time, sys
open({str(tmp_path / name)!r}, "w").write(str(time.time()))
print("──── {name} — a lesson ────", flush=True)
print("   0.1s  parameters: none", flush=True)
time.sleep(0.3)
print("   0.4s  client (1/1): running", flush=True)
print("Checks table line for {name}")
print("{name}: verdict")
open({str(tmp_path / name)!r}, "a").write(" " + str(time.time()))
sys.exit({code})
"""
    return [sys.executable, "-c", script]


def test_at_most_n_at_once_progress_tagged_blocks_whole(tmp_path, monkeypatch):
    monkeypatch.setattr(batch, "command", lambda name, *rest: fake_scenario(tmp_path, name))
    names = ["a", "b", "fails", "c", "no-engine"]
    progress: list[tuple[str, str]] = []
    finished: list[batch.Finished] = []
    lock = threading.Lock()

    def on_progress(name, line):
        with lock:
            progress.append((name, line))

    codes = batch.run_parallel(names, 2, None, "auto", on_progress, finished.append)
    assert codes == {"a": 0, "b": 0, "fails": 1, "c": 0, "no-engine": 3}
    assert list(codes) == names, "the summary keeps the scenarios' order"
    spans = [tuple(map(float, (tmp_path / n).read_text().split())) for n in names]
    most = max(sum(start <= moment < end for start, end in spans) for moment, _ in spans)
    assert most == 2
    assert ("fails", "   0.4s  client (1/1): running") in progress
    block = {f.name: f.output for f in finished}
    assert block["fails"] == "Checks table line for fails\nfails: verdict", "progress and the rule stay out of the block"
    assert all(f.seconds > 0.3 for f in finished)


def test_a_progress_line_of_the_console_is_recognised(monkeypatch):
    out = io.StringIO()
    monkeypatch.setattr(report_console, "_current", Console(file=out, width=60, highlight=False))
    progress = ConsoleProgress("udp-echo — a lesson")
    progress("a long message " * 10)
    rule, line = out.getvalue().splitlines()
    assert batch.RULE_LINE.match(rule) and batch.PROGRESS_LINE.match(line), "one line however long"


def test_the_batch_exit_code_is_the_worst():
    assert app.worst([0, 0]) == 0 and app.worst([0, 1, 2]) == 1 and app.worst([2, 0]) == 2
    assert app.worst([1, 3]) == 3 and app.worst([3, 130]) == 130
