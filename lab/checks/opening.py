"""What every run is judged by before its scenario's own checks, and the one way a scenario's check
is called: written once for the lab's own programs and for a student's (lab.checks.student).

The opening: what testinfra saw during the run (the scenario's [probes]), whether the run finished
within its time limit, whether the impairments stayed in force, and, for a captured run, whether
the captures are complete and agree with the clients. A student's run hears the same verdicts,
with a hint where the student's program is the likely cause.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from lab.checks.capture import automatic_checks
from lab.checks.looks import probe_results
from lab.checks.registry import CheckResult, call
from lab.observe.observation import Observation
from lab.run.record import RunRecord
from lab.scenario.model import CheckSpec


@dataclass(frozen=True)
class StudentVoice:
    """How the opening speaks when a student's program fills a role: why a look failed (the
    student's server, most likely), and what a run that overran its limit means for them."""

    probe_hint: Callable[[CheckResult], str]
    overran: str = "your program kept the run from finishing"


def opening_checks(record: RunRecord, seen: Observation, student: StudentVoice | None = None) -> list[CheckResult]:
    """Probe verdicts first (what testinfra saw during the run), then the run's time limit, the
    impairments, and the captures. A capture that cannot be read fails its check, not the run."""
    results = [replace(result, hint=student.probe_hint(result)) if student else result
               for result in probe_results(record)]
    if record.timed_out:
        results.append(CheckResult("run finished within its time limit", False, record.timed_out,
                                   hint=student.overran if student else ""))
    if record.impairment_problems is not None:
        problems = record.impairment_problems
        held = ("verified again after the last client" if student else
                f"{record.impairment_backend}: verified again after the last client "
                f"({len(record.impaired_instances)} host(s))")
        results.append(CheckResult("impairments stayed in force through the run", not problems,
                                   "; ".join(problems) or held))
    if record.captures is not None:
        try:
            results += automatic_checks(record, seen)
        except Exception as error:  # a capture that cannot be read fails its check, not the run
            results.append(CheckResult("capture complete", False, f"could not evaluate: {error!r}"))
    return results


def judge(spec: CheckSpec, record: RunRecord, seen: Observation) -> CheckResult | None:
    """One of the scenario's checks, worth the scenario's points for it. None: it does not apply to
    this run's parameters (e.g. the jitter check without jitter), left out rather than passed."""
    try:
        result = call(spec, record, seen)
    except Exception as error:  # a check that crashes is a failed check, not a crashed run
        result = CheckResult(spec.check, False, f"check could not evaluate: {error!r}")
    if result is None or not result.applicable:
        return result
    return replace(result, points=spec.points)
