"""The Docker engine: the first implementation of lab.engines.base, and the only importer of docker.

Hosts are containers on user-defined bridge networks of one engine; a helper joins its target's
network namespace with ``network_mode=container:<id>``. Everything a run creates carries the
label ``io.socklab.run=<run-id>`` (and its owner, session, role), so teardown and
``invoke clean`` find objects by label, never by name pattern. SDK errors are translated here
into socklab's own error types: an API error into StepFailed/ImageBuildError, a lost connection
(engine stopped or restarted, socket gone) into EngineLost — nothing above this module sees the SDK.
"""
from __future__ import annotations

import logging
import os
import platform
import secrets
import shutil
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import docker
import docker.errors
import docker.types
import docker.utils
from docker.models.containers import Container

from lab.common import APPS_IMAGE, LABEL_ROLE, LABEL_RUN, NO_HOST_ADDRESS, CommandResult, current_session
from lab.engines import docker_endpoint, ownership
from lab.engines.docker_agent import AGENT_ARGV, AgentChannel, for_agent
from lab.engines.base import (
    APP_UID,
    HelperSpec,
    HostSpec,
    LabelledObject,
    LiveRun,
    RunIdentity,
    Survey,
    file_writing_command,
    in_background,
)
from lab.engines.docker_network_pool import Kind, NetworkPool, PoolNetwork, WarmNetworks
from lab.engines.docker_shared import (
    CONNECTION_ERRORS,
    ContainerLab,
    create_network,
    label_selector,
    live_runs_of,
    remove_container,
    short_error,
)
from lab.errors import EngineLost, EngineUnavailable, ImageBuildError, StepFailed

log = logging.getLogger(__name__)

#: the SDK's ways of saying "nobody answers on the socket any more"


def engine_missing_advice() -> str:
    """What to do when no engine answers, for the platform the user is on."""
    system = platform.system()
    if system == "Darwin" or system == "Windows":
        return ("install Docker Desktop (https://docs.docker.com/desktop/) and start it; "
                "on Windows run socklab inside WSL2 with Docker Desktop's WSL integration on")
    have_dockerd = shutil.which("dockerd") is not None
    if os.geteuid() != 0:
        if have_dockerd:
            return ("the Docker engine is installed but does not answer for this user: start it "
                    "(sudo systemctl start docker, or sudo dockerd &) and add yourself to the "
                    "'docker' group (sudo usermod -aG docker $USER, then log in again)")
        return ("install the Docker engine as root: sudo apt-get install docker.io "
                "(Debian/Ubuntu), or run ./bootstrap as root, which installs and starts it")
    if have_dockerd:
        return "start the engine: systemctl start docker, or run ./bootstrap (it starts dockerd)"
    return "install and start the engine: run ./bootstrap as root (it installs Debian's docker.io)"


@contextmanager
def _engine_call(what: str) -> Iterator[None]:
    """Translate the SDK's errors of one call: API errors -> StepFailed, lost engine -> EngineLost."""
    try:
        yield
    except docker.errors.ImageNotFound as error:
        raise StepFailed(f"{what}: image missing ({short_error(error)}): run invoke build") from None
    except docker.errors.APIError as error:
        raise StepFailed(f"{what} failed: {short_error(error)}") from None
    except CONNECTION_ERRORS as error:
        raise lost(what, error) from None
    except docker.errors.DockerException as error:
        raise lost(what, error) from None


def lost(what: str, error: BaseException) -> EngineLost:
    return EngineLost(f"the Docker engine stopped answering ({what}: {short_error(error)}); what the run "
                      "created may be left behind: once the engine is back, `invoke clean --stale` "
                      "removes objects of runs whose process is gone")




