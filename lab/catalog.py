"""The scenarios on disk, each loaded against every vocabulary the lab knows: checks and plots.

The scenario layer (lab.scenario.loader) reads and validates a file but sits below the checks and
the report, so it cannot know their registries; this module hands them in. Everything that loads
a scenario by name (tasks, app, grading, tests) loads it here, so a misspelt check or plot, or a
check argument naming a host that does not exist, fails at load (exit 2) everywhere alike.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from lab import checks
from lab.report import plots
from lab.scenario import loader
from lab.scenario.files import SCENARIOS_DIR, available, declared_parameters, find, lesson_of
from lab.scenario.model import CheckSpec, PlotSpec, Scenario

__all__ = ["SCENARIOS_DIR", "VOCABULARY", "available", "declared_parameters", "find", "lesson_of",
           "load", "parse"]


class _Registries:
    """The check registry (lab.checks) and the plot registry (lab.report.plots, without matplotlib)."""

    def check(self, spec: CheckSpec, where: str, hosts: tuple[str, ...], parameters: tuple[str, ...]) -> None:
        checks.validate_spec(spec, where, hosts, parameters)

    def plot(self, spec: PlotSpec, where: str, hosts: tuple[str, ...]) -> None:
        plots.validate_spec(spec, where, hosts)


VOCABULARY: loader.Vocabulary = _Registries()


def load(name: str, directory: Path = SCENARIOS_DIR) -> Scenario:
    """The scenario `name` from `directory`, validated (ScenarioNotFound, ScenarioFileError)."""
    return loader.load(name, VOCABULARY, directory)


def parse(name: str, data: dict[str, Any], filename: str = "<scenario>") -> Scenario:
    """A validated Scenario from a file's data (tests and bench build scenarios this way)."""
    return loader.parse(name, data, VOCABULARY, filename)
