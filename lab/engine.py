"""The only module that talks to Docker.

Everything a run creates carries the label ``io.socklab.run=<run-id>``; teardown and
``invoke clean`` find objects by that label, never by name pattern, so a crashed run, a Ctrl-C or
a second lab on the same engine never makes cleanup guess. Docker SDK errors are translated here
into socklab's own error types, so nothing above this layer needs to know the SDK.
"""
from __future__ import annotations

import logging
import os
import platform
import shutil
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import docker
import docker.errors
from docker.models.containers import Container

from lab import docker_endpoint
from lab.errors import EngineUnavailable, ImageBuildError, RunTimedOut, StepFailed
from lab.impairment import CommandResult
from lab.shell import LiveRun

log = logging.getLogger(__name__)

LABEL_RUN = "io.socklab.run"
LABEL_SCENARIO = "io.socklab.scenario"
LABEL_ROLE = "io.socklab.role"
LABEL_CONTEXT = "io.socklab.context"
LABEL_BASE = "io.socklab.base"
# Set by whoever owns a batch of runs (a test session, a grader) so that its leak checks and
# cleanups look at its own runs only, never at a lab someone else runs on the same engine.
LABEL_SESSION = "io.socklab.session"
SESSION_ENV = "SOCKLAB_SESSION"


def current_session() -> str | None:
    """The session label this process puts on its objects, from $SOCKLAB_SESSION (None: unset)."""
    return os.environ.get(SESSION_ENV) or None


def _selector(run_id: str | None, session: str | None) -> list[str]:
    """Docker label filters for one run, one session's runs, or (both None) every socklab run."""
    labels = [f"{LABEL_RUN}={run_id}" if run_id else LABEL_RUN]
    if session:
        labels.append(f"{LABEL_SESSION}={session}")
    return labels


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


@dataclass(frozen=True)
class ContainerSpec:
    """What the engine needs to create one container of a run."""

    name: str                      # logical name in the scenario (server, client-1, ...)
    image: str
    command: Sequence[str]
    role: str
    networks: Sequence[str] = ()   # logical network names, first one is primary
    addresses: dict[str, str] = field(default_factory=dict)  # network -> static IPv4
    user: str | None = None
    cap_add: Sequence[str] = ()
    network_mode_of: str | None = None  # share this logical container's network namespace
    sysctls: dict[str, str] = field(default_factory=dict)  # namespaced ones, e.g. net.ipv4.ip_forward
    aliases: Sequence[str] = ()    # extra DNS names on every network, besides `name`
    limits: Limits | None = None
    extra_hosts: dict[str, str] = field(default_factory=dict)   # host table entries: name -> IPv4


@dataclass(frozen=True)
class Limits:
    """Resource limits of one container (a student's program: it must not harm the machine)."""

    cpus: float | None = None          # share of one core, e.g. 0.5
    memory_bytes: int | None = None    # memory, swap included (no extra swap)
    pids: int | None = None            # processes and threads together


@dataclass
class StreamedExec:
    """An exec started in the background; `wait()` gives its result."""

    thread: threading.Thread
    box: dict[str, object]
    what: str = "a command"

    def wait(self, timeout: float | None) -> CommandResult:
        self.thread.join(timeout)
        if self.thread.is_alive():
            raise RunTimedOut(f"{self.what} still running when the scenario's time limit ran out "
                              f"({timeout:.0f} s left for it); give it fewer datagrams or a shorter timeout")
        if "error" in self.box:
            raise self.box["error"]  # type: ignore[misc]
        return self.box["result"]  # type: ignore[return-value]


