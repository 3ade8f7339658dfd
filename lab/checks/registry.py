"""The check registry: CheckResult, the @check decorator, and validation of a scenario's checks.

A leaf: it imports no check. Each family module (lab.checks.*) registers its checks here when it
is imported; lab.checks imports every family, so its REGISTRY is complete. The loader validates a
scenario's [[checks]] against it (through lab.catalog): an unknown check, an argument it does not
take, or an argument typed HostName/TracedHostName/ParamName that names no host/parameter fails at
load.
"""
from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lab.errors import ScenarioFileError
from lab.scenario.model import CheckSpec

if TYPE_CHECKING:
    from lab.observe.observation import Observation
    from lab.run.record import RunRecord


@dataclass(frozen=True)
class CheckResult:
    """One verdict: the contract's checks[] item.

    ``applicable`` False: the check could not observe the program that ran (a student's program
    prints no JSON events); it is reported as not applicable, never as passed, and counts neither
    way. ``hint`` says what to change when the check failed; ``points`` is its worth in a grade.
    """

    name: str
    passed: bool
    detail: str
    hint: str = ""
    applicable: bool = True
    points: int = 1


def not_applicable(name: str, reason: str) -> CheckResult:
    return CheckResult(name, False, reason, applicable=False, points=0)


CheckFunction = Callable[..., "CheckResult | None"]
REGISTRY: dict[str, CheckFunction] = {}


def check(name: str) -> Callable[[CheckFunction], CheckFunction]:
    def register(function: CheckFunction) -> CheckFunction:
        REGISTRY[name] = function
        return function
    return register


def call(spec: CheckSpec, record: RunRecord, seen: Observation) -> CheckResult | None:
    """Run one of a scenario's checks: the record, the run's observation where the check declares
    a ``seen`` parameter (captures, traces), and the scenario's arguments."""
    function = REGISTRY[spec.check]
    extra = {"seen": seen} if "seen" in inspect.signature(function).parameters else {}
    return function(record, **extra, **spec.args)


# Check arguments that name something in the scenario are annotated with these aliases, so the
# loader can refuse a typo (a host or parameter that does not exist) before anything runs.
HostName = str   # names one of the scenario's hosts, whose programs' events the check reads
TracedHostName = str  # names one of the scenario's hosts, whose syscall trace (not events) it reads
ParamName = str  # names one of the scenario's parameters
OptionalParamName = str  # names a parameter when given; by default one the scenario may lack


def validate_spec(spec: CheckSpec, where: str, hosts: Iterable[str], parameters: Iterable[str]) -> None:
    """An unknown check, an argument it does not take, or a host/parameter it names (given or by
    default) that the scenario lacks: a scenario-file error naming the file and the field."""
    if spec.check not in REGISTRY:
        close = difflib.get_close_matches(spec.check, list(REGISTRY), n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise ScenarioFileError(f"{where}: unknown check '{spec.check}'{hint}; known: "
                                f"{', '.join(sorted(REGISTRY))}")
    signature = inspect.signature(REGISTRY[spec.check]).parameters
    accepted = set(signature) - {"record", "seen"}   # handed by the dispatcher, not the scenario
    unknown = set(spec.args) - accepted
    if unknown:
        raise ScenarioFileError(f"{where}: check '{spec.check}' takes no "
                                f"{', '.join(sorted(unknown))}; it takes {', '.join(sorted(accepted))}")
    host, parameter = ("host", tuple(hosts)), ("parameter", tuple(parameters))
    kinds = {"HostName": host, "TracedHostName": host, "ParamName": parameter, "OptionalParamName": parameter}
    for argument in sorted(accepted):
        annotation = str(signature[argument].annotation)
        kind = kinds.get(annotation)
        if kind is None or (annotation == "OptionalParamName" and argument not in spec.args):
            continue
        value = spec.args.get(argument, signature[argument].default)
        what, known = kind
        if value not in known:
            given = "" if argument in spec.args else " (its default; set it to one that exists)"
            raise ScenarioFileError(f"{where}.{argument}: '{value}'{given} is not a {what} of this scenario; "
                                    f"its {what}s: {', '.join(known) or 'none'}")


def observed_hosts(spec: CheckSpec) -> set[str]:
    """The hosts whose programs' events a check reads: its host arguments, given or default."""
    parameters = inspect.signature(REGISTRY[spec.check]).parameters
    return {str(spec.args.get(name, p.default)) for name, p in parameters.items() if p.annotation == "HostName"}
