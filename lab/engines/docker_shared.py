"""What the docker and swarm engines do alike, written once: both speak the same Docker SDK.

The docker engine runs containers on one engine; the swarm engine runs services whose tasks are
containers on each node's engine. Per container they do the same things (exec, logs, wait for a
line, stop, address, copy out, a helper in its namespace, remove it with its anonymous volumes),
they create networks alike, and they list their runs by the same labels: :class:`ContainerLab`
holds that half of a Lab once. The engine-specific parts (which engine to ask, services or
containers, how an SDK error reads) stay in each engine.
"""
from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future
from contextlib import AbstractContextManager
from typing import Any

import docker
import docker.types
import requests
from docker.models.containers import Container

from lab.common import LABEL_ROLE, LABEL_RUN, LABEL_SCENARIO, LABEL_SESSION, CommandResult
from lab.engines.base import HelperSpec, LiveRun, RunIdentity, file_writing_command, in_background
from lab.errors import StepFailed

log = logging.getLogger(__name__)

# The engine went away (connection refused, reset, timed out), as opposed to an API error.
CONNECTION_ERRORS = (requests.exceptions.ConnectionError, requests.exceptions.Timeout, ConnectionError)
#: Docker's embedded DNS resolver listens here inside every container, bridge or overlay alike
EMBEDDED_DNS = "127.0.0.11"


def short_error(error: BaseException) -> str:
    """A one-line reason from an SDK error, without the HTTP noise."""
    text = getattr(error, "explanation", None) or str(error)
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    return " ".join(str(text).split())[:300]


def label_selector(run_id: str | None, session: str | None, *extra: str) -> list[str]:
    """Docker label filters for one run, one session's runs, or (both None) every socklab run."""
    labels = [f"{LABEL_RUN}={run_id}" if run_id else LABEL_RUN, *extra]
    if session:
        labels.append(f"{LABEL_SESSION}={session}")
    return labels


def live_runs_of(objects: Iterable[tuple[str, Mapping[str, str]]]) -> list[LiveRun]:
    """Runs from (name, labels) of their containers or services; helpers and strangers left out."""
    hosts: dict[str, set[str]] = {}
    scenarios: dict[str, str] = {}
    for name, labels in objects:
        run_id = labels.get(LABEL_RUN, "")
        prefix = f"socklab-{run_id}-"
        if labels.get(LABEL_ROLE) == "helper" or not name.startswith(prefix):
            continue
        hosts.setdefault(run_id, set()).add(name[len(prefix):])
        scenarios[run_id] = labels.get(LABEL_SCENARIO, "?")
    return [LiveRun(run_id, scenarios[run_id], tuple(sorted(names))) for run_id, names in sorted(hosts.items())]


def follow_until(host: str, stream: Any, needles: Sequence[str], timeout: float) -> str | None:
    """Read a followed log stream (``container.logs(stream=True, follow=True)``) until a needle
    shows (returned); None when the stream ends (the container's command ended) or at the deadline:
    an event awaited, not polled for.

    The stream is read in a daemon thread and awaited with the deadline, then closed: a transport
    whose streams cannot be cancelled (ssh://) leaves that thread to end with the container.
    """
    found: list[str] = []
    ended = threading.Event()

    def read() -> None:
        keep = max(map(len, needles), default=0)
        seen = ""
        try:
            for chunk in stream:
                seen = seen[-keep:] + chunk.decode(errors="replace")
                hit = next((n for n in needles if n in seen), None)
                if hit is not None:
                    found.append(hit)
                    return
        except Exception as error:  # noqa: BLE001 - the engine went away: the caller's next call says so
            log.debug("following %s ended: %s", host, error)
        finally:
            ended.set()

    threading.Thread(target=read, daemon=True, name=f"follow-{host}").start()
    ended.wait(timeout)
    try:
        stream.close()
    except Exception as error:  # noqa: BLE001 - e.g. ssh:// cannot cancel a stream
        log.debug("closing the log stream of %s: %s", host, error)
    return found[0] if found else None


def remove_container(container: Any) -> None:
    """Remove a container with its anonymous volumes (a host's home); already gone is fine."""
    try:
        container.remove(force=True, v=True)
    except docker.errors.NotFound:
        pass
    except docker.errors.APIError as error:
        if "already in progress" in str(error):   # a sweep and the run's own teardown met: it goes
            log.debug("container %s: %s", container.name, short_error(error))
            return
        log.warning("container %s not removed: %s", container.name, short_error(error))


def create_network(client: docker.DockerClient, name: str, labels: Mapping[str, str], subnet: str | None,
                   **options: Any) -> str:
    """A labelled network of a run (driver and the rest in `options`); its id."""
    ipam = None
    if subnet:
        ipam = docker.types.IPAMConfig(pool_configs=[docker.types.IPAMPool(subnet=subnet)])
    network = client.networks.create(name, ipam=ipam, labels=dict(labels), check_duplicate=True, **options)
    return str(network.id)


