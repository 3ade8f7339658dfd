"""classroom/classroom50/autograder.py run as Classroom 50's runner runs it (`python autograder.py`,
working directory the student's checkout, the runner's environment), grading for real on the real
engine: the result.json it leaves in the checkout validates against Classroom 50's published
result/v1 schema and passes the runner's own cross-field rules."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from tests.unit.test_classroom50 import AUTOGRADER, COMMITTED, RUNNER_ENV, SCHEMA, make_repo
from tests.unit.test_grade_push import plant_hostile_modules

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.integration


def test_autograder_grades_a_textbook_udp_server(tmp_path, engine, built_images, no_leftovers):
    server = (ROOT / "tests" / "submissions" / "textbook" / "UDPServer.py").read_text()
    checkout = tmp_path / "net101-sockets-ann"
    marks = tmp_path / "marks"
    marks.mkdir(), checkout.mkdir()
    plant_hostile_modules(checkout, marks)
    make_repo(checkout, {"UDPServer.py": server})
    runtime = tmp_path / "classroom50-runtime"
    runtime.mkdir()
    shutil.copy(AUTOGRADER, runtime / "autograder.py")
    env = {**os.environ, **RUNNER_ENV, "MODE": "individual", "RUNNER_TEMP": str(tmp_path),
           "SOCKLAB_HOME": str(ROOT), "SOCKLAB_PYTHON": sys.executable, "SOCKLAB_SCENARIOS": "udp-echo"}
    done = subprocess.run([sys.executable, str(runtime / "autograder.py")], cwd=checkout, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    result = json.loads((checkout / "result.json").read_text())
    jsonschema.validate(result, SCHEMA)
    # the runner's checks beyond the schema: identity, and no score above its maximum
    assert (result["classroom"], result["assignment"], result["owner"], result["assignment_type"]) == (
        "net101", "sockets", "ann", "individual")
    assert result["datetime"] == "2026-03-01T09:15:00Z" and COMMITTED.startswith("2026-03-01T10:15")
    assert result["graded_at"] > result["datetime"]
    assert 0 < result["score"] == result["max-score"] == sum(t["max-score"] for t in result["tests"])
    assert all(t["passed"] and t["test-name"].startswith("udp-echo/server: ") for t in result["tests"])
    assert [p.name for p in marks.iterdir()] == [], "a module of the student's checkout was imported"