class Engine:
    """A connected Docker engine; built once and handed to whoever needs it."""

    def __init__(self, client: docker.DockerClient) -> None:
        self.client = client

    @classmethod
    def connect(cls, timeout: float = 10) -> Engine:
        """Connect to the engine from the environment, or say exactly what to install/start."""
        try:
            client = docker_endpoint.docker_client(timeout)   # DOCKER_HOST or `docker context`
            client.ping()
        except docker.errors.DockerException as error:
            raise EngineUnavailable(f"no Docker engine answers ({_short(error)}): "
                                    f"{engine_missing_advice()}") from None
        return cls(client)

    def version(self) -> str:
        return str(self.client.version().get("Version", "unknown"))

    # ----- images --------------------------------------------------------------------------
    def image_labels(self, tag: str) -> dict[str, str] | None:
        """Labels of a local image, or None when the image is not present."""
        try:
            return dict(self.client.images.get(tag).labels or {})
        except docker.errors.ImageNotFound:
            return None

    def registry_reachable(self, reference: str) -> tuple[bool, str]:
        """Whether a registry serves `reference`, asked without pulling it."""
        try:
            self.client.images.get_registry_data(reference)
            return True, "reachable"
        except docker.errors.DockerException as error:
            return False, _short(error)

    def try_pull(self, reference: str) -> tuple[bool, str]:
        """Pull an image; (False, reason) when no registry serves it. Never raises."""
        try:
            self.client.images.pull(reference)
            return True, "pulled"
        except docker.errors.DockerException as error:
            return False, _short(error)

    def import_rootfs(self, tarball: Path, tag: str) -> None:
        """Turn a bootstrapped root file system tarball into an image."""
        repository, _, version = tag.partition(":")
        try:
            self.client.api.import_image_from_file(str(tarball), repository=repository,
                                                   tag=version or "latest",
                                                   changes=['CMD ["/bin/bash"]'])
        except docker.errors.DockerException as error:
            raise ImageBuildError(f"importing the bootstrapped base failed: {_short(error)}") from None

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
            raise ImageBuildError(f"building {tag} failed: {_short(error)}") from None

    # ----- cleanup by label ----------------------------------------------------------------
    def remove_labelled(self, run_id: str | None = None, session: str | None = None) -> tuple[int, int]:
        """Remove containers, then networks, labelled with a run id (any run when None)."""
        label = _selector(run_id, session)
        # ignore_removed: a container someone else removes meanwhile must not abort the teardown.
        containers = self.client.containers.list(all=True, filters={"label": label}, ignore_removed=True)
        # Helpers share a target's namespace: remove them before the containers they lean on.
        helpers = [c for c in containers if c.labels.get(LABEL_ROLE) == "helper"]
        others = [c for c in containers if c.labels.get(LABEL_ROLE) != "helper"]
        with ThreadPoolExecutor(max_workers=8) as pool:
            for group in (helpers, others):
                list(pool.map(_remove_container, group))
        networks = self.client.networks.list(filters={"label": label})
        for network in networks:
            try:
                network.remove()
            except docker.errors.NotFound:
                pass
            except docker.errors.APIError as error:  # e.g. an endpoint still detaching: next round
                log.warning("network %s not removed yet: %s", network.name, _short(error))
        return len(containers), len(networks)

    def live_runs(self, session: str | None = None) -> list[LiveRun]:
        """Runs whose program containers are running (helpers left out), oldest container first."""
        containers = self.client.containers.list(filters={"label": _selector(None, session)},
                                                 ignore_removed=True)
        hosts: dict[str, set[str]] = {}
        scenarios: dict[str, str] = {}
        for container in containers:
            run_id = container.labels.get(LABEL_RUN, "")
            prefix = f"socklab-{run_id}-"
            if container.labels.get(LABEL_ROLE) == "helper" or not container.name.startswith(prefix):
                continue
            hosts.setdefault(run_id, set()).add(container.name[len(prefix):])
            scenarios[run_id] = container.labels.get(LABEL_SCENARIO, "?")
        return [LiveRun(run_id, scenarios[run_id], tuple(sorted(names))) for run_id, names in sorted(hosts.items())]

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

    def count_labelled(self, run_id: str | None = None, session: str | None = None) -> tuple[int, int]:
        """How many containers and networks of a run (any run when None) exist: a leak check."""
        label = _selector(run_id, session)
        containers = self.client.containers.list(all=True, filters={"label": label}, ignore_removed=True)
        networks = self.client.networks.list(filters={"label": label})
        return len(containers), len(networks)


