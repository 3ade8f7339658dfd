#!/usr/bin/env python3
"""`invoke grade` on a generated class at --jobs 1, 2 and 4: wall time and peak memory.

A class of --students generated submissions (default 20): each student has a TCPServer.py and a
UDPServer.py, most of them the textbook's programs with their own variable names and comments,
some with the classic mistakes (a lowercase echo, a TCP server that closes its listening socket
after the first client), so the grader meets passing and failing runs alike. They are graded on
four scenarios (tcp-echo, tcp-sequential, udp-echo, udp-multi-client: one run per student each).

For each --jobs value, `invoke grade` runs as a child process; we report its wall time, the
grader's peak RSS (the child's ru_maxrss, from wait4), and the peak of the summed memory use of
the engine's containers of that grade (its session label; cgroup memory.usage_in_bytes or
memory.current, sampled every 0.5 s). As a baseline, the same exchange done by hand with the docker
CLI, once per run (network, the textbook server, one textbook client, remove), gives the cost of
one bare run in this same session, so a grade's time per run reads as a ratio. Prints figures and
the load average; asserts nothing.

    SOCKLAB_IMAGE_TAG=... .venv/bin/python bench/grade.py [--students 20] [--jobs 1,2,4]
"""
from __future__ import annotations

import argparse
import csv
import os
import random
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
APPS = f"socklab/apps:{os.environ.get('SOCKLAB_IMAGE_TAG') or 'latest'}"
SCENARIOS = "tcp-echo,tcp-sequential,udp-echo,udp-multi-client"
TEXTBOOK = ROOT / "tests/submissions/textbook"

TCP_SERVER = '''# {comment}
import socket
{srv} = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
{srv}.bind(('', 12000))
{srv}.listen(1)
print("The TCP server is ready to receive")
while True:
    {conn}, addr = {srv}.accept()
    {msg} = {conn}.recv(1024).decode()
    {conn}.send({msg}{upper}.encode())
    {conn}.close()
{close}'''
UDP_SERVER = '''# {comment}
import socket
{srv} = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
{srv}.bind(('', 12000))
print("The UDP server is ready to receive")
while True:
    {msg}, client_address = {srv}.recvfrom(2048)
    {srv}.sendto({msg}.decode(){upper}.encode(), client_address)
'''


def generate_class(folder: Path, students: int, seed: int = 6) -> dict[str, str]:
    """Write the class; returns student → what kind of submission it is."""
    chance = random.Random(seed)
    kinds = {}
    for n in range(1, students + 1):
        name = f"student{n:02d}"
        kind = chance.choices(["textbook", "lowercase", "closes-listener"], weights=[7, 1.5, 1.5])[0]
        names = {"srv": chance.choice(["server_socket", "serverSocket", "s", "sock"]),
                 "conn": chance.choice(["connection_socket", "conn", "c"]),
                 "msg": chance.choice(["message", "sentence", "data"]),
                 "comment": f"{name}'s server"}
        tcp = TCP_SERVER.format(**names, upper="" if kind == "lowercase" else ".upper()", close="")
        if kind == "closes-listener":   # serves one client, then closes both sockets
            tcp = tcp.replace("while True:\n", "if True:\n") + f"{names['srv']}.close()\n"
        udp = UDP_SERVER.format(**names, upper="" if kind == "lowercase" else ".upper()")
        (folder / name).mkdir(parents=True)
        (folder / name / "TCPServer.py").write_text(tcp)
        (folder / name / "UDPServer.py").write_text(udp)
        kinds[name] = kind
    return kinds


