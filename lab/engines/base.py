"""The engine interface: what a run needs from whatever runs its hosts.

Two protocols, one per lifetime:

* :class:`Engine` — a connected engine: images, and objects found by label (cleanup, leak
  checks, stale runs). Built once per process and handed to whoever needs it.
* :class:`Lab` — one run's hosts and networks: create, start, exec, logs, wait, stop, a helper in
  a host's network namespace, the testinfra URL of a host. Everything is addressed by the
  scenario's *logical* names (``server``, ``client-2``, ``client-impair``); how a name maps to a
  container, a Swarm task or a node is the engine's business.

:class:`LabRun` owns a run's lifetime for every engine alike: a context manager that yields the
run's :class:`Lab` and always tears it down by label (success, failure, Ctrl-C, SIGTERM).

Nothing here imports an SDK: runner, impairing, probes and app are typed against these protocols,
and unit tests drive them with a fake engine (tests/fake_engine.py).
"""
from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, TypeVar

from lab.engines import ownership
from lab.engines.ownership import LabelledObject
from lab.common import (
    LABEL_KEPT,
    LABEL_OWNER,
    LABEL_ROLE,
    LABEL_RUN,
    LABEL_SCENARIO,
    LABEL_SESSION,
    CommandResult,
    current_session,
)
from lab.errors import LabError

log = logging.getLogger(__name__)

#: what every program host gets unless its spec says otherwise (see HostSpec)
APP_USER = "student"
APP_UID = 1000                      # the apps image's `student` (images/apps/Dockerfile)
#: tmpfs dirs of a read-only host: /tmp for everyone (noexec), the home dir the user's own
WRITABLE_DIRS = ("/tmp", "/home/student")
PIDS_LIMIT = 256
MEMORY_LIMIT_BYTES = 256 * 1024 * 1024
HELPER_CAPABILITIES = ("NET_ADMIN", "NET_RAW")



@dataclass(frozen=True)
class LiveRun:
    """A run whose containers are still there (kept with --keep, or running now)."""

    run_id: str
    scenario: str
    hosts: tuple[str, ...]   # logical names: server, client-1, ... (helpers left out)

    def describe(self) -> str:
        return f"{self.run_id} ({self.scenario}: {', '.join(self.hosts)})"

@dataclass(frozen=True)
class RunIdentity:
    """Who a run is: its id, scenario, session and owning process; the labels of its objects."""

    run_id: str
    scenario: str
    session: str | None = None
    owner: str = ""
    kept: bool = False

    @classmethod
    def of_this_process(cls, run_id: str, scenario: str, keep: bool = False) -> RunIdentity:
        return cls(run_id, scenario, current_session(), ownership.me().label(), keep)

    def labels(self, role: str) -> dict[str, str]:
        labels = {LABEL_RUN: self.run_id, LABEL_SCENARIO: self.scenario, LABEL_ROLE: role}
        if self.owner:
            labels[LABEL_OWNER] = self.owner
        if self.session:
            labels[LABEL_SESSION] = self.session
        if self.kept:
            labels[LABEL_KEPT] = "true"
        return labels


@dataclass(frozen=True)
class Limits:
    """Resource limits tighter than the policy's (a student's program: it must not harm the machine)."""

    cpus: float | None = None          # share of one core, e.g. 0.5
    memory_bytes: int | None = None    # memory, swap included (no extra swap)
    pids: int | None = None            # processes and threads together
    log_bytes: int | None = None       # the engine keeps at most about this much of the host's log


