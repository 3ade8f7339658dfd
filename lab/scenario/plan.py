"""From a Scenario and the user's overrides to a concrete plan: which containers, which argv.

Pure: substitution of ``{parameter}`` placeholders, replica expansion and impairment parsing all
happen here, so every bad value is reported before the engine creates anything.
"""
from __future__ import annotations

import base64
import json
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from lab.scenario import parameters as params
from lab.errors import LabError, ParameterError, ScenarioFileError
from lab.impairment import CHOICES, get_backend
from lab.impairment.spec import Impairment, parse_impairment
from lab.scenario.languages import LANGUAGES, fill
from lab.scenario.model import PROGRAMS, Host, Scenario, StudentProgram, StudentSlot

PROGRAM_DIR = "/opt/socklab/programs"
IMPAIR_BACKENDS = CHOICES   # from the backend registry (lab.impairment)
# ``{start_at}`` in a client's args: one moment (epoch seconds) the runner sets for all clients of a
# parallel step, a little after it launches them, so that clients in separate containers (each
# with its own interpreter to start) connect at once. Filled in by lab.run.runner at launch.
START_AT = "@start-at@"
MAX_REPLICAS = 50


@dataclass(frozen=True)
class Instance:
    """One container of the run: a host, or one replica of it."""

    name: str
    host: str
    role: str
    program: str
    argv: tuple[str, ...]
    networks: tuple[str, ...]
    impairments: tuple[Impairment, ...] = ()
    traced: bool = False
    forward: bool = False      # a router: IPv4 forwarding on in its namespace
    aliases: tuple[str, ...] = ()
    student: StudentProgram | None = None   # a student's program runs here instead of `program`
    inputs: tuple[str, ...] = ()            # a student's client: one sentence per run
    node: str | None = None                 # pinned to this node of a multi-node engine
    hostname_of: str = ""                   # a client: the service 'hostname' names in its host table


@dataclass(frozen=True)
class Plan:
    """Everything the runner needs, already validated."""

    scenario: Scenario
    parameters: dict[str, Any]
    instances: tuple[Instance, ...]
    impair_backend: str = "auto"
    seed: int | None = None
    capture_hosts: tuple[str, ...] = ()   # hosts captured with tcpdump (empty: no capture)
    students: dict[str, StudentProgram] = field(default_factory=dict)   # role → program
    seed_source: str = ""   # "--seed", "default" (a student's run: derived from the scenario), "" unseeded
    host_table: bool = False   # clients find the services in their host table, as in a student's run

    @property
    def placement(self) -> dict[str, str]:
        """Host -> node for the hosts pinned to a node (a scenario's `node =`, or --place)."""
        return {i.host: i.node for i in self.instances if i.node}

    def slot(self, role: str) -> StudentSlot:
        return self.scenario.students[role]

    def student_hosts(self) -> dict[str, str]:
        """host → role, for every role a student's program fills in this run."""
        return {self.scenario.students[role].host: role for role in self.students}

    def of_host(self, host: str) -> list[Instance]:
        return [i for i in self.instances if i.host == host]

    def instance(self, name: str) -> Instance:
        for candidate in self.instances:
            if candidate.name == name:
                return candidate
        raise KeyError(name)

    @property
    def impaired(self) -> list[Instance]:
        return [i for i in self.instances if i.impairments]

# The tracer command a traced program is started under. Only the calls lab.observe.trace reads
# are traced (-e trace=...), signals are not shown, -qq drops attach/exit notices, -ttt gives
# each line the epoch time (comparable with the programs' events), -s 64 keeps payloads short.
STRACE_ARGV = ("strace", "-f", "-qq", "-ttt", "-s", "64", "-e", "signal=none",
               "-e", "trace=%network,close")


