"""Several scenarios at once, each in its own `invoke scenario` process (`invoke all --jobs N`).

A process per scenario keeps runs isolated exactly as a user's separate runs are: own run id,
networks, signal handling and teardown. Their output is read line by line: progress lines are
handed on at once (tagged with the scenario), the rest (tables, verdict, errors) is kept and handed
on as one block when the scenario ends, so N runs at once stay readable. Ctrl-C reaches every
child through the terminal's process group; SIGTERM is forwarded; each child tears its lab down
and the batch waits for them all.
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# What lab.report.progress.ConsoleProgress prints: elapsed seconds, two spaces, the message.
PROGRESS_LINE = re.compile(r"^\s*(\d+\.\d)s  (.*)$")
RULE_LINE = re.compile(r"^─+ .* ─+$|^─+$")


@dataclass(frozen=True)
class Finished:
    """One scenario's end: its exit code, wall time and everything it printed but progress."""

    name: str
    code: int
    seconds: float
    output: str


def command(name: str, report_dir: str | None, impair_backend: str) -> list[str]:
    """The `invoke scenario` command line of one scenario with its defaults."""
    argv = [sys.executable, "-m", "invoke", "scenario", name, "--impair-backend", impair_backend]
    return argv + (["--report-dir", report_dir] if report_dir else [])


def run_parallel(names: Sequence[str], jobs: int, report_dir: str | None, impair_backend: str,
                 on_progress: Callable[[str, str], None], on_finished: Callable[[Finished], None]
                 ) -> dict[str, int]:
    """Run the scenarios, at most `jobs` at once; exit code per scenario, in the given order.

    Once interrupted (Ctrl-C, SIGTERM) no further scenario starts; those not started count 130.
    """
    stopping = threading.Event()
    children: set[subprocess.Popen[str]] = set()
    lock = threading.Lock()

    def one(name: str) -> int:
        if stopping.is_set():
            return 130
        started = time.monotonic()
        env = {**os.environ, "COLUMNS": os.environ.get("COLUMNS", "120")}
        child = subprocess.Popen(command(name, report_dir, impair_backend), cwd=ROOT, env=env, text=True,
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, bufsize=1)
        with lock:
            children.add(child)
        kept: list[str] = []
        assert child.stdout is not None
        for line in child.stdout:
            line = line.rstrip("\n")
            progress = PROGRESS_LINE.match(line)
            if progress:
                on_progress(name, f"{progress.group(1):>6}s  {progress.group(2)}")
            elif not RULE_LINE.match(line.strip()):
                kept.append(line)
        code = child.wait()
        with lock:
            children.discard(child)
        if code in (130, -signal.SIGINT, -signal.SIGTERM):
            code = 130
            stopping.set()
        on_finished(Finished(name, code, time.monotonic() - started, "\n".join(kept).strip("\n")))
        return code

    def forward(signum: int, frame: Any) -> None:
        stopping.set()
        with lock:
            for child in children:
                child.send_signal(signal.SIGTERM)

    previous = signal.signal(signal.SIGTERM, forward) if threading.current_thread() is threading.main_thread() else None
    try:
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            futures = {name: pool.submit(one, name) for name in names}
            while not all(f.done() for f in futures.values()):
                try:
                    time.sleep(0.1)
                except KeyboardInterrupt:  # the children got the same SIGINT: wait for their teardown
                    stopping.set()
            return {name: future.result() for name, future in futures.items()}
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