class LabRun:
    """One run's Docker objects; a context manager so that teardown always happens.

    Teardown runs on success, on failure and on KeyboardInterrupt; SIGINT is ignored while it
    runs so that a second Ctrl-C cannot leave half the lab behind.
    """

    def __init__(self, engine: Engine, run_id: str, scenario: str, keep: bool = False) -> None:
        self.engine = engine
        self.run_id = run_id
        self.scenario = scenario
        self.keep = keep
        self._containers: dict[str, Container] = {}
        self._networks: dict[str, str] = {}

    def __enter__(self) -> LabRun:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *rest: object) -> None:
        interrupted = exc_type is not None and issubclass(exc_type, KeyboardInterrupt)
        if self.keep and not interrupted:  # --keep keeps a finished run, never a half-made one
            log.info("keeping run %s (invoke clean --run %s removes it)", self.run_id, self.run_id)
            return
        self.teardown(interrupted=interrupted)

    def teardown(self, interrupted: bool = False) -> None:
        import signal

        previous = None
        if threading.current_thread() is threading.main_thread():
            previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            # A Ctrl-C can cut a create call whose container the daemon still makes a moment later:
            # look again until a round finds nothing.
            removed = self.engine.remove_labelled(self.run_id)
            # After a Ctrl-C cut a create call, or a removal that raced, look again until clean.
            for _ in range(5 if interrupted or self.engine.count_labelled(self.run_id) != (0, 0) else 0):
                time.sleep(0.3)
                if self.engine.remove_labelled(self.run_id) == (0, 0):
                    break
            log.debug("teardown of %s removed %s", self.run_id, removed)
        finally:
            if previous is not None:
                signal.signal(signal.SIGINT, previous)

    def docker_name(self, logical: str) -> str:
        return f"socklab-{self.run_id}-{logical}"

    def _labels(self, role: str) -> dict[str, str]:
        labels = {LABEL_RUN: self.run_id, LABEL_SCENARIO: self.scenario, LABEL_ROLE: role}
        session = current_session()
        if session:
            labels[LABEL_SESSION] = session
        return labels

    def create_network(self, name: str, internal: bool = True, subnet: str | None = None) -> None:
        log.debug("network %s (internal=%s, subnet=%s)", name, internal, subnet)
        ipam = None
        if subnet:
            ipam = docker.types.IPAMConfig(pool_configs=[docker.types.IPAMPool(subnet=subnet)])
        try:
            network = self.engine.client.networks.create(
                self.docker_name(name), driver="bridge", internal=internal, ipam=ipam,
                labels=self._labels("network"), check_duplicate=True)
        except docker.errors.APIError as error:
            raise StepFailed(f"creating network {name} failed: {_short(error)}") from None
        self._networks[name] = network.id

    def start(self, spec: ContainerSpec) -> None:
        """Create and start a container; attached to its networks before it starts."""
        client = self.engine.client
        kwargs: dict[str, object] = {
            "name": self.docker_name(spec.name),
            "hostname": spec.name if not spec.network_mode_of else None,
            "labels": self._labels(spec.role),
            "detach": True,
            # Least privilege: the programs need no capability at all (port 12000 is unprivileged);
            # only the impairment helper gets exactly the ones it asks for.
            "cap_add": list(spec.cap_add) or None,
            "cap_drop": None if spec.cap_add else ["ALL"],
            "security_opt": ["no-new-privileges"] if not spec.cap_add else None,
            "user": spec.user,
            "stop_signal": "SIGTERM",
            "init": True,
            "sysctls": dict(spec.sysctls) or None,
        }
        if spec.extra_hosts:
            kwargs["extra_hosts"] = dict(spec.extra_hosts)
        if spec.limits:
            limits = spec.limits
            if limits.cpus:
                kwargs["nano_cpus"] = int(limits.cpus * 1e9)
            if limits.memory_bytes:
                kwargs["mem_limit"] = limits.memory_bytes
                kwargs["memswap_limit"] = limits.memory_bytes
            if limits.pids:
                kwargs["pids_limit"] = limits.pids
        if spec.network_mode_of:
            kwargs["network_mode"] = f"container:{self._containers[spec.network_mode_of].id}"
        elif spec.networks:
            primary = spec.networks[0]
            endpoint = client.api.create_endpoint_config(
                aliases=[spec.name, *spec.aliases], ipv4_address=spec.addresses.get(primary))
            kwargs["network"] = self.docker_name(primary)
            kwargs["networking_config"] = {self.docker_name(primary): endpoint}
        else:
            kwargs["network_mode"] = "none"
        log.debug("start %s (%s, role %s): %s", spec.name, spec.image, spec.role, " ".join(spec.command))
        try:
            container = client.containers.create(spec.image, list(spec.command),
                                                 **{k: v for k, v in kwargs.items() if v is not None})
            self._containers[spec.name] = container
            if not spec.network_mode_of:
                for extra in spec.networks[1:]:
                    client.networks.get(self._networks[extra]).connect(
                        container, aliases=[spec.name, *spec.aliases], ipv4_address=spec.addresses.get(extra))
            container.start()
        except docker.errors.ImageNotFound:
            raise StepFailed(f"image {spec.image} is missing: run invoke build") from None
        except docker.errors.APIError as error:
            raise StepFailed(f"starting {spec.name} failed: {_short(error)}") from None

    def start_all(self, specs: Sequence[ContainerSpec]) -> None:
        """Start independent containers concurrently (each create/start is a round trip)."""
        if len(specs) <= 1:
            for spec in specs:
                self.start(spec)
            return
        with ThreadPoolExecutor(max_workers=min(8, len(specs))) as pool:
            for future in [pool.submit(self.start, spec) for spec in specs]:
                future.result()

    def container_name(self, logical: str) -> str:
        """The Docker name of a started container, for testinfra's ``docker://`` hosts."""
        return self._containers[logical].name

    def address(self, logical: str, network: str) -> str:
        container = self._containers[logical]
        container.reload()
        networks = container.attrs["NetworkSettings"]["Networks"]
        return str(networks[self.docker_name(network)]["IPAddress"])

    def logs(self, logical: str) -> str:
        return self._read_logs(logical, stdout=True)

    def stderr(self, logical: str) -> str:
        return self._read_logs(logical, stdout=False)

    def _read_logs(self, logical: str, stdout: bool) -> str:
        try:
            raw = self._containers[logical].logs(stdout=stdout, stderr=not stdout)
        except docker.errors.APIError as error:
            raise StepFailed(f"reading the output of {logical} failed: {_short(error)}") from None
        return raw.decode(errors="replace")

    def wait_for_log(self, logical: str, needle: str, timeout: float) -> None:
        """Wait until a container printed `needle` (e.g. its ``listening`` event)."""
        deadline = time.monotonic() + timeout
        container = self._containers[logical]
        while time.monotonic() < deadline:
            if needle in self.logs(logical):
                return
            try:
                container.reload()
            except docker.errors.NotFound:
                raise StepFailed(f"{logical} was removed while starting") from None
            if container.status == "exited":
                raise StepFailed(f"{logical} exited before it was ready: {self.stderr(logical)[-500:]}")
            time.sleep(0.05)
        raise StepFailed(f"{logical} was not ready within {timeout:.0f} s (waited for {needle!r})")

    def stop(self, logical: str, timeout: int = 3) -> None:
        try:
            self._containers[logical].stop(timeout=timeout)
        except docker.errors.APIError as error:
            log.warning("stopping %s: %s", logical, _short(error))

    def exec(self, logical: str, argv: Sequence[str], *, detach: bool = False,
             user: str | None = None) -> CommandResult:
        """Run a command in a running container; stdout and stderr kept apart."""
        container = self._containers[logical]
        try:
            if detach:
                container.exec_run(list(argv), detach=True, user=user or "")
                return CommandResult(0, "", "")
            rc, (out, err) = container.exec_run(list(argv), demux=True, user=user or "")
        except docker.errors.APIError as error:
            raise StepFailed(f"exec in {logical} failed: {_short(error)}") from None
        result = CommandResult(int(rc if rc is not None else -1), (out or b"").decode(errors="replace"),
                               (err or b"").decode(errors="replace"))
        log.debug("exec in %s: %s -> rc %s %s", logical, " ".join(argv), result.rc, result.stderr.strip()[:200])
        return result

    def exec_background(self, logical: str, argv: Sequence[str], user: str | None = None
                        ) -> StreamedExec:
        """Start `exec` in a thread so that several clients can run at once."""
        box: dict[str, object] = {}

        def work() -> None:
            try:
                box["result"] = self.exec(logical, argv, user=user)
            except Exception as error:  # handed to the waiting thread
                box["error"] = error

        thread = threading.Thread(target=work, daemon=True)
        thread.start()
        return StreamedExec(thread, box, f"{logical}: {' '.join(argv[:2])}")

    def copy_out(self, logical: str, path: str) -> bytes:
        """A file or directory of a container as a tar archive (docker cp), e.g. a helper's pcaps."""
        try:
            stream, _stat = self._containers[logical].get_archive(path)
            return b"".join(stream)
        except docker.errors.APIError as error:
            raise StepFailed(f"copying {path} out of {logical} failed: {_short(error)}") from None

    def containers(self) -> Iterator[str]:
        return iter(self._containers)


def _remove_container(container: Container) -> None:
    try:
        container.remove(force=True)
    except docker.errors.NotFound:
        pass
    except docker.errors.APIError as error:  # already being removed, or gone meanwhile
        log.warning("container %s not removed: %s", container.name, _short(error))


def _short(error: BaseException) -> str:
    """A one-line reason from an SDK error, without the HTTP noise."""
    text = getattr(error, "explanation", None) or str(error)
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    return " ".join(str(text).split())[:300]
