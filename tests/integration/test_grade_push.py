"""The classroom action's script (classroom/grade-push) with the real grader on the real engine:
a textbook push passes, a server that closes its listening socket fails the job — with the
gradebook in the summary and the legacy autograding `result` output either way."""
from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SUBMISSIONS = ROOT / "tests" / "submissions"
pytestmark = pytest.mark.integration


def grade_push(tmp_path: Path, submission: str, scenarios: str) -> tuple[subprocess.CompletedProcess, dict, str]:
    repo = tmp_path / "repo"
    shutil.copytree(SUBMISSIONS / submission, repo)
    env = {**os.environ, "GITHUB_OUTPUT": str(tmp_path / "output"), "GITHUB_STEP_SUMMARY": str(tmp_path / "summary"),
           "GITHUB_REPOSITORY": "classroom/lab1-ann", "RUNNER_TEMP": str(tmp_path),
           "SOCKLAB_SCENARIOS": scenarios, "SOCKLAB_REPORT_DIR": str(tmp_path / "grades"),
           "SOCKLAB_INVOKE": str(Path(sys.executable).parent / "invoke")}
    done = subprocess.run([str(ROOT / "classroom" / "grade-push")], cwd=repo, env=env, capture_output=True,
                          text=True, timeout=600)
    outputs = dict(line.split("=", 1) for line in (tmp_path / "output").read_text().splitlines())
    return done, outputs, (tmp_path / "summary").read_text()


def test_textbook_push_passes(tmp_path, engine, built_images, no_leftovers):
    done, outputs, summary = grade_push(tmp_path, "textbook", "tcp-sequential,udp-echo")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr
    assert outputs["verdict"] == "passed"
    assert json.loads(base64.b64decode(outputs["result"]))["status"] == "pass"
    assert "lab1-ann" in summary and "tcp-sequential" in summary


def test_failed_check_fails_the_job(tmp_path, engine, built_images, no_leftovers):
    done, outputs, summary = grade_push(tmp_path, "closes-listener", "tcp-sequential")
    assert done.returncode == 1, done.stdout[-2000:] + done.stderr
    assert outputs["verdict"] == "failed"
    result = json.loads(base64.b64decode(outputs["result"]))
    assert result["status"] == "fail" and any(t["status"] == "fail" for t in result["tests"])
    assert "failed" in summary and "tcp-sequential (server): failed" in done.stderr
