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

from lab.engines.base import Engine, HelperSpec, HostSpec, Lab, LabRun, RunIdentity
from lab.errors import BadInput

__all__ = ["DEFAULT_ENGINE", "ENGINES", "ENGINE_ENV", "Engine", "HelperSpec", "HostSpec", "Lab",
           "LabRun", "RunIdentity", "chosen_name", "connect"]

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


def connect(name: str | None = None) -> Engine:
    """Connect to the chosen engine (EngineUnavailable, exit 3, when it does not answer)."""
    module_name, _, class_name = ENGINES[chosen_name(name)].partition(":")
    engine_class = getattr(importlib.import_module(module_name), class_name)
    engine: Engine = engine_class.connect()
    return engine
