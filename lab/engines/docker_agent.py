"""Runs the lab's client programs in a kept client host through its agent, not the engine's exec.

A grade keeps the lab's idle clients between students (docker_network_pool); there the host's
command is images/apps/programs/client_agent.py, which forks a client program per request instead
of the engine starting a runc process and a Python interpreter for it (about 0.1 s of CPU per
client run, a fifth of a graded run on 2 cores). The engine attaches once to the agent's stdin and
stdout; a request is one JSON line, the answer one marked JSON line with the exit status and the
output, as an exec gives them (lab.common.CommandResult).

Only argv of the lab's own client programs go to an agent (``python3 /opt/socklab/programs/...``);
anything else in a kept host is an ordinary exec. A channel that fails (the attach, or a broken
stream) says so with StepFailed: the run fails on it like on a failed exec, and the host is not kept.
"""
from __future__ import annotations

import json
import logging
import select
import struct
import threading
from collections.abc import Sequence
from typing import Any

import docker.utils.socket as docker_socket

from lab.common import CommandResult
from lab.engines.docker_shared import close_hijacked
from lab.errors import StepFailed

log = logging.getLogger(__name__)

AGENT_ARGV = ("python3", "/opt/socklab/programs/client_agent.py")
MARK = "socklab-agent "
#: how often a read waiting for the agent's answer looks whether its channel was closed meanwhile
WAKE_EVERY_S = 0.25
PROGRAMS = ("/opt/socklab/programs/udp_client.py", "/opt/socklab/programs/tcp_client.py")


def for_agent(argv: Sequence[str]) -> bool:
    """Whether an exec of this argv may go to a kept host's agent instead (a lab client program)."""
    return len(argv) >= 2 and argv[0] == "python3" and argv[1] in PROGRAMS


class AgentChannel:
    """The attached stdin/stdout of one kept host's agent; one request at a time."""

    def __init__(self, container: Any) -> None:
        self.name = container.name
        self._socket = container.attach_socket(params={"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1})
        # The socket under the SDK's stream, kept: closing the stream forgets it (a send after the
        # close must fail as a closed socket does, with OSError).
        self._raw = getattr(self._socket, "_sock", self._socket)
        self._lock = threading.Lock()
        self._pending = b""
        self._closed = threading.Event()

    def _send(self, data: bytes) -> None:
        self._raw.sendall(data)

    def _read_exactly(self, size: int) -> bytes:
        """`size` bytes of the attach stream; OSError once the channel is closed, even if nothing
        told a blocked read so.

        Why not the SDK's read: it waits in poll() with no timeout, and a close in another thread
        does not always end that wait. A Ctrl-C'd grade had every container removed and every
        channel shut down and closed, and one run still waited in poll() until the scenario's time
        limit (about once in 25 interrupts beside busy loops). The likely way: the reader takes the
        socket's descriptor number, the close frees it, a sweep's new engine connection gets the
        same number, and the reader polls that idle connection. Here the wait looks at the
        channel's own closed flag every WAKE_EVERY_S; recv goes through the socket object, which
        refuses once closed (EBADF), never through a reused number.
        """
        data = b""
        while len(data) < size:
            waiting = select.poll()
            waiting.register(self._raw.fileno(), select.POLLIN | select.POLLPRI)
            while not waiting.poll(WAKE_EVERY_S * 1000):
                if self._closed.is_set():
                    raise OSError("the channel was closed")
            chunk = self._raw.recv(size - len(data))
            if not chunk:
                raise OSError("the agent's stream ended")
            data += chunk
        return data

    def _next_line(self) -> str:
        """The next line the agent wrote on stdout (its stderr is logged, never mixed in)."""
        while b"\n" not in self._pending:
            header = self._read_exactly(8)
            stream, size = struct.unpack(">BxxxL", header)
            payload = self._read_exactly(size)
            if stream == docker_socket.STDOUT:
                self._pending += payload
            else:
                log.debug("agent of %s: %s", self.name, payload.decode(errors="replace").strip())
        line, self._pending = self._pending.split(b"\n", 1)
        return line.decode(errors="replace")

    def run(self, argv: Sequence[str]) -> CommandResult:
        """The program's exit status and output, as an exec of `argv` would give them."""
        with self._lock:
            try:
                self._send((json.dumps({"argv": list(argv)}) + "\n").encode())
                line = self._next_line()
                while not line.startswith(MARK):   # nothing else is printed there; skipped if it were
                    line = self._next_line()
            except (OSError, ValueError, docker_socket.SocketError) as error:   # ValueError: closed meanwhile
                raise StepFailed(f"the client agent of {self.name} stopped answering: {error}") from None
        answer = json.loads(line[len(MARK):])
        return CommandResult(int(answer["rc"]), str(answer["stdout"]), str(answer["stderr"]))

    def close(self) -> None:
        self._closed.set()
        close_hijacked(self._socket, f"the agent channel of {self.name}")
