"""Every GitHub Actions file linted offline, and the matrices kept in step with the lab.

zizmor (security audit, offline) must report nothing; check-jsonschema validates against its
built-in GitHub schemas. Both come with `pip install -e '.[dev]'` (bootstrap, .ci/run, the
workflow's unit job): missing, they skip locally and fail under CI=true.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from lab import catalog

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.y*ml"))
ACTIONS = [ROOT / "action.yml"]
ALL = WORKFLOWS + ACTIONS
CI_WORKFLOW = ROOT / ".github" / "workflows" / "socklab.yml"
IN_CI = os.environ.get("CI", "").lower() == "true"


def tool(name: str) -> str:
    """The tool next to this Python (the venv's bin), else on PATH; skip or (CI) fail without it."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if not found:
        message = f"{name} is not installed (pip install -e '.[dev]')"
        if IN_CI:
            pytest.fail(f"CI=true: {message}")
        pytest.skip(message)
    return found


def load(path: Path) -> dict:
    document = yaml.safe_load(path.read_text())
    if True in document:            # YAML 1.1 reads the key `on` as a boolean
        document["on"] = document.pop(True)
    return document


def test_there_is_something_to_lint():
    assert CI_WORKFLOW in WORKFLOWS and ACTIONS[0].exists()


def test_zizmor_offline_finds_nothing():
    done = subprocess.run([tool("zizmor"), "--offline", "--format", "json", *map(str, ALL)],
                          capture_output=True, text=True, timeout=120)
    findings = json.loads(done.stdout or "[]")
    assert findings == [], "zizmor findings:\n" + "\n".join(
        f"{f['ident']}: {f['desc']} at {[loc['symbolic']['key'] for loc in f['locations']]}" for f in findings)
    assert done.returncode == 0, done.stderr
    for path in ALL:    # every file was audited, none silently left out
        assert path.name in done.stderr, done.stderr


@pytest.mark.parametrize("schema, paths", [("vendor.github-workflows", WORKFLOWS),
                                           ("vendor.github-actions", ACTIONS)])
def test_check_jsonschema_builtin_schema(schema, paths):
    done = subprocess.run([tool("check-jsonschema"), "--builtin-schema", schema, *map(str, paths)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_scenario_matrix_is_the_labs_own_list(tmp_path):
    """The scenario jobs' matrix is what the workflow's own `list` step prints: run that step's
    command here and compare with the scenario files."""
    jobs = load(CI_WORKFLOW)["jobs"]
    assert jobs["scenario"]["strategy"]["matrix"]["scenario"] == "${{ fromJSON(needs.scenarios.outputs.matrix) }}"
    assert jobs["scenario"]["needs"] == "scenarios"
    assert jobs["scenarios"]["outputs"]["matrix"] == "${{ steps.list.outputs.scenarios }}"
    [step] = [s for s in jobs["scenarios"]["steps"] if s.get("id") == "list"]
    assert "invoke scenarios --json" in step["run"]
    output = tmp_path / "github-output"
    env = {**os.environ, "GITHUB_OUTPUT": str(output),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    subprocess.run(["bash", "-euo", "pipefail", "-c", step["run"]], cwd=ROOT, env=env, check=True, timeout=60)
    key, _, value = output.read_text().strip().partition("=")
    assert key == "scenarios"
    matrix = json.loads(value)
    assert [entry["name"] for entry in matrix] == sorted(catalog.available())
    assert all(entry["lesson"] for entry in matrix)


def test_scenario_jobs_use_netem_and_say_so():
    steps = load(CI_WORKFLOW)["jobs"]["scenario"]["steps"]
    runs = "\n".join(s.get("run", "") for s in steps)
    assert "sudo modprobe sch_netem" in runs and "--impair-backend netem" in runs
    assert re.search(r"netem.*GITHUB_STEP_SUMMARY", runs)


def test_python_matrix_is_the_supported_list():
    classifiers = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["classifiers"]
    supported = [c.rsplit(" :: ", 1)[1] for c in classifiers if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)]
    assert supported == ["3.10", "3.11", "3.12", "3.13"]
    assert load(CI_WORKFLOW)["jobs"]["unit"]["strategy"]["matrix"]["python"] == supported


def test_least_privilege_and_limits():
    workflow = load(CI_WORKFLOW)
    assert workflow["permissions"] == {}
    assert workflow["concurrency"]["group"]
    for name, job in workflow["jobs"].items():
        assert job.get("timeout-minutes"), f"{name}: no timeout-minutes"
        assert job.get("permissions") == {"contents": "read"}, f"{name}: {job.get('permissions')}"


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.name)
def test_every_action_pinned_by_commit_with_its_tag(path):
    uses = re.findall(r"^\s*(?:- )?uses:\s*(\S+)(.*)", path.read_text(), re.MULTILINE)
    assert uses
    for reference, comment in uses:
        if reference.startswith("./"):
            continue
        assert re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", reference), reference
        assert re.fullmatch(r"\s*# v\d+\.\d+\.\d+", comment), f"{reference}: tag comment missing"


def test_checkouts_keep_no_credentials():
    for path in WORKFLOWS:
        for job in load(path)["jobs"].values():
            for step in job.get("steps", []):
                if step.get("uses", "").startswith("actions/checkout@"):
                    assert step.get("with", {}).get("persist-credentials") is False, path
