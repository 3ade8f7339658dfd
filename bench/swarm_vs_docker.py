#!/usr/bin/env python3
"""Warm scenarios on the swarm engine (client and server on different nodes) against the docker
engine, and the time to copy the images to a node that has none.

Runs `invoke scenario NAME` and `invoke scenario NAME --engine swarm --place server=B --place
client=A` interleaved, as a user would (a fresh process each), and prints medians. With --local it
brings up a local two-node swarm for the measurement (root; `invoke swarm-up` without the nodes
file) and takes it down after; otherwise it uses the swarm this engine manages and the nodes
configuration (SOCKLAB_NODES, ~/.config/socklab/nodes.toml). Prints figures; asserts nothing.

    .venv/bin/python bench/swarm_vs_docker.py --local [--runs 5] [--scenarios udp-echo,udp-loss]
"""
from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


FAILED: list[str] = []


def timed(argv: list[str]) -> float:
    """Wall time of one `invoke` run. A failed check (exit 1, e.g. a timing check on a loaded
    machine) still counts as a run and is listed; anything else stops the bench."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "invoke", *argv], cwd=ROOT, capture_output=True, text=True)
    if done.returncode == 1:
        FAILED.append(f"invoke {' '.join(argv)}: {done.stdout.strip().splitlines()[-1]}")
    elif done.returncode != 0:
        raise SystemExit(f"invoke {' '.join(argv)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return time.perf_counter() - started


@contextlib.contextmanager
def swarm(local: bool) -> Iterator[None]:
    if not local:
        yield
        return
    from lab.engines import swarm_local
    from lab.engines.docker_engine import DockerEngine

    with swarm_local.running(DockerEngine.connect(), extra_nodes=1) as made:
        os.environ["SOCKLAB_NODES"] = made.nodes_setting()
        yield


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--scenarios", default="udp-echo,udp-loss")
    parser.add_argument("--local", action="store_true", help="bring up a local two-node swarm for the bench")
    args = parser.parse_args()
    from lab.common import APPS_IMAGE, TOOLS_IMAGE

    with swarm(args.local):
        from lab.engines.swarm_engine import SwarmEngine

        engine = SwarmEngine.connect()
        manager = next(n for n in engine.swarm.nodes if n.is_self)
        other = next(n for n in engine.swarm.nodes if not n.is_self)
        if args.local:   # a fresh node has no image: time the copy
            started = time.perf_counter()
            lines = engine.spread_images([APPS_IMAGE, TOOLS_IMAGE], progress=lambda message: None)
            print(f"images to a fresh node ({other.hostname}): {time.perf_counter() - started:.1f} s  {lines}")
        engine.spread_images([APPS_IMAGE, TOOLS_IMAGE], progress=lambda message: None)
        engine.swarm.close()
        place = ["--place", f"server={other.hostname}", "--place", f"client={manager.hostname}"]
        for name in args.scenarios.split(","):
            timed(["scenario", name])                                  # warm both paths once
            timed(["scenario", name, "--engine", "swarm", *place])
            docker_s, swarm_s = [], []
            for _ in range(args.runs):
                docker_s.append(timed(["scenario", name]))
                swarm_s.append(timed(["scenario", name, "--engine", "swarm", *place]))
            d, s = statistics.median(docker_s), statistics.median(swarm_s)
            print(f"{name}: docker {d:.2f} s, swarm (server on {other.hostname}, client on {manager.hostname}) "
                  f"{s:.2f} s, ratio {s / d:.2f}  (medians of {args.runs}; docker {['%.2f' % x for x in docker_s]}, "
                  f"swarm {['%.2f' % x for x in swarm_s]})")
    for line in FAILED:
        print(f"(a check failed in: {line})")


if __name__ == "__main__":
    main()