class DockerEngine(WarmNetworks):
    """A connected Docker engine; built once and handed to whoever needs it."""

    name = "docker"

    def __init__(self, client: docker.DockerClient) -> None:
        self.client = client

    @classmethod
    def connect(cls, timeout: float = 10) -> DockerEngine:
        """Connect to the engine from the environment, or say exactly what to install/start."""
        try:
            client = docker_endpoint.docker_client(timeout)   # DOCKER_HOST or `docker context`
            client.ping()
        except (docker.errors.DockerException, *CONNECTION_ERRORS) as error:
            raise EngineUnavailable(f"no Docker engine answers ({short_error(error)}): "
                                    f"{engine_missing_advice()}") from None
        return cls(client)

    @classmethod
    def survey(cls, images: Sequence[str]) -> Survey:
        """The doctor's first line: the engine's version and where it was found (DOCKER_HOST,
        the docker context, the default socket)."""
        engine = cls.connect()
        return Survey([("engine", f"Docker {engine.version()} at {docker_endpoint.resolve().source} — ok")],
                      engine)

    def version(self) -> str:
        with _engine_call("asking the engine's version"):
            return str(self.client.version().get("Version", "unknown"))

    def kept_advice(self, run_id: str) -> str:
        return f"docker ps --filter label={LABEL_RUN}={run_id} lists its containers"

    # ----- images --------------------------------------------------------------------------
    def image_labels(self, tag: str) -> dict[str, str] | None:
        """Labels of a local image, or None when the image is not present."""
        try:
            with _engine_call(f"looking up image {tag}"):
                return dict(self.client.images.get(tag).labels or {})
        except StepFailed:
            return None

    def registry_reachable(self, reference: str) -> tuple[bool, str]:
        """Whether a registry serves `reference`, asked without pulling it."""
        try:
            self.client.images.get_registry_data(reference)
            return True, "reachable"
        except docker.errors.DockerException as error:
            return False, short_error(error)

    def try_pull(self, reference: str) -> tuple[bool, str]:
        """Pull an image; (False, reason) when no registry serves it. Never raises."""
        try:
            self.client.images.pull(reference)
            return True, "pulled"
        except (docker.errors.DockerException, *CONNECTION_ERRORS) as error:
            return False, short_error(error)

    def import_rootfs(self, tarball: Path, tag: str) -> None:
        """Turn a bootstrapped root file system tarball into an image."""
        repository, _, version = tag.partition(":")
        try:
            self.client.api.import_image_from_file(str(tarball), repository=repository,
                                                   tag=version or "latest",
                                                   changes=['CMD ["/bin/bash"]'])
        except docker.errors.DockerException as error:
            raise ImageBuildError(f"importing the bootstrapped base failed: {short_error(error)}") from None

    def build(self, context: Path, tag: str, buildargs: dict[str, str], labels: dict[str, str],
              on_line: Callable[[str], None]) -> None:
        """Build one image, streaming the builder's output lines to `on_line`."""
        try:
            for chunk in self.client.api.build(path=str(context), tag=tag, buildargs=buildargs,
                                               labels=labels, rm=True, forcerm=True, decode=True):
                if "error" in chunk:
                    raise ImageBuildError(f"building {tag} failed: {chunk['error'].strip()}")
                text = chunk.get("stream", "").strip()
                if text:
                    on_line(text)
        except docker.errors.DockerException as error:
            raise ImageBuildError(f"building {tag} failed: {short_error(error)}") from None
        except CONNECTION_ERRORS as error:
            raise lost(f"building {tag}", error) from None

    def spread_images(self, tags: Sequence[str], progress: Callable[[str], None]) -> list[str]:
        """One engine: the images are already where the hosts run."""
        return []

    # ----- runs ------------------------------------------------------------------------------
    def nodes(self) -> list[str]:
        """One engine, no nodes to choose from: a host cannot be pinned."""
        return []

    def lab(self, identity: RunIdentity) -> DockerLab:
        return DockerLab(self.client, identity, self._pool)

    def _new_pool(self) -> NetworkPool:
        """Networks and the lab's idle clients kept between a grade's runs (lab.engines.docker_network_pool)."""
        return NetworkPool(self._create_pool_network, self._remove_pool_network, remove_kept_host)

    def _create_pool_network(self, name: str, kind: Kind) -> tuple[str, str | None]:
        """A pool network and its subnet, configured explicitly: the engine gives fixed addresses
        (lab.engines.docker_network_pool) only on such a subnet. Without one of the scenario's, the
        engine picks a free one for a first network, which is then made again with it named."""
        assert self._pool is not None
        identity = RunIdentity(self._pool.run_id, "pool", current_session(), ownership.me().label())
        internal, subnet, _flavour = kind
        labels = identity.labels("network")
        options = dict(NO_HOST_ADDRESS) if internal else None
        for attempt in range(3):
            with _engine_call(f"creating network {name}"):
                network_id = create_network(self.client, name, labels, subnet, driver="bridge",
                                            internal=internal, options=options)
                if subnet is not None:
                    return network_id, subnet
                network = self.client.networks.get(network_id)
                picked = ((network.attrs.get("IPAM") or {}).get("Config") or [{}])[0].get("Subnet")
                network.remove()
            if not picked:
                break
            try:
                with _engine_call(f"creating network {name}"):
                    return create_network(self.client, name, labels, picked, driver="bridge",
                                          internal=internal, options=options), picked
            except StepFailed as error:   # another process took that subnet meanwhile: again
                log.debug("pool network %s on %s: %s (attempt %d)", name, picked, error, attempt + 1)
        with _engine_call(f"creating network {name}"):   # no fixed addresses, hosts still fresh per run
            return create_network(self.client, name, labels, None, driver="bridge", internal=internal,
                                  options=options), None

    def _remove_pool_network(self, network: PoolNetwork) -> None:
        with _engine_call(f"removing network {network.name}"):
            try:
                self.client.networks.get(network.id).remove()
            except docker.errors.NotFound:
                pass

    # ----- objects by label ------------------------------------------------------------------
    def _containers(self, run_id: str | None, session: str | None) -> list[Container]:
        # ignore_removed: a container someone else removes meanwhile must not abort the listing.
        return list(self.client.containers.list(all=True, filters={"label": label_selector(run_id, session)},
                                                ignore_removed=True))

    def labelled(self, run_id: str | None = None, session: str | None = None) -> list[LabelledObject]:
        with _engine_call("listing the lab's objects"):
            containers = self._containers(run_id, session)
            networks = self.client.networks.list(filters={"label": label_selector(run_id, session)})
        return ([LabelledObject("container", c.name, dict(c.labels)) for c in containers]
                + [LabelledObject("network", n.name, dict(n.attrs.get("Labels") or {})) for n in networks])

    def remove_labelled(self, run_id: str | None = None, session: str | None = None) -> tuple[int, int]:
        """Remove containers (helpers first: they lean on their targets), then networks."""
        with _engine_call("removing the lab's objects"):
            containers = self._containers(run_id, session)
            helpers = [c for c in containers if c.labels.get(LABEL_ROLE) == "helper"]
            others = [c for c in containers if c.labels.get(LABEL_ROLE) != "helper"]
            with ThreadPoolExecutor(max_workers=8) as pool:
                for group in (helpers, others):   # a kept host among them: its agent channel closed too
                    list(pool.map(remove_kept_host, group))
            networks = self.client.networks.list(filters={"label": label_selector(run_id, session)})
            for network in networks:
                try:
                    network.remove()
                except docker.errors.NotFound:
                    pass
                except docker.errors.APIError as error:  # e.g. an endpoint still detaching: next round
                    log.warning("network %s not removed yet: %s", network.name, short_error(error))
            if run_id is None and _agents:   # a sweep: channels to kept hosts gone meanwhile end too
                close_agents_of_gone_hosts({c.id for c in self._containers(None, None)})
            pool = self._pool
            if pool is not None and run_id:   # its leased networks: free again once no host is left on them
                pool.give_back(run_id, hosts_gone=not self._containers(run_id, session))
        return len(containers), len(networks)

    def count_labelled(self, run_id: str | None = None, session: str | None = None) -> tuple[int, int]:
        """How many containers and networks of a run (any run when None) exist: a leak check."""
        with _engine_call("counting the lab's objects"):
            containers = self._containers(run_id, session)
            networks = self.client.networks.list(filters={"label": label_selector(run_id, session)})
        return len(containers), len(networks)

    def live_runs(self, session: str | None = None) -> list[LiveRun]:
        """Runs whose program containers are running (helpers left out), oldest container first."""
        with _engine_call("listing the running labs"):
            containers = self.client.containers.list(filters={"label": label_selector(None, session)},
                                                     ignore_removed=True)
        return live_runs_of((c.name, c.labels) for c in containers)

    def shell_argv(self, run_id: str, host: str, interactive: bool) -> list[str]:
        """The docker CLI command that opens a shell on one host of a run, as its own user.

        The CLI (not the SDK) because only it hands the terminal over; it reads the same
        DOCKER_HOST / context as the SDK, so it reaches the same engine.
        """
        docker_cli = shutil.which("docker")
        if docker_cli is None:
            raise EngineUnavailable(f"the docker command is not installed; without it: "
                                    f"docker exec -it socklab-{run_id}-{host} sh")
        shell = "if command -v bash >/dev/null; then exec bash; fi; exec sh"
        return [docker_cli, "exec", "-it" if interactive else "-i", f"socklab-{run_id}-{host}", "sh", "-c", shell]


