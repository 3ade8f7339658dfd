#!/usr/bin/env python3
"""The lab's own client programs, run on request in a kept client host of a grade.

A grade keeps the lab's idle clients between students (lab/engines/docker_network_pool.py). Run
through the engine's exec, every client run costs a runc process and a Python start-up (about
0.1 s of CPU, measured on a 2-core machine: a fifth of a graded run). In a kept host this agent is
the host's command instead: it imports the client programs once and, for each request, forks; the
child runs the program's code as `python3 PROGRAM ARGS` would (as `__main__`, fresh globals, its
own argv, stdout and stderr), and the agent answers with its exit status and output. The program
is a new process with its own sockets each time; only the interpreter's start-up is shared.

Protocol, on the agent's stdin and stdout (the engine attaches to the container): a request is one
JSON line ``{"argv": ["python3", "/opt/socklab/programs/udp_client.py", ...]}``; the answer is one
line, MARK then JSON ``{"rc": N, "stdout": "...", "stderr": "..."}``. One request at a time. Only
the lab's client programs of this directory are run; anything else is answered with rc 127.
"""
from __future__ import annotations

import builtins
import io
import json
import os
import selectors
import sys
import traceback
from pathlib import Path

import tcp_client  # noqa: F401 - imported once here, for every child to find in sys.modules
import udp_client  # noqa: F401

MARK = "socklab-agent "
HERE = Path(__file__).resolve().parent
PROGRAMS = {str(HERE / name): None for name in ("udp_client.py", "tcp_client.py")}


def compiled(path: str) -> object:
    """The program's code, compiled once (as the interpreter would compile the script)."""
    if PROGRAMS[path] is None:
        PROGRAMS[path] = compile(Path(path).read_bytes(), path, "exec")
    return PROGRAMS[path]


def run_child(path: str, argv: list[str], out_fd: int, err_fd: int) -> None:
    """In the forked child: the program as __main__, then exit with its status (never returns)."""
    os.dup2(out_fd, 1)
    os.dup2(err_fd, 2)
    os.close(out_fd)
    os.close(err_fd)
    stdin = os.open(os.devnull, os.O_RDONLY)   # as an exec without -i: no input
    os.dup2(stdin, 0)
    os.close(stdin)
    sys.stdin = io.TextIOWrapper(io.FileIO(0, "r", closefd=False))
    sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), encoding=sys.__stdout__.encoding,
                                  errors=sys.__stdout__.errors, write_through=True)
    sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), encoding=sys.__stderr__.encoding,
                                  errors="backslashreplace", write_through=True)
    sys.argv = argv
    status = 0
    try:
        exec(compiled(path), {"__name__": "__main__", "__file__": path, "__builtins__": builtins,
                              "__doc__": None, "__package__": None, "__spec__": None})
    except SystemExit as done:
        code = done.code
        status = code if isinstance(code, int) else (0 if code is None else 1)
        if code is not None and not isinstance(code, int):
            print(code, file=sys.stderr)
    except BaseException:   # as the interpreter would: the traceback on stderr, status 1
        traceback.print_exc()
        status = 1
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os._exit(status & 0xFF)


def run(argv: list[str]) -> dict[str, object]:
    """Fork, run the program in the child, collect its output until it ends, and its status."""
    if len(argv) < 2 or argv[0] != "python3" or argv[1] not in PROGRAMS:
        return {"rc": 127, "stdout": "", "stderr": f"client_agent: not a lab client program: {argv[:2]}\n"}
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(out_r)
        os.close(err_r)
        run_child(argv[1], argv[1:], out_w, err_w)
    os.close(out_w)
    os.close(err_w)
    chunks: dict[int, list[bytes]] = {out_r: [], err_r: []}
    selector = selectors.DefaultSelector()
    for fd in chunks:
        selector.register(fd, selectors.EVENT_READ)
    while selector.get_map():
        for key, _ in selector.select():
            data = os.read(key.fd, 65536)
            if data:
                chunks[key.fd].append(data)
            else:
                selector.unregister(key.fd)
                os.close(key.fd)
    _, status = os.waitpid(pid, 0)
    rc = os.waitstatus_to_exitcode(status)
    return {"rc": rc if rc >= 0 else 128 - rc,   # killed by a signal: 128+N, as the engine's exec says
            "stdout": b"".join(chunks[out_r]).decode(errors="replace"),
            "stderr": b"".join(chunks[err_r]).decode(errors="replace")}


def main() -> int:
    for line in sys.stdin:
        try:
            answer = run(json.loads(line)["argv"])
        except Exception as error:  # noqa: BLE001 - a bad request is answered, never the end of the agent
            answer = {"rc": 127, "stdout": "", "stderr": f"client_agent: {error}\n"}
        sys.stdout.write(MARK + json.dumps(answer) + "\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