class ContainerLab:
    """The per-container half of a Lab, for engines whose hosts and helpers are Docker containers.

    An engine says how to reach a host's container (:meth:`_container`), how one call to the
    engine that runs it translates SDK errors (:meth:`_call`), which client starts a helper beside
    it (:meth:`_client_beside`) and what it remembers of a started helper (:meth:`_helper_started`).
    """

    identity: RunIdentity
    _network_names: dict[str, str]   # logical name -> the engine's name (set by each engine's lab)
    #: where the engine itself listens in every host (its DNS resolver): no lesson's socket
    engine_addresses: tuple[str, ...] = (EMBEDDED_DNS,)

    def docker_name(self, logical: str) -> str:
        return f"socklab-{self.identity.run_id}-{logical}"

    def _labels(self, role: str) -> dict[str, str]:
        return self.identity.labels(role)

    def _container(self, host: str) -> Container:
        raise NotImplementedError

    def _call(self, host: str, what: str) -> AbstractContextManager[None]:
        raise NotImplementedError

    def _client_beside(self, host: str) -> docker.DockerClient:
        raise NotImplementedError

    def _helper_started(self, spec: HelperSpec, container: Container) -> None:
        raise NotImplementedError

    def attach_helper(self, spec: HelperSpec) -> None:
        """A helper container in the target's network namespace (on the target's engine), with
        exactly its capabilities added (it keeps Docker's default set: tcpdump, for one, changes user)."""
        target = self._container(spec.target)
        log.debug("helper %s in the namespace of %s (%s)", spec.name, spec.target, ", ".join(spec.capabilities))
        with self._call(spec.target, f"starting helper {spec.name}"):
            container = self._client_beside(spec.target).containers.create(
                spec.image, list(spec.command), name=self.docker_name(spec.name),
                labels=self._labels("helper"), detach=True, user=spec.user,
                cap_add=list(spec.capabilities) or None, network_mode=f"container:{target.id}",
                stop_signal="SIGTERM", init=True)
            self._helper_started(spec, container)
            container.start()

    def exec(self, host: str, argv: Sequence[str], *, user: str | None = None) -> CommandResult:
        """Run a command in a running container; stdout and stderr kept apart."""
        container = self._container(host)
        with self._call(host, f"exec in {host}"):
            rc, (out, err) = exec_run(container, argv, user=user or "")
        result = command_result(rc, out, err)
        log.debug("exec in %s: %s -> rc %s %s", host, " ".join(argv), result.rc, result.stderr.strip()[:200])
        return result

    def exec_background(self, host: str, argv: Sequence[str], *, user: str | None = None
                        ) -> Future[CommandResult]:
        """`exec` in the background (several clients run at once); the future holds the outcome."""
        return in_background(f"exec-{host}", lambda: self.exec(host, argv, user=user))

    def put_file(self, host: str, path: str, content: bytes, mode: int = 0o644) -> None:
        """Write a file through exec (the root file system is read-only; `path` must be in a tmpfs)."""
        argv = file_writing_command({path: content}, ["chmod", f"{mode:o}", path])
        result = self.exec(host, argv)
        if result.rc != 0:
            raise StepFailed(f"writing {path} in {host} failed: {result.stderr.strip()[-300:]}")

    def copy_out(self, host: str, path: str) -> bytes:
        """A file or directory of a container as a tar archive (docker cp), e.g. a helper's pcaps."""
        container = self._container(host)
        with self._call(host, f"copying {path} out of {host}"):
            stream, _stat = container.get_archive(path)
            return b"".join(stream)

    def logs(self, host: str) -> str:
        return self._read_logs(host, stdout=True)

    def stderr(self, host: str) -> str:
        return self._read_logs(host, stdout=False)

    def _read_logs(self, host: str, stdout: bool) -> str:
        container = self._container(host)
        with self._call(host, f"reading the output of {host}"):
            raw = container.logs(stdout=stdout, stderr=not stdout)
        return str(raw.decode(errors="replace"))

    def wait_for_log(self, host: str, needle: str, timeout: float) -> None:
        """Wait until a container printed `needle` (e.g. its ``listening`` event), awaited on its
        followed log; an exited container fails with the end of its stderr."""
        if self.wait_for_any_log(host, [needle], timeout) is not None:
            return
        container = self._container(host)
        try:
            with self._call(host, f"watching {host}"):
                container.reload()
        except StepFailed:
            raise StepFailed(f"{host} was removed while starting") from None
        if container.status == "exited":
            raise StepFailed(f"{host} exited before it was ready: {self.stderr(host)[-500:]}")
        raise StepFailed(f"{host} was not ready within {timeout:.0f} s (waited for {needle!r})")

    def wait_for_any_log(self, host: str, needles: Sequence[str], timeout: float) -> str | None:
        """Follow the container's stdout as the engine writes it (one streamed call, no polling)
        until a needle shows; None when its command ends or the time runs out."""
        container = self._container(host)
        with self._call(host, f"watching {host}"):
            stream = container.logs(stream=True, follow=True, stdout=True, stderr=False)
        return follow_until(host, stream, needles, timeout)

    def stop(self, host: str, timeout: int = 3) -> None:
        """Stop a host's command (a swarm task's restart condition is none: no other starts)."""
        container = self._container(host)
        try:
            with self._call(host, f"stopping {host}"):
                container.stop(timeout=timeout)
        except StepFailed as error:
            log.warning("%s", error)

    def address(self, host: str, network: str) -> str:
        container = self._container(host)
        with self._call(host, f"inspecting {host}"):
            container.reload()
        networks = container.attrs["NetworkSettings"]["Networks"]
        return str(networks[self._network_name(network)]["IPAddress"])

    def _network_name(self, logical: str) -> str:
        """The engine's name of a network of this run: its own, or one leased from a grade's pool."""
        return self._network_names.get(logical) or self.docker_name(logical)


