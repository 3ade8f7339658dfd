"""Scenario discovery and loading: one TOML file per scenario in scenarios/.

Adding a scenario is adding a file; nothing in lab/ changes. The file format is checked here with
messages that name the file and the field, because teachers write these files by hand.
"""
from __future__ import annotations

import difflib
import sys
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the same parser, from PyPI (a dependency only there, see pyproject.toml)
    import tomli as tomllib

from lab.errors import ScenarioFileError, ScenarioNotFound
from lab.model import (
    PARAMETER_KINDS,
    PROBE_EXPECTATIONS,
    PROGRAMS,
    ROLES,
    RUN_MODES,
    CheckSpec,
    Host,
    Network,
    Parameter,
    Probe,
    Scenario,
    Step,
)

SCENARIOS_DIR = Path(__file__).resolve().parent.parent / "scenarios"


def available(directory: Path = SCENARIOS_DIR) -> dict[str, Path]:
    """Scenario name → file, sorted by name."""
    return {p.stem: p for p in sorted(directory.glob("*.toml"))}


def find(name: str, directory: Path = SCENARIOS_DIR) -> Path:
    """The file of a scenario; an unknown name lists the known ones and the closest match."""
    known = available(directory)
    if name in known:
        return known[name]
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.4)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    raise ScenarioNotFound(f"unknown scenario '{name}'.{hint} Known scenarios: {', '.join(known)}")


def load(name: str, directory: Path = SCENARIOS_DIR) -> Scenario:
    path = find(name, directory)
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as error:
        raise ScenarioFileError(f"{path.name}: not valid TOML: {error}") from None
    return parse(name, data, path.name)


def lesson_of(path: Path) -> str:
    """The one-line lesson, read without validating the whole file (for `invoke scenarios`)."""
    try:
        return str(tomllib.loads(path.read_text()).get("lesson", "")).strip()
    except tomllib.TOMLDecodeError:
        return "(invalid scenario file)"


def _require(table: dict[str, Any], key: str, where: str) -> Any:
    if key not in table:
        raise ScenarioFileError(f"{where}: missing '{key}'")
    return table[key]


def _only(table: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = set(table) - allowed
    if unknown:
        raise ScenarioFileError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}; "
                                f"allowed: {', '.join(sorted(allowed))}")


def _one_of(value: str, allowed: tuple[str, ...] | dict[str, Any], where: str) -> str:
    if value not in allowed:
        raise ScenarioFileError(f"{where}: '{value}' is not one of {', '.join(allowed)}")
    return value


def _names(value: Any) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value)


def _impair_tables(value: Any, where: str) -> tuple[dict[str, str], ...]:
    """``impair`` is one table (one interface) or a list of tables (one per interface)."""
    tables = [value] if isinstance(value, dict) else list(value)
    if not all(isinstance(t, dict) for t in tables):
        raise ScenarioFileError(f"{where}.impair: a table of impairment fields, or a list of them")
    interfaces = [str(t.get("interface", "eth0")) for t in tables]
    if len(set(interfaces)) != len(interfaces):
        raise ScenarioFileError(f"{where}.impair: interface listed twice ({', '.join(interfaces)}); "
                                "use direction = \"both\" or one table per interface")
    return tuple({k: str(v) for k, v in t.items()} for t in tables)


