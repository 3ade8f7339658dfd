"""The Swarm engine: a lab's hosts as Docker Swarm services, spread over the swarm's nodes.

Each host is a service of one replica (restart condition none) on attachable, internal overlay
networks of its run, so client and server can run on different machines. Endpoint mode dnsrr: a
host's name resolves to its task's own address (Swarm's virtual IPs need IPVS in the kernel, which
not every kernel has, and a lab wants the real address anyway). Services reference their image by
ID, which `invoke build --engine swarm` put on every node (lab.engines.swarm_cluster): a node never
asks a registry, and every node runs the same build.

What Swarm has no API for goes through the engine of the node where a host's task runs: exec,
logs, stop, testinfra (``docker-node://``, the docker CLI aimed at that node), and the impairment
helper, a plain container on that node sharing the task container's network namespace.

Teardown finds everything by label: helpers on every node, services and networks on the manager,
then waits until the nodes have removed the task containers and the overlay networks are gone. A
node that stops answering fails the run with NodeUnavailable (exit 3) and is named.
"""
from __future__ import annotations

import logging
import shutil
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import docker
import docker.errors
import docker.types
from docker.models.containers import Container

from lab.common import LABEL_ROLE, LABEL_RUN, CommandResult, current_session
from lab.engines import docker_endpoint
from lab.engines import ownership, swarm_testinfra
from lab.engines.base import (
    HelperSpec,
    HostSpec,
    LabelledObject,
    LiveRun,
    RunIdentity,
    Survey,
    file_writing_command,
    in_background,
)
from lab.engines.docker_engine import DockerEngine
from lab.engines.docker_network_pool import Kind, NetworkPool, PoolNetwork, WarmNetworks
from lab.engines.docker_shared import (
    CONNECTION_ERRORS,
    ContainerLab,
    command_result,
    create_network,
    exec_run,
    label_selector,
    live_runs_of,
    remove_container,
    short_error,
)
from lab.engines.swarm_cluster import HEALTH_INTERVAL_S, Swarm, SwarmNode, distribute_images
from lab.errors import BadInput, EngineLost, EngineUnavailable, NodeUnavailable, StepFailed

log = logging.getLogger(__name__)
T = TypeVar("T")

TASK_START_TIMEOUT_S = 60
TEARDOWN_WAIT_S = 30
# A service's task states that will never become "running".
_TASK_DEAD = {"failed", "rejected", "shutdown", "complete", "orphaned", "remove"}


@contextmanager
def _node_call(node: SwarmNode, what: str) -> Iterator[None]:
    """Translate one call to a node's engine: API error -> StepFailed, no answer -> NodeUnavailable.

    A node that stopped answering once is not asked again in this process (each attempt would
    wait for a timeout): later calls fail at once with the same message.
    """
    if node.problem:
        raise NodeUnavailable(node.problem)
    try:
        yield
    except docker.errors.APIError as error:
        raise StepFailed(f"{what} on node {node.hostname} failed: {short_error(error)}") from None
    except (*CONNECTION_ERRORS, docker.errors.DockerException) as error:
        node.problem = (f"swarm node {node.hostname} stopped answering ({what}: {short_error(error)}); "
                        f"what the run left there is removed by `invoke clean --engine swarm` once "
                        f"the node is back")
        raise NodeUnavailable(node.problem) from None


@contextmanager
def _manager_call(what: str) -> Iterator[None]:
    try:
        yield
    except docker.errors.APIError as error:
        raise StepFailed(f"{what} failed: {short_error(error)}") from None
    except (*CONNECTION_ERRORS, docker.errors.DockerException) as error:
        raise EngineLost(f"the swarm manager's engine stopped answering ({what}: {short_error(error)}); once "
                         "it is back, `invoke clean --engine swarm --stale` removes what dead runs left") from None


# On everything this engine creates: its cleanup and leak checks never touch the containers of a
# docker-engine run that happens to share the manager's engine.
LABEL_ENGINE = "io.socklab.engine"