def _replicas(host: Host, values: dict[str, Any]) -> int:
    raw = host.replicas
    if isinstance(raw, str):
        text = params.substitute(raw, values)
        try:
            raw = int(text)
        except ValueError:
            raise ScenarioFileError(f"host {host.name}: replicas {host.replicas!r} gave {text!r}, "
                                    "not a number") from None
    if not 1 <= raw <= MAX_REPLICAS:
        raise ParameterError(f"host {host.name}: {raw} replicas; allowed 1..{MAX_REPLICAS}")
    return raw


def instance_seed(seed: int, instance: str, interface: str) -> int:
    """One reproducible seed per host and interface, so that replicas do not lose the same packets.

    >>> instance_seed(7, "client-1", "eth0") != instance_seed(7, "client-2", "eth0")
    True
    """
    return zlib.crc32(f"{seed}/{instance}/{interface}".encode()) & 0x7FFFFFFF


def default_seed(scenario: str) -> int:
    """The seed a student's run gets when none is given: derived from the scenario's name alone,
    so the same program meets the same losses on every machine, every time it is graded.

    >>> default_seed("udp-loss") == default_seed("udp-loss") != default_seed("udp-echo")
    True
    """
    return zlib.crc32(f"socklab/student-run/{scenario}".encode()) & 0x7FFFFFFF


def promise_loss(spec: Impairment, runs: int) -> Impairment:
    """A student's program under egress loss meets at least one: one of its first ``runs`` packets
    (its datagrams; a program sends at least one a run) is lost whatever the draw said."""
    if not spec.loss_pct or not spec.egress:
        return spec
    return replace(spec, loss_within=runs)


def _impairment(table: dict[str, str], values: dict[str, Any], seed: int | None, backend: str) -> Impairment:
    """One interface's impairment: placeholders filled, unset fields dropped, values validated.

    A forced backend also checks here what it can do (e.g. userspace has no pareto distribution),
    so that such a spec is refused before anything exists.
    """
    fields: dict[str, object] = {k: params.substitute(v, values) for k, v in table.items()}
    fields = {k: v for k, v in fields.items() if str(v).lower() not in ("", params.UNSET)}
    if seed is not None:
        fields["seed"] = instance_seed(seed, str(values["host"]), str(fields.get("interface", "eth0")))
    spec = parse_impairment(fields)
    if backend != "auto" and not spec.is_empty:
        try:
            get_backend(backend).check(spec)
        except LabError as error:
            raise ParameterError(f"--impair-backend {backend}: {error}") from None
    return spec


def program_argv(program: str, args: list[str], traced: bool = False) -> tuple[str, ...]:
    """The command that starts one of the four programs inside the apps image.

    A traced program is strace's child (STRACE_ARGV): a parent may trace its own child
    without any capability, and sees every call from the first one on.
    """
    script = PROGRAMS[program]
    if script is None:
        return ("sleep", "infinity")
    return (*(STRACE_ARGV if traced else ()), "python3", f"{PROGRAM_DIR}/{script}", *args)


# What a student's program may use: a fraction of a core, a little memory, a few processes.
STUDENT_CPUS = 0.5
STUDENT_MEMORY_BYTES = 128 * 1024 * 1024
STUDENT_PIDS = 64

# Why the supervisor (images/apps/programs/student_run.py) ended a program, as a student reads it.
STOP_REASONS = {
    "wall-clock": ": it ran past its time limit",
    "cpu": ": it used up its CPU time (an endless loop?)",
    "memory": f": it used more than the {STUDENT_MEMORY_BYTES // 2**20} MiB of memory it may use",
    "output": ": it printed more than it may (64 KiB)",
    "waits-forever": ": it waited in a call with no timeout",
    "timeout-too-long": ": its timeout is longer than the lab accepts",
}
STUDENT_CPU_SECONDS = 10           # RLIMIT_CPU: a busy loop is killed by the kernel after this
STUDENT_OUTPUT_BYTES = 64 * 1024   # stdout + stderr kept per run; more stops the program
SERVER_ALIAS = "hostname"          # the textbook client's placeholder for the server's name
# A student's client's waits are judged from the kernel (images/apps/programs/waits.py), not by
# racing a wall clock against its own timeout: a timeout up to STUDENT_MAX_WAIT_S is accepted
# (settimeout(5) and settimeout(10) pass whenever a datagram is lost); a wait with no end is
# stopped once blocked STUDENT_WAIT_GRACE_S (plus the path's delay), far longer than any reply
# takes on the lab's path; a blocking receive (no settimeout) once blocked STUDENT_MAX_WAIT_S.
STUDENT_MAX_WAIT_S = 10.0
STUDENT_WAIT_GRACE_S = 2.0


