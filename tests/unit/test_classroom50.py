"""Classroom 50's result.json without Docker: the fields its runner's environment and the graded
commit give, validated against the offline copy of its published result/v1 schema; and the
autograder.py a teacher drops into a classroom, run as the runner runs it with a fake grader."""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import venv
from datetime import datetime, timezone
from pathlib import Path

import jsonschema
import pytest

from lab.grading import classroom, git_commit
from lab.grading import grade as grading
from tests.unit.test_grade_push import plant_hostile_modules

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "tests" / "contracts" / "classroom50" / "result-v1.schema.json").read_text())
AUTOGRADER = ROOT / "classroom" / "classroom50" / "autograder.py"
RUNNER_ENV = {"CLASSROOM": "net101", "ASSIGNMENT": "sockets", "SUBMISSION_TAG": "submit/20260301T091500Z-abc1234",
              "USERNAME": "ann", "COMMIT_URL": "https://git.example/c", "RELEASE_URL": "https://git.example/r",
              "REVIEW_URL": "https://git.example/d"}
COMMITTED = "2026-03-01T10:15:00+01:00"


def _tests() -> list[classroom.ClassroomTest]:
    return [classroom.ClassroomTest("udp-echo/server: replies", "pass", 2, 2, "ok"),
            classroom.ClassroomTest("udp-echo/server: upper case", "fail", 0, 3, "lower case seen")]


