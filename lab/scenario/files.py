"""Where scenarios live: one TOML file per scenario in scenarios/, found by name; the one-line
lesson and the declared parameters read without validating a file (the task list and `invoke
scenarios` need them even when one file is broken; loading it reports the problem).
"""
from __future__ import annotations

import difflib
import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the same parser, from PyPI (a dependency only there, see pyproject.toml)
    import tomli as tomllib

from lab.errors import ScenarioNotFound

SCENARIOS_DIR = Path(__file__).resolve().parents[2] / "scenarios"


def available(directory: Path = SCENARIOS_DIR) -> dict[str, Path]:
    """Scenario name → file, sorted by name."""
    return {p.stem: p for p in sorted(directory.glob("*.toml"))}


def find(name: str, directory: Path = SCENARIOS_DIR) -> Path:
    """The file of a scenario; an unknown name lists the known ones and the closest match."""
    known = available(directory)
    if name in known:
        return known[name]
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.4)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    raise ScenarioNotFound(f"unknown scenario '{name}'.{hint} Known scenarios: {', '.join(known)}")


def lesson_of(path: Path) -> str:
    """The one-line lesson, read without validating the whole file (for `invoke scenarios`)."""
    try:
        return str(tomllib.loads(path.read_text()).get("lesson", "")).strip()
    except tomllib.TOMLDecodeError:
        return "(invalid scenario file)"


def declared_parameters(directory: Path = SCENARIOS_DIR) -> dict[str, list[str]]:
    """Every parameter name any scenario file declares → the scenarios declaring it, read without
    validating (a broken file is skipped here; loading it reports the problem).

    tasks.py turns each into a ``--NAME`` option, so a teacher's new parameter needs no code.
    """
    names: dict[str, list[str]] = {}
    for name, path in available(directory).items():
        try:
            table = tomllib.loads(path.read_text()).get("parameters", {})
        except (OSError, tomllib.TOMLDecodeError):
            continue
        for parameter in table if isinstance(table, dict) else ():
            names.setdefault(str(parameter), []).append(name)
    return dict(sorted(names.items()))