def wait_grace_s(impairments: Sequence[Impairment]) -> float:
    """How long a wait with no end is watched: the grace plus twice the path's worst delay.

    >>> wait_grace_s([]), wait_grace_s([Impairment(delay_ms=100, jitter_ms=20)])
    (2.0, 2.24)
    """
    worst = max((spec.delay_ms + spec.jitter_ms for spec in impairments), default=0.0)
    return round(STUDENT_WAIT_GRACE_S + 2 * worst / 1000, 3)


def student_argv(program: StudentProgram, role: str, limit_s: float,
                 grace_s: float = STUDENT_WAIT_GRACE_S) -> tuple[str, ...]:
    """The supervisor that runs a student's program with its limits (images/apps/programs/student_run.py).

    A server's host stays up after the program ends, so that later clients meet a closed port. A
    client's waits are judged from the kernel (--max-wait-s, --grace-s). Every student's program
    runs under strace (--trace: the same tracer as api-trace's, strace as the program's parent, no
    capability), so the report can set its socket calls beside the reference program's.
    A compiled language's program runs built (lab.run.build put its artifact into ``program``),
    started by the language's run command, with its runtime's start added to the wall clock.
    """
    language = LANGUAGES[program.language]
    if language.compiled:   # not built yet (lab.run.build): planned to check the input, never run
        what: tuple[str, ...] = ("--artifact-b64", program.artifact,
                                 "--run-json", json.dumps(fill(language.run, dir="{dir}", main=program.entry)))
        limit_s += language.start_allowance_s
    else:
        what = ("--source-b64", base64.b64encode(program.source.encode()).decode())
    waits = ("--max-wait-s", f"{STUDENT_MAX_WAIT_S:g}", "--grace-s", f"{grace_s:g}") if role == "client" else ()
    return ("python3", f"{PROGRAM_DIR}/student_run.py", "--name", program.name, *what,
            "--limit-s", f"{limit_s:g}", "--cpu-s", str(STUDENT_CPU_SECONDS),
            "--output-bytes", str(STUDENT_OUTPUT_BYTES), "--trace", *waits,
            *(("--stay",) if role == "server" else ()))


def _kind(program: str) -> str:
    return program.split("-")[0]   # tcp | udp


def parse_placement(items: Sequence[str] | Mapping[str, str] | None, scenario: Scenario) -> dict[str, str]:
    """--place HOST=NODE (repeatable): each HOST must be a host of the scenario."""
    if not items:
        return {}
    pairs = list(items.items()) if isinstance(items, Mapping) else [i.partition("=")[::2] for i in items]
    hosts = [h.name for h in scenario.hosts]
    placement: dict[str, str] = {}
    for host, node in pairs:
        host, node = host.strip(), node.strip()
        if not host or not node:
            raise ParameterError(f"--place {host}={node}: expected HOST=NODE, e.g. --place server=lab-02")
        if host not in hosts:
            raise ParameterError(f"--place {host}={node}: scenario {scenario.name} has no host {host!r}; "
                                 f"its hosts: {', '.join(hosts)}")
        placement[host] = node
    return placement


