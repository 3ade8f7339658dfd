"""A Docker Swarm of several nodes on this one machine: for the swarm engine's tests and for trying
it by hand (`invoke swarm-up` / `invoke swarm-down`).

The host's engine is the manager. Every further node is Debian's dockerd inside a container
(images/swarm-node) on a private bridge network, its API on that bridge only, joined as a worker.
Its API is plain TCP without TLS: acceptable only because that bridge is internal to this machine
(no route out, nothing else attached); a real node is reached by ssh:// or tcp:// with TLS.

What was changed on the host is written on the node network's labels, so `down` (in the same
process or a later `invoke swarm-down`) undoes exactly that: the host leaves swarm mode only if
this local swarm put it there, and docker_gwbridge is removed only if it did not exist before.
Nothing here touches an object that does not carry this swarm's label.
"""
from __future__ import annotations

import fcntl
import logging
import os
import secrets
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import docker
import docker.errors

from lab.common import IMAGE_TAG, LABEL_BASE, LABEL_CONTEXT, LABEL_SESSION, current_session
from lab.engines.docker_engine import DockerEngine
from lab.engines import swarm_nodes
from lab.errors import EnvironmentProblem
from lab.engines.images import IMAGES_DIR, choose_base, context_hash

log = logging.getLogger(__name__)

NODE_IMAGE = f"socklab/swarm-node:{IMAGE_TAG}"
NODE_CONTEXT = IMAGES_DIR / "swarm-node"
LABEL_LOCAL_SWARM = "io.socklab.local-swarm"
LABEL_INITIALISED = "io.socklab.local-swarm.initialised"   # "yes": this swarm put the host in swarm mode
LABEL_GWBRIDGE = "io.socklab.local-swarm.gwbridge"         # "created": docker_gwbridge was absent before
NODE_API_PORT = 2375
GWBRIDGE = "docker_gwbridge"
# What the node's dockerd needs from the kernel. --privileged is not used: this kernel's root lacks
# CAP_SYS_RESOURCE, and Docker refuses a privileged container it cannot give every capability.
NODE_CAPABILITIES = {"cap_add": ["ALL"], "cap_drop": ["SYS_RESOURCE"],
                     "security_opt": ["seccomp=unconfined", "apparmor=unconfined"]}
NODE_READY_TIMEOUT_S = 60
CGROUP_ROOT = Path("/sys/fs/cgroup")


@dataclass(frozen=True)
class LocalNode:
    """One node container: its swarm hostname and the URL of its engine on the private bridge."""

    hostname: str
    container: str
    url: str


@dataclass
class LocalSwarm:
    """A running local swarm: what `down` needs to take it apart again."""

    swarm_id: str
    network: str
    nodes: list[LocalNode] = field(default_factory=list)
    initialised: bool = False

    def nodes_setting(self) -> str:
        """The SOCKLAB_NODES value that tells socklab how to reach each node's engine."""
        return ",".join(f"{node.hostname}={node.url}" for node in self.nodes)


def this_engine() -> DockerEngine:
    """This machine's engine, the local swarm's manager (a minute's patience: swarm calls are slow)."""
    return DockerEngine.connect(timeout=60)


def ensure_node_image(engine: DockerEngine, progress: Callable[[str], None]) -> str:
    """Build the node image unless a build of the same sources is present (about 25 s the first time)."""
    wanted = context_hash(NODE_CONTEXT)
    labels = engine.image_labels(NODE_IMAGE) or {}
    if labels.get(LABEL_CONTEXT) == wanted:
        return "up to date"
    base, _ = choose_base(engine, progress)
    progress(f"building {NODE_IMAGE} on {base} (Debian's docker.io)")
    engine.build(NODE_CONTEXT, NODE_IMAGE, {"BASE_IMAGE": base}, {LABEL_CONTEXT: wanted, LABEL_BASE: base},
                 on_line=lambda line: log.debug("build: %s", line))
    return "built"


def _labels(swarm_id: str, **extra: str) -> dict[str, str]:
    labels = {LABEL_LOCAL_SWARM: swarm_id, **extra}
    session = current_session()
    if session:
        labels[LABEL_SESSION] = session
    return labels