#: how long an exec whose output has ended may take to have its exit status recorded by the engine
EXIT_STATUS_WAIT_S = 10.0


def exec_run(container: Container, argv: Sequence[str], *, user: str = ""
             ) -> tuple[int | None, tuple[bytes | None, bytes | None]]:
    """``Container.exec_run(demux=True)``, whose exit status is the command's own.

    Why not the SDK's: the engine ends an exec's output stream when the command's stdout and stderr
    close, and records its exit status when the runtime reports the exit; the two arrive in either
    order. The SDK inspects the exec once, right after the stream ends, and may read ``ExitCode:
    null`` while the engine still has the exec running. A supervised run whose status reads as
    missing loses its supervisor's end (lab.run.supervision.checked_against_engine), and the same
    program would get another verdict. So the status is read again until the engine has it (see
    exit_status)."""
    api = container.client.api
    exec_id = api.exec_create(container.id, list(argv), stdout=True, stderr=True, user=user)["Id"]
    out, err = api.exec_start(exec_id, demux=True)
    return exit_status(api.exec_inspect, exec_id), (out, err)


def exit_status(inspect: Callable[[str], Mapping[str, Any]], exec_id: str,
                wait_s: float = EXIT_STATUS_WAIT_S) -> int | None:
    """An ended exec's exit status, once the engine has recorded it; None if it has not within
    ``wait_s`` (logged). The engine has no event to await for one exec's end that its inspect
    would not also show, and the status normally is there at the first look: the next looks are
    spaced 2 ms, doubling up to 100 ms.

    >>> looks = iter([{"Running": True, "ExitCode": None}, {"Running": False, "ExitCode": 3}])
    >>> exit_status(lambda _id: next(looks), "e1")
    3
    >>> exit_status(lambda _id: {"Running": True, "ExitCode": None}, "e2", wait_s=0.01) is None
    True
    """
    pause, give_up = 0.002, time.monotonic() + wait_s
    while True:
        state = inspect(exec_id)
        if not state.get("Running") and state.get("ExitCode") is not None:
            return int(state["ExitCode"])
        if time.monotonic() >= give_up:
            log.warning("exec %s: its output ended %.0f s ago and the engine still records no exit status "
                        "(running: %s)", exec_id[:12], wait_s, state.get("Running"))
            return None
        time.sleep(pause)
        pause = min(pause * 2, 0.1)


def close_hijacked(stream: Any, what: str) -> None:
    """Close a stream the SDK hijacked from an HTTP response (``exec_start(socket=True)``,
    ``attach_socket``), and that response with it.

    Why both: the SDK keeps the response alive on the stream (``_response``). Closing only the
    stream leaves the response's file closed under it; when the garbage collector closes the
    response later, Python 3.13's http.client flushes that closed file and prints "Exception
    ignored in: <http.client.HTTPResponse ...> ValueError: I/O operation on closed file" on stderr
    (seen in the middle of an `invoke grade`). The response closes its file, which closes the stream.

    The socket is shut down first: another thread may be blocked reading it (a client's run waiting
    for the agent's answer when a Ctrl-C drains the pool), and on Linux closing a socket does not
    wake a thread blocked in poll() or recv() on it; a shutdown does (the read sees end of file), so
    that run ends now instead of at its scenario's time limit. Seen: an interrupted grade waited
    for one such read past the 120 s its test allows."""
    raw = getattr(stream, "_sock", stream)
    try:
        raw.shutdown(socket.SHUT_RDWR)
    except (OSError, ValueError, AttributeError) as error:   # already closed, or not a socket
        log.debug("shutting down %s: %s", what, error)
    response = getattr(stream, "_response", None)
    try:
        if response is not None:
            response.close()
        stream.close()
    except (OSError, ValueError) as error:
        log.debug("closing %s: %s", what, error)


def command_result(rc: int | None, out: bytes | None, err: bytes | None) -> CommandResult:
    """An exec's outcome as text (a missing exit code reads -1)."""
    return CommandResult(int(rc if rc is not None else -1), (out or b"").decode(errors="replace"),
                         (err or b"").decode(errors="replace"))