def container_memory(session: str) -> int:
    """Bytes of memory the engine's containers of one session use right now (cgroup v1 or v2)."""
    ids = subprocess.run(["docker", "ps", "-q", "--no-trunc", "--filter", f"label=io.socklab.session={session}"],
                         capture_output=True, text=True).stdout.split()
    total = 0
    for cid in ids:
        for path in (f"/sys/fs/cgroup/memory/docker/{cid}/memory.usage_in_bytes",
                     f"/sys/fs/cgroup/system.slice/docker-{cid}.scope/memory.current"):
            try:
                total += int(Path(path).read_text())
                break
            except (OSError, ValueError):
                continue
    return total


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def machine_busy_s() -> float:
    """CPU seconds the whole machine has spent busy since boot (all cores; /proc/stat)."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq = (int(x) for x in fields[:7])
    return (user + nice + system + irq + softirq) / CLOCK_TICKS


def process_cpu_s(*names: str) -> float:
    """CPU seconds spent so far by the processes with these command names (dockerd, containerd)."""
    total = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        name, rest = stat[stat.index("(") + 1:stat.rindex(")")], stat[stat.rindex(")") + 2:].split()
        if name in names:
            total += int(rest[11]) + int(rest[12])   # utime, stime
    return total / CLOCK_TICKS


def timed_grade(folder: Path, jobs: int, out: Path, cold: bool = False) -> dict[str, float]:
    """One `invoke grade` as a child: wall time, memory peaks, and where the machine's CPU went
    meanwhile (dockerd, containerd, the grader; the rest: shims, runc, the containers' programs,
    the kernel). Other work on the machine counts in the rest: read it with the load average."""
    session = f"bench-grade-{secrets.token_hex(3)}"
    env = {**os.environ, "SOCKLAB_SESSION": session}
    peak = {"containers": 0}
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak["containers"] = max(peak["containers"], container_memory(session))
            stop.wait(0.5)

    sampler = threading.Thread(target=sample, daemon=True)
    busy, engine = machine_busy_s(), {n: process_cpu_s(n) for n in ("dockerd", "containerd")}
    started = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-m", "invoke", "grade", str(folder), "--scenarios", SCENARIOS,
                              "--jobs", str(jobs), "--report-dir", str(out), *(["--cold"] if cold else [])],
                             cwd=ROOT, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    sampler.start()
    output = child.stdout.read() if child.stdout else ""
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    busy = machine_busy_s() - busy
    engine = {n: process_cpu_s(n) - before for n, before in engine.items()}
    stop.set()
    sampler.join()
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        print(output[-3000:])
        raise SystemExit(f"invoke grade --jobs {jobs} exited {code}")
    rows = list(csv.DictReader((out / "gradebook.csv").open()))
    return {"wall_s": wall, "grader_mib": usage.ru_maxrss / 1024, "containers_mib": peak["containers"] / 2**20,
            "runs": sum(r["outcome"] in ("passed", "failed") for r in rows),
            "passed": sum(r["outcome"] == "passed" for r in rows),
            "errors": sum(r["outcome"] == "error" for r in rows),
            "cpu_busy_s": busy, "cpu_dockerd_s": engine["dockerd"], "cpu_containerd_s": engine["containerd"],
            "cpu_grader_s": usage.ru_utime + usage.ru_stime}


def cpu_line(figures: dict[str, float]) -> str:
    """Where the machine's CPU went during a grade, per run: the engine's daemons, the grader, the
    rest (shims, runc, the containers' programs, the kernel, and any other work on the machine)."""
    runs = max(1, figures["runs"])
    rest = figures["cpu_busy_s"] - figures["cpu_dockerd_s"] - figures["cpu_containerd_s"] - figures["cpu_grader_s"]
    capacity = figures["wall_s"] * (os.cpu_count() or 1)
    return (f"CPU per run {figures['cpu_busy_s'] / runs:.2f} s ({100 * figures['cpu_busy_s'] / capacity:.0f}% of "
            f"{os.cpu_count()} cores busy): dockerd {figures['cpu_dockerd_s'] / runs:.2f}, containerd "
            f"{figures['cpu_containerd_s'] / runs:.2f}, grader {figures['cpu_grader_s'] / runs:.2f}, rest "
            f"(shims, runc, the containers' programs, kernel) {rest / runs:.2f}")


def bare_docker_run() -> float:
    """One textbook UDP exchange by hand: network, server, one client run, remove (the baseline)."""
    tag = "bench-" + uuid.uuid4().hex[:6]
    label = f"io.socklab.run={tag}"

    def sh(*argv: str) -> str:
        return subprocess.run(argv, check=True, capture_output=True, text=True).stdout

    client = (TEXTBOOK / "UDPClient.py").read_text()
    started = time.perf_counter()
    sh("docker", "network", "create", "--internal", "--label", label, tag)
    try:
        sh("docker", "run", "-d", "--name", f"{tag}-server", "--network", tag, "--network-alias", "hostname",
           "--label", label, APPS, "python3", "-u", "-c", (TEXTBOOK / "UDPServer.py").read_text())
        time.sleep(0.3)   # let the server bind (the lab waits for it instead)
        out = subprocess.run(["docker", "run", "--rm", "-i", "--network", tag, "--label", label, APPS,
                              "python3", "-u", "-c", client], input="hello\n", capture_output=True, text=True,
                             timeout=30).stdout
        assert "HELLO" in out, out
    finally:
        sh("docker", "rm", "-f", f"{tag}-server")
        sh("docker", "network", "rm", tag)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=20)
    parser.add_argument("--jobs", default="1,2,4")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="socklab-bench-grade-"))
    try:
        kinds = generate_class(work / "class", args.students)
        mix = {k: list(kinds.values()).count(k) for k in sorted(set(kinds.values()))}
        print(f"class: {args.students} students ({mix}), scenarios {SCENARIOS}; "
              f"load average {os.getloadavg()[0]:.1f}; {os.cpu_count()} cores")
        baseline = sorted(bare_docker_run() for _ in range(3))[1]
        print(f"bare docker CLI, one textbook UDP exchange (network, server, client, remove): {baseline:.2f} s (median of 3)")
        first = None
        print(f"{'jobs':>4} {'wall s':>8} {'runs':>5} {'s/run':>6} {'x bare':>7} {'speed-up':>8} "
              f"{'grader MiB':>10} {'containers MiB':>14} {'passed':>6} {'errors':>6} {'load':>5}")
        for jobs in [int(j) for j in args.jobs.split(",")]:
            figures = timed_grade(work / "class", jobs, work / f"grades-{jobs}")
            first = first or figures["wall_s"]
            per_run = figures["wall_s"] / max(1, figures["runs"])
            print(f"{jobs:>4} {figures['wall_s']:>8.1f} {figures['runs']:>5} {per_run:>6.2f} "
                  f"{per_run / baseline:>7.2f} {first / figures['wall_s']:>8.2f} {figures['grader_mib']:>10.0f} "
                  f"{figures['containers_mib']:>14.0f} {figures['passed']:>6} {figures['errors']:>6} "
                  f"{os.getloadavg()[0]:>5.1f}", flush=True)
            print(f"     {cpu_line(figures)}", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
