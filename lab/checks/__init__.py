"""Checks: what a run observed, judged against the lesson's expected outcome.

Each check states that outcome and, in its detail, what was expected and what was seen, so a
failing run teaches as much as a passing one. The package's modules:

- registry: the leaf (CheckResult, @check, the HostName/ParamName argument types, validation at
  load); it imports no check.
- one module per lesson family, each registering its checks on import: echo, no_server,
  impaired_links, api_trace, backlog, routed, capture (the handshake lesson and the captures'
  own checks); reading holds what they share.
- opening: the verdicts every run gets first, and judge(), the one call of a scenario's check.
- student: a student's program in a role (hints reads what went wrong), looks: testinfra's verdicts.

Importing this package imports every family, so REGISTRY is complete; run_checks is the dispatcher.
"""
from __future__ import annotations

# The lesson families: importing one registers its checks.
from lab.checks import api_trace, backlog, capture, echo, impaired_links, no_server, routed  # noqa: F401
from lab.checks.opening import judge, opening_checks
from lab.checks.registry import REGISTRY, CheckResult, observed_hosts, validate_spec
from lab.observe.observation import Observation, observe
from lab.run.record import RunRecord

__all__ = ["REGISTRY", "CheckResult", "observed_hosts", "run_checks", "validate_spec"]


def run_checks(record: RunRecord, seen: Observation | None = None) -> list[CheckResult]:
    """The run's verdicts: the opening (lab.checks.opening), then the scenario's checks in order.

    `seen` is the run's observation (lab.observe.observation, decoded once after the run); a
    check that reads captures or traces declares a ``seen`` parameter and is handed it. With a
    student's program in a role, lab.checks.student judges what the lab can observe of it instead.
    """
    seen = seen if seen is not None else observe(record)
    if record.plan.students:   # imported here: a run of the lab's own programs never needs it
        from lab.checks.student import run_student_checks

        return run_student_checks(record, seen)
    results = opening_checks(record, seen)
    for spec in record.plan.scenario.checks:
        result = judge(spec, record, seen)
        if result is not None:
            results.append(result)
    return results
