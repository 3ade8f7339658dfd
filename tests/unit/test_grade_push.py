"""classroom/grade-push, the script action.yml runs to grade one student's push, driven with a
fake `invoke` that writes what `invoke grade` writes (the real grader has its own tests)."""
from __future__ import annotations

import base64
import json
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "classroom" / "grade-push"

FAKE_INVOKE = r'''#!/usr/bin/env bash
# records its arguments and the submission folder, then writes the grader's files
printf '%s\n' "$@" > "$FAKE_LOG/args"
while [ $# -gt 0 ]; do
  case "$1" in
    grade) dir="$2"; shift ;;
    --report-dir) out="$2"; shift ;;
  esac
  shift
done
(cd "$dir" && find . -type f | sort) > "$FAKE_LOG/files"
[ "${FAKE_RC:-0}" = 0 ] || exit "$FAKE_RC"
printf 'student,scenario,role,outcome,failed_checks\n' > "$out/gradebook.csv"
printf '%b' "${FAKE_ROWS:-}" >> "$out/gradebook.csv"
printf '| student | outcome |\n|---|---|\n| ann | see csv |\n' > "$out/gradebook.md"
printf '%s' "$FAKE_RESULT" > "$out/autograding-result.txt"
'''
RESULT = base64.b64encode(json.dumps({"version": 1, "status": "fail", "max_score": 2, "tests": []}).encode()).decode()


@pytest.fixture
def run(tmp_path):
    bin_dir, log = tmp_path / "bin", tmp_path / "log"
    bin_dir.mkdir(), log.mkdir()
    (bin_dir / "invoke").write_text(FAKE_INVOKE)
    (bin_dir / "invoke").chmod(0o755)
    work = tmp_path / "student-repo"
    work.mkdir()
    (work / "TCPServer.py").write_text("print('server')\n")
    (work / "UDPClient.py").write_text("print('client')\n")
    (work / "notes.txt").write_text("not a program\n")
    (work / "sub").mkdir()
    (work / "sub" / "Other.py").write_text("")

    def go(rows: str = "", rc: int = 0, **inputs: str) -> subprocess.CompletedProcess:
        env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "FAKE_LOG": str(log),
               "FAKE_ROWS": rows, "FAKE_RC": str(rc), "FAKE_RESULT": RESULT,
               "GITHUB_STEP_SUMMARY": str(tmp_path / "summary"), "GITHUB_OUTPUT": str(tmp_path / "output"),
               "GITHUB_REPOSITORY": "classroom/assignment-ann", "RUNNER_TEMP": str(tmp_path)}
        env.pop("SOCKLAB_INVOKE", None)
        env.update({f"SOCKLAB_{k.upper()}": v for k, v in inputs.items()})
        return subprocess.run([str(SCRIPT)], cwd=work, env=env, capture_output=True, text=True, timeout=30)

    go.tmp, go.log = tmp_path, log
    return go


def outputs(tmp: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in (tmp / "output").read_text().splitlines())


def test_passing_push(run):
    done = run("assignment-ann,tcp-sequential,server,passed,\nassignment-ann,udp-loss,client,not-applicable,\n")
    assert done.returncode == 0, done.stderr
    assert outputs(run.tmp) == {"result": RESULT, "verdict": "passed"}
    assert "| ann | see csv |" in (run.tmp / "summary").read_text()
    # the student's top-level programs only, in a folder named after the repository
    assert (run.log / "files").read_text().split() == ["./assignment-ann/TCPServer.py", "./assignment-ann/UDPClient.py"]
    args = (run.log / "args").read_text().split("\n")
    assert args[:2] == ["--search-root", str(ROOT)] and args[2] == "grade"
    assert "--scenarios" not in args and args[args.index("--jobs") + 1] == "2"


def test_failed_check_fails_the_job_after_writing_everything(run):
    done = run("assignment-ann,tcp-sequential,server,failed,second_client_served\n",
               scenarios="tcp-sequential,udp-loss", student="ann", jobs="3")
    assert done.returncode == 1
    assert "second_client_served" in done.stderr
    assert outputs(run.tmp) == {"result": RESULT, "verdict": "failed"}
    args = (run.log / "args").read_text().split("\n")
    assert args[args.index("--scenarios") + 1] == "tcp-sequential,udp-loss"
    assert "./ann/TCPServer.py" in (run.log / "files").read_text()


def test_error_outcome_fails_too(run):
    assert run("assignment-ann,udp-echo,server,error,\n").returncode == 1


def test_nothing_graded_is_a_failure(run):
    done = run("")
    assert done.returncode == 1 and "nothing was graded" in done.stderr


def test_grader_environment_problem_passes_its_exit_code(run):
    done = run(rc=3)
    assert done.returncode == 3
    assert "could not grade" in (run.tmp / "summary").read_text()


@pytest.mark.parametrize("inputs, word", [
    ({"scenarios": "udp-echo; rm -rf /"}, "scenarios"),
    ({"jobs": "0"}, "jobs"),
    ({"student": "../../etc"}, "student"),
    ({"files": "no-such-folder"}, "files"),
])
def test_bad_inputs_exit_2_before_grading(run, inputs, word):
    done = run(**inputs)
    assert done.returncode == 2 and word in done.stderr
    assert not (run.log / "args").exists(), "the grader must not have run"
