#!/usr/bin/env python3
"""Where a run's time goes: engine calls, Python, waiting; for warm udp-echo and graded student runs.

Runs in this process (no `invoke` start-up): the docker SDK's APIClient methods are wrapped with
timing (outermost call only, so `exec_run` counts as exec_create + exec_start, not twice), and the
lab's sleeps are counted. Per run it prints:

- wall: the run end to end (run_scenario: topology, steps, teardown, checks);
- engine: time with at least one engine call in flight (a union: parallel calls count once), and the
  sum over calls by API method (count, total) — what the engine costs, and which calls;
- Python: this process's CPU time (all threads; the SDK's own Python included);
- sleeping: time the lab's threads spent in time.sleep (poll loops);
- other: wall - engine - Python, floored at 0 (what is left: waiting on events, the GIL, the load).

The machine is shared and loaded: absolute numbers move with the load average (printed at the start
and the end); compare phases within one run, not across runs. Asserts nothing.

    SOCKLAB_IMAGE_TAG=... .venv/bin/python bench/phases.py [--runs 3] [--what echo,student,student-client]
"""
from __future__ import annotations

import argparse
import functools
import inspect
import os
import statistics
import sys
import tempfile
import threading
import time
from collections import defaultdict
from contextlib import nullcontext
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import docker.api.client  # noqa: E402

TEXTBOOK = ROOT / "tests/submissions/textbook"


