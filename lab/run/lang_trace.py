"""`api-trace --lang c|java`: build the textbook's programs in that language and trace them in the scenario.

The reference programs are the lab's own (tests/submissions/textbook-c, textbook-java: the ones
the C and Java corpora are graded against). Each is built once by lab.run.build (cached by source
digest) and runs under the supervisor on the host its Python counterpart runs on
(lab.scenario.lang_trace), traced by the supervisor's strace like any student's program.
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

from lab.engines.base import Engine
from lab.errors import ParameterError
from lab.run import build
from lab.run.runner import FinishedRun, run_lab
from lab.scenario.lang_trace import PROGRAMS, lang_plan, traced_programs
from lab.scenario.languages import language_of, program_kind
from lab.scenario.model import StudentProgram
from lab.scenario.plan import Plan

REFERENCE_DIR = Path(__file__).resolve().parents[2] / "tests" / "submissions"


def reference_programs(lang: str, root: Path = REFERENCE_DIR) -> dict[str, StudentProgram]:
    """Program kind → the textbook's program in ``lang`` (root/textbook-<lang>), read, not built."""
    folder = root / f"textbook-{lang}"
    found: dict[str, StudentProgram] = {}
    for path in sorted(folder.glob("*")) if folder.is_dir() else []:
        kind = program_kind(path.name)
        language = language_of(path.name)
        if kind in PROGRAMS and language is not None and language.name == lang:
            source = path.read_text(encoding="utf-8")
            found[kind] = StudentProgram(str(path), path.name, source, hashlib.sha256(source.encode()).hexdigest(),
                                         language=lang)
    missing = [k for k in PROGRAMS if k not in found]
    if missing:
        raise ParameterError(f"--lang {lang}: no reference {', '.join(missing)} in {folder}")
    return found


def run_in_language(engine: Engine, plan: Plan, programs: dict[str, StudentProgram],
                    progress: Callable[[str], None], run_id: str | None = None) -> FinishedRun:
    """The plan's traced hosts running ``programs`` (reference_programs: kind → program), built first (cached).

    A reference program that does not build is the lab's defect, not a student's: BuildFailed propagates.
    """
    wanted = set(traced_programs(plan).values())
    built = {kind: build.built(engine, program, progress) for kind, program in programs.items() if kind in wanted}
    return run_lab(engine, lang_plan(plan, built), progress, run_id=run_id)
