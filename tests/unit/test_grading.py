"""`invoke grade` without Docker: which runs a class needs, the gradebook and the classroom formats."""
from __future__ import annotations

import base64
import csv
import doctest
import io
import json
from pathlib import Path

import pytest

from lab.grading import classroom

from lab.grading import grade as grading

from lab.grading import submission
from lab.errors import BadInput, ScenarioNotFound


def test_doctests_of_the_grading_modules():
    for module in (classroom, grading):
        assert doctest.testmod(module).failed == 0


def _class(tmp_path: Path) -> list[submission.StudentFolder]:
    for student, files in {"ada": ["TCPServer.py", "udp_client.py"], "bob": ["UDPServer.py"],
                           "eve": ["notes.txt"]}.items():
        (tmp_path / student).mkdir()
        for name in files:
            (tmp_path / student / name).write_text("pass\n")
    return submission.scan_class(tmp_path)


def test_by_default_each_student_runs_the_scenarios_that_take_one_of_their_programs(tmp_path):
    scenarios, explicit = grading.choose_scenarios(None)
    assert not explicit and {"tcp-sequential", "udp-echo", "udp-loss", "tcp-echo"} <= set(scenarios)
    jobs, rows = grading.plan_jobs(_class(tmp_path), scenarios, explicit)
    ada = {(j.scenario, j.role) for j in jobs["ada"]}
    assert ("tcp-sequential", "server") in ada and ("udp-loss", "client") in ada and ("udp-echo", "client") in ada
    assert ("udp-echo", "server") not in ada
    assert ("udp-echo", "server", "not-applicable") in {(r.scenario, r.role, r.outcome) for r in rows["ada"]}
    assert {j.scenario for j in jobs["bob"]} == {"udp-echo", "udp-multi-client"}
    assert jobs["eve"] == [] and [r.outcome for r in rows["eve"]] == ["error"]


def test_named_scenarios_give_every_role_a_row(tmp_path):
    scenarios, explicit = grading.choose_scenarios("udp-loss")
    jobs, rows = grading.plan_jobs(_class(tmp_path), scenarios, explicit)
    assert jobs["bob"] == []
    assert [(r.scenario, r.role, r.outcome, r.reason) for r in rows["bob"]] == [
        ("udp-loss", "client", "not-applicable", "no UDPClient.py")]


def test_bad_scenario_names_and_job_counts_are_bad_input(tmp_path):
    with pytest.raises(ScenarioNotFound):
        grading.choose_scenarios("udp-echo,nope")
    with pytest.raises(BadInput, match="udp-no-server takes no student program"):
        grading.choose_scenarios("udp-no-server")
    (tmp_path / "ada").mkdir()
    (tmp_path / "ada" / "TCPServer.py").write_text("pass\n")
    with pytest.raises(BadInput, match="--jobs 0"):
        grading.grade(str(tmp_path), jobs=0)


def _document(scenario: str, role: str, checks: list[tuple[str, bool, int]], *, na: int = 0) -> dict:
    return {"scenario": scenario, "passed": all(p for _, p, _ in checks), "duration_s": 2.5,
            "checks": [{"name": n, "passed": p, "detail": f"{n} detail", "points": pts,
                        **({} if p else {"hint": f"fix {n}"})} for n, p, pts in checks],
            "not_applicable": [{"name": f"na{i}", "reason": "r"} for i in range(na)],
            "programs": {role: {"program": "student", "file": "UDPServer.py"}}}


def _rows() -> list[classroom.GradeRow]:
    return [
        classroom.row_from_document("ada", "server", _document("udp-echo", "server", [("a", True, 2), ("b", False, 3)],
                                                               na=1)),
        classroom.GradeRow("ada", "udp-loss", "client", "not-applicable", reason="no UDPClient.py"),
        classroom.GradeRow("ada", "tcp-echo", "server", "error", reason="TCPServer.py: not UTF-8 text",
                           program="TCPServer.py"),
        classroom.row_from_document("bob", "server", _document("udp-echo", "server", [("a", True, 2), ("b", True, 3)])),
    ]


