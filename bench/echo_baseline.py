"""What bench/udp_echo_vs_docker.py and bench/scenario_vs_docker.py share: a warm `invoke
scenario` timed against the same echo done with the docker CLI, interleaved, medians printed.

The baseline is what a person would type to see one echo between two containers, nothing more:
`docker network create --internal`, the server with `docker run -d` on the same apps image, a
client `docker run --rm` that retries until it gets a reply (the server may not be bound yet),
`docker rm -f`, `docker network rm`. Runs are interleaved (baseline, scenario, baseline, ...) so
that the machine's load hits both alike. Prints figures and the load average; asserts nothing.
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
# As on a user's machine, Python caches bytecode: a sandbox's PYTHONDONTWRITEBYTECODE would make
# every run compile lab/ again (about 70 ms of CPU), which no user pays after the first run (invoke
# turns the cache off; tasks.py turns it back on for lab/).
USER_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def sh(*argv: str) -> str:
    return subprocess.run(argv, check=True, capture_output=True, text=True).stdout


def bare_docker_exchange(server_program: str, retrying_client: str, expected: str) -> float:
    """Wall time of the echo done by hand with the docker CLI, on a network of its own."""
    tag = "bench-" + uuid.uuid4().hex[:6]
    label = f"io.socklab.run={tag}"
    started = time.perf_counter()
    sh("docker", "network", "create", "--internal", "--label", label, tag)
    try:
        sh("docker", "run", "-d", "--name", f"{tag}-server", "--network", tag, "--network-alias", "server",
           "--label", label, APPS, "python3", f"{PROGRAMS}/{server_program}")
        out = sh("docker", "run", "--rm", "--network", tag, "--label", label, APPS,
                 "python3", "-c", retrying_client)
        assert expected in out, out
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


def compare(scenario: str, server_program: str, retrying_client: str, expected: str,
            description: str) -> None:
    """Parse --runs, warm both sides up, run them interleaved and print medians and the ratio."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    socklab_scenario(scenario)  # warm: images built, caches hot
    bare_docker_exchange(server_program, retrying_client, expected)
    bare, lab = [], []
    for _ in range(max(args.runs, 5)):  # interleaved so that machine noise hits both alike
        bare.append(bare_docker_exchange(server_program, retrying_client, expected))
        lab.append(socklab_scenario(scenario))
    b, s = statistics.median(bare), statistics.median(lab)
    print(f"load average (1 min): {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    width = len(f"invoke scenario {scenario}")
    print(f"{'bare docker exchange':<{width}} median {b:6.2f} s  (runs: {', '.join(f'{x:.2f}' for x in bare)})")
    print(f"{'invoke scenario ' + scenario:<{width}} median {s:6.2f} s  (runs: {', '.join(f'{x:.2f}' for x in lab)})")
    print(f"ratio socklab / bare docker: {s / b:.2f}x (aim: <= 1.0x, issue 17)")
