"""The unit's classic mistakes, each graded on the real engine: its verdict and the hint it is given.

Each folder of tests/submissions/ holds a student's program(s) under the textbook's file names and
an ``expected.json`` beside them: the mistake in words, and for each grade the scenario, the
program per role, the outcome, and the failed check with the start of its hint. The hint must name
what the lab observed (the socket bound, the bytes that came back, Python's message), so a change
that makes a hint vaguer or wrong fails here. One scenario per mistake, the one where it shows.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from lab import catalog
from lab.report.document import result_document
from lab.grading import submission
from lab.scenario.plan import build_plan
from lab.scenario_run import run_scenario

SUBMISSIONS = Path(__file__).resolve().parents[1] / "submissions"
CORPUS = sorted(p.parent.name for p in SUBMISSIONS.glob("*/expected.json"))
GRADES = [(folder, index, grade) for folder in CORPUS
          for index, grade in enumerate(json.loads((SUBMISSIONS / folder / "expected.json").read_text())["grades"])]

pytestmark = pytest.mark.integration


def test_the_corpus_holds_the_units_classic_mistakes():
    mistakes = [f for f in CORPUS if any(g["outcome"] == "failed" for g in
                                         json.loads((SUBMISSIONS / f / "expected.json").read_text())["grades"])]
    assert len(mistakes) >= 12, mistakes
    for folder in CORPUS:
        expected = json.loads((SUBMISSIONS / folder / "expected.json").read_text())
        assert expected["mistake"], folder
        for grade in expected["grades"]:
            for role, file in grade["programs"].items():
                assert submission.kind_of_file(file) == f"{'tcp' if 'tcp' in file.lower() else 'udp'}-{role}"
                assert (SUBMISSIONS / folder / file).is_file()
            assert grade["outcome"] == "passed" or (grade["check"] and grade["hint"])


@pytest.mark.parametrize("folder, index, grade", GRADES, ids=[f"{f}-{i}" for f, i, _ in GRADES])
def test_each_mistake_gets_its_verdict_and_hint(engine, built_images, no_leftovers, folder, index, grade):
    students = {role: submission.read_program(SUBMISSIONS / folder / file)
                for role, file in grade["programs"].items()}
    overrides = dict(grade.get("overrides", {}))
    plan = build_plan(catalog.load(grade["scenario"]), overrides, students=students,
                      seed=overrides.pop("seed", None))
    outcome = run_scenario(engine, plan, progress=lambda message: None)
    document = result_document(outcome)
    checks = {c["name"]: c for c in document["checks"]}
    failed = {name: c.get("hint", "") for name, c in checks.items() if not c["passed"]}
    if grade["outcome"] == "passed":
        assert outcome.passed, failed
        assert not any(c.get("hint") for c in document["checks"])
        return
    assert not outcome.passed
    check = checks[grade["check"]]
    assert not check["passed"], check
    assert check["hint"].startswith(grade["hint"]), (check["hint"], failed)