def up(engine: DockerEngine, extra_nodes: int = 1, progress: Callable[[str], None] = lambda _: None) -> LocalSwarm:
    """Start `extra_nodes` node containers and join them to the host engine's swarm.

    Puts the host in swarm mode if it is not (and remembers that, for `down`). On any failure
    everything made so far is taken down again before the error is raised.
    """
    client = engine.client
    state = client.info().get("Swarm", {})
    if state.get("LocalNodeState") == "active" and not state.get("ControlAvailable"):
        raise EnvironmentProblem("this engine is a worker of another swarm: a local swarm needs a manager "
                                 "(docker swarm leave on this host, or run it on a manager)")
    if state.get("LocalNodeState") not in ("inactive", "active"):
        raise EnvironmentProblem(f"this engine's swarm state is {state.get('LocalNodeState')!r}; wait "
                                 "until it is active or inactive, then try again")
    swarm_id = secrets.token_hex(3)
    initialising = state.get("LocalNodeState") == "inactive"
    gwbridge_created = initialising and not client.networks.list(names=[GWBRIDGE])
    ensure_node_image(engine, progress)
    name = f"socklab-swarm-{swarm_id}"
    network = client.networks.create(
        name, driver="bridge", internal=True, check_duplicate=True,
        labels=_labels(swarm_id, **{LABEL_INITIALISED: "yes" if initialising else "no",
                                    LABEL_GWBRIDGE: "created" if gwbridge_created else "kept"}))
    swarm = LocalSwarm(swarm_id, name, initialised=initialising)
    try:
        network.reload()
        gateway = network.attrs["IPAM"]["Config"][0]["Gateway"]
        if initialising:
            progress(f"swarm mode on for this engine (advertised on {gateway}, the private bridge)")
            client.swarm.init(advertise_addr=gateway, listen_addr=f"{gateway}:2377", data_path_addr=gateway)
            manager_addr = f"{gateway}:2377"
        else:
            manager_addr = state["RemoteManagers"][0]["Addr"] if state.get("RemoteManagers") else f"{state['NodeAddr']}:2377"
        client.swarm.reload()
        token = client.swarm.attrs["JoinTokens"]["Worker"]
        for number in range(1, extra_nodes + 1):
            node = _start_node(client, swarm_id, name, number)
            swarm.nodes.append(node)
            _join(node, token, manager_addr)
            progress(f"node {node.hostname} joined ({node.url})")
        _wait_ready(client, [n.hostname for n in swarm.nodes])
    except BaseException:
        down(engine, swarm_id)
        raise
    return swarm


def _start_node(client: docker.DockerClient, swarm_id: str, network: str, number: int) -> LocalNode:
    hostname = f"socklab-{swarm_id}-node{number}"
    # dockerd binds its API to the node's address on the private bridge only; --tls=false says so
    # explicitly (otherwise dockerd sleeps 15 s to warn). Its containers' cgroups go under a parent
    # of their own, so that `down` can remove what a killed node leaves in /sys/fs/cgroup.
    script = (f"exec dockerd --host unix:///var/run/docker.sock --host tcp://$(hostname -i):{NODE_API_PORT} "
              f"--tls=false --cgroup-parent /{hostname}")
    volume = client.volumes.create(f"{hostname}-data", labels=_labels(swarm_id))
    api = client.api
    host_config = api.create_host_config(
        binds={"/sys/fs/cgroup": {"bind": "/sys/fs/cgroup", "mode": "rw"},
               volume.name: {"bind": "/var/lib/docker", "mode": "rw"}},
        **NODE_CAPABILITIES)
    # --security-opt systempaths=unconfined of the CLI: /proc/sys writable (dockerd sets sysctls in
    # its network namespace), nothing masked. The SDK has no parameter for it.
    host_config["MaskedPaths"] = []
    host_config["ReadonlyPaths"] = []
    created = api.create_container(
        NODE_IMAGE, ["sh", "-c", script], name=hostname, hostname=hostname, detach=True,
        labels=_labels(swarm_id), host_config=host_config,
        networking_config=api.create_networking_config({network: api.create_endpoint_config()}),
        # Belt and braces: a swarm task never tries a registry for an image already on the node.
        environment={"DOCKER_SERVICE_PREFER_OFFLINE_IMAGE": "1"})
    container = client.containers.get(created["Id"])
    container.start()
    container.reload()
    address = container.attrs["NetworkSettings"]["Networks"][network]["IPAddress"]
    return LocalNode(hostname, container.id, f"tcp://{address}:{NODE_API_PORT}")


