"""Scenario loading: one TOML file per scenario in scenarios/ (found by lab.scenario.files),
parsed section by section into a Scenario.

Adding a scenario is adding a file; nothing in lab/ changes. The file format is checked here with
messages that name the file and the field, because teachers write these files by hand: every name
a scenario refers to (a host, a network, a probe, a parameter in a ``{placeholder}`` or a check's
argument) must exist, so a typo exits 2 at load instead of failing a finished run.

``parse`` reads one section at a time, each with its own function, in the order later sections
depend on earlier ones: parameters, networks, hosts, probes, steps, checks.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from lab.errors import BadInput, ScenarioFileError
from lab.scenario import fields
from lab.scenario import addressing
from lab.scenario.files import SCENARIOS_DIR, find, tomllib
from lab.scenario.parameters import coerce
from lab.scenario.model import (
    DEFAULT_POINTS,
    PARAMETER_KINDS,
    PROBE_EXPECTATIONS,
    PROGRAMS,
    RESERVED_PARAMETER_NAMES,
    ROLES,
    RUN_MODES,
    STEP_ACTIONS,
    STUDENT_ROLES,
    CheckSpec,
    Host,
    Network,
    Parameter,
    PlotSpec,
    Probe,
    Scenario,
    Step,
    StudentSlot,
)

TOP_LEVEL = {"lesson", "parameters", "networks", "hosts", "steps", "checks", "probes",
             "metrics_from", "timeout_s", "capture", "subnets", "routes", "plots", "students"}
# Placeholders every host string may use besides the parameters (filled per replica by lab.scenario.plan).
HOST_PLACEHOLDERS = ("host", "index", "start_at")


class Vocabulary(Protocol):
    """The names a scenario file may use that the layers above define: checks and plots.

    The loader is below the checks and the report, so it is handed their validators rather than
    importing them (lab.catalog hands the real ones): a misspelt check, plot or host name in a
    check's arguments still fails here, at load, before anything exists.
    """

    def check(self, spec: CheckSpec, where: str, hosts: tuple[str, ...], parameters: tuple[str, ...]) -> None:
        """Raise ScenarioFileError unless `spec` names a known check with arguments it takes."""

    def plot(self, spec: PlotSpec, where: str, hosts: tuple[str, ...]) -> None:
        """Raise ScenarioFileError unless `spec` names a known plot with arguments it takes."""


def load(name: str, vocabulary: Vocabulary, directory: Path = SCENARIOS_DIR) -> Scenario:
    path = find(name, directory)
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as error:
        raise ScenarioFileError(f"{path.name}: not valid TOML: {error}") from None
    return parse(name, data, vocabulary, path.name)


def parse(name: str, data: dict[str, Any], vocabulary: Vocabulary, filename: str = "<scenario>") -> Scenario:
    """A validated Scenario from the file's data."""
    fields.only(data, TOP_LEVEL, filename)
    lesson = _lesson(data, filename)
    parameters = _parameters(data.get("parameters", {}), filename)
    networks = _networks(data.get("networks", [{"name": "lan"}]), filename)
    hosts = _hosts(fields.require(data, "hosts", filename), networks, parameters, filename)
    host_names = tuple(h.name for h in hosts)
    probes = _probes(data.get("probes", {}), host_names, filename)
    steps = _steps(fields.require(data, "steps", filename), host_names, probes, filename)
    checks = _checks(data.get("checks", []), host_names, parameters, vocabulary, filename)
    plots = _plots(data.get("plots", []), host_names, vocabulary, filename)
    metrics_from = data.get("metrics_from")
    if metrics_from is not None:
        fields.one_of(str(metrics_from), host_names, f"{filename}: metrics_from")
    timeout_s = data.get("timeout_s", 300)
    if isinstance(timeout_s, bool) or not isinstance(timeout_s, (int, float)) or not 0 < timeout_s <= 86400:
        raise ScenarioFileError(f"{filename}: timeout_s: seconds, a number above 0 (got {timeout_s!r})")
    subnets = addressing.subnets(fields.a_list(data.get("subnets", []), f"{filename}: subnets"), hosts, steps, filename)
    routes = addressing.routes(fields.a_list(data.get("routes", []), f"{filename}: routes"), subnets, filename)
    return Scenario(name, lesson, parameters, networks, hosts, steps, checks, probes, metrics_from,
                    float(timeout_s), _capture_hosts(data.get("capture", False), hosts, filename),
                    subnets, routes, plots,
                    _students(data.get("students", {}), hosts, parameters, filename))