def build_plan(scenario: Scenario, overrides: dict[str, Any], impair_backend: str = "auto",
               seed: int | str | None = None, capture: bool = False,
               students: Mapping[str, StudentProgram] | None = None,
               place: Sequence[str] | Mapping[str, str] | None = None) -> Plan:
    """Resolve parameters, expand replicas, fill argv templates and parse impairments.

    `capture` (--capture) captures every host; a scenario that captures by itself names its hosts.
    ``students`` (role → program) puts a student's program on the host the scenario names for
    that role; a role the scenario does not offer is bad input. ``place`` (--place HOST=NODE)
    pins hosts to nodes of a multi-node engine, over the scenario's own ``node =``.
    """
    placement = {h.name: h.node for h in scenario.hosts if h.node}
    placement.update(parse_placement(place, scenario))
    students = dict(students or {})
    for role in students:
        if role not in scenario.students:
            offered = ", ".join(sorted(scenario.students)) or "none"
            raise ParameterError(f"scenario {scenario.name} takes no student {role} (it takes: {offered})")
    student_hosts = {scenario.students[role].host: role for role in students}
    for role in students:   # a student's run may start from other defaults; the user's options win
        overrides = {**{k: str(v) for k, v in scenario.students[role].parameters.items()}, **overrides}
    client_kinds = {_kind(scenario.host(scenario.students["client"].host).program)} if "client" in students else set()
    if impair_backend not in IMPAIR_BACKENDS:
        raise ParameterError(f"--impair-backend {impair_backend!r}: allowed {', '.join(IMPAIR_BACKENDS)}")
    seed = params.parse_seed(seed)
    if seed is not None and not any(h.impairments for h in scenario.hosts):
        raise ParameterError(f"--seed {seed}: scenario {scenario.name} has no impairment, so there is "
                             "no random choice to make reproducible")
    seed_source = "--seed" if seed is not None else ""
    if seed is None and students and any(h.impairments for h in scenario.hosts):
        seed, seed_source = default_seed(scenario.name), "default"   # same program, same losses
    values = params.resolve(scenario.parameters, overrides, scenario.name)
    instances: list[Instance] = []
    for host in scenario.hosts:
        count = _replicas(host, values)
        names = [host.name] if count == 1 else [f"{host.name}-{i}" for i in range(1, count + 1)]
        for index, name in enumerate(names, start=1):
            local = {**values, "host": name, "index": index, "start_at": START_AT}
            args = [params.substitute(a, local) for a in host.args]
            if host.role == "client" and host.program != "none":
                args += ["--name", name]
            impairments = tuple(spec for table in host.impairments
                                if not (spec := _impairment(table, local, seed, impair_backend)).is_empty)
            argv = program_argv(host.program, args, host.trace)
            student: StudentProgram | None = None
            inputs: tuple[str, ...] = ()
            filled = student_hosts.get(host.name)
            if filled is not None:
                slot = scenario.students[filled]
                student = students[filled]
                limit = scenario.timeout_s if filled == "server" else slot.limit_s
                argv = student_argv(student, filled, limit, wait_grace_s(impairments))
                if filled == "client":
                    inputs = tuple(slot.sentence.replace("{host}", name).replace("{run}", str(run))
                                   for run in range(1, slot.runs + 1))
                    impairments = tuple(promise_loss(spec, slot.runs) for spec in impairments)
                    if impair_backend != "auto":
                        for spec in impairments:
                            try:
                                get_backend(impair_backend).check(spec)
                            except LabError as error:
                                raise ParameterError(f"--impair-backend {impair_backend}: {error}") from None
            # The textbook client names the server 'hostname': the server it talks to answers to it.
            aliases = (SERVER_ALIAS,) if host.role == "service" and _kind(host.program) in client_kinds \
                and not any(SERVER_ALIAS in i.aliases for i in instances) else ()
            instances.append(Instance(name, host.name, host.role, host.program, argv, host.networks,
                                      impairments, traced=host.trace and student is None, forward=host.forward,
                                      aliases=aliases,
                                      student=student, inputs=inputs, node=placement.get(host.name)))
    effective = dict(values)
    if seed is not None:
        effective["seed"] = seed
    capture_hosts = tuple(h.name for h in scenario.hosts) if capture else scenario.capture
    return Plan(scenario, effective, tuple(instances), impair_backend, seed, capture_hosts, students,
                seed_source)