def make_repo(folder: Path, files: dict[str, str], committed: str = COMMITTED) -> Path:
    """A real git repository with one commit whose committer date is ``committed``."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text)
    env = {**os.environ, "GIT_COMMITTER_DATE": committed, "GIT_AUTHOR_DATE": committed,
           "GIT_AUTHOR_NAME": "ann", "GIT_AUTHOR_EMAIL": "ann@example.org",
           "GIT_COMMITTER_NAME": "ann", "GIT_COMMITTER_EMAIL": "ann@example.org"}
    for command in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "submit"]):
        subprocess.run(["git", "-C", str(folder), *command], env=env, check=True, capture_output=True)
    return folder


def test_result_with_the_runners_environment_validates_against_the_published_schema():
    graded = datetime(2026, 3, 2, 8, 0, 1, tzinfo=timezone.utc)
    result = classroom.classroom50_result(_tests(), RUNNER_ENV, COMMITTED, graded_at=graded)
    jsonschema.validate(result, SCHEMA)
    assert (result["owner"], result["assignment_type"]) == ("ann", "individual")
    assert result["datetime"] == "2026-03-01T09:15:00Z" and result["graded_at"] == "2026-03-02T08:00:01Z"
    assert (result["score"], result["max-score"]) == (2, 5)
    assert all(type(t["score"]) is int and type(t["max-score"]) is int for t in result["tests"])


def test_without_the_runners_context_the_schema_names_what_is_missing():
    result = classroom.classroom50_result(_tests(), {})
    assert "owner" not in result and result["assignment_type"] == "individual"
    errors = {e.message for e in jsonschema.Draft202012Validator(SCHEMA).iter_errors(result)}
    assert "'owner' is a required property" in errors and "'classroom' is a required property" in errors


@pytest.mark.parametrize("mode, expected", [(None, "individual"), ("", "individual"), ("individual", "individual"),
                                            ("group", "group"), (" GROUP ", "group"), ("solo", "individual")])
def test_assignment_type_from_the_runners_mode(mode, expected):
    env = dict(RUNNER_ENV) if mode is None else {**RUNNER_ENV, "MODE": mode}
    result = classroom.classroom50_result(_tests(), env, COMMITTED)
    assert result["assignment_type"] == expected
    jsonschema.validate(result, SCHEMA)


def test_owner_falls_back_to_the_newer_runners_owner_variable():
    env = {k: v for k, v in RUNNER_ENV.items() if k != "USERNAME"} | {"OWNER": "bob"}
    assert classroom.classroom50_result(_tests(), env)["owner"] == "bob"


def test_without_a_commit_datetime_is_the_grading_time():
    graded = datetime(2026, 3, 2, 8, 0, 1, tzinfo=timezone.utc)
    result = classroom.classroom50_result(_tests(), RUNNER_ENV, None, graded_at=graded)
    assert result["datetime"] == result["graded_at"] == "2026-03-02T08:00:01Z"


def test_an_instant_without_offset_is_refused():
    with pytest.raises(ValueError, match="offset"):
        classroom.utc_timestamp("2026-03-01T10:15:00")


def test_committer_date_of_a_checkout_and_not_of_an_enclosing_repository(tmp_path):
    repo = make_repo(tmp_path / "ann", {"UDPServer.py": "pass\n"})
    (repo / "inner").mkdir()
    assert classroom.utc_timestamp(git_commit.committer_date(repo)) == "2026-03-01T09:15:00Z"
    assert git_commit.committer_date(repo / "inner") is None   # a folder inside someone's repository
    assert git_commit.committer_date(tmp_path) is None          # no repository at all


def test_write_grades_dates_each_student_by_their_own_commit(tmp_path):
    rows = [classroom.GradeRow("ann", "udp-echo", "server", "error", reason="x"),
            classroom.GradeRow("bob", "udp-echo", "server", "error", reason="y")]
    grading.write_grades(rows, tmp_path, environ=RUNNER_ENV, commit_dates={"ann": COMMITTED})
    ann, bob = (json.loads((tmp_path / s / "result.json").read_text()) for s in ("ann", "bob"))
    assert ann["datetime"] == "2026-03-01T09:15:00Z" and bob["datetime"] == bob["graded_at"]
    grading.write_grades(rows[:1], tmp_path / "one", environ=RUNNER_ENV, commit_dates={"ann": COMMITTED})
    alone = json.loads((tmp_path / "one" / "result.json").read_text())
    assert alone["datetime"] == "2026-03-01T09:15:00Z"
    jsonschema.validate(alone, SCHEMA)


def test_commit_dates_come_from_student_folders_that_are_repositories(tmp_path):
    from lab.grading import submission

    make_repo(tmp_path / "class" / "ann", {"UDPServer.py": "pass\n"})
    (tmp_path / "class" / "bob").mkdir()
    (tmp_path / "class" / "bob" / "UDPServer.py").write_text("pass\n")
    dates = grading.commit_dates(submission.scan_class(tmp_path / "class"))
    assert list(dates) == ["ann"] and classroom.utc_timestamp(dates["ann"]) == "2026-03-01T09:15:00Z"


@pytest.mark.parametrize("outcomes, passed", [(["passed", "not-applicable"], True), (["passed", "failed"], False),
                                              (["passed", "error"], False), (["not-applicable"], False), ([], False)])
def test_strict_verdict(outcomes, passed):
    rows = [classroom.GradeRow("ann", "s", "server", o) for o in outcomes]
    assert grading.verdict_passed(rows) is passed


# --- autograder.py, as Classroom 50's runner runs it, with a fake grader --------------------------

FAKE_GRADER = r'''
import json, os, sys
from pathlib import Path
args = sys.argv[1:]
log = Path(os.environ["FAKE_LOG"])
(log / "args").write_text(json.dumps(args))
(log / "cwd").write_text(os.getcwd())
folder, out = Path(args[args.index("grade") + 1]), Path(args[args.index("--report-dir") + 1])
(log / "files").write_text(json.dumps(sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))))
rc = int(os.environ.get("FAKE_RC", "0"))
if rc:
    sys.exit(rc)
out.mkdir(parents=True, exist_ok=True)
(out / "result.json").write_text(os.environ["FAKE_RESULT"])
'''


@pytest.fixture(scope="module")
def fake_socklab_python(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("fake-socklab")
    venv.create(home, with_pip=False)
    python = home / "bin" / "python"
    site = Path(subprocess.run([str(python), "-I", "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                               capture_output=True, text=True, check=True).stdout.strip())
    (site / "invoke").mkdir()
    (site / "invoke" / "__init__.py").write_text("")
    (site / "invoke" / "__main__.py").write_text(FAKE_GRADER)
    return python


def run_autograder(tmp_path: Path, python: Path, checkout: Path, rc: int = 0, **extra: str):
    runtime = tmp_path / "classroom50-runtime"   # where the runner puts the fetched autograder.py
    runtime.mkdir(exist_ok=True)
    (runtime / "autograder.py").write_bytes(AUTOGRADER.read_bytes())
    log = tmp_path / "log"
    log.mkdir(exist_ok=True)
    grader_result = classroom.classroom50_result(_tests(), RUNNER_ENV)
    env = {**os.environ, **RUNNER_ENV, "RUNNER_TEMP": str(tmp_path), "SOCKLAB_HOME": str(ROOT),
           "SOCKLAB_PYTHON": str(python), "FAKE_LOG": str(log), "FAKE_RC": str(rc),
           "FAKE_RESULT": json.dumps(grader_result), **extra}
    done = subprocess.run([sys.executable, str(runtime / "autograder.py")], cwd=checkout, env=env,
                          capture_output=True, text=True, timeout=60)
    return done, log


def test_autograder_writes_a_valid_result_dated_by_the_commit(tmp_path, fake_socklab_python):
    checkout = make_repo(tmp_path / "net101-sockets-ann", {"UDPServer.py": "pass\n", "notes.txt": "x\n"})
    marks = tmp_path / "marks"
    marks.mkdir()
    plant_hostile_modules(checkout, marks)
    (checkout / "TCPServer.py").symlink_to(tmp_path / "teacher-secret")
    (tmp_path / "teacher-secret").write_text("secret\n")
    (checkout / "result.json").symlink_to(tmp_path / "teacher-file")   # pre-committed: replaced, not followed
    done, log = run_autograder(tmp_path, fake_socklab_python, checkout, SOCKLAB_SCENARIOS="udp-echo")
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads((checkout / "result.json").read_text())
    jsonschema.validate(result, SCHEMA)
    assert result["datetime"] == "2026-03-01T09:15:00Z" and result["owner"] == "ann"
    assert not (checkout / "result.json").is_symlink() and not (tmp_path / "teacher-file").exists()
    args = json.loads((log / "args").read_text())
    assert args[:2] == ["--search-root", str(ROOT)] and args[args.index("--scenarios") + 1] == "udp-echo"
    copied = json.loads((log / "files").read_text())
    assert "ann/UDPServer.py" in copied and "ann/TCPServer.py" not in copied and "ann/notes.txt" not in copied
    assert Path((log / "cwd").read_text()).resolve() != checkout.resolve()
    assert [p.name for p in marks.iterdir()] == []
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("socklab-classroom50-")], "its temp folder stays"


@pytest.mark.parametrize("rc", [2, 3])
def test_autograder_that_could_not_grade_exits_non_zero_and_writes_nothing(tmp_path, fake_socklab_python, rc):
    checkout = make_repo(tmp_path / "repo", {"UDPServer.py": "pass\n"})
    done, _ = run_autograder(tmp_path, fake_socklab_python, checkout, rc=rc)
    assert done.returncode == rc and "could not grade" in done.stderr
    assert not (checkout / "result.json").exists()


def test_autograder_without_socklab_says_what_to_set(tmp_path):
    checkout = make_repo(tmp_path / "repo", {"UDPServer.py": "pass\n"})
    env = {k: v for k, v in os.environ.items() if k not in ("SOCKLAB_HOME", "SOCKLAB_PYTHON", "GITHUB_SERVER_URL")}
    done = subprocess.run([sys.executable, str(AUTOGRADER)], cwd=checkout, env={**env, "RUNNER_TEMP": str(tmp_path)},
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 1 and "SOCKLAB_COMMIT" in done.stderr and "SOCKLAB_HOME" in done.stderr


def test_autograder_student_name_and_date_helpers():
    spec = importlib.util.spec_from_file_location("autograder", AUTOGRADER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.student_name({"USERNAME": "ann-1"}) == "ann-1"
    assert module.student_name({"USERNAME": "../x"}) == module.student_name({}) == "student"
    assert module.stamp({"datetime": "now"}, None) == {"datetime": "now"}
