"""The committer date of the commit a student's folder is checked out at.

Classroom 50 dates a submission by its graded commit (``datetime`` in result.json), not by when it
was graded, so a regrade never moves it past a deadline. Only a folder that is itself the top of a
git work tree has a commit of its own: a student folder inside the teacher's repository must not
take the teacher's last commit. The student's repository is untrusted: git runs with no pager, no
fsmonitor hook and a bounded time, and any failure means "no commit" (the grading time is used).
"""
from __future__ import annotations

import subprocess
from pathlib import Path

GIT_TIMEOUT_S = 30
# Settings a hostile repository's own config could use to run a program when git reads it.
_SAFE = ("-c", "core.fsmonitor=false", "-c", "core.hooksPath=/dev/null", "--no-pager")


def _git(folder: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(["git", *_SAFE, "-C", str(folder), *args], capture_output=True, text=True,
                              timeout=GIT_TIMEOUT_S, stdin=subprocess.DEVNULL, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def committer_date(folder: Path) -> str | None:
    """HEAD's committer date (ISO 8601 with its offset) when ``folder`` is the top of a git work tree."""
    folder = Path(folder)
    top = _git(folder, "rev-parse", "--show-toplevel")
    if not top or Path(top).resolve() != folder.resolve():
        return None
    return _git(folder, "log", "-1", "--format=%cI", "HEAD") or None
