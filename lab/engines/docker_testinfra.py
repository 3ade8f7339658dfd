"""testinfra through the engine's API: ``docker-api://<container id>`` runs each command over the
lab's own Docker client, in a shell kept open in the container (lab.engines.attached_shell).

testinfra's ``docker://`` backend starts a shell and the docker CLI for every command (``sh -c
"docker exec ..."``): two process start-ups and a runc exec, about 0.1 s per look, paid before
and after every client. Here the engine's API connection carries the command to a shell started
once per container (started ahead of the first look when the runner says which hosts it will look
at), so a look costs a fork in the container. The modules (socket, file, ...) and their parsing
stay testinfra's own; only how a command reaches the container changes. Should the shell be gone,
a command falls back to one exec. Containers are registered by the Docker engine when their URL is
asked for. testinfra has no public way to add a backend: it is one entry in its table (as in
lab.engines.swarm_testinfra).
"""
from __future__ import annotations

import logging
import threading
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

import testinfra.backend
from testinfra.backend import base

from lab.engines.base import in_background
from lab.engines.attached_shell import AttachedShell, ShellClosed
from lab.engines.docker_shared import exec_run

if TYPE_CHECKING:
    from docker.models.containers import Container

log = logging.getLogger(__name__)
SCHEME = "docker-api"
_containers: dict[str, Container] = {}
_shells: dict[str, Future[AttachedShell]] = {}
_lock = threading.Lock()


def register(container: Container) -> str:
    """Make `container` reachable by testinfra; returns its URL."""
    with _lock:
        _containers[container.id] = container
    return f"{SCHEME}://{container.id}"


def open_shell(container_id: str) -> None:
    """Start the container's shell in the background (a look waits for it if it comes first)."""
    with _lock:
        if container_id in _shells or container_id not in _containers:
            return
        container = _containers[container_id]
        # A failure to open it is kept in the future: the look that waits for it uses an exec.
        _shells[container_id] = in_background(f"shell-{container.name}",
                                              lambda: AttachedShell(container.client.api, container.id))


def forget(container_id: str) -> None:
    with _lock:
        _containers.pop(container_id, None)
        pending = _shells.pop(container_id, None)
    if pending is not None and pending.done() and pending.exception() is None:
        pending.result().close()


def _shell(container_id: str) -> AttachedShell | None:
    open_shell(container_id)
    with _lock:
        pending = _shells.get(container_id)
    try:
        shell = pending.result(timeout=60) if pending is not None else None
    except Exception as error:  # noqa: BLE001 - any failure to start it: plain execs instead
        log.debug("no shell in %s (%s): one exec per command", container_id[:12], error)
        return None
    return None if shell is None or shell.closed else shell


class DockerApiBackend(base.BaseBackend):
    """Commands run as ``sh -c COMMAND`` in the container, as testinfra's docker backend runs them."""

    NAME = SCHEME

    def __init__(self, name: str, *args: Any, **kwargs: Any) -> None:
        self.name, self.user = self.parse_containerspec(name)
        super().__init__(self.name, *args, **kwargs)

    def run(self, command: str, *args: str, **kwargs: Any) -> base.CommandResult:
        cmd = self.get_command(command, *args)
        with _lock:
            container = _containers.get(self.name)
        if container is None:
            raise RuntimeError(f"container {self.name} is not part of a running lab "
                               "(docker-api:// reaches only containers of this process's runs)")
        shell = _shell(self.name) if self.user is None else None   # the shell runs as the container's user
        if shell is not None:
            try:
                status, stdout, stderr = shell.run(cmd)
                return self.result(status, self.encode(cmd), stdout, stderr)
            except ShellClosed as error:
                log.debug("shell in %s closed (%s): one exec for this command", container.name, error)
        rc, (stdout, stderr) = exec_run(container, ["/bin/sh", "-c", cmd], user=self.user or "")
        return self.result(int(rc if rc is not None else -1), self.encode(cmd), stdout or b"", stderr or b"")


testinfra.backend.BACKENDS[SCHEME] = f"{__name__}.DockerApiBackend"
