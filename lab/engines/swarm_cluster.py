"""The nodes of a Docker Swarm and a connection to each node's engine (part of the engine layer).

socklab talks to the swarm through the manager it is connected to (services, networks, nodes) and
to each node's own engine for what Swarm has no API for: exec in a task's container, its logs,
testinfra, the impairment helper beside it, and loading images. A node that is down, drained or
unreachable is an environment problem (exit 3) found before anything is created.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import docker
import docker.errors
import requests.exceptions

from lab.engines import swarm_nodes
from lab.engines import docker_endpoint
from lab.common import LABEL_CONTEXT
from lab.engines.docker_engine import DockerEngine
from lab.engines.docker_shared import short_error
from lab.errors import EnvironmentProblem, NodeUnavailable

log = logging.getLogger(__name__)
# Per request: a node that does not answer within this fails the run (exit 3). Also bounds how long
# an exec may stay silent, so it is well above any client's quiet spell.
NODE_TIMEOUT_S = 20
# A running exec streams with no timeout at all (the SDK turns it off), so a node is pinged at
# this interval while one runs there, each ping allowed this long.
HEALTH_INTERVAL_S = 2
HEALTH_TIMEOUT_S = 5
COPY_TIMEOUT_S = 600


@dataclass
class SwarmNode:
    """One node as the manager sees it, and how socklab reaches its engine."""

    node_id: str
    hostname: str
    addr: str
    state: str          # ready | down | unknown | disconnected
    availability: str   # active | pause | drain
    is_self: bool       # the manager socklab is connected to
    access: swarm_nodes.NodeAccess | None = None
    client: docker.DockerClient | None = None
    problem: str | None = None
    health: docker.APIClient | None = None   # short timeouts: is the node's engine still there?

    def describe(self) -> str:
        where = self.access.url if self.access and self.access.url else "this engine"
        return f"{self.hostname} ({self.addr}, {where})"


def not_a_manager_advice() -> str:
    return ("this Docker engine is not a swarm manager: `docker swarm init` here and `docker swarm "
            "join` on the other machines (or `invoke swarm-up` for a local two-node swarm to try it), "
            "then run again; or leave out --engine swarm")


class Swarm:
    """The manager's engine plus a client for every node's engine."""

    def __init__(self, manager: DockerEngine, nodes: list[SwarmNode]) -> None:
        self.manager = manager
        self.nodes = nodes

    @classmethod
    def survey(cls, manager: DockerEngine, config: swarm_nodes.NodesConfig | None = None) -> Swarm:
        """Every node with its state and a client where one answers; problems recorded, not raised."""
        info = manager.client.info().get("Swarm", {})
        if info.get("LocalNodeState") != "active" or not info.get("ControlAvailable"):
            raise EnvironmentProblem(not_a_manager_advice())
        config = config if config is not None else swarm_nodes.load()
        nodes = []
        for node in manager.client.nodes.list():
            attrs = node.attrs
            nodes.append(SwarmNode(attrs["ID"], attrs["Description"]["Hostname"], attrs["Status"].get("Addr", ""),
                                   attrs["Status"]["State"], attrs["Spec"].get("Availability", "active"),
                                   attrs["ID"] == info.get("NodeID")))
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(lambda n: _connect(manager, config, n), nodes))
        return cls(manager, sorted(nodes, key=lambda n: (not n.is_self, n.hostname)))

    @classmethod
    def connect(cls, manager: DockerEngine, config: swarm_nodes.NodesConfig | None = None) -> Swarm:
        """The swarm, every node usable; NodeUnavailable (exit 3) naming each node that is not."""
        swarm = cls.survey(manager, config)
        problems = [f"{n.hostname}: {n.problem}" for n in swarm.nodes if n.problem]
        if problems:
            raise NodeUnavailable("swarm node(s) not usable — " + "; ".join(problems)
                                  + " (`docker node ls` on the manager; `invoke doctor --engine swarm`)")
        return swarm

    def node(self, hostname: str) -> SwarmNode:
        for node in self.nodes:
            if node.hostname == hostname or node.node_id == hostname:
                return node
        raise KeyError(hostname)

    def by_id(self, node_id: str) -> SwarmNode:
        return next(n for n in self.nodes if n.node_id == node_id)

    def close(self) -> None:
        for node in self.nodes:
            if node.client is not None and not node.is_self:
                node.client.close()


def _connect(manager: DockerEngine, config: swarm_nodes.NodesConfig, node: SwarmNode) -> None:
    """Fill in the node's access and client, or its problem."""
    if node.state != "ready":
        node.problem = f"the swarm reports it {node.state} (is its engine running?)"
        return
    if node.availability != "active":
        node.problem = (f"availability {node.availability}: it takes no tasks "
                        f"(`docker node update --availability active {node.hostname}`)")
        return
    try:
        node.access = config.access(node.hostname, node.addr, node.is_self)
    except NodeUnavailable as error:
        node.problem = str(error)
        return
    if node.access.url is None:
        node.client = manager.client
        node.health = manager.client.api
        return
    endpoint = docker_endpoint.Endpoint(node.access.url, node.access.source, node.access.tls_dir)
    try:
        arguments = docker_endpoint.client_arguments(endpoint)
        node.health = docker.APIClient(timeout=HEALTH_TIMEOUT_S, version="auto", **arguments)
        client = docker.DockerClient(timeout=NODE_TIMEOUT_S, **arguments)
        answered = client.info().get("Swarm", {}).get("NodeID")
    except (docker.errors.DockerException, OSError) as error:
        node.problem = f"its engine at {node.access.url} does not answer ({short_error(error)})"
        return
    if answered != node.node_id:
        client.close()
        node.problem = (f"{node.access.url} (from {node.access.source}) is the engine of another node "
                        f"({answered or 'not in this swarm'}), not of {node.hostname}")
        return
    node.client = client


