#!/usr/bin/env python3
"""A class graded at scale: the same verdicts one at a time and at full speed, and the cost curve.

1. The same generated class (bench/grade.py's generator) is graded one at a time without the warm
   pool (`invoke grade --cold --jobs 1`: every run makes its own networks and hosts, as a single
   `invoke scenario` does) and at full speed (warm pool, kept lab clients, --jobs N); the two
   gradebooks (student, scenario, role, outcome, failed checks, seed) are diffed and the diff is
   printed: it must be empty (speed must never change a verdict).
2. The curve: classes of --curve sizes (default 20,50,100,200) × 4 scenarios at --jobs N: wall
   time, time per run, the projection to 200 students, the grader's and the containers' peak memory,
   against a bare docker-CLI exchange measured in the same session (the ratio is what to compare).

The machine is shared: the load average is printed beside every figure. Asserts nothing.

    SOCKLAB_IMAGE_TAG=... .venv/bin/python bench/class_scale.py [--verdicts 8] [--curve 20,50] [--jobs 4]
"""
from __future__ import annotations

import argparse
import difflib
import os
import shutil
import tempfile
import time
from pathlib import Path

from grade import SCENARIOS, bare_docker_run, cpu_line, generate_class, timed_grade

TARGET_S = 300.0   # 200 students × 4 scenarios in 5 minutes


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def gradebook_lines(folder: Path) -> list[str]:
    return (folder / "gradebook.csv").read_text().splitlines(keepends=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--verdicts", type=int, default=8, help="students graded at --jobs 1 and --jobs N (0: skip)")
    parser.add_argument("--curve", default="20,50,100,200")
    parser.add_argument("--jobs", type=int, default=8)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="socklab-bench-scale-"))
    print(f"load average at start: {load()} on {os.cpu_count()} cores; scenarios {SCENARIOS}")
    try:
        baseline = sorted(bare_docker_run() for _ in range(3))[1]
        print(f"bare docker CLI, one textbook UDP exchange: {baseline:.2f} s (median of 3; load {load()})")
        if args.verdicts:
            generate_class(work / "same", args.verdicts)
            one = timed_grade(work / "same", 1, work / "same-1", cold=True)
            full = timed_grade(work / "same", args.jobs, work / f"same-{args.jobs}")
            diff = list(difflib.unified_diff(gradebook_lines(work / "same-1"), gradebook_lines(work / f"same-{args.jobs}"),
                                             "gradebook --cold --jobs 1", f"gradebook --jobs {args.jobs}"))
            print(f"\nsame verdicts: {args.verdicts} students, --cold --jobs 1 {one['wall_s']:.1f} s vs --jobs {args.jobs} "
                  f"{full['wall_s']:.1f} s ({one['runs']} runs, {one['passed']} passed); load {load()}")
            print("diff of the two gradebooks (must be empty):" + ("\n" + "".join(diff) if diff else " (empty)"))
        print(f"\n{'students':>8} {'runs':>5} {'wall s':>8} {'s/run':>6} {'x bare':>7} {'200x4 at this rate':>19} "
              f"{'grader MiB':>10} {'containers MiB':>14} {'passed':>6} {'errors':>6}  load (1/5/15 min)")
        for size in [int(s) for s in args.curve.split(",") if s.strip()]:
            folder = work / f"class-{size}"
            generate_class(folder, size)
            started = time.monotonic()
            figures = timed_grade(folder, args.jobs, work / f"grades-{size}")
            per_run = figures["wall_s"] / max(1, figures["runs"])
            projected = per_run * 800
            print(f"{size:>8} {figures['runs']:>5} {figures['wall_s']:>8.1f} {per_run:>6.2f} {per_run / baseline:>7.2f} "
                  f"{projected:>12.0f} s {'ok' if projected <= TARGET_S else 'over':>5} {figures['grader_mib']:>10.0f} "
                  f"{figures['containers_mib']:>14.0f} {figures['passed']:>6} {figures['errors']:>6}  {load()}",
                  flush=True)
            print(f"{'':>8} {cpu_line(figures)}", flush=True)
            shutil.rmtree(folder, ignore_errors=True)
            del started
    finally:
        shutil.rmtree(work, ignore_errors=True)
        print(f"\nload average at end: {load()} (a loaded, shared machine: the lead re-measures the idle figures)")


if __name__ == "__main__":
    main()
