#!/usr/bin/env python3
"""Builds one student's program (C, Java, ...) in a container of its own, and says how it went.

The lab (lab/run/build.py) starts this in a container of the language's toolchain image with no
network, as the unprivileged user, with the container's memory, process and CPU-share limits; this
script adds a wall clock (--time-s), CPU seconds (RLIMIT_CPU, --cpu-s), a cap on any file the
compiler writes (RLIMIT_FSIZE) and on the compiler output kept (--output-bytes). The source arrives
base64-encoded in the command line (nothing is copied in); the command to run is the language's
build argv from lab/scenario/languages.py, already filled.

It prints one JSON object on stdout:

    {"rc": int|null, "seconds": float, "timed_out": bool, "output": str (the compiler's, capped),
     "artifact": str|null, "artifact_bytes": int}

``artifact``: every regular file of the output folder, as base64 of zlib-compressed JSON
(relative name -> base64 bytes), which the supervisor (student_run.py --artifact-b64) unpacks
where the program runs. null when the build failed or produced nothing.
"""
from __future__ import annotations

import argparse
import base64
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
import zlib

MAX_FILE_BYTES = 16 * 1024 * 1024   # RLIMIT_FSIZE: no compiler output file larger than this


def limits(cpu_s: int) -> None:
    """In the compiler's process: CPU seconds and file size capped, its own process group."""
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s + 1))
    resource.setrlimit(resource.RLIMIT_FSIZE, (MAX_FILE_BYTES, MAX_FILE_BYTES))


def pack(folder: str) -> tuple[str | None, int]:
    """Every regular file under `folder` as the artifact text, and its raw size."""
    files: dict[str, str] = {}
    size = 0
    for root, _dirs, names in os.walk(folder):
        for name in sorted(names):
            path = os.path.join(root, name)
            if os.path.islink(path) or not os.path.isfile(path):
                continue
            with open(path, "rb") as handle:
                data = handle.read()
            size += len(data)
            files[os.path.relpath(path, folder)] = base64.b64encode(data).decode()
    if not files:
        return None, 0
    return base64.b64encode(zlib.compress(json.dumps(files).encode(), 9)).decode(), size


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", required=True, help="the file name the source is saved as")
    parser.add_argument("--source-b64", required=True)
    parser.add_argument("--command-json", required=True, help="the build argv; {source} {out} filled here")
    parser.add_argument("--time-s", type=float, default=60.0)
    parser.add_argument("--cpu-s", type=int, default=60)
    parser.add_argument("--output-bytes", type=int, default=16384)
    args = parser.parse_args()
    if "/" in args.name or args.name.startswith("."):
        print(json.dumps({"rc": None, "seconds": 0, "timed_out": False, "output": f"bad file name {args.name!r}",
                          "artifact": None, "artifact_bytes": 0}))
        return 2
    work = tempfile.mkdtemp(prefix="build-", dir=os.path.expanduser("~"))
    out = os.path.join(work, "out")
    os.mkdir(out)
    with open(os.path.join(work, args.name), "wb") as handle:
        handle.write(base64.b64decode(args.source_b64))
    argv = [part.replace("{source}", args.name).replace("{out}", out) for part in json.loads(args.command_json)]
    started = time.monotonic()
    # LC_ALL=C: the compiler's messages in plain ASCII quotes ('struct', not a typographic pair).
    env = {**os.environ, "LC_ALL": "C", "LANG": "C"}
    child = subprocess.Popen(argv, cwd=work, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, start_new_session=True,
                             preexec_fn=lambda: limits(args.cpu_s))
    assert child.stdout is not None
    kept = bytearray()
    timed_out = False
    os.set_blocking(child.stdout.fileno(), False)
    while True:
        try:
            chunk = child.stdout.read(65536)
        except BlockingIOError:
            chunk = None
        if chunk:
            kept += chunk[:max(0, args.output_bytes - len(kept))]
        elif chunk == b"" and child.poll() is not None:
            break
        if time.monotonic() - started > args.time_s:
            timed_out = True
            os.killpg(child.pid, signal.SIGKILL)
            break
        if not chunk:
            time.sleep(0.02)
    rc = child.wait()
    artifact, size = pack(out) if rc == 0 and not timed_out else (None, 0)
    print(json.dumps({"rc": None if timed_out else rc, "seconds": round(time.monotonic() - started, 3),
                      "timed_out": timed_out, "output": kept.decode("utf-8", errors="replace"),
                      "artifact": artifact, "artifact_bytes": size}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