@dataclass(frozen=True)
class HostSpec:
    """One host of a run, least privileged by default.

    The defaults are the lab's policy for the four programs (and students' programs): the
    non-root user ``student``, every capability dropped, ``no-new-privileges``, a read-only root
    file system with tmpfs only where a program may write, pid and memory limits, no published
    port. A spec that needs more (the doctor's probe container) says so field by field.

    ``sysctls`` are set in the host's own namespaces when it is created (a router's forwarding).
    ``files`` are written into the host (path -> content, into one of the writable dirs) before
    its command runs; ``aliases`` are extra DNS names of the host on every network it joins,
    besides its logical name.
    """

    name: str
    image: str
    command: tuple[str, ...]
    role: str                               # "service" | "client" | "helper"
    networks: tuple[str, ...] = ()          # logical network names; none: no network at all
    aliases: tuple[str, ...] = ()
    files: Mapping[str, bytes] = field(default_factory=dict)
    user: str = APP_USER
    capabilities: tuple[str, ...] = ()      # added; everything else is dropped
    read_only: bool = True
    writable: tuple[str, ...] = WRITABLE_DIRS
    pids_limit: int | None = PIDS_LIMIT
    memory_bytes: int | None = MEMORY_LIMIT_BYTES
    sysctls: Mapping[str, str] = field(default_factory=dict)   # namespaced: net.ipv4.ip_forward
    limits: Limits | None = None            # replaces pids_limit/memory_bytes where it sets them
    extra_hosts: Mapping[str, str] = field(default_factory=dict)   # host table: name -> IPv4
    node: str | None = None                 # pinned to this node (multi-node engines: Engine.nodes)
    # Inside Engine.warm_networks, the engine may keep this host between runs and hand it to the
    # next run of the same scenario (lab.engines.docker_network_pool): the runner says so only for
    # the lab's own idle clients that nothing but their reference programs' execs touches.
    keep_warm: bool = False


@dataclass(frozen=True)
class HelperSpec:
    """A helper that shares `target`'s network namespace (impairments, captures).

    The only kind of host with capabilities: by default exactly NET_ADMIN and NET_RAW, as root.
    How it reaches the namespace is the engine's choice (Docker: ``network_mode=container:``; a
    multi-node engine: on the target's node, beside the target's task).
    """

    name: str
    target: str
    image: str
    command: tuple[str, ...] = ("sleep", "infinity")
    capabilities: tuple[str, ...] = HELPER_CAPABILITIES
    user: str = "root"


class Lab(Protocol):
    """One run's hosts and networks, addressed by logical name. Made by :meth:`Engine.lab`."""

    identity: RunIdentity
    #: addresses where the engine itself listens inside every host (Docker's DNS resolver): the
    #: looks leave their sockets out, since they are none of the lesson's
    engine_addresses: tuple[str, ...]

    def create_network(self, name: str, internal: bool = True, subnet: str | None = None) -> None:
        """A network of this run (internal: no route out of the lab)."""

    def start(self, spec: HostSpec) -> None:
        """Create and start a host, attached to its networks before its command runs."""

    def start_all(self, specs: Sequence[HostSpec]) -> None:
        """Start independent hosts (concurrently where the engine can)."""

    def attach_helper(self, spec: HelperSpec) -> None:
        """Start a helper in ``spec.target``'s network namespace; exec into it by ``spec.name``."""

    def exec(self, host: str, argv: Sequence[str], *, user: str | None = None) -> CommandResult:
        """Run a command in a running host (or helper) and wait for it."""

    def exec_background(self, host: str, argv: Sequence[str], *, user: str | None = None
                        ) -> Future[CommandResult]:
        """Start a command and return at once; the future gives its result (or its error)."""

    def put_file(self, host: str, path: str, content: bytes, mode: int = 0o644) -> None:
        """Write a file into a running host (into one of its writable dirs)."""

    def copy_out(self, host: str, path: str) -> bytes:
        """A file or directory of a host (or helper) as a tar archive, e.g. a helper's pcaps."""

    def logs(self, host: str) -> str:
        """The host's command's stdout so far."""

    def stderr(self, host: str) -> str:
        """The host's command's stderr so far."""

    def wait_for_log(self, host: str, needle: str, timeout: float) -> None:
        """Return once the host printed `needle`; StepFailed if it exits or the time runs out."""

    def wait_for_any_log(self, host: str, needles: Sequence[str], timeout: float) -> str | None:
        """The first of `needles` the host's stdout shows, awaited (an engine that can follows the
        log as it is written); None when the host's command ends first or the time runs out. The
        caller reads the logs again to decide: this only says when to look."""

    def stop(self, host: str, timeout: int = 3) -> None:
        """Stop a host's command (SIGTERM, then SIGKILL after `timeout`)."""

    def address(self, host: str, network: str) -> str:
        """The host's IPv4 address on one of its networks."""

    def testinfra_url(self, host: str) -> str:
        """The testinfra host URL that reaches this host (e.g. ``docker-api://<container id>``, ``docker-node://<container id>``)."""

    def expect_looks(self, hosts: Sequence[str]) -> None:
        """testinfra will look at these running hosts: an engine may get ready for it now, while
        the run waits for its services (the Docker engine opens a shell in each)."""

    def hosts(self) -> list[str]:
        """Logical names of the hosts and helpers started so far."""

    def close(self, failed: bool = False) -> None:
        """The run is over (`failed`: it ended with an error): forget what it registered; a kept
        host goes back to the pool only from a run that ended well."""

