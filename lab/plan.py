"""From a Scenario and the user's overrides to a concrete plan: which containers, which argv.

Pure: substitution of ``{parameter}`` placeholders, replica expansion and impairment parsing all
happen here, so every bad value is reported before the engine creates anything.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any

from lab import parameters as params
from lab.errors import LabError, ParameterError, ScenarioFileError
from lab.impairment import get_backend
from lab.impairment.spec import Impairment, parse_impairment
from lab.model import PROGRAMS, Host, Scenario
from lab.trace import STRACE_ARGV

PROGRAM_DIR = "/opt/socklab/programs"
IMPAIR_BACKENDS = ("auto", "netem", "userspace")
# ``{start_at}`` in a client's args: one moment (epoch seconds) the runner sets for all clients of a
# parallel step, a little after it launches them, so that clients in separate containers (each
# with its own interpreter to start) connect at once. Filled in by lab.runner at launch.
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


@dataclass(frozen=True)
class Plan:
    """Everything the runner needs, already validated."""

    scenario: Scenario
    parameters: dict[str, Any]
    instances: tuple[Instance, ...]
    impair_backend: str = "auto"
    seed: int | None = None
    capture_hosts: tuple[str, ...] = ()   # hosts captured with tcpdump (empty: no capture)

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

    A traced program is strace's child (lab.trace.STRACE_ARGV): a parent may trace its own child
    without any capability, and sees every call from the first one on.
    """
    script = PROGRAMS[program]
    if script is None:
        return ("sleep", "infinity")
    return (*(STRACE_ARGV if traced else ()), "python3", f"{PROGRAM_DIR}/{script}", *args)


def build_plan(scenario: Scenario, overrides: dict[str, Any], impair_backend: str = "auto",
               seed: int | str | None = None, capture: bool = False) -> Plan:
    """Resolve parameters, expand replicas, fill argv templates and parse impairments.

    `capture` (--capture) captures every host; a scenario that captures by itself names its hosts.
    """
    if impair_backend not in IMPAIR_BACKENDS:
        raise ParameterError(f"--impair-backend {impair_backend!r}: allowed {', '.join(IMPAIR_BACKENDS)}")
    seed = params.parse_seed(seed)
    if seed is not None and not any(h.impairments for h in scenario.hosts):
        raise ParameterError(f"--seed {seed}: scenario {scenario.name} has no impairment, so there is "
                             "no random choice to make reproducible")
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
            instances.append(Instance(name, host.name, host.role, host.program,
                                      program_argv(host.program, args, host.trace), host.networks,
                                      impairments, host.trace, host.forward))
    effective = dict(values)
    if seed is not None:
        effective["seed"] = seed
    capture_hosts = tuple(h.name for h in scenario.hosts) if capture else scenario.capture
    return Plan(scenario, effective, tuple(instances), impair_backend, seed, capture_hosts)
