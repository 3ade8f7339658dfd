#!/usr/bin/env python3
"""Warm `invoke scenario udp-echo` wall time against the same exchange done with the docker CLI.

The baseline is what a person would type to see one UDP echo between two containers, nothing
more: `docker network create --internal`, the server with `docker run -d` on the same apps image,
a client `docker run --rm` that retries until it gets a reply (the server may not be bound yet),
`docker rm -f`, `docker network rm`. Runs are interleaved (baseline, scenario, baseline, ...) so
that the machine's load hits both alike; medians of --runs each. Prints figures and the load
average; asserts nothing.

    .venv/bin/python bench/udp_echo_vs_docker.py [--runs 7]
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
APPS = f"socklab/apps:{os.environ.get('SOCKLAB_IMAGE_TAG') or 'latest'}"
PROGRAMS = "/opt/socklab/programs"
# The client retries until the server answers: each try waits 0.2 s for the reply.
RETRYING_CLIENT = (
    "import subprocess, sys\n"
    "for attempt in range(100):\n"
    f"    done = subprocess.run([sys.executable, '{PROGRAMS}/udp_client.py', '--host', 'server',\n"
    "                           '--message', 'hello', '--timeout', '0.2'], capture_output=True, text=True)\n"
    "    if done.returncode == 0:\n"
    "        print(done.stdout); break\n"
    "else:\n"
    "    sys.exit('no reply')\n"
)


# As on a user's machine, Python caches bytecode: a sandbox's PYTHONDONTWRITEBYTECODE would make
# every run compile lab/ again (about 70 ms of CPU), which no user pays after the first run.
USER_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def sh(*argv: str) -> str:
    return subprocess.run(argv, check=True, capture_output=True, text=True).stdout


def bare_docker_exchange() -> float:
    tag = "bench-" + uuid.uuid4().hex[:6]
    label = f"io.socklab.run={tag}"
    started = time.perf_counter()
    sh("docker", "network", "create", "--internal", "--label", label, tag)
    try:
        sh("docker", "run", "-d", "--name", f"{tag}-server", "--network", tag, "--network-alias", "server",
           "--label", label, APPS, "python3", f"{PROGRAMS}/udp_server.py")
        out = sh("docker", "run", "--rm", "--network", tag, "--label", label, APPS,
                 "python3", "-c", RETRYING_CLIENT)
        assert "SEQ=1 HELLO" in out, out
    finally:
        sh("docker", "rm", "-f", f"{tag}-server")
        sh("docker", "network", "rm", tag)
    return time.perf_counter() - started


def socklab_scenario(name: str) -> float:
    """Wall time of one run; a failed run counts with its time (and is said), never dropped."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "invoke", "scenario", name], cwd=ROOT,
                          capture_output=True, text=True, env=USER_ENV)
    took = time.perf_counter() - started
    if done.returncode != 0:
        verdict = (done.stdout.strip().splitlines() or done.stderr.strip().splitlines() or ["?"])[-1]
        print(f"note: a run of {name} exited {done.returncode} after {took:.2f} s ({verdict}); counted")
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    socklab_scenario("udp-echo")  # warm: images built, caches hot
    bare_docker_exchange()
    bare, lab = [], []
    for _ in range(max(args.runs, 5)):
        bare.append(bare_docker_exchange())
        lab.append(socklab_scenario("udp-echo"))
    b, s = statistics.median(bare), statistics.median(lab)
    print(f"load average (1 min): {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    print(f"bare docker exchange   median {b:6.2f} s  (runs: {', '.join(f'{x:.2f}' for x in bare)})")
    print(f"invoke scenario udp-echo median {s:6.2f} s  (runs: {', '.join(f'{x:.2f}' for x in lab)})")
    print(f"ratio socklab / bare docker: {s / b:.2f}x (aim: <= 1.3x)")


if __name__ == "__main__":
    main()