def _labels(identity: RunIdentity, role: str) -> dict[str, str]:
    return {**identity.labels(role), LABEL_ENGINE: "swarm"}




class SwarmEngine(WarmNetworks):
    """A swarm manager's engine plus every node's engine. Images are built on the manager."""

    name = "swarm"

    def __init__(self, manager: DockerEngine, swarm: Swarm) -> None:
        self.manager = manager
        self.swarm = swarm
        self.client = manager.client

    @classmethod
    def connect(cls, timeout: float = 10) -> SwarmEngine:
        """The manager (EngineUnavailable if none answers) and every node (NodeUnavailable, exit 3)."""
        manager = DockerEngine.connect(timeout)
        return cls(manager, Swarm.connect(manager))

    @classmethod
    def survey(cls, images: Sequence[str]) -> Survey:
        """The manager (how it is reached), then each node: state, how its engine is reached,
        `images` on it. The engine only when every node is usable."""
        manager = DockerEngine.connect()
        first = [("manager", f"Docker {manager.version()} at {docker_endpoint.resolve().source} — ok")]
        node_findings, engine = survey(manager, images)
        return Survey(first + node_findings, engine,
                      "" if engine else "a swarm node is not usable (NOT USABLE above); nothing was started")

    def kept_advice(self, run_id: str) -> str:
        return f"docker service ps --filter label={LABEL_RUN}={run_id} shows where each host runs"

    def version(self) -> str:
        return (f"{self.manager.version()}, swarm of {len(self.swarm.nodes)} node(s): "
                + ", ".join(n.hostname for n in self.swarm.nodes))

    # ----- images: built on the manager, then copied to every node --------------------------------
    def image_labels(self, tag: str) -> dict[str, str] | None:
        return self.manager.image_labels(tag)

    def registry_reachable(self, reference: str) -> tuple[bool, str]:
        return self.manager.registry_reachable(reference)

    def try_pull(self, reference: str) -> tuple[bool, str]:
        return self.manager.try_pull(reference)

    def import_rootfs(self, tarball: Path, tag: str) -> None:
        self.manager.import_rootfs(tarball, tag)

    def build(self, context: Path, tag: str, buildargs: dict[str, str], labels: dict[str, str],
              on_line: Callable[[str], None]) -> None:
        self.manager.build(context, tag, buildargs, labels, on_line)

    def spread_images(self, tags: Sequence[str], progress: Callable[[str], None]) -> list[str]:
        """Put the manager's images on every node (skipped where the same build is there)."""
        done = distribute_images(self.swarm, tags, progress)
        return [f"{d.node}: {d.image} {d.action}" + (f" ({d.seconds:.1f} s)" if d.seconds else "") for d in done]

    # ----- runs ------------------------------------------------------------------------------------
    def nodes(self) -> list[str]:
        """The nodes' hostnames: what --place HOST=NODE and a scenario's `node =` may name."""
        return [n.hostname for n in self.swarm.nodes]

    def lab(self, identity: RunIdentity) -> SwarmLab:
        return SwarmLab(self, identity)

    def _new_pool(self) -> NetworkPool:
        """Overlay networks kept between a grade's runs (lab.engines.docker_network_pool); a run's networks
        are handed on once teardown saw every task container of the run gone. Hosts are not kept: a
        service's task is not an idle container a next run could exec in on the same terms."""
        return NetworkPool(self._create_pool_network, self._remove_pool_network)

    def _create_pool_network(self, name: str, kind: Kind) -> str:
        assert self._pool is not None
        identity = RunIdentity(self._pool.run_id, "pool", current_session(), ownership.me().label())
        internal, subnet, _flavour = kind
        with _manager_call(f"creating network {name}"):
            return create_network(self.client, name, _labels(identity, "network"), subnet, driver="overlay",
                                  attachable=True, internal=internal, scope="swarm")

    def _remove_pool_network(self, network: PoolNetwork) -> None:
        with _manager_call(f"removing network {network.name}"):
            try:
                self.client.networks.get(network.id).remove()
            except docker.errors.NotFound:
                pass

    # ----- objects by label --------------------------------------------------------------------------
    def _node_containers(self, node: SwarmNode, selector: list[str]) -> list[Container]:
        with _node_call(node, "listing the lab's containers"):
            return list(node.client.containers.list(all=True, filters={"label": selector},  # type: ignore[union-attr]
                                                    ignore_removed=True))

    def _each_node(self, work: Callable[[SwarmNode], T]) -> list[T]:
        with ThreadPoolExecutor(max_workers=max(1, len(self.swarm.nodes))) as pool:
            return list(pool.map(work, self.swarm.nodes))

    def labelled(self, run_id: str | None = None, session: str | None = None) -> list[LabelledObject]:
        selector = label_selector(run_id, session, f"{LABEL_ENGINE}=swarm")
        with _manager_call("listing the lab's services"):
            services = self.client.services.list(filters={"label": selector})
            networks = self.client.networks.list(filters={"label": selector})
        found = [LabelledObject("service", s.name, dict(s.attrs["Spec"].get("Labels") or {})) for s in services]
        found += [LabelledObject("network", n.name, dict(n.attrs.get("Labels") or {})) for n in networks]
        for containers in self._each_node(lambda node: self._node_containers(node, selector)):
            found += [LabelledObject("container", c.name, dict(c.labels)) for c in containers]
        for volumes in self._each_node(lambda node: self._node_volumes(node, selector)):
            found += [LabelledObject("volume", v.name, dict(v.attrs.get("Labels") or {})) for v in volumes]
        return found

    def _node_volumes(self, node: SwarmNode, selector: list[str]) -> list:  # type: ignore[type-arg]
        with _node_call(node, "listing the lab's volumes"):
            return list(node.client.volumes.list(filters={"label": selector}))  # type: ignore[union-attr]

    def live_runs(self, session: str | None = None) -> list[LiveRun]:
        """Runs whose program services exist (helpers left out)."""
        with _manager_call("listing the running labs"):
            services = self.client.services.list(filters={"label": label_selector(None, session, f"{LABEL_ENGINE}=swarm")})
        return live_runs_of((s.name, s.attrs["Spec"].get("Labels") or {}) for s in services)

    def shell_argv(self, run_id: str, host: str, interactive: bool) -> list[str]:
        """`docker --host NODE exec -it CONTAINER sh` on the node where the host's task runs."""
        docker_cli = shutil.which("docker")
        with _manager_call(f"finding {host}"):
            tasks = self.client.api.tasks(filters={"service": f"socklab-{run_id}-{host}", "desired-state": "running"})
        running = [t for t in tasks if t.get("Status", {}).get("State") == "running"]
        if not running:
            raise StepFailed(f"{host} of run {run_id} is not running on the swarm")
        node = self.swarm.by_id(running[0]["NodeID"])
        container = running[0]["Status"]["ContainerStatus"]["ContainerID"]
        if docker_cli is None:
            raise EngineUnavailable("the docker command is not installed: it opens the shell on the node")
        shell = "if command -v bash >/dev/null; then exec bash; fi; exec sh"
        return [docker_cli, *(node.access.cli_arguments() if node.access else []), "exec",
                "-it" if interactive else "-i", container, "sh", "-c", shell]

    def count_labelled(self, run_id: str | None = None, session: str | None = None) -> tuple[int, int]:
        """(services + containers on any node, networks): a leak check across the whole swarm."""
        objects = self.labelled(run_id, session)
        return (sum(o.kind != "network" for o in objects), sum(o.kind == "network" for o in objects))

    def remove_labelled(self, run_id: str | None = None, session: str | None = None) -> tuple[int, int]:
        """Helpers on every node, then services, then (once their tasks are gone) networks."""
        selector = label_selector(run_id, session, f"{LABEL_ENGINE}=swarm")
        unreachable: list[str] = []

        def remove_helpers(node: SwarmNode) -> int:
            try:
                containers = self._node_containers(node, selector)
                helpers = [c for c in containers if c.labels.get(LABEL_ROLE) == "helper"]
                for container in helpers:
                    with _node_call(node, f"removing {container.name}"):
                        remove_container(container)
                return len(helpers)
            except NodeUnavailable as error:
                log.warning("%s", error)
                unreachable.append(node.hostname)
                return 0

        mark = time.monotonic()
        helpers = sum(self._each_node(remove_helpers))
        log.debug("teardown: helpers removed in %.2f s", time.monotonic() - mark)
        with _manager_call("removing the lab's services"):
            services = self.client.services.list(filters={"label": selector})
            for service in services:
                try:
                    service.remove()
                except docker.errors.NotFound:
                    pass
        log.debug("teardown: services removed at %.2f s", time.monotonic() - mark)
        self._wait_tasks_gone(selector, unreachable)
        log.debug("teardown: task containers gone at %.2f s", time.monotonic() - mark)
        pool = self._pool
        if pool is not None and run_id:   # its leased networks: free again once every task is gone
            pool.give_back(run_id, hosts_gone=not unreachable)
        with _manager_call("removing the lab's networks"):
            networks = self.client.networks.list(filters={"label": selector})
        self._remove_networks(networks, patient=not unreachable)
        log.debug("teardown: networks removed at %.2f s", time.monotonic() - mark)
        if unreachable:
            raise NodeUnavailable(f"swarm node(s) {', '.join(sorted(set(unreachable)))} did not answer during "
                                  "teardown: what the run left there is removed by `invoke clean --engine "
                                  "swarm` once they are back")
        return helpers + len(services), len(networks)

    def _wait_tasks_gone(self, selector: list[str], unreachable: list[str]) -> None:
        """Remove the task containers of the removed services on every node at once (the nodes'
        agents would stop them gracefully, seconds each), until none is left: they must be gone
        before their overlay networks can go. Then the hosts' home volumes."""
        deadline = time.monotonic() + TEARDOWN_WAIT_S

        def clear(node: SwarmNode) -> None:
            if node.hostname in unreachable:
                return
            try:
                while True:
                    left = self._node_containers(node, selector)
                    if not left or time.monotonic() > deadline:
                        return
                    with _node_call(node, "removing task containers"):
                        for container in left:
                            remove_container(container)
            except NodeUnavailable as error:
                log.warning("%s", error)
                unreachable.append(node.hostname)

        self._each_node(clear)

        def remove_volumes(node: SwarmNode) -> None:
            if node.hostname in unreachable:
                return
            try:
                for volume in self._node_volumes(node, selector):
                    with _node_call(node, f"removing volume {volume.name}"):
                        try:
                            volume.remove(force=True)
                        except docker.errors.NotFound:
                            pass
            except (NodeUnavailable, StepFailed) as error:
                log.warning("%s", error)

        self._each_node(remove_volumes)

    def _remove_networks(self, networks: list, patient: bool) -> None:  # type: ignore[type-arg]
        """Remove overlay networks; the manager refuses while a node still detaches an endpoint.

        Not `patient` (a node did not answer): one attempt each, the rest is left to `invoke clean`.
        """
        deadline = time.monotonic() + (TEARDOWN_WAIT_S if patient else 0)
        pending = list(networks)
        while pending:
            left = []
            for network in pending:
                try:
                    with _manager_call(f"removing network {network.name}"):
                        try:
                            network.remove()
                        except docker.errors.NotFound:
                            continue
                except StepFailed as error:
                    if time.monotonic() > deadline:
                        log.warning("%s", error)
                        continue
                    left.append(network)
            pending = left
            if pending:
                time.sleep(0.2)


