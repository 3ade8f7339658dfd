"""classroom/grade-push, the script action.yml runs to grade one student's push, driven with a
fake grader: a real Python (a venv of its own) whose `invoke` module writes what `invoke grade`
writes and exits with the grader's code (the real grader has its own tests). The student's checkout
is hostile: a test commits modules there that would forge a passing verdict if ever imported."""
from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "classroom" / "grade-push"

# The fake grader: `python -I -m invoke --search-root ROOT grade DIR --report-dir OUT ...`.
# It imports csv and json itself: were the student's checkout on sys.path, theirs would load.
FAKE_INVOKE = r'''
import csv, json, os, sys
from pathlib import Path

log = Path(os.environ["FAKE_LOG"])
args = sys.argv[1:]
(log / "args").write_text("\n".join(args))
(log / "cwd").write_text(os.getcwd())
(log / "sys_path").write_text(json.dumps(sys.path))
folder, out = Path(args[args.index("grade") + 1]), Path(args[args.index("--report-dir") + 1])
(log / "files").write_text("\n".join(sorted("./" + str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())))
rc = int(os.environ.get("FAKE_RC", "0"))
if rc not in (0, 1):
    sys.exit(rc)
with open(out / "gradebook.csv", "w", newline="") as f:
    csv.writer(f).writerow(["student", "scenario", "role", "outcome", "failed_checks"])
(out / "gradebook.md").write_text("| student | outcome |\n|---|---|\n| ann | see csv |\n")
(out / "autograding-result.txt").write_text(os.environ["FAKE_RESULT"] + "\n")
sys.exit(rc)
'''
RESULT = base64.b64encode(json.dumps({"version": 1, "status": "fail", "max_score": 2, "tests": []}).encode()).decode()
# What a hostile checkout commits: each module, if imported, leaves a mark and forges success.
HOSTILE = {
    "csv.py": "class DictReader:\n    def __init__(self, *a, **k): pass\n"
              "    def __iter__(self): return iter([{'outcome': 'passed'}])\n",
    "json.py": "def dumps(*a, **k): return '{}'\n",
    "venv.py": "", "invoke/__init__.py": "", "invoke/__main__.py": "import sys; sys.exit(0)\n",
    "pip/__init__.py": "", "pip/__main__.py": "import sys; sys.exit(0)\n",
    "lab/__init__.py": "", "encodings/idna.py": "",
}


def plant_hostile_modules(checkout: Path, marks: Path) -> list[str]:
    """Commit the hostile modules into a checkout; each writes MARKS/<its file> when imported."""
    for name, body in HOSTILE.items():
        path = checkout / name
        path.parent.mkdir(parents=True, exist_ok=True)
        mark = marks / name.replace("/", "_")
        path.write_text(f"open({str(mark)!r}, 'w').close()\n{body}")
    return sorted(HOSTILE)