class EngineTracer:
    """Timing of every outermost APIClient method call, from any thread."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.calls: list[tuple[str, float, float]] = []   # (method, start, end)
        self.local = threading.local()
        self.sleeps = 0.0
        self._installed = False

    def install(self) -> None:
        if self._installed:
            return
        self._installed = True
        api = docker.api.client.APIClient
        for name, member in inspect.getmembers(api, inspect.isfunction):
            if name.startswith("_") or name in ("send", "request", "get", "post", "put", "delete", "head",
                                                 "options", "patch", "close", "mount", "get_adapter"):
                continue
            setattr(api, name, self._wrap(name, member))
        real_sleep = time.sleep
        tracer = self

        def counted_sleep(seconds: float) -> None:
            started = time.perf_counter()
            real_sleep(seconds)
            with tracer.lock:
                tracer.sleeps += time.perf_counter() - started

        time.sleep = counted_sleep   # the lab's modules call time.sleep through the module

    def _wrap(self, name: str, method):  # type: ignore[no-untyped-def]
        tracer = self

        @functools.wraps(method)
        def timed(*args, **kwargs):  # type: ignore[no-untyped-def]
            depth = getattr(tracer.local, "depth", 0)
            tracer.local.depth = depth + 1
            started = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                tracer.local.depth = depth
                if depth == 0:
                    with tracer.lock:
                        tracer.calls.append((name, started, time.perf_counter()))
        return timed

    def reset(self) -> None:
        with self.lock:
            self.calls.clear()
            self.sleeps = 0.0

    def summary(self) -> tuple[float, dict[str, tuple[int, float]], float]:
        """(union of call intervals, method → (count, summed time), slept)."""
        with self.lock:
            calls = sorted(self.calls, key=lambda c: c[1])
            slept = self.sleeps
        union, end = 0.0, float("-inf")
        by_method: dict[str, list[float]] = defaultdict(list)
        for name, start, stop in calls:
            by_method[name].append(stop - start)
            if start > end:
                union += stop - start
                end = stop
            elif stop > end:
                union += stop - end
                end = stop
        return union, {k: (len(v), sum(v)) for k, v in by_method.items()}, slept


def measure(tracer: EngineTracer, label: str, work) -> dict[str, object]:  # type: ignore[no-untyped-def]
    tracer.reset()
    cpu, started = time.process_time(), time.perf_counter()
    extra = work()
    wall = time.perf_counter() - started
    cpu = time.process_time() - cpu
    union, methods, slept = tracer.summary()
    return {"label": label, "wall": wall, "engine": union, "python": cpu, "slept": slept,
            "other": max(0.0, wall - union - cpu), "methods": methods, "extra": extra}


def print_figures(rows: list[dict[str, object]]) -> None:
    label = rows[0]["label"]
    med = {k: statistics.median(float(r[k]) for r in rows) for k in ("wall", "engine", "python", "slept", "other")}
    print(f"\n== {label}: median of {len(rows)} run(s); load {os.getloadavg()[0]:.2f}")
    print(f"   wall {med['wall']:.2f} s | engine calls in flight {med['engine']:.2f} s | Python CPU "
          f"{med['python']:.2f} s | in time.sleep {med['slept']:.2f} s | other {med['other']:.2f} s")
    print("   runs (wall): " + ", ".join(f"{float(r['wall']):.2f}" for r in rows))
    merged: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for row in rows:
        for name, figures in row["methods"].items():  # type: ignore[attr-defined]
            merged[name].append(figures)
    print(f"   {'API method':<28}{'calls/run':>10}{'s/run':>8}{'ms/call':>9}")
    for name, figures in sorted(merged.items(), key=lambda kv: -sum(f[1] for f in kv[1])):
        calls = sum(f[0] for f in figures) / len(rows)
        total = sum(f[1] for f in figures) / len(rows)
        print(f"   {name:<28}{calls:>10.1f}{total:>8.2f}{1000 * total / max(calls, 1e-9):>9.0f}")
    timings: dict[str, list[float]] = defaultdict(list)
    for row in rows:
        for key, value in (row["extra"] or {}).items():  # type: ignore[union-attr]
            timings[key].append(value)
    if timings:
        print("   runner's own timings: " + ", ".join(f"{k} {statistics.median(v):.2f} s"
                                                   for k, v in sorted(timings.items())))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--what", default="echo,student,student-client")
    args = parser.parse_args()
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    from lab import catalog, engines
    from lab.engines import images
    from lab.grading import grade, submission
    from lab.scenario.plan import build_plan
    from lab.scenario_run import run_scenario

    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    tracer = EngineTracer()
    tracer.install()
    engine = engines.connect(None)
    images.ready(engine, lambda line: None)
    work = Path(tempfile.mkdtemp(prefix="socklab-phases-"))
    (work / "student01").mkdir()
    for name in ("UDPServer.py", "UDPClient.py"):
        (work / "student01" / name).write_text((TEXTBOOK / name).read_text())

    def echo() -> dict[str, float]:
        plan = build_plan(catalog.load("udp-echo"), {})
        outcome = run_scenario(engine, plan, progress=lambda message: None)
        assert outcome.passed, "udp-echo failed"
        return dict(outcome.timings)

    def student(role: str, scenario: str) -> dict[str, float]:
        file = "UDPServer.py" if role == "server" else "UDPClient.py"
        row, problem = grade._run_job(engine, grade.Job("student01", scenario, role, work / "student01" / file))
        if problem or row.outcome != "passed":   # said, and counted with its time (a loaded machine)
            print(f"   note: a run ended {row.outcome}: {row.reason or ''} {row.failed_checks or ''} {problem}".rstrip())
        return {}

    kinds = {"echo": ("warm udp-echo (run_scenario, in process)", echo),
             "student": ("graded student run: textbook UDPServer.py on udp-echo", lambda: student("server", "udp-echo")),
             "student-fresh": ("the same, each run making and removing its own network (no grade pool)",
                               lambda: student("server", "udp-echo")),
             "student-client": ("graded student run: textbook UDPClient.py on udp-echo (2 runs)",
                                lambda: student("client", "udp-echo")),
             "student-loss": ("graded student run: textbook UDPClient.py on udp-loss (6 runs, seeded 50% loss)",
                              lambda: student("client", "udp-loss"))}
    chosen = [w.strip() for w in args.what.split(",") if w.strip()]
    for what in chosen:
        label, work_fn = kinds[what]
        # A graded run as a grade makes it: its networks from the grade's pool (the warm-up fills it).
        pooled = what.startswith("student") and what != "student-fresh"
        with engine.warm_networks() if pooled else nullcontext():
            measure(tracer, label, work_fn)   # warm-up, not counted
            print_figures([measure(tracer, label, work_fn) for _ in range(args.runs)])
    print(f"\nload average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())} "
          "(a loaded, shared machine: the lead re-measures the idle figures)")


if __name__ == "__main__":
    main()
