"""testinfra on a swarm node: ``docker-node://<container id>`` runs ``docker --host <node> exec``.

testinfra's own ``docker://`` backend runs ``docker exec`` against whatever engine the environment
names (DOCKER_HOST), one for the whole process; a swarm run has hosts on several nodes at once.
This backend is the same, with the docker CLI aimed at the node where the container runs (the
node's URL and TLS material, from lab.engines.swarm_nodes). Containers are registered by the swarm engine
as their tasks start. testinfra has no public way to add a backend: it is one entry in its table.
"""
from __future__ import annotations

import threading
from typing import Any

import testinfra.backend
from testinfra.backend import base
from testinfra.backend.docker import DockerBackend

SCHEME = "docker-node"
_cli_arguments: dict[str, list[str]] = {}
_lock = threading.Lock()


def register(container_id: str, cli_arguments: list[str]) -> None:
    with _lock:
        _cli_arguments[container_id] = list(cli_arguments)


def forget(container_id: str) -> None:
    with _lock:
        _cli_arguments.pop(container_id, None)


def url(container_id: str) -> str:
    return f"{SCHEME}://{container_id}"


class NodeDockerBackend(DockerBackend):
    """`docker exec` through the engine of the container's node."""

    NAME = SCHEME

    def run(self, command: str, *args: str, **kwargs: Any) -> base.CommandResult:
        cmd = self.get_command(command, *args)
        with _lock:
            node = _cli_arguments.get(self.name, [])
        options = " ".join(["%s"] * len(node))
        if self.user is not None:
            out = self.run_local(f"docker {options} exec -u %s %s /bin/sh -c %s", *node, self.user, self.name, cmd)
        else:
            out = self.run_local(f"docker {options} exec %s /bin/sh -c %s", *node, self.name, cmd)
        out.command = self.encode(cmd)
        return out


testinfra.backend.BACKENDS[SCHEME] = f"{__name__}.NodeDockerBackend"
