"""A finished run: what was seen (the record and its observation) and the verdicts. Pure data, so
the report needs no runner (and thus no engine SDK or testinfra) to draw it. lab.scenario_run
makes one."""
from __future__ import annotations

from dataclasses import dataclass, field

from lab.checks import CheckResult
from lab.observe.observation import Observation, observe
from lab.run.record import RunRecord


@dataclass
class Outcome:
    """A finished run: what was seen, the verdicts, and how long it took end to end."""

    record: RunRecord
    checks: list[CheckResult]
    started_at: str
    duration_s: float
    timings: dict[str, float] = field(default_factory=dict)
    #: the record decoded once (lab.observe.observation); made here when the caller has none yet
    observation: Observation = None  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.observation is None:
            self.observation = observe(self.record)

    @property
    def passed(self) -> bool:
        """Every applicable check passed (and there was one): not-applicable ones count neither way."""
        applicable = [c for c in self.checks if c.applicable]
        return bool(applicable) and all(c.passed for c in applicable)

