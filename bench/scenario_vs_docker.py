#!/usr/bin/env python3
"""Warm `invoke scenario tcp-echo` wall time against a bare-Docker baseline of the same exchange.

The baseline does by hand with the docker CLI what the scenario does: an internal network, the
server container, wait for its listening event, one client container, teardown. Both use the same
images, in the same run, so the ratio shows socklab's own overhead (Python start-up, testinfra
probes, checks, report). Prints figures; asserts nothing.

    .venv/bin/python bench/scenario_vs_docker.py [--runs 5] [--scenario tcp-echo]
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
APPS = "socklab/apps:latest"


def sh(*argv: str) -> str:
    return subprocess.run(argv, check=True, capture_output=True, text=True).stdout


def bare_docker_exchange() -> float:
    tag = "bench-" + uuid.uuid4().hex[:6]
    started = time.perf_counter()
    sh("docker", "network", "create", "--internal", "--label", f"io.socklab.run={tag}", tag)
    try:
        sh("docker", "run", "-d", "--name", f"{tag}-server", "--network", tag, "--network-alias", "server",
           "--label", f"io.socklab.run={tag}", APPS, "python3", "/opt/socklab/programs/tcp_server.py")
        while '"listening"' not in sh("docker", "logs", f"{tag}-server"):
            time.sleep(0.05)
        out = sh("docker", "run", "--rm", "--network", tag, "--label", f"io.socklab.run={tag}", APPS,
                 "python3", "/opt/socklab/programs/tcp_client.py", "--host", "server", "--message", "hello")
        assert "HELLO" in out, out
    finally:
        sh("docker", "rm", "-f", f"{tag}-server")
        sh("docker", "network", "rm", tag)
    return time.perf_counter() - started


def socklab_scenario(name: str) -> float:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "invoke", "scenario", name], cwd=ROOT,
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"invoke scenario {name} failed:\n{done.stdout}\n{done.stderr}")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--scenario", default="tcp-echo")
    args = parser.parse_args()
    socklab_scenario(args.scenario)  # warm: images built, caches hot
    bare, lab = [], []
    for _ in range(args.runs):       # interleaved so that machine noise hits both alike
        bare.append(bare_docker_exchange())
        lab.append(socklab_scenario(args.scenario))
    b, s = statistics.median(bare), statistics.median(lab)
    print(f"bare docker exchange   median {b:6.2f} s  (runs: {', '.join(f'{x:.2f}' for x in bare)})")
    print(f"invoke scenario {args.scenario:<7}median {s:6.2f} s  (runs: {', '.join(f'{x:.2f}' for x in lab)})")
    print(f"ratio socklab / bare docker: {s / b:.2f}x (aim: <= 1.5x)")


if __name__ == "__main__":
    main()