def _join(node: LocalNode, token: str, manager_addr: str) -> None:
    node_client = _wait_for_engine(node)
    try:
        address = node.url.split("//", 1)[1].rsplit(":", 1)[0]
        node_client.swarm.join(remote_addrs=[manager_addr], join_token=token, advertise_addr=address,
                               listen_addr=f"{address}:2377", data_path_addr=address)
    finally:
        node_client.close()


def _wait_for_engine(node: LocalNode) -> docker.DockerClient:
    """The node's engine once it answers (dockerd in a fresh container takes a second or two)."""
    deadline = time.monotonic() + NODE_READY_TIMEOUT_S
    while True:
        try:
            node_client = docker.DockerClient(base_url=node.url, timeout=30)
            node_client.ping()
            return node_client
        except (docker.errors.DockerException, OSError) as error:
            if time.monotonic() > deadline:
                raise EnvironmentProblem(f"the node engine in {node.hostname} did not answer within "
                                         f"{NODE_READY_TIMEOUT_S} s: {error}") from None
            time.sleep(0.3)


def _wait_ready(client: docker.DockerClient, hostnames: list[str], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        ready = {n.attrs["Description"]["Hostname"] for n in client.nodes.list()
                 if n.attrs["Status"]["State"] == "ready"}
        if set(hostnames) <= ready:
            return
        if time.monotonic() > deadline:
            raise EnvironmentProblem(f"nodes not ready within {timeout:.0f} s: {sorted(set(hostnames) - ready)}")
        time.sleep(0.2)


def down(engine: DockerEngine, swarm_id: str | None = None) -> int:
    """Take a local swarm apart (every local swarm when `swarm_id` is None); how many were found.

    Order: node containers stopped (their dockerd stops its own containers), the nodes removed from
    the swarm, the host out of swarm mode if this local swarm put it there, then docker_gwbridge
    (if it was made for us), the bridge network, the volumes, the nodes' cgroup directories.
    """
    client = engine.client
    selector = f"{LABEL_LOCAL_SWARM}={swarm_id}" if swarm_id else LABEL_LOCAL_SWARM
    networks = client.networks.list(filters={"label": selector})
    containers = client.containers.list(all=True, filters={"label": selector})
    hostnames = {c.attrs["Config"]["Hostname"] for c in containers}
    for container in containers:
        try:
            container.stop(timeout=5)
            container.remove(force=True)
        except docker.errors.NotFound:
            pass
    if client.info().get("Swarm", {}).get("ControlAvailable"):
        for node in client.nodes.list():
            if node.attrs["Description"]["Hostname"] in hostnames:
                try:
                    node.remove(force=True)
                except docker.errors.NotFound:
                    pass
    initialised = any(n.attrs["Labels"].get(LABEL_INITIALISED) == "yes" for n in networks)
    gwbridge_ours = any(n.attrs["Labels"].get(LABEL_GWBRIDGE) == "created" for n in networks)
    if initialised and client.info().get("Swarm", {}).get("LocalNodeState") == "active":
        others = [n for n in client.nodes.list() if n.attrs["Description"]["Hostname"] not in hostnames
                  and n.attrs["ID"] != client.info()["Swarm"]["NodeID"]]
        if others:
            log.warning("the host stays in swarm mode: nodes not made by this local swarm joined it (%s)",
                        ", ".join(n.attrs["Description"]["Hostname"] for n in others))
        else:
            client.swarm.leave(force=True)
    if gwbridge_ours and client.info().get("Swarm", {}).get("LocalNodeState") == "inactive":
        for gw in client.networks.list(names=[GWBRIDGE]):
            gw.reload()
            if not gw.attrs.get("Containers"):
                try:
                    gw.remove()
                except docker.errors.APIError as error:
                    log.warning("%s not removed: %s", GWBRIDGE, error)
    for network in networks:
        try:
            network.remove()
        except docker.errors.NotFound:
            pass
    for volume in client.volumes.list(filters={"label": selector}):
        try:
            volume.remove(force=True)
        except docker.errors.NotFound:
            pass
    for hostname in hostnames:
        _remove_cgroups(hostname)
    return len(networks)


def _remove_cgroups(hostname: str, patience_s: float = 10) -> None:
    """Remove the cgroup directories the node's dockerd made for its containers (its --cgroup-parent).

    A directory can only go once its last process has exited, a moment after the node container
    stopped: tried again for a few seconds.
    """
    if not hostname.startswith("socklab-"):
        return
    deadline = time.monotonic() + patience_s
    while True:
        left = node_cgroups(hostname)
        for top in left:
            for directory in sorted((p for p in top.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
                _rmdir(directory)
            _rmdir(top)
        if not node_cgroups(hostname) or time.monotonic() > deadline:
            return
        time.sleep(0.3)


def node_cgroups(hostname: str = "socklab-*-node*") -> list[Path]:
    """The cgroup directories of local swarm nodes (of one, or of any), in every controller."""
    return sorted(p for p in CGROUP_ROOT.glob(f"*/{hostname}") if p.is_dir())


def _rmdir(directory: Path) -> None:
    try:
        os.rmdir(directory)
    except OSError as error:
        log.debug("cgroup %s kept: %s", directory, error)


LOCK_FILE = Path(tempfile.gettempdir()) / "socklab-local-swarm.lock"
_held = False   # this process holds the lock (a nested `running` must not wait for itself)


@contextmanager
def running(engine: DockerEngine, extra_nodes: int = 1, progress: Callable[[str], None] = lambda _: None,
            lock_timeout: float = 600) -> Iterator[LocalSwarm]:
    """A local swarm for the duration of a `with` block (a test session), taken down after.

    Two such blocks on one machine (two test sessions) take turns: a file lock, so that one does
    not leave swarm mode under the other. Nested in one process, the inner block goes ahead (the
    host is in swarm mode already, so it leaves it as it is).
    """
    global _held
    if _held:
        swarm = up(engine, extra_nodes, progress)
        try:
            yield swarm
        finally:
            down(engine, swarm.swarm_id)
        return
    with LOCK_FILE.open("a") as lock:
        deadline = time.monotonic() + lock_timeout
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise EnvironmentProblem(f"another local swarm held {LOCK_FILE} for {lock_timeout:.0f} s") from None
                time.sleep(1)
        _held = True
        try:
            swarm = up(engine, extra_nodes, progress)
            try:
                yield swarm
            finally:
                down(engine, swarm.swarm_id)
        finally:
            _held = False


def nodes_file(swarm_id: str, environ: dict[str, str] | None = None) -> Path:
    """Where `invoke swarm-up` tells socklab how to reach its nodes (lab.engines.swarm_nodes reads nodes.d)."""
    return swarm_nodes.config_home(dict(os.environ) if environ is None else environ) / "nodes.d" / f"local-swarm-{swarm_id}.toml"


def write_nodes_file(swarm: LocalSwarm) -> Path:
    path = nodes_file(swarm.swarm_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["# written by `invoke swarm-up`, removed by `invoke swarm-down`: the local node engines,",
             "# plain tcp on a private bridge of this machine (never do this on a real network)", "[nodes]"]
    lines += [f'"{node.hostname}" = "{node.url}"' for node in swarm.nodes]
    path.write_text("\n".join(lines) + "\n")
    return path


def remove_nodes_files() -> list[Path]:
    removed = []
    for path in sorted(nodes_file("*").parent.glob("local-swarm-*.toml")):
        path.unlink()
        removed.append(path)
    return removed


def host_state(client: docker.DockerClient) -> dict[str, object]:
    """What a local swarm may change on the host engine and must give back (the tests compare)."""
    return {
        "swarm": client.info()["Swarm"]["LocalNodeState"],
        "swarm networks": sorted(n.name for n in client.networks.list(names=["ingress", GWBRIDGE])),
        "node containers": len(client.containers.list(all=True, filters={"label": LABEL_LOCAL_SWARM})),
        "node volumes": len(client.volumes.list(filters={"label": LABEL_LOCAL_SWARM})),
        "node networks": len(client.networks.list(filters={"label": LABEL_LOCAL_SWARM})),
        "node cgroups": len(node_cgroups()),
    }
