"""A student's program in a compiled language, built once in a container of its own.

The build runs the language's build command (lab/scenario/languages.py) under
images/apps/programs/student_build.py, in a container of the language's toolchain image that has
no network at all, as the unprivileged user, with CPU, memory, process, time and output limits.
What it made (the artifact) goes into the StudentProgram, whose run then starts it under the
supervisor like a Python program. The result — artifact or first error — is cached on disk by the
digest of the source, the file name, the build command and the toolchain image, so a re-grade (or
the same file in the next scenario) does not build again.

A build error is the student's: BuildFailed, whose message is the compiler's first error with the
student's file name, the line and the source line, never the lab's own stack trace.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from lab.engines import images
from lab.engines.base import Engine, HostSpec, LabRun, Limits
from lab.common import LABEL_CONTEXT
from lab.errors import BuildFailed, StepFailed
from lab.scenario.languages import LANGUAGES, Language, entry_point, fill, first_error
from lab.scenario.model import StudentProgram

log = logging.getLogger(__name__)
BUILD_TIME_S = 60                 # wall clock of one build
BUILD_CPU_S = 60                  # RLIMIT_CPU of the compiler (all its threads)
BUILD_OUTPUT_BYTES = 16 * 1024    # compiler output kept
BUILD_LIMITS = Limits(cpus=1.0, memory_bytes=768 * 1024 * 1024, pids=128, log_bytes=1024 * 1024)
# The artifact travels in the supervisor's argv, which Linux caps at 128 KiB per string.
MAX_ARTIFACT_CHARS = 100 * 1024
BUILDER = ("python3", "/opt/socklab/programs/student_build.py")
CACHE_VERSION = "1"
_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


@dataclasses.dataclass(frozen=True)
class BuildResult:
    """What one build gave: the artifact and entry, or the reason it failed; and how long it took."""

    artifact: str
    entry: str
    reason: str
    seconds: float
    cached: bool = False


def cache_dir() -> Path:
    """Where builds are kept: $SOCKLAB_CACHE/builds, else ~/.cache/socklab/builds."""
    base = os.environ.get("SOCKLAB_CACHE") or str(Path.home() / ".cache" / "socklab")
    return Path(base) / "builds"


def cache_key(program: StudentProgram, language: Language, saved_as: str, toolchain: str) -> str:
    """The digest a build is kept under: same source, name, command and toolchain, same build."""
    text = json.dumps([CACHE_VERSION, program.sha256, saved_as, language.build, toolchain, BUILD_CPU_S])
    return hashlib.sha256(text.encode()).hexdigest()


def built(engine: Engine, program: StudentProgram, progress: Callable[[str], None]) -> StudentProgram:
    """The program ready to plan: unchanged for Python, built (or taken from the cache) otherwise.

    Raises BuildFailed with the compiler's first error when it does not build.
    """
    language = LANGUAGES[program.language]
    if not language.compiled:
        return program
    result = build(engine, program, progress)
    if result.reason:
        raise BuildFailed(result.reason)
    return dataclasses.replace(program, artifact=result.artifact, entry=result.entry)


def build(engine: Engine, program: StudentProgram, progress: Callable[[str], None]) -> BuildResult:
    """Build (or find in the cache) one program; one build per key at a time across threads."""
    language = LANGUAGES[program.language]
    images.ensure_language_image(engine, language.image, language.packages, progress)
    saved_as, entry = entry_point(language, program.name, program.source)
    toolchain = (engine.image_labels(language.image) or {}).get(LABEL_CONTEXT, "")
    key = cache_key(program, language, saved_as, toolchain)
    with _locks_guard:
        lock = _locks.setdefault(key, threading.Lock())
    with lock:
        path = cache_dir() / f"{key}.json"
        cached = _read_cache(path)
        if cached is not None:
            return dataclasses.replace(cached, cached=True)
        result = _build_in_container(engine, program, language, saved_as, entry, progress)
        _write_cache(path, result)
        return result


def _read_cache(path: Path) -> BuildResult | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return BuildResult(str(data["artifact"]), str(data["entry"]), str(data["reason"]), float(data["seconds"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write_cache(path: Path, result: BuildResult) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        scratch = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
        scratch.write_text(json.dumps(dataclasses.asdict(result)), encoding="utf-8")
        scratch.replace(path)
    except OSError as error:   # a cache that cannot be written only costs a rebuild next time
        log.warning("build cache %s: %s", path, error)


def _build_in_container(engine: Engine, program: StudentProgram, language: Language, saved_as: str,
                        entry: str, progress: Callable[[str], None]) -> BuildResult:
    """One build in a fresh container of the toolchain image: no network, student user, limits."""
    import base64
    import secrets

    command = fill(language.build, source="{source}", out="{out}", main=entry)
    argv = (*BUILDER, "--name", saved_as, "--source-b64", base64.b64encode(program.source.encode()).decode(),
            "--command-json", json.dumps(command), "--time-s", str(BUILD_TIME_S), "--cpu-s", str(BUILD_CPU_S),
            "--output-bytes", str(BUILD_OUTPUT_BYTES))
    progress(f"building {program.name} ({language.title})")
    started = time.monotonic()
    with LabRun(engine, f"b{secrets.token_hex(3)}", f"build-{language.name}") as lab:
        lab.start(HostSpec(name="build", image=language.image, command=("sleep", "infinity"), role="client",
                           networks=(), limits=BUILD_LIMITS))
        done = lab.exec("build", argv)
    seconds = time.monotonic() - started
    try:
        outcome = json.loads(done.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise StepFailed(f"building {program.name}: the builder said nothing readable (exit {done.rc}): "
                         f"{done.stderr.strip()[-300:]}") from None
    if outcome.get("timed_out"):
        return BuildResult("", entry, f"build failed: {program.name}: the compiler ran past {BUILD_TIME_S} s", seconds)
    if outcome.get("rc") != 0 or not outcome.get("artifact"):
        error = first_error(language, str(outcome.get("output", "")), saved_as, program.name, program.source)
        return BuildResult("", entry, error.reason(), seconds)
    artifact = str(outcome["artifact"])
    if len(artifact) > MAX_ARTIFACT_CHARS:
        return BuildResult("", entry, f"build failed: {program.name}: the built program is "
                           f"{outcome.get('artifact_bytes')} bytes; at most about {MAX_ARTIFACT_CHARS // 1024} KiB "
                           "compressed fits (a textbook program is a few KiB)", seconds)
    log.info("built %s in %.1f s", program.name, seconds)
    return BuildResult(artifact, entry, "", seconds)


__all__ = ["BUILD_LIMITS", "BuildResult", "build", "built", "cache_dir"]