# ----- one function per section ------------------------------------------------------------
def _lesson(data: dict[str, Any], filename: str) -> str:
    lesson = str(fields.require(data, "lesson", filename)).strip()
    if not lesson or "\n" in lesson:
        raise ScenarioFileError(f"{filename}: 'lesson' must be one sentence on one line")
    return lesson


def _parameters(table: Any, filename: str) -> dict[str, Parameter]:
    """Each parameter with a kind, a default that is valid for it, and optional bounds."""
    fields.a_table(table, f"{filename}: parameters")
    parameters: dict[str, Parameter] = {}
    for pname, spec in table.items():
        where = f"{filename}: parameters.{pname}"
        if not pname.isidentifier() or pname != pname.lower():
            raise ScenarioFileError(f"{where}: a parameter name is lower case letters, digits and _ "
                                    "(it becomes --NAME on the command line, _ typed as -)")
        if pname in RESERVED_PARAMETER_NAMES:
            raise ScenarioFileError(f"{where}: '{pname}' is reserved (a socklab option or a placeholder "
                                    f"of its own); reserved: {', '.join(sorted(RESERVED_PARAMETER_NAMES))}")
        fields.a_table(spec, where)
        fields.only(spec, {"kind", "default", "help", "min", "max", "choices"}, where)
        kind = fields.one_of(str(spec.get("kind", "str")), PARAMETER_KINDS, where + ".kind")
        for bound in ("min", "max"):
            if bound in spec and (isinstance(spec[bound], bool) or not isinstance(spec[bound], (int, float))):
                raise ScenarioFileError(f"{where}.{bound}: a number (got {spec[bound]!r})")
        choices = spec.get("choices", [])
        if not isinstance(choices, list) or not all(isinstance(c, str) for c in choices) \
                or (choices and kind != "str"):
            raise ScenarioFileError(f"{where}.choices: a list of strings, for a parameter of kind \"str\"")
        parameter = Parameter(pname, kind, fields.require(spec, "default", where), str(spec.get("help", "")),
                              spec.get("min"), spec.get("max"), tuple(choices))
        try:  # the same rules as a value typed on the command line
            coerce(parameter, parameter.default)
        except BadInput as error:
            raise ScenarioFileError(f"{where}.default: {error}") from None
        parameters[pname] = parameter
    return parameters


def _networks(entries: Any, filename: str) -> tuple[Network, ...]:
    networks = []
    for index, entry in enumerate(fields.a_list(entries, f"{filename}: networks")):
        where = f"{filename}: networks[{index}]"
        fields.a_table(entry, where)
        fields.only(entry, {"name", "internal", "subnet"}, where)
        networks.append(Network(str(fields.require(entry, "name", where)), bool(entry.get("internal", True)),
                                entry.get("subnet")))
    if not networks:
        raise ScenarioFileError(f"{filename}: networks: at least one network (or leave it out for one 'lan')")
    fields.unique([n.name for n in networks], f"{filename}: networks", "network")
    return tuple(networks)


