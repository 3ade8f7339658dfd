"""One long-lived shell per looked-at container: testinfra's commands without an exec each.

Every `docker exec` costs the engine a runc exec, about 50 ms here, and a scenario looks at its
server before and after each client. A shell started once (an exec with stdin attached, as the
container's user, like testinfra's own docker backend) runs each command as ``sh -c COMMAND``
with stdin from /dev/null: a fresh shell per command, as `docker exec ... /bin/sh -c` gives, so
no state passes from one look to the next. Its exit status and the end of each stream are framed
by a marker line that cannot occur in the output (a random token per shell).

The engine speaks its multiplexed stream format on the hijacked connection: frames of an 8-byte
header (stream 1 stdout / 2 stderr, then a big-endian length) and the data.
"""
from __future__ import annotations

import secrets
import select
import shlex
import struct
import threading
from typing import Any

from lab.engines.docker_shared import close_hijacked

READ_TIMEOUT_S = 60.0   # a look that says nothing for this long is a hung command: give up on the shell


class ShellClosed(Exception):
    """The shell is gone (its container stopped, the engine went away): fall back to an exec."""


class AttachedShell:
    """``/bin/sh`` in a container over one attached exec; `run` is one command at a time."""

    def __init__(self, api: Any, container_id: str, user: str | None = None) -> None:
        exec_id = api.exec_create(container_id, ["/bin/sh"], stdin=True, stdout=True, stderr=True,
                                  tty=False, user=user or "")["Id"]
        self._socket = api.exec_start(exec_id, socket=True)
        self._writer = getattr(self._socket, "_sock", self._socket)   # SocketIO wraps the socket
        self._marker = f"socklab-{secrets.token_hex(8)}"
        self._lock = threading.Lock()
        self._buffered = {1: b"", 2: b""}
        self.closed = False

    def run(self, command: str) -> tuple[int, bytes, bytes]:
        """`command` in a fresh ``sh -c``: its exit status, stdout and stderr, as an exec gives them."""
        with self._lock:
            if self.closed:
                raise ShellClosed("the shell was closed")
            end = self._marker
            script = (f"sh -c {shlex.quote(command)} </dev/null; "
                      f"printf '\\n{end} %d\\n' $?; printf '\\n{end}\\n' >&2\n")
            try:
                self._writer.sendall(script.encode())
                stdout, status = self._read_until(1, f"\n{end} ".encode(), want_status=True)
                stderr, _ = self._read_until(2, f"\n{end}\n".encode())
            except (OSError, ShellClosed, ValueError) as error:
                self.close()
                raise ShellClosed(str(error)) from error
            return status, stdout, stderr

    def _read_until(self, stream: int, marker: bytes, want_status: bool = False) -> tuple[bytes, int]:
        """The stream's bytes before `marker`; with want_status, the number after it (to its newline)."""
        while True:
            data = self._buffered[stream]
            at = data.find(marker)
            if at >= 0:
                rest = data[at + len(marker):]
                if not want_status:
                    self._buffered[stream] = rest
                    return data[:at], 0
                line_end = rest.find(b"\n")
                if line_end >= 0:
                    self._buffered[stream] = rest[line_end + 1:]
                    return data[:at], int(rest[:line_end])
            kind, payload = self._next_frame()
            self._buffered[kind] = self._buffered.get(kind, b"") + payload

    def _next_frame(self) -> tuple[int, bytes]:
        header = self._read_exactly(8)
        kind, length = struct.unpack(">BxxxL", header)
        return kind, self._read_exactly(length)

    def _read_exactly(self, size: int) -> bytes:
        data = b""
        while len(data) < size:
            pending = getattr(self._socket, "pending", None)   # TLS: bytes already decrypted
            if not (pending and pending()):
                ready, _, _ = select.select([self._socket], [], [], READ_TIMEOUT_S)
                if not ready:
                    raise ShellClosed(f"no output within {READ_TIMEOUT_S:.0f} s")
            chunk = self._socket.read(size - len(data)) if hasattr(self._socket, "read") else \
                self._socket.recv(size - len(data))
            if not chunk:
                raise ShellClosed("the shell's stream ended")
            data += chunk
        return data

    def close(self) -> None:
        self.closed = True
        close_hijacked(self._socket, "an attached shell")