class DockerLab(ContainerLab):
    """One run's containers and networks on one Docker engine, by logical name.

    No way out: the run's networks are `internal` (the host's rules drop what would leave the
    bridge) and their bridges get no IPv4 address on the host (`inhibit_ipv4`), so nothing outside
    the lab's containers answers, not even the host behind the bridge's gateway address, which an
    internal network alone still lets a container reach. Docker from v25 gives such containers no
    default route at all; older engines still add one, to that address nobody holds, so a connect()
    out fails with "no route to host". No extra container is needed per host: this is part of
    creating the network.
    """

    def __init__(self, client: docker.DockerClient, identity: RunIdentity, pool: NetworkPool | None = None) -> None:
        self.client = client
        self.identity = identity
        self._pool = pool
        self._containers: dict[str, Container] = {}
        self._networks: dict[str, str] = {}         # logical name -> the engine's id
        self._network_names: dict[str, str] = {}    # logical name -> the engine's name
        self._looked_at: set[str] = set()   # containers registered for testinfra (docker-api://)
        self._leased: dict[str, PoolNetwork] = {}   # logical name -> the pool network it leased
        self._kept: set[str] = set()        # hosts adopted from (or made for) the pool's kept hosts
        self._touched: set[str] = set()     # kept hosts something other than a client's exec touched
        self._execs: dict[str, list[Future[CommandResult]]] = {}   # kept host -> its background execs

    def _container(self, host: str) -> Container:
        try:
            return self._containers[host]
        except KeyError:
            raise StepFailed(f"no host {host!r} in run {self.identity.run_id}") from None

    def _call(self, host: str, what: str) -> AbstractContextManager[None]:
        return _engine_call(what)

    def _client_beside(self, host: str) -> docker.DockerClient:
        return self.client

    def _helper_started(self, spec: HelperSpec, container: Container) -> None:
        self._containers[spec.name] = container

    def create_network(self, name: str, internal: bool = True, subnet: str | None = None) -> None:
        log.debug("network %s (internal=%s, subnet=%s)", name, internal, subnet)
        with _engine_call(f"creating network {name}"):
            if self._pool is not None:   # a grade: a network of the pool, this run's alone until it ends
                leased = self._pool.lease(self.identity.run_id, internal, subnet, f"{self.identity.scenario}/{name}")
                self._networks[name], self._network_names[name] = leased.id, leased.name
                self._leased[name] = leased
                return
            self._networks[name] = create_network(
                self.client, self.docker_name(name), self._labels("network"), subnet, driver="bridge",
                internal=internal, options=dict(NO_HOST_ADDRESS) if internal else None)

    def start(self, spec: HostSpec) -> None:
        """Create and start a container, least privileged, on its networks before it starts.

        In a grade (a pool), a ``keep_warm`` host on a pool network is an idle kept host of the same
        spec when one waits there (no engine call at all), or a new one the pool keeps afterwards;
        any other host on a pool network gets its fixed address there (docker_network_pool).
        """
        network = self._leased.get(spec.networks[0]) if self._pool is not None and len(spec.networks) == 1 else None
        if network is not None and spec.keep_warm:
            assert self._pool is not None
            signature = repr(spec)   # a frozen dataclass of plain values: the whole spec, in order
            container = self._pool.adopt(self.identity.run_id, network, signature)
            self._kept.add(spec.name)
            if container is not None:
                log.debug("start %s: kept host %s adopted", spec.name, container.name)
                self._containers[spec.name] = container
                return
            pool_identity = RunIdentity(self._pool.run_id, "pool", self.identity.session, self.identity.owner)
            # An idle lab client of the apps image runs the client agent instead of sleeping: the
            # runs' client programs are then forked by it, not exec'd (lab.engines.docker_agent).
            agent = spec.image == APPS_IMAGE and spec.command == ("sleep", "infinity")
            container = self._create_and_start(
                spec, f"socklab-{self._pool.run_id}-{secrets.token_hex(3)}-{spec.name}",
                pool_identity.labels(spec.role), None, command=AGENT_ARGV if agent else None)
            self._pool.made_for(self.identity.run_id, network, signature, container)
            if agent:
                _attach_agent(container)
            return
        fixed = self._pool.address_for(network, spec.name) if self._pool is not None and network is not None else None
        self._create_and_start(spec, self.docker_name(spec.name), self.identity.labels(spec.role), fixed)

    def _create_and_start(self, spec: HostSpec, name: str, labels: dict[str, str], address: str | None,
                          command: tuple[str, ...] | None = None) -> Container:
        kwargs: dict[str, object] = {
            "name": name,
            "hostname": spec.name,
            "labels": labels,
            "detach": True,
            # Least privilege: the programs need no capability at all (port 12000 is unprivileged).
            "cap_drop": ["ALL"],
            "cap_add": list(spec.capabilities) or None,
            "security_opt": ["no-new-privileges"],
            "user": spec.user,
            "read_only": spec.read_only,
            "tmpfs": {path: _tmpfs_options(path) for path in spec.writable} if spec.read_only else None,
            "pids_limit": spec.pids_limit,
            "mem_limit": spec.memory_bytes,
            "memswap_limit": spec.memory_bytes,   # no swap beyond the memory limit
            "sysctls": dict(spec.sysctls) or None,
            "extra_hosts": dict(spec.extra_hosts) or None,
            "stop_signal": "SIGTERM",
            "init": True,
        }
        limits = spec.limits
        if limits and limits.cpus:
            kwargs["nano_cpus"] = int(limits.cpus * 1e9)
        if limits and limits.memory_bytes:
            kwargs["mem_limit"] = kwargs["memswap_limit"] = limits.memory_bytes
        if limits and limits.pids:
            kwargs["pids_limit"] = limits.pids
        if limits and limits.log_bytes:   # two files of half the size: the engine rotates, keeps the last
            kwargs["log_config"] = docker.types.LogConfig(
                type="json-file", config={"max-size": str(limits.log_bytes // 2), "max-file": "2"})
        aliases = [spec.name, *spec.aliases]
        if spec.networks:
            primary = spec.networks[0]
            endpoint: dict[str, object] = {"aliases": aliases}
            if address:   # a fixed address, and the MAC the engine derives from it (up to v27; set
                # explicitly, so that a peer's ARP entry for the address stays true on every engine)
                mac = fixed_mac(address)
                endpoint["ipv4_address"] = address
                if docker.utils.version_gte(self.client.api.api_version, "1.44"):
                    endpoint["mac_address"] = mac
                else:   # before API 1.44 the engine reads the container's MacAddress
                    kwargs["mac_address"] = mac
            kwargs["network"] = self._network_name(primary)
            kwargs["networking_config"] = {
                self._network_name(primary): self.client.api.create_endpoint_config(**endpoint)}
        else:
            kwargs["network_mode"] = "none"
        if command is not None:   # the client agent: it reads its requests on stdin
            kwargs["stdin_open"] = True
        command = file_writing_command(spec.files, command or spec.command)
        log.debug("start %s (%s, role %s): %s", spec.name, spec.image, spec.role, " ".join(command))
        with _engine_call(f"starting {spec.name}"):
            container = self.client.containers.create(spec.image, list(command),
                                                      **{k: v for k, v in kwargs.items() if v is not None})
            self._containers[spec.name] = container
            for extra in spec.networks[1:]:
                self.client.networks.get(self._networks[extra]).connect(container, aliases=aliases)
            container.start()
        return container

    def start_all(self, specs: Sequence[HostSpec]) -> None:
        """Start independent containers concurrently (each create/start is a round trip)."""
        if len(specs) <= 1:
            for spec in specs:
                self.start(spec)
            return
        with ThreadPoolExecutor(max_workers=min(8, len(specs))) as pool:
            for future in [pool.submit(self.start, spec) for spec in specs]:
                future.result()

    def _testinfra_url(self, host: str) -> str:
        """A URL testinfra reaches over this engine's API (lab.engines.docker_testinfra)."""
        from lab.engines import docker_testinfra  # testinfra: imported by the runs that look

        container = self._container(host)
        self._looked_at.add(container.id)
        return docker_testinfra.register(container)

    def expect_looks(self, hosts: Sequence[str]) -> None:
        """Open the shell testinfra's commands will use in each host, in the background."""
        from lab.engines import docker_testinfra

        for host in hosts:
            self._touched.add(host)
            container = self._container(host)
            self._looked_at.add(container.id)
            docker_testinfra.register(container)
            docker_testinfra.open_shell(container.id)

    def hosts(self) -> list[str]:
        return list(self._containers)

    # ----- what marks a kept host as touched (never handed on) -----------------------------------
    def exec_background(self, host: str, argv: Sequence[str], *, user: str | None = None
                        ) -> Future[CommandResult]:
        """A client's run: in a kept host, remembered (the host waits for the next run only once
        every one of them has ended)."""
        agent = _agents.get(self._container(host).id) if host in self._kept and not user and for_agent(argv) else None
        if agent is not None:
            pending = in_background(f"exec-{host}", lambda: agent.run(argv))
        else:
            pending = in_background(f"exec-{host}", lambda: ContainerLab.exec(self, host, argv, user=user))
        if host in self._kept:
            self._execs.setdefault(host, []).append(pending)
        return pending

    def exec(self, host: str, argv: Sequence[str], *, user: str | None = None) -> CommandResult:
        self._touched.add(host)   # anything but a client's run (a look, a file): never handed on
        return super().exec(host, argv, user=user)

    def attach_helper(self, spec: HelperSpec) -> None:
        self._touched.add(spec.target)
        super().attach_helper(spec)

    def stop(self, host: str, timeout: int = 3) -> None:
        self._touched.add(host)
        super().stop(host, timeout)

    def testinfra_url(self, host: str) -> str:
        self._touched.add(host)
        return self._testinfra_url(host)

    def _handed_on(self, failed: bool) -> Callable[[Container], bool]:
        """Whether a kept host may wait for the next run: the run ended well, nothing but its
        clients' execs touched it, and every one of those had ended (its process gone)."""
        names = {self._containers[h].id: h for h in self._kept if h in self._containers}

        def clean(container: Container) -> bool:
            host = names.get(container.id)
            if failed or host is None or host in self._touched:
                return False
            return all(f.done() and f.exception() is None for f in self._execs.get(host, []))
        return clean

    def close(self, failed: bool = False) -> None:
        """Give kept hosts back to the pool (or remove those that may not wait for the next run);
        forget the containers registered for testinfra; exec threads end when teardown removes
        their containers."""
        if self._pool is not None and self._kept:
            dirty = self._pool.hand_back(self.identity.run_id, self._handed_on(failed))
            if dirty:
                with ThreadPoolExecutor(max_workers=min(8, len(dirty))) as pool:
                    list(pool.map(remove_kept_host, dirty))
        if self._looked_at:
            from lab.engines import docker_testinfra

            for container_id in self._looked_at:
                docker_testinfra.forget(container_id)


# A kept host's agent channel, by container id (lab.engines.docker_agent): made when the host is
# created, closed when it is removed; the runs that adopt the host find it here.
_agents: dict[str, AgentChannel] = {}


def _attach_agent(container: Container) -> None:
    """Attach to a new kept host's agent; without a channel its client runs are ordinary execs."""
    try:
        _agents[container.id] = AgentChannel(container)
    except (docker.errors.DockerException, *CONNECTION_ERRORS, OSError) as error:
        log.warning("no agent channel to %s (its clients run by exec): %s", container.name, short_error(error))


def remove_kept_host(container: Container) -> None:
    """Close a kept host's agent channel (any container without one: nothing to close), then remove
    it. A sweep by label (an interrupted grade) may meet a kept host a run is still using; closing
    its channel ends that run's wait for the agent at once (docker_shared.close_hijacked)."""
    _close_agent(container.id)
    remove_container(container)


def _close_agent(container_id: str) -> None:
    agent = _agents.pop(container_id, None)
    if agent is not None:
        agent.close()


def close_agents_of_gone_hosts(alive: set[str]) -> None:
    """Close every agent channel whose host is no longer among the `alive` container ids.

    A sweep closes the channel of each kept host it removes, but a run may attach to a host in the
    moment between the sweep listing it and removing it; that channel, registered after the
    sweep, would keep its run waiting for an answer until the scenario's time limit."""
    for container_id in [c for c in list(_agents) if c not in alive]:   # a copy: runs attach meanwhile
        _close_agent(container_id)


def fixed_mac(address: str) -> str:
    """The MAC Docker derived from an IPv4 address up to v27 (02:42 and the address's 4 bytes)."""
    return "02:42:" + ":".join(f"{int(part):02x}" for part in address.split("."))


def _tmpfs_options(path: str) -> str:
    """/tmp as usual (sticky, noexec); any other dir (the home) owned by the user, exec allowed so
    that a student's program put there can run."""
    if path == "/tmp":
        return "mode=1777,size=64m"
    return f"uid={APP_UID},gid={APP_UID},mode=0755,exec,size=64m"






if TYPE_CHECKING:  # mypy proves here that both classes implement the interface
    from lab.engines.base import Engine, Lab

    def _implements(engine: DockerEngine, lab: DockerLab) -> tuple[Engine, Lab]:
        return engine, lab