@pytest.fixture(scope="module")
def fake_python(tmp_path_factory) -> Path:
    """A venv of the real Python whose only extra module is the fake grader `invoke`."""
    home = tmp_path_factory.mktemp("fake-venv")
    venv.create(home, with_pip=False)
    python = home / "bin" / "python"
    site = subprocess.run([str(python), "-I", "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                          capture_output=True, text=True, check=True).stdout.strip()
    (Path(site) / "invoke").mkdir()
    (Path(site) / "invoke" / "__init__.py").write_text("")
    (Path(site) / "invoke" / "__main__.py").write_text(FAKE_INVOKE)
    return python


@pytest.fixture
def run(tmp_path, fake_python):
    log, marks, temp = tmp_path / "log", tmp_path / "marks", tmp_path / "runner-temp"
    log.mkdir(), marks.mkdir(), temp.mkdir()
    work = tmp_path / "student-repo"
    work.mkdir()
    (work / "TCPServer.py").write_text("print('server')\n")
    (work / "UDPClient.py").write_text("print('client')\n")
    (work / "notes.txt").write_text("not a program\n")
    (work / "sub").mkdir()
    (work / "sub" / "Other.py").write_text("")

    def go(rc: int = 0, **inputs: str) -> subprocess.CompletedProcess:
        env = {**os.environ, "FAKE_LOG": str(log), "FAKE_RC": str(rc), "FAKE_RESULT": RESULT,
               "GITHUB_STEP_SUMMARY": str(tmp_path / "summary"), "GITHUB_OUTPUT": str(tmp_path / "output"),
               "GITHUB_REPOSITORY": "classroom/assignment-ann", "RUNNER_TEMP": str(temp),
               "SOCKLAB_PYTHON": str(fake_python), "PYTHONPATH": str(work)}
        env.update({f"SOCKLAB_{k.upper()}": v for k, v in inputs.items()})
        return subprocess.run([str(SCRIPT)], cwd=work, env=env, capture_output=True, text=True, timeout=30)

    go.tmp, go.log, go.work, go.marks, go.temp = tmp_path, log, work, marks, temp
    return go


def outputs(tmp: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in (tmp / "output").read_text().splitlines())


def report_dir(go) -> Path:
    """The fresh report folder grade-push made (and named in its outputs)."""
    folder = Path(outputs(go.tmp)["report-dir"])
    assert folder.parent == go.temp and folder.name.startswith("socklab-grades.")
    return folder


def test_passing_push(run):
    done = run(rc=0)
    assert done.returncode == 0, done.stderr
    assert outputs(run.tmp) == {"result": RESULT, "verdict": "passed", "report-dir": str(report_dir(run))}
    assert "| ann | see csv |" in (run.tmp / "summary").read_text()
    # the student's top-level programs only, in a folder named after the repository
    assert (run.log / "files").read_text().split() == ["./assignment-ann/TCPServer.py", "./assignment-ann/UDPClient.py"]
    args = (run.log / "args").read_text().split("\n")
    assert args[:2] == ["--search-root", str(ROOT)] and args[2] == "grade"
    assert "--strict" in args and args[args.index("--report-dir") + 1] == str(report_dir(run))
    assert "--scenarios" not in args and args[args.index("--jobs") + 1] == "2"
    assert not list(run.work.glob("socklab*")), "nothing is written into the student's checkout"


def test_failed_check_fails_the_job_after_writing_everything(run):
    done = run(rc=1, scenarios="tcp-sequential,udp-loss", student="ann", jobs="3")
    assert done.returncode == 1
    assert "a check failed" in done.stderr
    assert outputs(run.tmp) == {"result": RESULT, "verdict": "failed", "report-dir": str(report_dir(run))}
    args = (run.log / "args").read_text().split("\n")
    assert args[args.index("--scenarios") + 1] == "tcp-sequential,udp-loss"
    assert "./ann/TCPServer.py" in (run.log / "files").read_text()


def test_hostile_checkout_is_never_imported_and_the_verdict_stays_failed(run):
    """A csv.py (and json.py, invoke/, pip/, venv.py, ...) committed by the student: the grader's
    Python never imports them (not from the working directory, not through PYTHONPATH), and the
    failed grade stays failed. Its symlinks and sub-folders are not copied either."""
    planted = plant_hostile_modules(run.work, run.marks)
    (run.work / "UDPServer.py").symlink_to(run.tmp / "summary")
    (run.work / "socklab-grades").mkdir()   # a pre-committed report folder is not where reports go
    (run.work / "socklab-grades" / "gradebook.csv").write_text("student,scenario,role,outcome,failed_checks\n")
    done = run(rc=1)
    assert done.returncode == 1, done.stderr
    assert outputs(run.tmp)["verdict"] == "failed"
    assert sorted(p.name for p in run.marks.iterdir()) == [], f"imported from the checkout (of {planted})"
    assert Path((run.log / "cwd").read_text()).resolve() != run.work.resolve()
    assert not any(Path(entry or ".").resolve() == run.work.resolve() for entry in json.loads((run.log / "sys_path").read_text()))
    copied = (run.log / "files").read_text().split()   # the student's top-level regular *.py: data to grade
    assert "./assignment-ann/UDPServer.py" not in copied and "./assignment-ann/TCPServer.py" in copied
    assert report_dir(run) != run.work / "socklab-grades"


def test_hostile_modules_would_be_imported_without_isolation(run, fake_python):
    """The planted modules are live: the plain `python3 -` the old grade-push ran from the checkout
    imports the student's csv.py and reads a failed gradebook as passed (the attack, shown)."""
    plant_hostile_modules(run.work, run.marks)
    gradebook = run.tmp / "gradebook.csv"
    gradebook.write_text("student,scenario,role,outcome,failed_checks\nann,tcp-sequential,server,failed,x\n")
    old = "import csv, sys\nrows = list(csv.DictReader(open(sys.argv[1])))\nprint('failed' if any(r['outcome'] == 'failed' for r in rows) else 'passed')\n"
    done = subprocess.run([sys.executable, "-", str(gradebook)], input=old, cwd=run.work, capture_output=True, text=True,
                          env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    assert done.stdout.strip() == "passed" and (run.marks / "csv.py").exists()


@pytest.mark.parametrize("rc", [2, 3])
def test_grader_could_not_grade_passes_its_exit_code(run, rc):
    done = run(rc=rc)
    assert done.returncode == rc
    assert "could not grade" in (run.tmp / "summary").read_text()
    assert "verdict" not in outputs(run.tmp)


def test_the_submission_copy_is_removed_after_grading(run):
    run(rc=0)
    assert [p.name for p in run.temp.iterdir()] == [report_dir(run).name]


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
    assert not list(run.temp.iterdir()), "bad input creates nothing"
