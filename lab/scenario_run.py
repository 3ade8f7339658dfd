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
from lab.observe.observation import observe
from lab.run.runner import run_lab
from lab.scenario.plan import Plan


def run_scenario(engine: Engine, plan: Plan, progress: Callable[[str], None],
                 keep: bool = False, run_id: str | None = None,
                 capture_dir: Path | None = None) -> Outcome:
    """Run the plan on the engine (teardown always happens), then check what was seen."""
    finished = run_lab(engine, plan, progress, keep=keep, run_id=run_id, capture_dir=capture_dir)
    observation = observe(finished.record)   # decoded once: the checks and every report read it
    return Outcome(finished.record, run_checks(finished.record, observation), finished.started_at,
                   finished.duration_s, finished.timings, observation)