@dataclass
class Survey:
    """What `invoke doctor` learns of an engine before running anything on it: one finding per
    line (topic, text), and the connected engine, or None with the reason when it is not usable."""

    findings: list[tuple[str, str]]
    engine: Engine | None
    problem: str = ""


class Engine(Protocol):
    """A connected engine. Implementations are registered by name in lab.engines.

    Besides these methods, an engine class has the classmethods ``connect()`` and
    ``survey(images) -> Survey`` (the doctor's look at the engine, which works even where a part
    of it is not usable, so that the doctor can name that part).
    """

    name: str

    def version(self) -> str: ...

    def kept_advice(self, run_id: str) -> str:
        """The engine's own command that shows a kept run's objects (`invoke scenario --keep`)."""

    # ----- images --------------------------------------------------------------------------
    def image_labels(self, tag: str) -> dict[str, str] | None:
        """Labels of a local image, or None when the image is not present."""

    def registry_reachable(self, reference: str) -> tuple[bool, str]: ...

    def try_pull(self, reference: str) -> tuple[bool, str]:
        """Pull an image; (False, reason) when no registry serves it. Never raises."""

    def import_rootfs(self, tarball: Path, tag: str) -> None: ...

    def build(self, context: Path, tag: str, buildargs: dict[str, str], labels: dict[str, str],
              on_line: Callable[[str], None]) -> None: ...

    def spread_images(self, tags: Sequence[str], progress: Callable[[str], None]) -> list[str]:
        """Make images built here usable wherever hosts may run (a multi-node engine copies them to
        its nodes); one line per thing done or found. A single engine has nothing to do."""

    # ----- runs ------------------------------------------------------------------------------
    def nodes(self) -> list[str]:
        """Names of the nodes a host may be pinned to (HostSpec.node); empty: no placement."""

    def lab(self, identity: RunIdentity) -> Lab:
        """A handle on one run's objects; creates nothing by itself."""

    # ----- objects by label --------------------------------------------------------------------
    def labelled(self, run_id: str | None = None, session: str | None = None) -> list[LabelledObject]:
        """Objects of one run, of one session's runs, or (both None) of every socklab run."""

    def remove_labelled(self, run_id: str | None = None, session: str | None = None) -> tuple[int, int]:
        """Remove them (hosts and helpers first, then networks): (hosts, networks) removed."""

    def count_labelled(self, run_id: str | None = None, session: str | None = None) -> tuple[int, int]:
        """(hosts, networks) that exist: a leak check."""

    def live_runs(self, session: str | None = None) -> list[LiveRun]:
        """Runs whose program hosts are running (helpers left out): `invoke shell` picks from them."""

    def shell_argv(self, run_id: str, host: str, interactive: bool) -> list[str]:
        """The command that opens a shell on one host of a run, as its own user (`invoke shell`)."""

    def warm_networks(self) -> AbstractContextManager[None]:
        """While inside: a run's networks outlive it and the next run of this process takes them
        (one run at a time on each, handed on only once the run's hosts are all removed), so a
        grade pays for its networks once instead of once per student. All removed on exit."""


