"""One error type per kind of failure, so that tasks.py can map each to its exit code.

The exit codes are part of the user contract (README.md, "Exit codes"): 0 all checks passed,
1 a check failed, 2 bad input (nothing created), 3 environment problem (no engine, image build
failed), 130 interrupted.
"""
from __future__ import annotations


class LabError(Exception):
    """Base of every error socklab raises on purpose; `exit_code` says how the CLI ends."""

    exit_code = 3


class BadInput(LabError):
    """The user asked for something invalid; raised before any Docker object exists."""

    exit_code = 2


class ScenarioNotFound(BadInput):
    """A scenario name that matches no file in scenarios/."""


class ScenarioFileError(BadInput):
    """A scenario file that does not follow the scenario format."""


class ParameterError(BadInput):
    """A scenario parameter (or CLI override) outside what the scenario allows."""


class ImpairmentSpecError(BadInput):
    """An impairment value that no backend could apply (bad unit, out of range, inconsistent)."""


class EnvironmentProblem(LabError):
    """The machine cannot run the lab: no engine, no permission, image build failed."""

    exit_code = 3


class EngineUnavailable(EnvironmentProblem):
    """No engine answers; the message says what to install or start."""


class EngineLost(EngineUnavailable):
    """The engine stopped answering during a run (stopped, restarted, socket gone).

    Raised at the engine boundary in place of the SDK's connection errors; the message says that
    the run's objects may be left and that `invoke clean --stale` removes them once it is back.
    """


class NodeUnavailable(EnvironmentProblem):
    """A swarm node is down, drained or unreachable, or socklab does not know how to reach its engine."""


class ImageBuildError(EnvironmentProblem):
    """A base bootstrap or an image build failed."""


class ImpairmentUnavailable(EnvironmentProblem):
    """The chosen impairment backend cannot run on this kernel (e.g. netem forced, no sch_netem)."""


class ImpairmentNotInForce(EnvironmentProblem):
    """An impairment was applied but verification could not see it in force."""


class ReportError(EnvironmentProblem):
    """A result file could not be written (disk full, permissions)."""


class RunTimedOut(LabError):
    """The scenario ran past its time limit (timeout_s): a failed expectation, reported as a check."""

    exit_code = 1


class StudentProgramFailed(LabError):
    """A student's server never came up (crashed, never listened): the student's failed check."""

    exit_code = 1


class BuildFailed(LabError):
    """A student's program in a compiled language did not build: its outcome is ``error``, and the
    message (the compiler's first error, file, line and source line) is the reason it shows."""

    exit_code = 1


class StepFailed(LabError):
    """A scenario step could not run to completion (container crashed, timed out)."""

    exit_code = 3
