"""Engines by name: which implementation of lab.engines.base runs the lab.

A registry maps a name to ``"module:Class"``, imported only when chosen (so the docker SDK is
loaded only when the docker engine is), as testinfra does for its backends. Adding an engine is
one line here; the class needs a ``connect()`` classmethod and the methods of
:class:`lab.engines.base.Engine`. The user chooses with ``--engine NAME`` or ``SOCKLAB_ENGINE``
(default: docker).
"""
from __future__ import annotations

import importlib
import os

from collections.abc import Sequence

from lab.engines.base import Engine, HelperSpec, HostSpec, Lab, LabRun, RunIdentity, Survey
from lab.errors import BadInput

__all__ = ["DEFAULT_ENGINE", "ENGINES", "ENGINE_ENV", "Engine", "HelperSpec", "HostSpec", "Lab",
           "LabRun", "RunIdentity", "Survey", "chosen_name", "connect", "environment", "option", "survey"]

ENGINES: dict[str, str] = {
    "docker": "lab.engines.docker_engine:DockerEngine",
    "swarm": "lab.engines.swarm_engine:SwarmEngine",
}
ENGINE_ENV = "SOCKLAB_ENGINE"
DEFAULT_ENGINE = "docker"


def chosen_name(name: str | None = None) -> str:
    """The engine to use: `name` (from --engine), else $SOCKLAB_ENGINE, else docker; checked."""
    chosen = name or os.environ.get(ENGINE_ENV) or DEFAULT_ENGINE
    if chosen not in ENGINES:
        source = "--engine" if name else ENGINE_ENV
        raise BadInput(f"{source} {chosen!r}: no such engine; allowed {', '.join(sorted(ENGINES))}")
    return chosen


def _engine_class(name: str | None) -> type:
    module_name, _, class_name = ENGINES[chosen_name(name)].partition(":")
    return getattr(importlib.import_module(module_name), class_name)  # type: ignore[no-any-return]


def connect(name: str | None = None) -> Engine:
    """Connect to the chosen engine (EngineUnavailable, exit 3, when it does not answer)."""
    engine: Engine = _engine_class(name).connect()
    return engine


def survey(name: str | None, images: Sequence[str]) -> Survey:
    """The doctor's look at the chosen engine: how it is reached, its parts, `images` on each."""
    found: Survey = _engine_class(name).survey(images)
    return found


def option(name: str) -> str:
    """How a task's options name engine `name`: nothing for the default, else `` --engine NAME``."""
    return "" if name == DEFAULT_ENGINE else f" --engine {name}"


def environment(name: str) -> str:
    """How a command without --engine (invoke shell) is told engine `name`: nothing for the
    default, else ``SOCKLAB_ENGINE=NAME `` before it."""
    return "" if name == DEFAULT_ENGINE else f"{ENGINE_ENV}={name} "
