#!/usr/bin/env python3
"""Cold and warm `invoke build` times. Cold removes socklab's images and the local base first.

Prints figures; asserts nothing. Cold run needs root when no registry answers (mmdebstrap).

    .venv/bin/python bench/build_time.py [--skip-cold]
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def timed_build() -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "invoke", "build"], cwd=ROOT, check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-cold", action="store_true")
    args = parser.parse_args()
    if not args.skip_cold:
        images = subprocess.run(["docker", "images", "--format", "{{.Repository}}:{{.Tag}}"],
                                capture_output=True, text=True, check=True).stdout.split()
        ours = [i for i in images if i.startswith("socklab/")]
        if ours:
            subprocess.run(["docker", "rmi", "-f", *ours], check=True, capture_output=True)
        print(f"cold invoke build (removed {len(ours)} image(s), base bootstrap included): {timed_build():.1f} s")
    print(f"warm invoke build: {timed_build():.2f} s")


if __name__ == "__main__":
    main()
