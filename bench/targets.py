#!/usr/bin/env python3
"""Issue 17's three targets, measured in one session and printed side by side, with the load.

- warm `invoke scenario udp-echo` against the bare docker-CLI exchange (bench/echo_baseline.py),
  interleaved: the ratio (aim <= 1.0x);
- `invoke all --jobs 4` wall time (aim <= 15 s);
- `invoke grade` of a generated class (--students, default 20) × 4 scenarios at --jobs 4: the time
  per run and its projection to 200 students (aim <= 300 s), peak memory;
and, for what is over its aim, the engine's share of one graded run by API method (bench/phases.py):
the calls that would have to go for the target to be reached.

The machine is shared: every figure has the load average beside it; compare ratios, not absolute
times. Asserts nothing.

    SOCKLAB_IMAGE_TAG=... .venv/bin/python bench/targets.py [--runs 5] [--students 20]
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from echo_baseline import ROOT, USER_ENV, bare_docker_exchange, socklab_scenario
from grade import cpu_line, generate_class, timed_grade
from udp_echo_vs_docker import RETRYING_CLIENT


def load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def invoke_all(jobs: int) -> tuple[float, int]:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "invoke", "all", "--jobs", str(jobs)], cwd=ROOT,
                          capture_output=True, text=True, env=USER_ENV)
    return time.perf_counter() - started, done.returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--students", type=int, default=20)
    parser.add_argument("--jobs", type=int, default=8, help="the grade's --jobs (runs wait on events: more than the cores)")
    args = parser.parse_args()
    rows: list[tuple[str, str, str, str, str]] = []
    print(f"load average at start: {load()} on {os.cpu_count()} cores")

    socklab_scenario("udp-echo")   # warm
    bare, lab = [], []
    for _ in range(args.runs):   # interleaved: the machine's load hits both alike
        bare.append(bare_docker_exchange("udp_server.py", RETRYING_CLIENT, "SEQ=1 HELLO"))
        lab.append(socklab_scenario("udp-echo"))
    ratio = statistics.median(lab) / statistics.median(bare)
    rows.append(("warm udp-echo / bare docker CLI", f"{statistics.median(lab):.2f} s / {statistics.median(bare):.2f} s",
                 f"{ratio:.2f}x", "<= 1.00x", load()))

    wall, code = invoke_all(4)
    rows.append(("invoke all --jobs 4", f"{wall:.1f} s (exit {code})", f"{wall:.1f} s", "<= 15 s", load()))

    work = Path(tempfile.mkdtemp(prefix="socklab-bench-targets-"))
    try:
        generate_class(work / "class", args.students)
        figures = timed_grade(work / "class", args.jobs, work / "grades")
        per_run = figures["wall_s"] / max(1, figures["runs"])
        rows.append((f"grade {args.students} students x 4 at --jobs {args.jobs}",
                     f"{figures['wall_s']:.1f} s, {per_run:.2f} s/run, grader {figures['grader_mib']:.0f} MiB, "
                     f"containers {figures['containers_mib']:.0f} MiB",
                     f"{per_run * 800:.0f} s for 200x4", "<= 300 s", load()))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    width = max(len(r[0]) for r in rows)
    print(f"\n{'target':<{width}}  {'measured':<24} {'figure':>18} {'aim':>9}  load (1/5/15)")
    for name, measured, figure, aim, at in rows:
        print(f"{name:<{width}}  {measured:<24} {figure:>18} {aim:>9}  {at}")
    print(f"\nthe grade's {cpu_line(figures)}")
    print("\nwhere a graded run's time goes (bench/phases.py, one textbook UDPServer.py on udp-echo):", flush=True)
    subprocess.run([sys.executable, str(ROOT / "bench/phases.py"), "--runs", "3", "--what", "student"], cwd=ROOT,
                   env=USER_ENV)
    print(f"load average at end: {load()} (a loaded, shared machine: the lead re-measures the idle figures)")


if __name__ == "__main__":
    main()
