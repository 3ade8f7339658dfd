"""Unit tests under every supported Python present on this machine: `nox` (or `nox -s unit`).

The supported versions are pyproject.toml's classifiers (the GitHub workflow's Python matrix is
checked against the same list). Students run socklab on all of them, so CI runs the unit tests on
each one this machine has; a version that is not installed is reported as skipped, not failed.
The integration and VM tests stay on the default Python (`invoke test`). Interpreters are found
on PATH, and in pyenv's versions folder without activating them.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import nox

ROOT = Path(__file__).resolve().parent
SUPPORTED = re.findall(r'"Programming Language :: Python :: (3\.\d+)"', (ROOT / "pyproject.toml").read_text())

nox.options.sessions = ["unit"]
nox.options.default_venv_backend = "venv"
nox.options.error_on_missing_interpreters = False   # "present on the machine"; summary says skipped


def _add_pyenv_interpreters() -> None:
    """Put pyenv's real interpreters (not its shims, which need a selected version) on PATH."""
    root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv") / "versions"
    found = []
    for version in SUPPORTED:
        candidates = sorted(root.glob(f"{version}.*/bin/python{version}"),
                            key=lambda p: [int(n) for n in re.findall(r"\d+", p.parent.parent.name)])
        if candidates:
            found.append(str(candidates[-1].parent))
    os.environ["PATH"] = os.pathsep.join([*found, os.environ.get("PATH", "")])


_add_pyenv_interpreters()


@nox.session(python=SUPPORTED)
def unit(session: nox.Session) -> None:
    """tests/unit (no Docker) with the dev tools, which the workflow lint tests need."""
    session.install("-q", "-e", ".[dev]")
    session.run("python", "-m", "pytest", "tests/unit", "-q", "-p", "no:cacheprovider",
                f"--junitxml=reports/unit-python{session.python}.xml", *session.posargs)
