#!/usr/bin/env python3
"""socklab's autograder for Classroom 50: a teacher drops this file into the classroom (the
classroom default, or one assignment's) and Classroom 50's runner runs it on every submission.

The runner starts it as ``python autograder.py`` with the working directory at the student's
checkout and CLASSROOM, ASSIGNMENT, SUBMISSION_TAG, MODE, USERNAME, COMMIT_URL, RELEASE_URL and
REVIEW_URL in the environment, then reads ``result.json`` from the checkout. This file installs the
socklab commit pinned below (or uses SOCKLAB_HOME / SOCKLAB_PYTHON when set), copies the student's
top-level ``*.py`` files, runs ``invoke grade`` on them and writes Classroom 50's result/v1
``result.json`` (socklab writes it with the runner's context; ``datetime`` here is the graded
commit's committer date, the submission instant the schema asks for).

The checkout is hostile: socklab's Python runs isolated (``python -I``) with its working directory
in a fresh temporary folder, so a ``csv.py`` or ``invoke/`` the student committed is never
imported; only regular files are copied (a symlink to a file of the runner's is not followed);
``result.json`` replaces whatever the checkout held under that name, a symlink included.
Standard library only: this file runs before socklab is installed.
Exit 0 when the submission was graded (failed checks included: the score says so), else the
grader's exit code (2 bad input, e.g. no program; 3 environment) with the reason on stderr.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

# Edit these two: the socklab repository (owner/name on this Git host) and the commit you tested.
SOCKLAB_REPOSITORY = "OWNER/socklab"
SOCKLAB_COMMIT = "COMMIT_SHA"
# Scenarios to grade with, comma-separated ("" = every scenario that takes the student's programs).
SCENARIOS = ""
JOBS = 2

RESULT = "result.json"
STUDENT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def student_name(environ: dict[str, str]) -> str:
    """The student's folder name in the gradebook: the runner's USERNAME when it is a plain name."""
    name = environ.get("USERNAME") or environ.get("OWNER") or ""
    return name if STUDENT_NAME.fullmatch(name) else "student"


def copy_programs(checkout: Path, folder: Path) -> list[str]:
    """The checkout's top-level regular ``*.py`` files into ``folder`` (no symlink, no sub-folder)."""
    folder.mkdir(parents=True)
    copied = []
    for entry in sorted(checkout.iterdir()):
        if entry.suffix == ".py" and stat.S_ISREG(entry.lstat().st_mode):
            shutil.copyfile(entry, folder / entry.name, follow_symlinks=False)
            copied.append(entry.name)
    return copied


def committer_date(checkout: Path) -> str | None:
    """The graded commit's committer date as YYYY-MM-DDTHH:MM:SSZ, when the checkout is a git repository."""
    try:
        done = subprocess.run(["git", "-c", "core.fsmonitor=false", "--no-pager", "-C", str(checkout),
                               "log", "-1", "--format=%cI", "HEAD"], capture_output=True, text=True,
                              timeout=30, stdin=subprocess.DEVNULL, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    raw = done.stdout.strip()
    if done.returncode != 0 or not raw:
        return None
    moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def stamp(result: dict, committed: str | None) -> dict:
    """socklab's result.json with the submission instant of this checkout's commit."""
    if committed:
        result["datetime"] = committed
    return result


def write_result(checkout: Path, result: dict) -> Path:
    """result.json in the checkout, replacing the entry itself (never writing through a symlink)."""
    handle, name = tempfile.mkstemp(prefix=".result-", suffix=".json", dir=checkout)
    with os.fdopen(handle, "w", encoding="utf-8") as file:
        json.dump(result, file, indent=2, ensure_ascii=False)
        file.write("\n")
    os.replace(name, checkout / RESULT)
    return checkout / RESULT


def run(command: list[str], cwd: Path) -> int:
    print("autograder: " + " ".join(command), flush=True)
    return subprocess.run(command, cwd=cwd, stdin=subprocess.DEVNULL, check=False).returncode


def install(temp: Path) -> tuple[Path, Path]:
    """socklab at the pinned commit in a venv of its own, its images built: (its Python, its folder)."""
    server = os.environ.get("GITHUB_SERVER_URL", "")
    if not server or "/" not in SOCKLAB_REPOSITORY or SOCKLAB_REPOSITORY.startswith("OWNER/") \
            or not re.fullmatch(r"[0-9a-f]{40}", SOCKLAB_COMMIT):
        raise SystemExit("autograder: set SOCKLAB_REPOSITORY and SOCKLAB_COMMIT (a full commit SHA) at the top "
                         "of autograder.py (on GitHub Actions), or SOCKLAB_HOME and SOCKLAB_PYTHON in the environment")
    home, python = temp / "socklab", temp / "venv" / "bin" / "python"
    steps = [["git", "init", "-q", str(home)],
             ["git", "-C", str(home), "fetch", "-q", "--depth", "1", f"{server}/{SOCKLAB_REPOSITORY}", SOCKLAB_COMMIT],
             ["git", "-C", str(home), "checkout", "-q", "FETCH_HEAD"],
             [sys.executable, "-I", "-m", "venv", str(temp / "venv")],
             [str(python), "-I", "-m", "pip", "install", "-q", str(home)],
             [str(python), "-I", "-m", "invoke", "--search-root", str(home), "build"]]
    for command in steps:
        if run(command, temp) != 0:
            raise SystemExit(f"autograder: installing socklab failed at: {' '.join(command)}")
    if shutil.which("sudo"):   # GitHub's runners have sch_netem; impairments use it when it loads
        run(["sudo", "-n", "modprobe", "sch_netem"], temp)
    return python, home


def main() -> int:
    checkout = Path.cwd()
    environ = dict(os.environ)
    temp = Path(tempfile.mkdtemp(prefix="socklab-classroom50-", dir=environ.get("RUNNER_TEMP") or None))
    try:
        if environ.get("SOCKLAB_HOME") and environ.get("SOCKLAB_PYTHON"):
            python, home = Path(environ["SOCKLAB_PYTHON"]), Path(environ["SOCKLAB_HOME"])
        else:
            python, home = install(temp)
        student = student_name(environ)
        copied = copy_programs(checkout, temp / "submissions" / student)
        print(f"autograder: grading {student}: {', '.join(copied) or 'no *.py file'}", flush=True)
        (temp / "cwd").mkdir()
        command = [str(python), "-I", "-m", "invoke", "--search-root", str(home), "grade", str(temp / "submissions"),
                   "--report-dir", str(temp / "grades"), "--jobs", str(JOBS)]
        scenarios = environ.get("SOCKLAB_SCENARIOS", SCENARIOS)
        if scenarios:
            command += ["--scenarios", scenarios]
        code = run(command, temp / "cwd")
        if code != 0:
            print(f"autograder: socklab could not grade this submission (exit {code}): see the log above",
                  file=sys.stderr)
            return code
        result = json.loads((temp / "grades" / RESULT).read_text(encoding="utf-8"))
        path = write_result(checkout, stamp(result, committer_date(checkout)))
        print(f"autograder: wrote {path}: {result['score']}/{result['max-score']}")
        return 0
    finally:
        shutil.rmtree(temp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
