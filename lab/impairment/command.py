"""The one command type both impairment backends produce, and how a runner's results are judged.

Backends are pure: they return :class:`Command` values and never run anything.
lab.run.impairing implements :class:`CommandRunner` with the engine's exec in the helper; tests
implement it with a fake or with ``ip netns exec``. Keeping the
"is this failure fine?" rule on the command itself (``check``/``tolerate``) means every runner
judges results the same way, through :func:`run_commands`.
"""
from __future__ import annotations

import logging
import shlex
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

from lab.common import CommandResult
from lab.errors import ImpairmentUnavailable

log = logging.getLogger(__name__)

__all__ = ["Command", "CommandResult", "CommandRunner", "run_commands"]


@dataclass(frozen=True)
class Command:
    """One argv to run in the helper's network namespace (waited for; a daemon forks itself).

    ``check``: a failure stops the apply; when False the result is only logged (used by clear
    commands: the helper's namespace dies with its container anyway, so clearing is best effort).
    ``tolerate``: fragments of stderr that mean "already in the wanted state" (e.g. ``File
    exists`` when creating the IFB device a second time); such a failure counts as success.

    >>> Command(["ip", "link", "add", "ifb-eth0", "type", "ifb"], tolerate=("File exists",)
    ...         ).accepts(CommandResult(2, "", "RTNETLINK answers: File exists"))
    True
    """

    argv: list[str]
    check: bool = True
    tolerate: tuple[str, ...] = field(default=())

    def accepts(self, result: CommandResult) -> bool:
        """True when ``result`` leaves the system as this command intends."""
        if result.rc == 0:
            return True
        return any(fragment in result.stderr for fragment in self.tolerate)

    def __str__(self) -> str:
        return shlex.join(self.argv)


class CommandRunner(Protocol):
    """Runs an argv inside the helper container (the engine implements it with docker exec)."""

    def run(self, argv: list[str]) -> CommandResult: ...


def run_commands(runner: CommandRunner, commands: Iterable[Command]) -> list[CommandResult]:
    """Run ``commands`` in order; raise ImpairmentUnavailable at the first checked failure.

    Unchecked failures (clear commands) are logged at debug level and the run continues.
    """
    results: list[CommandResult] = []
    for command in commands:
        result = runner.run(list(command.argv))
        results.append(result)
        if command.accepts(result):
            continue
        if command.check:
            raise ImpairmentUnavailable(
                f"impairment command failed (rc {result.rc}): {command}\n"
                f"{(result.stderr or result.stdout).strip()}"
            )
        log.debug("ignored failure of %s (rc %s): %s", command, result.rc, result.stderr.strip())
    return results
