"""testinfra through the engine's API: ``docker-api://<container id>`` runs each command as an exec
made by the lab's own Docker client.

testinfra's ``docker://`` backend starts a shell and the docker CLI for every command (``sh -c
"docker exec ..."``): two process start-ups, about 0.1 s per look on a quiet machine, paid before
and after every client. The engine already holds an API connection to the engine that runs the
container, so a look here is one exec over it. The modules (socket, file, ...) and their parsing
stay testinfra's own; only how a command reaches the container changes. Containers are registered
by the Docker engine when their URL is asked for. testinfra has no public way to add a backend:
it is one entry in its table (as in lab.engines.swarm_testinfra).
"""
from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

import testinfra.backend
from testinfra.backend import base

if TYPE_CHECKING:
    from docker.models.containers import Container

SCHEME = "docker-api"
_containers: dict[str, Container] = {}
_lock = threading.Lock()


def register(container: Container) -> str:
    """Make `container` reachable by testinfra; returns its URL."""
    with _lock:
        _containers[container.id] = container
    return f"{SCHEME}://{container.id}"


def forget(container_id: str) -> None:
    with _lock:
        _containers.pop(container_id, None)


class DockerApiBackend(base.BaseBackend):
    """Commands run as ``/bin/sh -c COMMAND`` in the container, as testinfra's docker backend does."""

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
        rc, (stdout, stderr) = container.exec_run(["/bin/sh", "-c", cmd], demux=True, user=self.user or "")
        return self.result(int(rc if rc is not None else -1), self.encode(cmd), stdout or b"", stderr or b"")


testinfra.backend.BACKENDS[SCHEME] = f"{__name__}.DockerApiBackend"
