"""The scenario model: pure data about a small network and what should happen on it.

No Docker here. Everything a user can get wrong is checked while building these objects, so a bad
scenario file or a bad CLI value fails with a clear message before anything is created.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

PROGRAMS = {
    "tcp-server": "tcp_server.py",
    "tcp-client": "tcp_client.py",
    "udp-server": "udp_server.py",
    "udp-client": "udp_client.py",
    "none": None,  # a host that runs nothing (e.g. the silent server of the no-server lessons)
}
ROLES = ("service", "client")
RUN_MODES = ("sequential", "parallel")
STEP_ACTIONS = ("start", "run", "probe")
PROBE_EXPECTATIONS = ("listening", "not-listening", "no-tcp")
PARAMETER_KINDS = ("int", "float", "str", "percent", "duration", "rate")
# Names a parameter cannot take: `invoke scenario`'s own options (each parameter becomes --NAME
# beside them) and the placeholders lab.scenario.plan fills per replica.
RESERVED_PARAMETER_NAMES = frozenset({"name", "seed", "impair_backend", "set", "report_dir", "keep",
                                      "capture", "verbose", "help", "host", "index", "start_at",
                                      "server", "client", "engine", "place", "lang"})


@dataclass(frozen=True)
class Parameter:
    """A scenario knob the user may override (``--loss 30%``), with its default and bounds."""

    name: str
    kind: str
    default: Any
    help: str = ""
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()   # a str parameter limited to these values (empty: any)


@dataclass(frozen=True)
class Network:
    """A user-defined Docker network; internal (no way out) unless a scenario says otherwise."""

    name: str
    internal: bool = True
    subnet: str | None = None


@dataclass(frozen=True)
class Host:
    """One machine of the lab: a container running one of the four programs (or nothing).

    A client host with ``replicas > 1`` stands for several containers ``client-1 … client-N``,
    because the lessons are about separate hosts, not threads.
    """

    name: str
    program: str
    role: str
    args: tuple[str, ...] = ()
    networks: tuple[str, ...] = ()
    replicas: int | str = 1       # a number, or a "{parameter}" resolved by lab.scenario.plan
    # One table of raw fields per impaired interface (parsed by lab.scenario.plan): a router-like host may
    # impair eth0 and eth1 differently.
    impairments: tuple[dict[str, str], ...] = ()
    ready_event: str = "listening"
    # Started under `strace -f` in its own container (lab.observe.trace): its socket calls are recorded.
    trace: bool = False
    # A router: IPv4 forwarding on in its network namespace (a namespaced sysctl set at create).
    forward: bool = False
    # Pinned to this node of a multi-node engine (swarm: a node's hostname); --place overrides.
    node: str | None = None


@dataclass(frozen=True)
class Subnet:
    """An IP subnet of the scenario's own on one Docker network, for routed lessons.

    Docker's internal networks drop any packet whose address lies outside the network's own
    subnet, which is exactly what a router forwards; so each subnet is a VXLAN segment among its
    hosts, carried by the Docker network (see lab.run.routing), with the addresses given here. The
    interface in each host is named after the subnet.
    """

    name: str
    network: str
    prefix: str                    # e.g. 10.77.1.0/24
    addresses: dict[str, str]      # host -> its address in the subnet


@dataclass(frozen=True)
class Route:
    """A static route a helper sets in a host: packets for `to` go through `via`."""

    host: str
    to: str
    via: str


@dataclass(frozen=True)
class Probe:
    """A testinfra look at a host while the lab runs, e.g. "the server listens on tcp/12000"."""

    name: str
    host: str
    socket: str
    expect: str
    description: str = ""


@dataclass(frozen=True)
class Step:
    """One thing the runner does: start services, run clients, or take probes."""

    action: str                   # start | run | probe
    hosts: tuple[str, ...] = ()
    mode: str = "sequential"
    between: tuple[str, ...] = ()  # probes taken after each client of a sequential run
    probes: tuple[str, ...] = ()


DEFAULT_POINTS = 1
STUDENT_ROLES = ("server", "client")


@dataclass(frozen=True)
class CheckSpec:
    """A named outcome check from the registry in lab/checks/, with its arguments.

    ``points`` is what the check is worth when a student's program is graded (classroom formats).
    """

    check: str
    args: dict[str, Any] = field(default_factory=dict)
    points: int = DEFAULT_POINTS


@dataclass(frozen=True)
class StudentProgram:
    """One student file: its name as submitted, its text, and a digest that names it in reports."""

    path: str          # as given (shown to the student)
    name: str          # file name, e.g. UDPServer.py (Python's tracebacks show it)
    source: str
    sha256: str
    language: str = "python"   # a key of lab.scenario.languages.LANGUAGES
    # A compiled language's build (lab.run.build): the built files, packed for the supervisor
    # (base64 of zlib-compressed JSON, name -> base64 bytes), and the entry the run command starts.
    artifact: str = ""
    entry: str = ""

    def describe(self) -> dict[str, str]:
        """What the result file says about the program that ran in a role."""
        return {"program": "student", "file": self.name, "path": self.path, "sha256": self.sha256,
                "language": self.language}


@dataclass(frozen=True)
class StudentSlot:
    """A role a student's program may fill in a scenario: which host it replaces, and how it runs.

    A student's client is run ``runs`` times, each with one sentence on its standard input (the
    textbook client reads it with input()), and each run is stopped after ``limit_s`` seconds of
    wall clock: a backstop well above any timeout a client may use (lab.scenario.plan.STUDENT_MAX_WAIT_S);
    a client's waits are judged from the kernel long before it.
    A student's server must listen on port 12000 within ``ready_s`` seconds. ``parameters`` change
    the scenario's defaults for such a run (e.g. more loss, so that few runs still meet it); the
    user's own options still win.
    """

    role: str                     # server | client
    host: str
    runs: int = 1
    limit_s: float = 30.0
    ready_s: float = 5.0
    sentence: str = "hello from {host} run {run}"
    parameters: dict[str, Any] = field(default_factory=dict)   # defaults when a student fills the role


@dataclass(frozen=True)
class PlotSpec:
    """A named plot from the registry in lab/report/plots.py, with its arguments (drawn with --report-dir)."""

    plot: str
    args: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Scenario:
    """A lesson: topology, parameters, steps and expectations, as read from scenarios/NAME.toml."""

    name: str
    lesson: str
    parameters: dict[str, Parameter]
    networks: tuple[Network, ...]
    hosts: tuple[Host, ...]
    steps: tuple[Step, ...]
    checks: tuple[CheckSpec, ...]
    probes: dict[str, Probe]
    metrics_from: str | None = None
    timeout_s: float = 300.0
    # Hosts captured with tcpdump on every run (``capture = true`` or a list of hosts in the
    # file); empty: only when the user asks (--capture), and then every host.
    capture: tuple[str, ...] = ()
    subnets: tuple[Subnet, ...] = ()   # routed lessons: the scenario's own IP subnets (lab.run.routing)
    routes: tuple[Route, ...] = ()
    plots: tuple[PlotSpec, ...] = ()
    students: dict[str, StudentSlot] = field(default_factory=dict)   # role → slot

    def host(self, name: str) -> Host:
        for host in self.hosts:
            if host.name == name:
                return host
        raise KeyError(name)