def test_gradebook_csv_has_exactly_the_promised_columns():
    rows = list(csv.reader(io.StringIO(classroom.gradebook_csv(_rows()))))
    assert rows[0] == ["student", "scenario", "role", "outcome", "failed_checks", "seed"]
    assert rows[1:] == [["ada", "udp-echo", "server", "failed", "b", ""],
                        ["ada", "udp-loss", "client", "not-applicable", "no UDPClient.py", ""],
                        ["ada", "tcp-echo", "server", "error", "TCPServer.py: not UTF-8 text", ""],
                        ["bob", "udp-echo", "server", "passed", "", ""]]
    assert {r[3] for r in rows[1:]} <= set(classroom.OUTCOMES)


def test_classroom_tests_score_points_and_zero_on_failure():
    tests = classroom.classroom_tests(_rows()[:3])
    assert [(t.name, t.status, t.score, t.max_score) for t in tests] == [
        ("udp-echo/server: a", "pass", 2, 2), ("udp-echo/server: b", "fail", 0, 3),
        ("tcp-echo/server: runs", "error", 0, 1)]
    assert "hint: fix b" in tests[1].message


def test_legacy_autograding_result_is_base64_of_version_1():
    tests = classroom.classroom_tests(_rows())
    result = json.loads(base64.b64decode(classroom.autograding_output(tests)))
    assert result["version"] == 1 and result["status"] == "error"
    assert result["max_score"] == 2 + 3 + 1 + 2 + 3
    assert {"name", "status", "score", "message"} <= set(result["tests"][0])
    assert all(t["score"] == 0 for t in result["tests"] if t["status"] != "pass")
    passing = classroom.autograding_result(classroom.classroom_tests(_rows()[3:]))
    assert passing["status"] == "pass" and sum(t["score"] for t in passing["tests"]) == passing["max_score"] == 5


def test_classroom50_result_fields_and_context_from_the_runner():
    tests = classroom.classroom_tests(_rows())
    env = {"CLASSROOM": "net101", "ASSIGNMENT": "sockets", "SUBMISSION_TAG": "submit/1",
           "COMMIT_URL": "c", "RELEASE_URL": "r"}
    result = classroom.classroom50_result(tests, env)
    assert result["schema"] == "classroom50/result/v1"
    assert (result["classroom"], result["assignment"], result["submission"], result["review"]) == (
        "net101", "sockets", "submit/1", "c")
    assert result["score"] == 2 + 2 + 3 and result["max-score"] == 11
    assert set(result["tests"][0]) >= {"test-name", "passed", "score", "max-score"}
    assert sum(t["score"] for t in result["tests"]) == result["score"]
    assert "classroom" not in classroom.classroom50_result(tests, {})


def test_write_grades_lays_out_the_report_directory(tmp_path):
    rows = _rows()
    rows[0].document.update({"run_id": "x", "lesson": "l", "impairment_backend": None, "metrics": {},
                             "parameters": {}, "artifacts": []})
    rows[3].document.update(rows[0].document | {"checks": rows[3].document["checks"], "passed": True})
    grading.write_grades(rows, tmp_path, environ={})
    names = {str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file()}
    assert {"gradebook.csv", "gradebook.md", "result.json", "autograding-result.txt",
            "ada/udp-echo.server.json", "ada/udp-echo.server.junit.xml", "ada/udp-echo.server.md",
            "ada/result.json", "ada/autograding-result.txt", "bob/result.json"} <= names
    everyone = json.loads((tmp_path / "result.json").read_text())
    assert everyone["tests"][0]["test-name"].startswith("ada/udp-echo/server: ")
    alone = json.loads((tmp_path / "bob" / "result.json").read_text())
    assert alone["score"] == alone["max-score"] == 5 and alone["tests"][0]["test-name"].startswith("udp-echo/")
    assert "| ada | 2 | 6 | 0/2 |" in (tmp_path / "gradebook.md").read_text()
