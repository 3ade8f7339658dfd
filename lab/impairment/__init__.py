"""Impairment backends: turn an :class:`Impairment` into commands for the helper container.

A registry maps a backend name to ``"module:Class"``, imported on first use (as testinfra does
for its backends), in order of preference: ``--impair-backend auto`` takes the first backend that
says it can run (:meth:`ImpairmentBackend.unavailable`), and the CLI's choices, the plan's check
and the probe's choice all derive from it. Adding a backend is one line here (and its class).

Every backend offers the same pure interface (see :class:`ImpairmentBackend`)::

    backend = get_backend("netem")
    run_commands(runner, backend.apply_commands(spec))        # put it in force
    results = run_commands(runner, backend.verify_commands(spec))
    backend.verify(spec, results)                             # raises ImpairmentNotInForce
    run_commands(runner, backend.clear_commands(spec))        # best effort, never raises
"""
from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from lab.errors import ImpairmentSpecError
from lab.impairment.command import (
    Command,
    CommandResult,
    CommandRunner,
    run_commands,
)
from lab.impairment.spec import Impairment, parse_impairment

__all__ = [
    "BACKENDS",
    "CHOICES",
    "Command",
    "CommandResult",
    "CommandRunner",
    "ProbeResult",
    "Impairment",
    "ImpairmentBackend",
    "get_backend",
    "parse_impairment",
    "run_commands",
]

#: name -> "module:Class", most preferred first
BACKENDS: dict[str, str] = {
    "netem": "lab.impairment.netem:NetemBackend",
    "userspace": "lab.impairment.userspace:UserspaceBackend",
}
#: what --impair-backend accepts
CHOICES: tuple[str, ...] = ("auto", *BACKENDS)


@dataclass(frozen=True)
class ProbeResult:
    """What works, and in ``details`` what each finding means for the user."""

    netem: bool
    netem_seed: bool
    nfqueue: bool
    iptables: bool
    nft: bool
    details: dict[str, str] = field(default_factory=dict)

    def describe(self) -> list[str]:
        """One line per finding (``netem: no: ... -- modprobe sch_netem ...``), for doctor/report."""
        return [f"{key}: {text}" for key, text in self.details.items()]

    def summary(self) -> str:
        return "\n".join(self.describe())


class ImpairmentBackend(Protocol):
    """What the engine may rely on; every method is pure (returns commands, runs nothing)."""

    name: str

    def check(self, spec: Impairment) -> None:
        """Raise ImpairmentSpecError/ImpairmentUnavailable if this backend cannot do ``spec``."""

    def unavailable(self, probe: ProbeResult, specs: Sequence[Impairment]) -> str | None:
        """Why this backend cannot apply ``specs`` on the probed kernel, or None when it can."""

    def apply_commands(self, spec: Impairment) -> list[Command]: ...

    def clear_commands(self, spec: Impairment) -> list[Command]: ...

    def verify_commands(self, spec: Impairment) -> list[Command]: ...

    def verify(self, spec: Impairment, results: Sequence[CommandResult]) -> None: ...


def get_backend(name: str) -> ImpairmentBackend:
    """A new backend instance by registry name ("netem", "userspace")."""
    try:
        target = BACKENDS[name]
    except KeyError:
        raise ImpairmentSpecError(
            f"unknown impairment backend {name!r}; use one of {', '.join(sorted(BACKENDS))}"
        ) from None
    module_name, _, class_name = target.partition(":")
    backend_class = getattr(importlib.import_module(module_name), class_name)
    return backend_class()
