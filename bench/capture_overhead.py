#!/usr/bin/env python3
"""What capturing costs: warm `invoke scenario udp-loss` with and without --capture, and
tcp-handshake (always captured), with the sizes of the files each writes.

Runs interleaved (so machine noise hits all alike), medians of --runs each, the load average
printed; a run whose checks fail still counts for time (the figure is wall time) and is marked.
Asserts nothing.

    .venv/bin/python bench/capture_overhead.py [--runs 5]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VARIANTS = {
    "udp-loss": ["udp-loss", "--seed", "5"],
    "udp-loss --capture": ["udp-loss", "--seed", "5", "--capture"],
    "tcp-handshake": ["tcp-handshake"],
}


def run(argv: list[str], directory: Path) -> tuple[float, int, dict[str, int]]:
    """Wall time, exit code, and the size of each file written to the report directory."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "invoke", "scenario", *argv, "--report-dir", str(directory)],
                          cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    sizes = {p.name: p.stat().st_size for p in sorted(directory.iterdir())}
    return seconds, done.returncode, sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    times: dict[str, list[float]] = {name: [] for name in VARIANTS}
    failed: dict[str, int] = {name: 0 for name in VARIANTS}
    sizes: dict[str, dict[str, int]] = {}
    with tempfile.TemporaryDirectory(prefix="socklab-bench-") as scratch:
        for name, argv in VARIANTS.items():  # warm: images built, caches hot
            run(argv, Path(scratch) / f"warm-{name.replace(' ', '_')}")
        for index in range(args.runs):
            for name, argv in VARIANTS.items():
                directory = Path(scratch) / f"{index}-{name.replace(' ', '_')}"
                directory.mkdir()
                seconds, code, written = run(argv, directory)
                times[name].append(seconds)
                failed[name] += code != 0
                sizes[name] = written
    print(f"load average (1 min): {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    for name, values in times.items():
        marks = f", {failed[name]} run(s) with a failed check" if failed[name] else ""
        print(f"{name:<20} median {statistics.median(values):6.2f} s  "
              f"(runs: {', '.join(f'{v:.2f}' for v in values)}{marks})")
    base, captured = statistics.median(times["udp-loss"]), statistics.median(times["udp-loss --capture"])
    print(f"--capture on udp-loss: {captured - base:+.2f} s, ratio {captured / base:.2f}x")
    for name, written in sizes.items():
        shown = ", ".join(f"{file} {size / 1024:.1f} KiB" for file, size in written.items())
        print(f"files of {name}: {shown}")
    print(json.dumps({"medians_s": {k: round(statistics.median(v), 3) for k, v in times.items()}}))


if __name__ == "__main__":
    main()