def parse(name: str, data: dict[str, Any], filename: str = "<scenario>") -> Scenario:
    """A validated Scenario from the file's data."""
    _only(data, {"lesson", "parameters", "networks", "hosts", "steps", "checks", "probes",
                 "metrics_from", "timeout_s", "capture"}, filename)
    lesson = str(_require(data, "lesson", filename)).strip()
    if not lesson or "\n" in lesson:
        raise ScenarioFileError(f"{filename}: 'lesson' must be one sentence on one line")

    parameters: dict[str, Parameter] = {}
    for pname, spec in data.get("parameters", {}).items():
        where = f"{filename}: parameters.{pname}"
        _only(spec, {"kind", "default", "help", "min", "max", "choices"}, where)
        kind = _one_of(spec.get("kind", "str"), PARAMETER_KINDS, where + ".kind")
        parameters[pname] = Parameter(pname, kind, _require(spec, "default", where),
                                      spec.get("help", ""), spec.get("min"), spec.get("max"),
                                      tuple(str(c) for c in spec.get("choices", ())))

    networks = tuple(Network(str(_require(n, "name", f"{filename}: networks")),
                             bool(n.get("internal", True)), n.get("subnet"))
                     for n in data.get("networks", [{"name": "lan"}]))
    network_names = {n.name for n in networks}

    hosts: list[Host] = []
    for index, h in enumerate(_require(data, "hosts", filename)):
        where = f"{filename}: hosts[{index}]"
        _only(h, {"name", "program", "role", "args", "networks", "replicas", "impair", "ready_event",
                  "trace"}, where)
        program = _one_of(str(_require(h, "program", where)), PROGRAMS, where + ".program")
        default_role = "client" if program.endswith("-client") else "service"
        role = _one_of(h.get("role", default_role), ROLES, where + ".role")
        attached = _names(h.get("networks", [networks[0].name]))
        for net in attached:
            _one_of(net, tuple(network_names), where + ".networks")
        if not isinstance(h.get("trace", False), bool):
            raise ScenarioFileError(f"{where}.trace: true or false")
        if h.get("trace") and program == "none":
            raise ScenarioFileError(f"{where}.trace: a host with program \"none\" runs nothing to trace")
        replicas = h.get("replicas", 1)
        if not isinstance(replicas, (int, str)) or (isinstance(replicas, int) and replicas < 1):
            raise ScenarioFileError(f"{where}.replicas: a positive integer or a '{{parameter}}'")
        hosts.append(Host(
            name=str(_require(h, "name", where)), program=program, role=role,
            args=tuple(str(a) for a in h.get("args", [])), networks=attached,
            replicas=replicas,
            impairments=_impair_tables(h.get("impair", ()), where),
            ready_event=h.get("ready_event", "listening" if program != "none" else ""),
            trace=bool(h.get("trace", False)),
        ))
    host_names = {h.name for h in hosts}
    if len(host_names) != len(hosts):
        raise ScenarioFileError(f"{filename}: two hosts share a name")

    probes: dict[str, Probe] = {}
    for pname, p in data.get("probes", {}).items():
        where = f"{filename}: probes.{pname}"
        _only(p, {"host", "socket", "expect", "description"}, where)
        _one_of(str(_require(p, "host", where)), tuple(host_names), where + ".host")
        probes[pname] = Probe(pname, p["host"], str(p.get("socket", "")),
                              _one_of(str(_require(p, "expect", where)), PROBE_EXPECTATIONS, where + ".expect"),
                              str(p.get("description", "")))

    steps: list[Step] = []
    for index, s in enumerate(_require(data, "steps", filename)):
        where = f"{filename}: steps[{index}]"
        _only(s, {"start", "run", "probe", "stop", "mode", "between"}, where)
        actions = [a for a in ("start", "run", "probe", "stop") if a in s]
        if len(actions) != 1:
            raise ScenarioFileError(f"{where}: needs exactly one of start, run, probe, stop")
        action = actions[0]
        targets = _names(s[action])
        known = probes if action == "probe" else host_names
        for target in targets:
            _one_of(target, tuple(known), f"{where}.{action}")
        for probe in _names(s.get("between", ())):
            _one_of(probe, tuple(probes), where + ".between")
        steps.append(Step(action, targets if action != "probe" else (),
                          _one_of(s.get("mode", "sequential"), RUN_MODES, where + ".mode"),
                          _names(s.get("between", ())), targets if action == "probe" else ()))

    checks = []
    for index, c in enumerate(data.get("checks", [])):
        where = f"{filename}: checks[{index}]"
        kind = str(_require(c, "check", where))
        checks.append(CheckSpec(kind, {k: v for k, v in c.items() if k != "check"}))
    from lab.checks import validate_specs  # local import: checks know the registry
    validate_specs(checks, filename)

    metrics_from = data.get("metrics_from")
    if metrics_from is not None:
        _one_of(metrics_from, tuple(host_names), f"{filename}: metrics_from")
    return Scenario(name, lesson, parameters, networks, tuple(hosts), tuple(steps), tuple(checks),
                    probes, metrics_from, float(data.get("timeout_s", 300)),
                    _capture_hosts(data.get("capture", False), host_names, hosts, filename))


def _capture_hosts(value: Any, known: set[str], hosts: list[Host], filename: str) -> tuple[str, ...]:
    """``capture = true`` (every host), ``false`` (none unless --capture) or a list of hosts."""
    if value is True:
        return tuple(h.name for h in hosts)
    if value is False:
        return ()
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        for name in value:
            _one_of(name, tuple(known), f"{filename}: capture")
        return tuple(value)
    raise ScenarioFileError(f"{filename}: capture: true, false or a list of host names, not {value!r}")
