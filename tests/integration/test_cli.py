"""The CLI as users meet it: exit codes, clear errors, and nothing left behind — real engine."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
INVOKE = [sys.executable, "-m", "invoke"]

pytestmark = pytest.mark.integration


def invoke(*args: str, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([*INVOKE, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


def test_scenarios_lists_name_then_lesson():
    listed = invoke("scenarios")
    assert listed.returncode == 0
    lines = dict(line.split(None, 1) for line in listed.stdout.splitlines())
    assert "tcp-sequential" in lines and "accept()" in lines["tcp-sequential"]


@pytest.mark.parametrize(("task", "flag"), [(task, "--help") for task in ("scenario", "grade", "shell", "compose")]
                         + [("scenario", "-h"), ("grade", "-h"), ("compose", "-h")])   # shell's -h is --host
def test_help_after_a_task_with_a_positional_argument_is_its_help(task, flag, engine, no_leftovers):
    """invoke hands the flag to the task as its positional argument (pyinvoke/invoke#982): the
    task prints what `invoke --help TASK` prints and does nothing else (no grade of "--help")."""
    asked = invoke(task, flag)
    assert (asked.returncode, asked.stderr) == (0, ""), asked.stderr
    assert asked.stdout == invoke("--help", task).stdout
    assert asked.stdout.startswith("Usage: ") and "Docstring:" in asked.stdout


def test_unknown_scenario_exits_2_with_the_closest_match(engine, no_leftovers):
    result = invoke("scenario", "tcp-ech")
    assert result.returncode == 2
    assert "Did you mean 'tcp-echo'" in result.stderr and "udp-echo" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_parameter_exits_2_and_creates_nothing(engine, no_leftovers):
    result = invoke("scenario", "tcp-sequential", "--clients", "0")
    assert result.returncode == 2, result.stderr
    assert "--clients 0: must be at least 1" in result.stderr
    result = invoke("scenario", "tcp-echo", "--loss", "20%")
    assert result.returncode == 2 and "has no parameter --loss" in result.stderr


def test_no_engine_exits_3_with_advice_and_no_traceback(tmp_path):
    result = invoke("scenario", "tcp-echo", env={"DOCKER_HOST": f"unix://{tmp_path}/none.sock"}, timeout=60)
    assert result.returncode == 3
    assert "no Docker engine answers" in result.stderr and ("start" in result.stderr or "install" in result.stderr)
    assert "Traceback" not in result.stderr


def test_ctrl_c_tears_the_lab_down(engine, built_images, no_leftovers, session):
    process = subprocess.Popen([*INVOKE, "scenario", "tcp-sequential", "--clients", "8"], cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and engine.count_labelled(session=session)[0] < 3:
        time.sleep(0.1)
    assert engine.count_labelled(session=session)[0] >= 3, "the run never created its containers"
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, (out, err)
    assert "torn down" in out + err


def test_report_dir_json_follows_the_contract(engine, built_images, no_leftovers, tmp_path):
    import jsonschema

    result = invoke("scenario", "udp-echo", "--report-dir", str(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    document = json.loads((tmp_path / "udp-echo.json").read_text())
    schema = json.loads((ROOT / "tests/contracts/result.schema.json").read_text())
    jsonschema.validate(document, schema)
    assert (tmp_path / "udp-echo.junit.xml").read_text().startswith("<testsuite")
    assert "udp-echo: PASSED" in result.stdout
