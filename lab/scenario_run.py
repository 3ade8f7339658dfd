"""Run a scenario and judge it: the one place that sequences a run (lab.run) and its checks.

The run layer realises a plan on an engine and gathers what was seen; it judges nothing. The
observe layer decodes that record once; the checks read only the record and its observation,
after teardown, so a check can never touch a live host. Both the
CLI (lab.app) and grading (lab.grading) run scenarios through here.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from lab.checks import run_checks
from lab.checks.outcome import Outcome
from lab.engines.base import Engine
from lab.errors import LabError
from lab.observe.observation import observe
from lab.observe.trace import SEND_CALLS, socket_calls
from lab.run.record import RunRecord
from lab.run.reference import reference_trace
from lab.run.runner import run_lab
from lab.scenario.plan import Plan


def run_scenario(engine: Engine, plan: Plan, progress: Callable[[str], None],
                 keep: bool = False, run_id: str | None = None,
                 capture_dir: Path | None = None) -> Outcome:
    """Run the plan on the engine (teardown always happens), then check what was seen."""
    finished = run_lab(engine, plan, progress, keep=keep, run_id=run_id, capture_dir=capture_dir)
    if plan.students:
        with_reference_traces(engine, plan, finished.record, progress)
    observation = observe(finished.record)   # decoded once: the checks and every report read it
    return Outcome(finished.record, run_checks(finished.record, observation), finished.started_at,
                   finished.duration_s, finished.timings, observation)


def with_reference_traces(engine: Engine, plan: Plan, record: RunRecord, progress: Callable[[str], None]) -> None:
    """The reference program's calls in each role a student filled (lab.run.reference, cached):
    what the student's own calls are set beside. A reference that cannot be made is noted; the
    student's run counts all the same."""
    for role in plan.students:
        try:
            record.reference_traces[role] = reference_trace(engine, plan, role, _unusable)
        except LabError as error:
            record.reference_problems[role] = str(error)
            progress(f"no reference trace for the {role}: {error}")


def _unusable(text: str) -> str:
    """Why a reference trace cannot be shown ('' when it can): it must show the program sending."""
    calls = socket_calls(text)[0]
    return "" if any(c.name in SEND_CALLS for c in calls) else "its trace shows nothing sent"
