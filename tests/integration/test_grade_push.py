"""The classroom action with the real grader on the real engine: classroom/grade-push grades a
textbook push (passes) and a server that closes its listening socket (fails the job), with the
gradebook in the summary and the legacy autograding `result` output either way; and the action's
own steps, run as a runner runs them, on a hostile checkout whose csv.py, venv.py, pip/ and invoke/
would forge a pass: none of them is imported, the verdict stays failed, the reports are under
$RUNNER_TEMP."""
from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.unit.test_grade_push import plant_hostile_modules

ROOT = Path(__file__).resolve().parents[2]
SUBMISSIONS = ROOT / "tests" / "submissions"
pytestmark = pytest.mark.integration


def outputs_of(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines())


def grade_push(tmp_path: Path, submission: str, scenarios: str) -> tuple[subprocess.CompletedProcess, dict, str]:
    repo = tmp_path / "repo"
    shutil.copytree(SUBMISSIONS / submission, repo)
    (tmp_path / "runner-temp").mkdir()
    env = {**os.environ, "GITHUB_OUTPUT": str(tmp_path / "output"), "GITHUB_STEP_SUMMARY": str(tmp_path / "summary"),
           "GITHUB_REPOSITORY": "classroom/lab1-ann", "RUNNER_TEMP": str(tmp_path / "runner-temp"),
           "SOCKLAB_SCENARIOS": scenarios, "SOCKLAB_PYTHON": sys.executable}
    done = subprocess.run([str(ROOT / "classroom" / "grade-push")], cwd=repo, env=env, capture_output=True,
                          text=True, timeout=600)
    return done, outputs_of(tmp_path / "output"), (tmp_path / "summary").read_text()


def test_textbook_push_passes(tmp_path, engine, built_images, no_leftovers):
    done, outputs, summary = grade_push(tmp_path, "textbook", "tcp-sequential,udp-echo")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr
    assert outputs["verdict"] == "passed"
    assert json.loads(base64.b64decode(outputs["result"]))["status"] == "pass"
    # the summary is Markdown with the student's name escaped as text (lab.escaping.markdown)
    assert "lab1\\-ann" in summary and "tcp-sequential" in summary
    assert Path(outputs["report-dir"]).parent == tmp_path / "runner-temp"
    assert (Path(outputs["report-dir"]) / "gradebook.csv").exists()


def test_failed_check_fails_the_job(tmp_path, engine, built_images, no_leftovers):
    done, outputs, summary = grade_push(tmp_path, "closes-listener", "tcp-sequential")
    assert done.returncode == 1, done.stdout[-2000:] + done.stderr
    assert outputs["verdict"] == "failed"
    result = json.loads(base64.b64decode(outputs["result"]))
    assert result["status"] == "fail" and any(t["status"] == "fail" for t in result["tests"])
    assert "failed" in summary and "a check failed" in done.stderr


# --- the action's steps, as a runner runs them --------------------------------------------------

EXPRESSION = re.compile(r"\$\{\{\s*([^}]+?)\s*\}\}")


def render(text: str, context: dict[str, str]) -> str:
    """A step's `${{ ... }}` expressions, from the few names the action uses (unknown: an error)."""
    return EXPRESSION.sub(lambda m: context[m.group(1)], text)


def test_action_steps_on_a_hostile_checkout_keep_a_failed_grade_failed(tmp_path, engine, built_images, no_leftovers):
    """action.yml's run steps, in order, as the runner runs a composite action's bash steps (cwd the
    workspace unless the step names its working-directory; `bash -e -o pipefail`), on a checkout of a
    failing server that also commits csv.py, json.py, venv.py, pip/, invoke/ and lab/."""
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    workspace, runner_temp, marks = tmp_path / "workspace", tmp_path / "runner-temp", tmp_path / "marks"
    shutil.copytree(SUBMISSIONS / "closes-listener", workspace)
    runner_temp.mkdir(), marks.mkdir()
    planted = plant_hostile_modules(workspace, marks)
    (workspace / "socklab-grades").mkdir()   # a pre-committed "report folder" with a passing gradebook
    (workspace / "socklab-grades" / "gradebook.csv").write_text("student,scenario,role,outcome,failed_checks\n")
    inputs = {name: spec.get("default", "") for name, spec in action["inputs"].items()}
    inputs.update(scenarios="tcp-sequential", netem="false")   # this kernel has no sch_netem
    context = {"runner.temp": str(runner_temp), **{f"inputs.{k}": v for k, v in inputs.items()}}
    python_dir = Path(sys.executable).parent   # what setup-python puts first on PATH
    env = {**os.environ, "PATH": f"{python_dir}{os.pathsep}{os.environ['PATH']}", "RUNNER_TEMP": str(runner_temp),
           "GITHUB_ACTION_PATH": str(ROOT), "GITHUB_WORKSPACE": str(workspace),
           "GITHUB_REPOSITORY": "classroom/lab1-ann", "GITHUB_STEP_SUMMARY": str(tmp_path / "summary")}
    ran = []
    for step in action["runs"]["steps"]:
        if "run" not in step:
            continue
        output = tmp_path / f"output-{len(ran)}"
        output.touch()
        step_env = {**env, "GITHUB_OUTPUT": str(output),
                    **{k: render(str(v), context) for k, v in step.get("env", {}).items()}}
        cwd = render(step["working-directory"], context) if "working-directory" in step else str(workspace)
        done = subprocess.run(["bash", "--noprofile", "--norc", "-e", "-o", "pipefail", "-c", step["run"]],
                              cwd=cwd, env=step_env, capture_output=True, text=True, timeout=900)
        ran.append((step.get("id", step["name"]), done, outputs_of(output)))
        if "id" in step:
            context.update({f"steps.{step['id']}.outputs.{k}": v for k, v in outputs_of(output).items()})
        if done.returncode != 0:
            break
    (install, installed, _), (grade, graded, outputs) = ran
    assert installed.returncode == 0, installed.stdout[-2000:] + installed.stderr[-3000:]
    assert grade == "grade" and graded.returncode == 1, graded.stdout[-3000:] + graded.stderr[-2000:]
    assert outputs["verdict"] == "failed"
    assert json.loads(base64.b64decode(outputs["result"]))["status"] == "fail"
    assert [p.name for p in marks.iterdir()] == [], f"imported from the student's checkout (of {planted})"
    reports = Path(outputs["report-dir"])
    assert reports.parent == runner_temp and (reports / "gradebook.csv").exists()
    assert "failed" in (reports / "gradebook.csv").read_text()
    [upload] = [s for s in action["runs"]["steps"] if s.get("uses", "").startswith("actions/upload-artifact@")]
    assert render(upload["with"]["path"], context) == str(reports)
    assert (workspace / "socklab-grades" / "gradebook.csv").read_text().count("\n") == 1, "the checkout is untouched"
