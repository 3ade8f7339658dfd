"""The reference program's socket calls in a student's role: traced once per image build, cached.

A student's run sets its program's calls beside what the lab's own program does in the same role
of the same scenario. That reference is a run of its own: the scenario with the lab's programs
(and the student slot's parameters), the host of that role started under strace as api-trace
does. Its trace depends only on the scenario, the role, the parameters and the programs in the
image, so it is kept in a cache keyed by the apps image's build-context hash and made once: the
first student of a class pays for it (a few seconds), every later one reads a file.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from dataclasses import replace
from collections.abc import Callable
from pathlib import Path

from lab.common import APPS_IMAGE, LABEL_CONTEXT
from lab.engines.base import Engine
from lab.errors import LabError
from lab.scenario.plan import STRACE_ARGV, Plan, build_plan

log = logging.getLogger(__name__)
CACHE_ENV = "SOCKLAB_CACHE_DIR"
_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


def cache_dir() -> Path:
    """$SOCKLAB_CACHE_DIR, else $XDG_CACHE_HOME/socklab, else ~/.cache/socklab."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "socklab"


def reference_plan(plan: Plan, role: str) -> Plan:
    """The student's plan with the lab's own programs, the role's host traced.

    The parameters are the student run's (its slot's defaults and the user's options); the
    impairments' seed too, so the reference meets the same path.
    """
    scenario = plan.scenario
    overrides = {k: str(v) for k, v in plan.parameters.items() if k in scenario.parameters}
    seed = plan.seed if any(h.impairments for h in scenario.hosts) else None
    reference = build_plan(scenario, overrides, plan.impair_backend, seed=seed)
    host = plan.slot(role).host
    instances = tuple(replace(i, traced=True, argv=(*STRACE_ARGV, *i.argv)) if i.host == host and not i.traced else i
                      for i in reference.instances)
    return replace(reference, instances=instances, capture_hosts=(), host_table=True)


def cache_key(plan: Plan, role: str, image_context: str) -> str:
    """One file per image build, scenario, role and parameters."""
    wanted = json.dumps({"scenario": plan.scenario.name, "role": role, "image": image_context,
                         "parameters": {k: str(v) for k, v in sorted(plan.parameters.items())}}, sort_keys=True)
    return f"{plan.scenario.name}.{role}.{hashlib.sha256(wanted.encode()).hexdigest()[:16]}.strace"


def reference_trace(engine: Engine, plan: Plan, role: str, problem_of: Callable[[str], str]) -> str:
    """The reference program's strace output in ``role`` of the plan's scenario (cached).

    ``problem_of(text)``: what is wrong with a trace ('' when it is usable, e.g. it shows the
    program's own socket calls); an unusable trace is never cached.

    LabError when the reference run cannot be made (the caller reports it beside the student's
    calls, and the student's run still counts).
    """
    from lab.run.runner import run_lab   # the runner is this module's only heavy import

    context = (engine.image_labels(APPS_IMAGE) or {}).get(LABEL_CONTEXT, "unknown")
    path = cache_dir() / "reference-traces" / cache_key(plan, role, context)
    with _locks_guard:
        lock = _locks.setdefault(str(path), threading.Lock())
    with lock:   # grading runs several students at once: one reference run per key
        if path.is_file():
            return path.read_text(encoding="utf-8")
        traced = reference_plan(plan, role)
        finished = run_lab(engine, traced, progress=lambda message: None)
        text = finished.record.trace_of_host(plan.slot(role).host) or ""
        problem = finished.record.timed_out or problem_of(text)
        if problem:   # never cached: the next run tries again
            raise LabError(f"the reference {role} of {plan.scenario.name} could not be traced: {problem}")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_suffix(f".{os.getpid()}.tmp")
            partial.write_text(text, encoding="utf-8")
            partial.replace(path)
        except OSError as error:   # no cache: the next run traces the reference again
            log.warning("could not keep the reference trace in %s: %s", path, error)
        return text