@dataclass
class Task:
    """Where a host runs: the node, and the task's container on that node's engine."""

    node: SwarmNode
    container: Container


class SwarmLab(ContainerLab):
    """One run's services, overlay networks and helpers across the swarm, by logical name."""

    def __init__(self, engine: SwarmEngine, identity: RunIdentity) -> None:
        self.engine = engine
        self.client = engine.client
        self.identity = identity
        self._networks: dict[str, str] = {}
        self._network_names: dict[str, str] = {}   # logical name -> the engine's name
        self._services: dict[str, str] = {}
        self._tasks: dict[str, Task] = {}
        self._image_ids: dict[str, str] = {}
        self._lock = threading.Lock()

    def _task(self, host: str) -> Task:
        try:
            return self._tasks[host]
        except KeyError:
            raise StepFailed(f"no host {host!r} in run {self.identity.run_id}") from None

    # ----- how the shared per-container routines (ContainerLab) reach a host: through its node -----
    def _container(self, host: str) -> Container:
        return self._task(host).container

    def _call(self, host: str, what: str) -> AbstractContextManager[None]:
        return _node_call(self._task(host).node, what)

    def _client_beside(self, host: str) -> docker.DockerClient:
        return self._task(host).node.client  # type: ignore[return-value]

    def _labels(self, role: str) -> dict[str, str]:
        return _labels(self.identity, role)

    def _helper_started(self, spec: HelperSpec, container: Container) -> None:
        node = self._task(spec.target).node
        self._tasks[spec.name] = Task(node, container)
        log.debug("%s runs on node %s", spec.name, node.hostname)
        swarm_testinfra.register(container.id, node.access.cli_arguments() if node.access else [])

    # ----- topology ----------------------------------------------------------------------------------
    def create_network(self, name: str, internal: bool = True, subnet: str | None = None) -> None:
        pool = self.engine._pool
        if pool is not None:   # a grade: an overlay network of the pool, this run's alone until it ends
            leased = pool.lease(self.identity.run_id, internal, subnet)
            self._networks[name], self._network_names[name] = leased.id, leased.name
            return
        with _manager_call(f"creating network {name}"):
            self._networks[name] = create_network(
                self.client, self.docker_name(name), self._labels("network"), subnet, driver="overlay",
                attachable=True, internal=internal, scope="swarm")

    def _image_id(self, tag: str) -> str:
        """The image's ID on the manager: services name it so, and nodes never ask a registry."""
        with self._lock:
            if tag not in self._image_ids:
                try:
                    with _manager_call(f"looking up {tag}"):
                        self._image_ids[tag] = self.client.images.get(tag).id
                except StepFailed:
                    raise StepFailed(f"image {tag} is missing on the manager: run invoke build --engine swarm") from None
            return self._image_ids[tag]

    def _placement(self, spec: HostSpec) -> list[str]:
        node = getattr(spec, "node", None)
        if not node:
            return []
        try:
            hostname = self.engine.swarm.node(node).hostname
        except KeyError:
            raise BadInput(f"host {spec.name} is placed on node {node!r}, which is not in the swarm; nodes: "
                           + ", ".join(n.hostname for n in self.engine.swarm.nodes)) from None
        return [f"node.hostname=={hostname}"]

    def _writable_mount(self, path: str, role: str) -> docker.types.Mount:
        """/tmp as a tmpfs; any other writable dir (the user's home) as a fresh anonymous volume.

        A service's tmpfs takes only a size and a mode (no uid, and Docker leaves it noexec), so
        a home on tmpfs would belong to root; a new volume starts as a copy of the image's dir,
        owned by its user, with exec allowed. Labelled like the run, removed with it.
        """
        if path == "/tmp":
            return docker.types.Mount(path, None, type="tmpfs", tmpfs_mode=0o1777, tmpfs_size=64 * 1024 * 1024)
        return docker.types.Mount(path, None, type="volume", labels=_labels(self.identity, role))

    def _create_service(self, spec: HostSpec) -> None:
        """A service of one replica that never restarts: a lab host runs its program once."""
        command = list(file_writing_command(spec.files, spec.command))
        mounts = [self._writable_mount(path, spec.role) for path in spec.writable] if spec.read_only else []
        limits = spec.limits
        memory = (limits.memory_bytes if limits and limits.memory_bytes else None) or spec.memory_bytes
        pids = (limits.pids if limits and limits.pids else None) or spec.pids_limit
        cpus = limits.cpus if limits and limits.cpus else None
        resources = docker.types.Resources(mem_limit=memory, cpu_limit=int(cpus * 1e9) if cpus else None)
        if pids:   # API 1.41 (Docker 20.10) knows a service's pids limit; the SDK has no argument for it
            resources.setdefault("Limits", {})["Pids"] = pids
        container_spec = docker.types.ContainerSpec(
            self._image_id(spec.image), command=command, hostname=spec.name,
            labels=_labels(self.identity, spec.role), user=spec.user, read_only=spec.read_only or None,
            mounts=mounts or None, init=True, stop_signal="SIGTERM", stop_grace_period=3 * 10**9,
            cap_drop=["ALL"], cap_add=list(spec.capabilities) or None, sysctls=dict(spec.sysctls) or None,
            hosts=dict(spec.extra_hosts) or None)
        aliases = [spec.name, *spec.aliases]
        networks = [docker.types.NetworkAttachmentConfig(self._networks[n], aliases=aliases) for n in spec.networks]
        task_template = docker.types.TaskTemplate(
            container_spec, resources=resources, networks=networks or None,
            restart_policy=docker.types.RestartPolicy(condition="none"),
            placement=docker.types.Placement(constraints=self._placement(spec)),
            log_driver=docker.types.DriverConfig("json-file", {"max-size": str(limits.log_bytes // 2),
                                                               "max-file": "2"})
            if limits and limits.log_bytes else None)
        log.debug("service %s (%s, role %s): %s", spec.name, spec.image, spec.role, " ".join(spec.command))
        with _manager_call(f"starting {spec.name}"):
            created = self.client.api.create_service(
                task_template, name=self.docker_name(spec.name), labels=_labels(self.identity, spec.role),
                mode=docker.types.ServiceMode("replicated", 1),
                endpoint_spec=docker.types.EndpointSpec(mode="dnsrr"))
        self._services[spec.name] = created["ID"]

    def _await_task(self, host: str, timeout: float = TASK_START_TIMEOUT_S) -> None:
        """Wait until the host's task runs; then reach its container through its node's engine."""
        service_id = self._services[host]
        deadline = time.monotonic() + timeout
        last = "no task yet"
        while True:
            with _manager_call(f"watching {host}"):
                tasks = self.client.api.tasks(filters={"service": service_id})
            for task in tasks:
                status = task.get("Status", {})
                state = status.get("State", "")
                last = f"{state}: {status.get('Err') or status.get('Message', '')}".strip(": ")
                if state == "running":
                    node = self.engine.swarm.by_id(task["NodeID"])
                    container_id = status["ContainerStatus"]["ContainerID"]
                    with _node_call(node, f"finding {host}"):
                        container = node.client.containers.get(container_id)  # type: ignore[union-attr]
                    self._tasks[host] = Task(node, container)
                    swarm_testinfra.register(container.id, node.access.cli_arguments() if node.access else [])
                    log.debug("%s runs on node %s", host, node.hostname)
                    return
                if state in _TASK_DEAD:
                    raise StepFailed(f"{host} could not start on the swarm ({last})")
            if time.monotonic() > deadline:
                raise StepFailed(f"{host} was not running within {timeout:.0f} s ({last}); "
                                 "`invoke doctor --engine swarm` checks the nodes")
            time.sleep(0.05)

    def start(self, spec: HostSpec) -> None:
        self._create_service(spec)
        self._await_task(spec.name)

    def start_all(self, specs: Sequence[HostSpec]) -> None:
        """Create every service first (the scheduler places them together, spread), then wait."""
        with ThreadPoolExecutor(max_workers=max(1, min(8, len(specs)))) as pool:
            for future in [pool.submit(self._create_service, spec) for spec in specs]:
                future.result()
            for future in [pool.submit(self._await_task, spec.name) for spec in specs]:
                future.result()

    # ----- per-host operations, through the host's node ---------------------------------------------
    def exec(self, host: str, argv: Sequence[str], *, user: str | None = None) -> CommandResult:
        """Run a command through the host's node; the node is pinged meanwhile, because the SDK
        waits for an exec's output with no timeout at all (a frozen node would hang the run)."""
        task = self._task(host)
        what = f"exec in {host}"

        def run() -> tuple[int | None, tuple[bytes | None, bytes | None]]:
            with _node_call(task.node, what):
                return exec_run(task.container, argv, user=user or "")

        pending = in_background(f"exec-{host}", run)
        while True:
            try:
                rc, (out, err) = pending.result(timeout=HEALTH_INTERVAL_S)
                break
            except FutureTimeout:
                with _node_call(task.node, f"{what} (is the node alive?)"):
                    task.node.health.ping()  # type: ignore[union-attr]
        result = command_result(rc, out, err)
        log.debug("exec in %s on %s: %s -> rc %s %s", host, task.node.hostname, " ".join(argv), result.rc,
                  result.stderr.strip()[:200])
        return result

    def testinfra_url(self, host: str) -> str:
        return swarm_testinfra.url(self._task(host).container.id)

    def expect_looks(self, hosts: Sequence[str]) -> None:
        """Nothing to prepare: each look is a `docker exec` on the host's node."""

    def node_of(self, host: str) -> str:
        """The hostname of the node where a host runs (for the report and the tests)."""
        return self._task(host).node.hostname

    def hosts(self) -> list[str]:
        return list(self._tasks)

    def close(self, failed: bool = False) -> None:
        for task in self._tasks.values():
            swarm_testinfra.forget(task.container.id)




if TYPE_CHECKING:  # mypy proves here that both classes implement the interface
    from lab.engines.base import Engine, Lab

    def _implements(engine: SwarmEngine, lab: SwarmLab) -> tuple[Engine, Lab]:
        return engine, lab


def survey(manager: DockerEngine, images: Sequence[str]) -> tuple[list[tuple[str, str]], SwarmEngine | None]:
    """For `invoke doctor --engine swarm`: one finding per node (state, how it is reached, images);
    the engine only when every node is usable, else None (the caller exits 3)."""
    swarm = Swarm.survey(manager)
    findings: list[tuple[str, str]] = []
    wanted = {}
    for tag in images:
        try:
            wanted[tag] = manager.client.images.get(tag).id
        except docker.errors.ImageNotFound:
            wanted[tag] = None
    for node in swarm.nodes:
        role = "manager, this engine" if node.is_self else (node.access.url if node.access else "?")
        if node.problem:
            findings.append((f"node {node.hostname}", f"NOT USABLE ({node.addr}, {node.state}, "
                                                       f"{node.availability}) — {node.problem}"))
            continue
        warning = (" — plain tcp without TLS: root on the node for anyone who reaches the port; "
                   "only on a private network" if node.access and node.access.plain_tcp else "")
        findings.append((f"node {node.hostname}", f"ready, active ({node.addr}; {role}){warning}"))
        states = []
        for tag, image_id in wanted.items():
            try:
                present = node.client.images.get(tag).id  # type: ignore[union-attr]
            except docker.errors.ImageNotFound:
                present = None
            if image_id is None:
                states.append(f"{tag} not built (invoke build --engine swarm)")
            elif present == image_id:
                states.append(f"{tag} ✔")
            else:
                states.append(f"{tag} {'missing' if present is None else 'another build'} "
                              "(invoke build --engine swarm copies it)")
        findings.append((f"images {node.hostname}", "; ".join(states)))
    usable = all(not n.problem for n in swarm.nodes)
    if not usable:
        swarm.close()
    return findings, SwarmEngine(manager, swarm) if usable else None