class LabRun:
    """One run's lifetime on any engine: ``with LabRun(engine, run_id, scenario) as lab: ...``.

    Teardown removes by label on success, on failure and on KeyboardInterrupt (SIGTERM is turned
    into one by lab.app); SIGINT is ignored while it runs so that a second Ctrl-C cannot leave
    half the lab behind. ``keep`` keeps a finished run (labelled kept, so never "stale"), never an
    interrupted one.
    """

    def __init__(self, engine: Engine, run_id: str, scenario: str, keep: bool = False) -> None:
        self.engine = engine
        self.identity = RunIdentity.of_this_process(run_id, scenario, keep)
        self.keep = keep
        self._lab: Lab | None = None

    @property
    def run_id(self) -> str:
        return self.identity.run_id

    def __enter__(self) -> Lab:
        self._lab = self.engine.lab(self.identity)
        return self._lab

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: object) -> None:
        if self._lab is not None:
            self._lab.close(failed=exc_type is not None)
        interrupted = exc_type is not None and issubclass(exc_type, KeyboardInterrupt)
        if self.keep and not interrupted and exc_type is None:
            log.info("keeping run %s (invoke clean --run %s removes it)", self.run_id, self.run_id)
            return
        try:
            self.teardown(interrupted=interrupted)
        except LabError as error:
            if exc_type is None:
                raise
            # The run already failed (often for the same reason: the engine went away): report
            # that, not the teardown's echo of it.
            log.warning("teardown of run %s failed: %s", self.run_id, error)

    def teardown(self, interrupted: bool = False) -> None:
        previous = None
        if threading.current_thread() is threading.main_thread():
            previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            removed = self.engine.remove_labelled(self.run_id)
            # After a Ctrl-C cut a create call (whose object the engine may still make a moment
            # later), or a removal that raced, look again until a round finds nothing.
            rounds = 5 if interrupted or self.engine.count_labelled(self.run_id) != (0, 0) else 0
            for _ in range(rounds):
                time.sleep(0.3)
                if self.engine.remove_labelled(self.run_id) == (0, 0):
                    break
            log.debug("teardown of %s removed %s", self.run_id, removed)
        finally:
            if previous is not None:
                signal.signal(signal.SIGINT, previous)


# Linux caps one argv string at 128 KiB (MAX_ARG_STRLEN); base64 makes 4 bytes of 3.
MAX_FILE_BYTES = 96 * 1024


def file_writing_command(files: Mapping[str, bytes], command: Sequence[str]) -> tuple[str, ...]:
    """`command`, preceded by writing `files` (path -> content), as one argv for any engine.

    The contents travel base64-encoded in the argv (no copy API needed, so it works on a
    read-only root file system with tmpfs dirs, and on any node of a multi-node engine); needs
    ``sh`` and ``base64`` in the image. Files are made executable (a student's script may be
    started directly).

    >>> file_writing_command({"/tmp/a": b"hi"}, ["cat", "/tmp/a"])[-3:]
    ('aGk=', 'cat', '/tmp/a')
    """
    import base64
    import shlex

    if not files:
        return tuple(command)
    script = ["set -e"]
    payload = []
    for index, (path, content) in enumerate(files.items(), start=1):
        if len(content) > MAX_FILE_BYTES:
            from lab.errors import BadInput
            raise BadInput(f"{path}: {len(content)} bytes; a file put into a host may have at most "
                           f"{MAX_FILE_BYTES} bytes")
        target = shlex.quote(path)
        script.append(f'printf %s "${{{index}}}" | base64 -d > {target}; chmod 755 {target}')
        payload.append(base64.b64encode(content).decode())
    script.append(f'shift {len(files)}; exec "$@"')
    return ("sh", "-c", "\n".join(script), "socklab-files", *payload, *command)


T = TypeVar("T")


def in_background(name: str, work: Callable[[], T]) -> Future[T]:
    """Run `work` in a daemon thread; its future holds the outcome (or the exception).

    A daemon thread rather than an executor's: an exec stuck past the run's time limit, or on a
    node that went away, must not keep the interpreter from exiting (teardown removes its
    container anyway).
    """
    future: Future[T] = Future()
    future.set_running_or_notify_cancel()

    def run() -> None:
        try:
            future.set_result(work())
        except BaseException as error:  # handed to whoever waits on the future
            future.set_exception(error)

    threading.Thread(target=run, daemon=True, name=name).start()
    return future