@dataclass(frozen=True)
class Distribution:
    """What `distribute_images` did for one image on one node."""

    node: str
    image: str
    action: str     # "present" | "loaded"
    seconds: float


def distribute_images(swarm: Swarm, tags: Sequence[str], progress: Callable[[str], None]) -> list[Distribution]:
    """Put the manager's images on every node without a registry: `docker save | docker load`.

    A node that already has the same image (same ID, hence the same build and context label) is
    skipped. Both images go in one archive (they share their base layers), streamed from the
    manager's engine into each node's engine, nodes in parallel.
    """
    wanted = {tag: swarm.manager.client.images.get(tag) for tag in tags}
    outcomes: list[Distribution] = []
    missing: dict[str, list[str]] = {}
    for node in swarm.nodes:
        if node.is_self or node.client is None:
            continue
        for tag, image in wanted.items():
            try:
                present = node.client.images.get(tag).id == image.id
            except docker.errors.ImageNotFound:
                present = False
            if present:
                outcomes.append(Distribution(node.hostname, tag, "present", 0.0))
            else:
                missing.setdefault(node.hostname, []).append(tag)
    if not missing:
        return outcomes
    def copy(hostname: str) -> Distribution:
        """One node: the manager's `save` streamed straight into the node's `load` (no archive on disk)."""
        node, names = swarm.node(hostname), missing[hostname]
        mark = time.monotonic()
        progress(f"{hostname}: copying {', '.join(names)} (docker save | docker load)")
        source, target = swarm.manager.client.api, node.client.api  # type: ignore[union-attr]
        try:
            # The SDK's save/load with a long timeout: a busy engine takes a while to start a save.
            response = source._get(source._url("/images/get"), params={"names": names}, stream=True,
                                   timeout=COPY_TIMEOUT_S)
            source._raise_for_status(response)
            loaded = target._post(target._url("/images/load"), data=response.iter_content(chunk_size=1 << 20),
                                  params={"quiet": True}, stream=True, timeout=COPY_TIMEOUT_S)
            for message in target._stream_helper(loaded, decode=True):
                if isinstance(message, dict) and message.get("error"):
                    raise NodeUnavailable(f"loading images on {hostname} failed: {message['error']}")
        except (docker.errors.DockerException, requests.exceptions.RequestException, OSError) as error:
            raise NodeUnavailable(f"copying images to {hostname} failed: {short_error(error)}") from None
        seconds = time.monotonic() - mark
        return Distribution(hostname, ", ".join(names), "loaded", seconds)

    with ThreadPoolExecutor(max_workers=4) as pool:
        outcomes += list(pool.map(copy, missing))
    for hostname, tags_ in missing.items():
        node = swarm.node(hostname)
        for tag in tags_:
            if node.client.images.get(tag).id != wanted[tag].id:  # type: ignore[union-attr]
                raise NodeUnavailable(f"{hostname}: {tag} after loading is not the manager's build")
    return outcomes


def image_context(client: docker.DockerClient, tag: str) -> str | None:
    try:
        return (client.images.get(tag).labels or {}).get(LABEL_CONTEXT)
    except docker.errors.ImageNotFound:
        return None
