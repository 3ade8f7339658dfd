"""What tracing (strace) and capture (tcpdump) cost a student's run: seconds and % per run.

Runs the same student programs with and without ``--trace`` on the supervisor, and with and
without capturing the student's host, interleaved (so the machine's load falls on all alike),
and prints the median wall time of each. The reference trace is made once beforehand (cached per
image build, as in grading), so what is measured is the per-run cost.

    SOCKLAB_IMAGE_TAG=... python bench/student_trace_overhead.py [ROUNDS]
"""
from __future__ import annotations

import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lab import catalog, engines  # noqa: E402
from lab.grading.submission import read_program  # noqa: E402
from lab.run.runner import run_lab  # noqa: E402
from lab.scenario.plan import build_plan  # noqa: E402

CASES = [("udp-echo", "server", "tests/submissions/textbook/UDPServer.py"),
         ("tcp-echo", "client", "tests/submissions/textbook/TCPClient.py")]


def plan_of(scenario: str, role: str, path: str, trace: bool, capture: bool):
    program = read_program(ROOT / path, shown=Path(path).name)
    plan = build_plan(catalog.load(scenario), {}, students={role: program}, capture=False)
    if not trace:
        plan = replace(plan, instances=tuple(replace(i, argv=tuple(a for a in i.argv if a != "--trace"))
                                             for i in plan.instances))
    if capture:
        plan = replace(plan, capture_hosts=(plan.slot(role).host,))
    return plan


def main(rounds: int) -> None:
    engine = engines.connect(None)
    variants = {"plain": (False, False), "trace": (True, False), "trace+capture": (True, True)}
    for scenario, role, path in CASES:
        times: dict[str, list[float]] = {name: [] for name in variants}
        for _ in range(rounds):
            for name, (trace, capture) in variants.items():
                started = time.monotonic()
                run_lab(engine, plan_of(scenario, role, path, trace, capture), progress=lambda m: None)
                times[name].append(time.monotonic() - started)
        base = statistics.median(times["plain"])
        for name, seen in times.items():
            median = statistics.median(seen)
            print(f"{scenario} {role:<6} {name:<14} median {median:6.2f} s over {rounds} runs "
                  f"({', '.join(f'{t:.2f}' for t in seen)}); +{median - base:.2f} s = {100 * (median - base) / base:+.0f}%")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