def _hosts(entries: Any, networks: tuple[Network, ...], parameters: dict[str, Parameter],
           filename: str) -> tuple[Host, ...]:
    """Hosts on known networks, whose ``{placeholders}`` name declared parameters."""
    network_names = tuple(n.name for n in networks)
    placeholders = (*parameters, *HOST_PLACEHOLDERS)
    hosts = []
    for index, entry in enumerate(fields.a_list(entries, f"{filename}: hosts")):
        where = f"{filename}: hosts[{index}]"
        fields.a_table(entry, where)
        fields.only(entry, {"name", "program", "role", "args", "networks", "replicas", "impair", "ready_event",
                      "trace", "forward", "node"}, where)
        host_name = str(fields.require(entry, "name", where))
        where = f"{filename}: hosts[{index}] ({host_name})"
        program = fields.one_of(str(fields.require(entry, "program", where)), tuple(PROGRAMS), where + ".program")
        default_role = "client" if program.endswith("-client") else "service"
        role = fields.one_of(str(entry.get("role", default_role)), ROLES, where + ".role")
        attached = fields.names(entry.get("networks", [network_names[0]]))
        for network in attached:
            fields.one_of(network, network_names, where + ".networks")
        for flag in ("trace", "forward"):
            if not isinstance(entry.get(flag, False), bool):
                raise ScenarioFileError(f"{where}.{flag}: true or false")
        if entry.get("trace") and program == "none":
            raise ScenarioFileError(f"{where}.trace: a host with program \"none\" runs nothing to trace")
        node = entry.get("node")
        if node is not None and (not isinstance(node, str) or not node.strip()):
            raise ScenarioFileError(f"{where}.node: the name of a swarm node, e.g. node = \"lab-02\"")
        args = tuple(str(a) for a in fields.a_list(entry.get("args", []), where + ".args"))
        for position, arg in enumerate(args):
            fields.placeholders(arg, placeholders, f"{where}.args[{position}]")
        replicas = entry.get("replicas", 1)
        if isinstance(replicas, bool) or not isinstance(replicas, (int, str)) \
                or (isinstance(replicas, int) and replicas < 1):
            raise ScenarioFileError(f"{where}.replicas: a positive integer or a '{{parameter}}'")
        if isinstance(replicas, str):
            fields.placeholders(replicas, parameters, where + ".replicas")
        impairments = fields.impair_tables(entry.get("impair", ()), where)
        for table in impairments:
            for field_name, value in table.items():
                fields.placeholders(value, placeholders, f"{where}.impair.{field_name}")
        hosts.append(Host(name=host_name, program=program, role=role, args=args, networks=attached,
                          replicas=replicas, impairments=impairments,
                          ready_event=str(entry.get("ready_event", "listening" if program != "none" else "")),
                          trace=bool(entry.get("trace", False)), forward=bool(entry.get("forward", False)),
                          node=node))
    if not hosts:
        raise ScenarioFileError(f"{filename}: hosts: at least one host")
    fields.unique([h.name for h in hosts], f"{filename}: hosts", "host")
    return tuple(hosts)


def _probes(table: Any, host_names: tuple[str, ...], filename: str) -> dict[str, Probe]:
    fields.a_table(table, f"{filename}: probes")
    probes: dict[str, Probe] = {}
    for pname, entry in table.items():
        where = f"{filename}: probes.{pname}"
        fields.a_table(entry, where)
        fields.only(entry, {"host", "socket", "expect", "description"}, where)
        host = fields.one_of(str(fields.require(entry, "host", where)), host_names, where + ".host")
        expect = fields.one_of(str(fields.require(entry, "expect", where)), PROBE_EXPECTATIONS, where + ".expect")
        socket = str(entry.get("socket", ""))
        if expect != "no-tcp" and not socket.startswith(("tcp://", "udp://")):
            raise ScenarioFileError(f"{where}.socket: expect = \"{expect}\" needs a socket like "
                                    "\"tcp://0.0.0.0:12000\" or \"udp://0.0.0.0:12000\"")
        probes[pname] = Probe(pname, host, socket, expect, str(entry.get("description", "")))
    return probes


def _steps(entries: Any, host_names: tuple[str, ...], probes: dict[str, Probe], filename: str
           ) -> tuple[Step, ...]:
    steps = []
    for index, entry in enumerate(fields.a_list(entries, f"{filename}: steps")):
        where = f"{filename}: steps[{index}]"
        fields.a_table(entry, where)
        fields.only(entry, {*STEP_ACTIONS, "mode", "between"}, where)
        actions = [a for a in STEP_ACTIONS if a in entry]
        if len(actions) != 1:
            raise ScenarioFileError(f"{where}: needs exactly one of {', '.join(STEP_ACTIONS)}")
        action = actions[0]
        targets = fields.names(entry[action])
        for target in targets:
            fields.one_of(target, tuple(probes) if action == "probe" else host_names, f"{where}.{action}")
        between = fields.names(entry.get("between", ()))
        for probe in between:
            fields.one_of(probe, tuple(probes), where + ".between")
        mode = fields.one_of(str(entry.get("mode", "sequential")), RUN_MODES, where + ".mode")
        steps.append(Step(action, targets if action != "probe" else (), mode, between,
                          targets if action == "probe" else ()))
    if not steps:
        raise ScenarioFileError(f"{filename}: steps: at least one step")
    return tuple(steps)


