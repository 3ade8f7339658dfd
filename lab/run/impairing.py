"""Impairments on a live run: one helper per impaired host, a backend chosen by probe.

The helper shares the host's network namespace (the engine's ``attach_helper``: on Docker
``network_mode=container:<id>``) and alone holds NET_ADMIN/NET_RAW, so the four programs keep no
extra capability. After applying, the backend's own verification must see the impairment in
force before any client runs.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass

from lab.common import TOOLS_IMAGE, CommandResult
from lab.engines.base import HelperSpec, Lab
from lab.errors import LabError
from lab.impairment import get_backend
from lab.impairment.command import run_commands
from lab.scenario.plan import Instance

log = logging.getLogger(__name__)


class HelperRunner:
    """A CommandRunner that execs in one helper of a run (as root, its capabilities)."""

    def __init__(self, lab: Lab, helper: str) -> None:
        self.lab = lab
        self.helper = helper

    def run(self, argv: list[str]) -> CommandResult:
        return self.lab.exec(self.helper, argv, user="root")


@dataclass
class AppliedImpairments:
    """Which backend ran and what it set, for the report."""

    backend: str
    notes: list[str]


def helper_name(instance: Instance) -> str:
    """One helper per host: impairments and captures of that host share it."""
    return f"{instance.name}-helper"


def start_helper(lab: Lab, instance: Instance) -> HelperRunner:
    """The host's helper, started unless an earlier step (a capture, an impairment) started it."""
    name = helper_name(instance)
    if name not in set(lab.hosts()):
        lab.attach_helper(HelperSpec(name=name, target=instance.name, image=TOOLS_IMAGE))
    return HelperRunner(lab, name)


def apply_all(lab: Lab, instances: list[Instance], requested: str,
              progress: Callable[[str], None], backend_name: str | None = None) -> AppliedImpairments:
    """Start helpers, choose the backend (by probe, once per run, unless forced), apply and verify.

    `backend_name` is the backend an earlier call of the same run chose: hosts started later use
    the same one without probing again.
    """
    from lab.impairment.probe import choose_backend, probe_backends  # only impaired runs probe

    runners = {i.name: start_helper(lab, i) for i in instances}
    if backend_name is None:
        probe = probe_backends(runners[instances[0].name])
        backend_name = choose_backend(requested, probe, [s for i in instances for s in i.impairments])
        progress(f"impairment backend: {backend_name}"
                 + (" (chosen by probe)" if requested == "auto" else " (forced)"))
    backend = get_backend(backend_name)
    notes = []
    for instance in instances:
        runner = runners[instance.name]
        for spec in instance.impairments:
            run_commands(runner, backend.apply_commands(spec))
            backend.verify(spec, run_commands(runner, backend.verify_commands(spec)))
            note = f"{instance.name}: {spec.describe()}"
            notes.append(note)
            progress(f"impairment in force on {note}")
    return AppliedImpairments(backend_name, notes)


def still_in_force(lab: Lab, instances: list[Instance], backend_name: str
                   ) -> tuple[list[str], dict[str, dict[str, int]]]:
    """Verify again once the clients are done: a daemon that died mid-run, or a qdisc someone
    removed, would otherwise leave a run that passed over an unimpaired link.

    Also returns what the backend counted per host and interface (the userspace daemon reports
    packets seen, dropped, delayed, ...), so the result can set the clients' figures beside them.
    """
    backend = get_backend(backend_name)
    problems: list[str] = []
    counters: dict[str, dict[str, int]] = {}
    for instance in instances:
        runner = HelperRunner(lab, helper_name(instance))
        for spec in instance.impairments:
            try:
                results = run_commands(runner, backend.verify_commands(spec))
                backend.verify(spec, results)
            except LabError as error:
                problems.append(f"{instance.name} {spec.interface}: {error}")
                continue
            counted = _counters(results)
            if counted:
                counters[f"{instance.name} {spec.interface}"] = counted
    return problems, counters


def _counters(results: list[CommandResult]) -> dict[str, int]:
    """Integer counters from a JSON status (impaird's), or nothing for other backends."""
    for result in results:
        try:
            status = json.loads(result.stdout)
        except ValueError:
            continue
        if isinstance(status, dict) and isinstance(status.get("counters"), dict):
            return {k: v for k, v in status["counters"].items() if isinstance(v, int)}
    return {}