def _checks(entries: Any, host_names: tuple[str, ...], parameters: dict[str, Parameter],
            vocabulary: Vocabulary, filename: str) -> tuple[CheckSpec, ...]:
    """Checks from the registry, with arguments it takes and the hosts/parameters they name."""
    checks = []
    for index, entry in enumerate(fields.a_list(entries, f"{filename}: checks")):
        where = f"{filename}: checks[{index}]"
        fields.a_table(entry, where)
        points = entry.get("points", DEFAULT_POINTS)
        if not isinstance(points, int) or isinstance(points, bool) or points < 0:
            raise ScenarioFileError(f"{where}.points: a whole number ≥ 0, not {points!r}")
        spec = CheckSpec(str(fields.require(entry, "check", where)),
                         {k: v for k, v in entry.items() if k not in ("check", "points")}, points)
        vocabulary.check(spec, f"{where} ({spec.check})", host_names, tuple(parameters))
        checks.append(spec)
    return tuple(checks)


def _plots(entries: Any, host_names: tuple[str, ...], vocabulary: Vocabulary, filename: str
           ) -> tuple[PlotSpec, ...]:
    """Plots from lab.report.plots' registry (drawn with --report-dir), with the hosts they name."""
    plots = []
    for index, entry in enumerate(fields.a_list(entries, f"{filename}: plots")):
        where = f"{filename}: plots[{index}]"
        fields.a_table(entry, where)
        spec = PlotSpec(str(fields.require(entry, "plot", where)), {k: v for k, v in entry.items() if k != "plot"})
        vocabulary.plot(spec, f"{where} ({spec.plot})", host_names)
        plots.append(spec)
    return tuple(plots)
def _students(table: Any, hosts: tuple[Host, ...], parameters: dict[str, Parameter], filename: str
              ) -> dict[str, StudentSlot]:
    """``[students.server]`` / ``[students.client]``: the roles a student's program may fill."""
    fields.a_table(table, f"{filename}: students")
    slots: dict[str, StudentSlot] = {}
    for role, spec in table.items():
        where = f"{filename}: students.{role}"
        fields.one_of(role, STUDENT_ROLES, where)
        fields.a_table(spec, where)
        fields.only(spec, {"host", "runs", "limit_s", "ready_s", "sentence", "parameters"}, where)
        host_name = str(fields.require(spec, "host", where))
        host = next((h for h in hosts if h.name == host_name), None)
        if host is None:
            raise ScenarioFileError(f"{where}.host: no host named '{host_name}'")
        wanted = "service" if role == "server" else "client"
        if host.role != wanted or host.program == "none":
            raise ScenarioFileError(f"{where}.host: '{host_name}' runs {host.program} as a {host.role}; "
                                    f"a student's {role} replaces a host running a {role} program")
        runs = spec.get("runs", 1)
        if isinstance(runs, bool) or not isinstance(runs, int) or not 1 <= runs <= 50:
            raise ScenarioFileError(f"{where}.runs: a whole number 1..50")
        for key in ("limit_s", "ready_s"):
            value = spec.get(key, 5.0)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 600:
                raise ScenarioFileError(f"{where}.{key}: seconds, a number above 0 (got {value!r})")
        defaults = spec.get("parameters", {})
        fields.a_table(defaults, f"{where}.parameters")
        for key in defaults:
            fields.one_of(key, tuple(parameters), f"{where}.parameters")
        slots[role] = StudentSlot(role, host_name, runs, float(spec.get("limit_s", StudentSlot.limit_s)),
                                  float(spec.get("ready_s", 5.0)),
                                  str(spec.get("sentence", StudentSlot.sentence)), dict(defaults))
    return slots


def _capture_hosts(value: Any, hosts: tuple[Host, ...], filename: str) -> tuple[str, ...]:
    """``capture = true`` (every host), ``false`` (none unless --capture) or a list of hosts."""
    if value is True:
        return tuple(h.name for h in hosts)
    if value is False:
        return ()
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        for name in value:
            fields.one_of(name, tuple(h.name for h in hosts), f"{filename}: capture")
        return tuple(value)
    raise ScenarioFileError(f"{filename}: capture: true, false or a list of host names, not {value!r}")


