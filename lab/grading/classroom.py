"""What `invoke grade` hands to teachers and classroom tools: gradebook rows and result formats.

Pure: result documents (lab.report.document.result_document) in, text out. Three audiences:

* the teacher: ``gradebook.csv`` (columns exactly ``student,scenario,role,outcome,failed_checks``)
  and ``gradebook.md``;
* GitHub Classroom's legacy autograding reporter, which reads a runner's ``result`` output: base64
  of ``{"version": 1, "status": "pass"|"fail"|"error", "max_score": N, "tests": [{"name",
  "status", "score", "message", "execution_time", "filename"}]}`` (a failed test scores 0);
* Classroom 50, which reads ``result.json`` (its published result/v1 schema, offline copy in
  tests/contracts/classroom50/): ``{"schema": "classroom50/result/v1", "score", "max-score",
  "tests": [{"test-name", "passed", "score", "max-score"}], "assignment_type", "datetime",
  "graded_at"}`` plus the assignment's context (classroom, assignment, submission, commit,
  release, review, owner) from the runner's environment when it sets them. ``datetime`` is the
  graded commit's committer date (the submission instant, the same on every regrade; the grading
  time when there is no commit), ``graded_at`` the grading time.

Points come from the scenario file (``points = N`` on a check, default 1); a probe or a lab-made
check (the student's server listening, the client ending by itself) is worth 1. Checks that were
not applicable are no test at all: they can be neither earned nor lost.
"""
from __future__ import annotations

import base64
import csv
import io
import json
import os
from datetime import datetime, timezone
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lab.escaping import markdown, spreadsheet

OUTCOMES = ("passed", "failed", "error", "not-applicable")
GRADEBOOK_COLUMNS = ("student", "scenario", "role", "outcome", "failed_checks", "seed")
CLASSROOM50_SCHEMA = "classroom50/result/v1"
# The assignment's context, as a Classroom 50 runner sets it in the environment.
CLASSROOM50_CONTEXT = {"classroom": "CLASSROOM", "assignment": "ASSIGNMENT", "submission": "SUBMISSION_TAG",
                       "commit": "COMMIT_URL", "release": "RELEASE_URL", "review": "REVIEW_URL",
                       "owner": "USERNAME"}
# The runner's MODE values that are an assignment_type of their own; anything else (unset, a typo)
# is individual, the strictest, as the runner itself maps it.
CLASSROOM50_GROUP_MODES = ("group", "team")


@dataclass
class GradeRow:
    """One line of the gradebook: one student's program in one role of one scenario."""

    student: str
    scenario: str
    role: str
    outcome: str                  # passed | failed | error | not-applicable
    failed_checks: list[str] = field(default_factory=list)
    document: dict[str, Any] | None = None   # the run's result document (None: it did not run)
    reason: str = ""              # error / not-applicable: why
    program: str = ""             # the student's file that ran

    @property
    def seed(self) -> str:
        """The seed of the run's impairments ('' for a run without): --seed N reproduces the grade."""
        value = (self.document or {}).get("seed")
        return "" if value is None else str(value)

    def as_csv(self) -> dict[str, str]:
        """The CSV row; the columns that carry a student's text never read as a spreadsheet formula
        (scenario, role, outcome and seed are the lab's own words)."""
        return {"student": spreadsheet.cell(self.student), "scenario": self.scenario, "role": self.role,
                "outcome": self.outcome,
                "failed_checks": spreadsheet.cell("; ".join(self.failed_checks) or self.reason),
                "seed": self.seed}


def row_from_document(student: str, role: str, document: dict[str, Any]) -> GradeRow:
    """A finished run's row: passed when every applicable check passed, else failed (naming them)."""
    failed = [c["name"] for c in document["checks"] if not c["passed"]]
    program = document.get("programs", {}).get(role, {}).get("file", "")
    return GradeRow(student, document["scenario"], role, "passed" if document["passed"] else "failed",
                    failed, document, program=program)


def gradebook_csv(rows: Iterable[GradeRow]) -> str:
    """The gradebook as CSV, header first.

    >>> print(gradebook_csv([GradeRow("ada", "udp-echo", "server", "failed", ["replies, upper case"])]), end="")
    student,scenario,role,outcome,failed_checks,seed
    ada,udp-echo,server,failed,"replies, upper case",
    """
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=GRADEBOOK_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(row.as_csv())
    return buffer.getvalue()


def gradebook_markdown(rows: list[GradeRow]) -> str:
    """One table row per student and scenario role, then each student's score."""
    marks = {"passed": "✅ passed", "failed": "❌ failed", "error": "⚠️ error", "not-applicable": "➖ n/a"}
    lines = ["# Gradebook", "", "| student | scenario | role | program | outcome | failed checks / why |",
             "|---|---|---|---|---|---|"]
    for row in rows:
        why = "; ".join(row.failed_checks) or row.reason
        lines.append(f"| {markdown.cell(row.student)} | {row.scenario} | {row.role} | "
                     f"{markdown.code(row.program, in_table=True)} | {marks[row.outcome]} | {markdown.cell(why)} |")
    lines += ["", "| student | score | max | runs passed |", "|---|---:|---:|---|"]
    for student, own in by_student(rows).items():
        tests = classroom_tests(own)
        passed = sum(r.outcome == "passed" for r in own)
        graded = sum(r.outcome in ("passed", "failed", "error") for r in own)
        lines.append(f"| {markdown.cell(student)} | {sum(t.score for t in tests)} | {sum(t.max_score for t in tests)} | "
                     f"{passed}/{graded} |")
    return "\n".join(lines + seeds_lines(rows)) + "\n"


def seeds_lines(rows: Iterable[GradeRow]) -> list[str]:
    """The seed each scenario's impairments ran with: `--seed N` on `invoke grade` reproduces them.

    >>> seeds_lines([GradeRow("ada", "udp-loss", "client", "passed", document={"seed": 7})])
    ['', 'Impairment seeds (`invoke grade --seed N` reproduces them): udp-loss 7']
    """
    seeds: dict[str, set[str]] = {}
    for row in rows:
        if row.seed:
            seeds.setdefault(row.scenario, set()).add(row.seed)
    if not seeds:
        return []
    shown = ", ".join(f"{name} {', '.join(sorted(values))}" for name, values in seeds.items())
    return ["", f"Impairment seeds (`invoke grade --seed N` reproduces them): {shown}"]


def by_student(rows: Iterable[GradeRow]) -> dict[str, list[GradeRow]]:
    grouped: dict[str, list[GradeRow]] = {}
    for row in rows:
        grouped.setdefault(row.student, []).append(row)
    return grouped


@dataclass(frozen=True)
class ClassroomTest:
    """One scored test in the classroom formats: a check of one run, or a run that could not run."""

    name: str
    status: str          # pass | fail | error
    score: int
    max_score: int
    message: str
    seconds: float = 0.0
    filename: str = ""


def classroom_tests(rows: Iterable[GradeRow], prefix_student: bool = False) -> list[ClassroomTest]:
    """Every applicable check of every run as a test; an errored run is one test with status error."""
    tests: list[ClassroomTest] = []
    for row in rows:
        label = f"{row.student}/" if prefix_student else ""
        label += f"{row.scenario}/{row.role}"
        if row.outcome == "not-applicable":
            continue
        if row.document is None:   # the program could not run at all (a bad file, no engine)
            tests.append(ClassroomTest(f"{label}: runs", "error", 0, 1, row.reason, 0.0, row.program))
            continue
        seconds = float(row.document.get("duration_s", 0.0))
        for check in row.document["checks"]:
            points = int(check.get("points", 1))
            message = check.get("detail", "")
            if not check["passed"] and check.get("hint"):
                message += f" — hint: {check['hint']}"
            tests.append(ClassroomTest(f"{label}: {check['name']}", "pass" if check["passed"] else "fail",
                                       points if check["passed"] else 0, points, message, seconds, row.program))
    return tests


def autograding_result(tests: list[ClassroomTest]) -> dict[str, Any]:
    """The legacy autograding reporter's result object (before base64).

    >>> autograding_result([ClassroomTest("a", "pass", 2, 2, "ok"), ClassroomTest("b", "fail", 0, 1, "no")])["status"]
    'fail'
    """
    status = "error" if any(t.status == "error" for t in tests) else \
        "fail" if any(t.status == "fail" for t in tests) or not tests else "pass"
    return {
        "version": 1,
        "status": status,
        "max_score": sum(t.max_score for t in tests),
        "tests": [{"name": t.name, "status": t.status, "score": t.score, "message": t.message,
                   "test_code": t.name, "filename": t.filename, "line_no": 0,
                   "execution_time": f"{t.seconds:.2f}s"} for t in tests],
    }


def autograding_output(tests: list[ClassroomTest]) -> str:
    """What a runner step sets as its ``result`` output: base64 of the JSON result."""
    return base64.b64encode(json.dumps(autograding_result(tests)).encode()).decode()


def classroom50_assignment_type(mode: str | None) -> str:
    """The runner's MODE as result.json's ``assignment_type`` (Classroom 50's own mapping).

    >>> classroom50_assignment_type(" Group "), classroom50_assignment_type(None), classroom50_assignment_type("solo")
    ('group', 'individual', 'individual')
    """
    normalized = (mode or "").strip().lower()
    return normalized if normalized in CLASSROOM50_GROUP_MODES else "individual"


def utc_timestamp(moment: str | datetime) -> str:
    """An ISO 8601 instant with any offset (git's ``%cI``) as the schema's ``YYYY-MM-DDTHH:MM:SSZ``.

    >>> utc_timestamp("2026-03-01T10:15:00+01:00")
    '2026-03-01T09:15:00Z'
    """
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"{moment.isoformat()}: an instant needs its UTC offset")
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def classroom50_result(tests: list[ClassroomTest], environ: Mapping[str, str] | None = None,
                       committed_at: str | None = None, graded_at: datetime | None = None) -> dict[str, Any]:
    """Classroom 50's result.json; the assignment's context from the runner's environment when present.

    ``committed_at``: the graded commit's committer date (ISO 8601), which the schema wants as
    ``datetime`` so that lateness never moves on a regrade; without one, the grading time.
    """
    environ = os.environ if environ is None else environ
    context = {key: environ[variable] for key, variable in CLASSROOM50_CONTEXT.items() if environ.get(variable)}
    if "owner" not in context and environ.get("OWNER"):   # newer runners set OWNER beside USERNAME
        context["owner"] = environ["OWNER"]
    if "review" not in context and "commit" in context:
        context["review"] = context["commit"]
    mode = environ.get("MODE") or environ.get("ASSIGNMENT_TYPE")
    now = utc_timestamp(graded_at or datetime.now(timezone.utc))
    return {
        "schema": CLASSROOM50_SCHEMA,
        **context,
        "assignment_type": classroom50_assignment_type(mode),
        "datetime": utc_timestamp(committed_at) if committed_at else now,
        "graded_at": now,
        "score": sum(int(t.score) for t in tests),
        "max-score": sum(int(t.max_score) for t in tests),
        "tests": [{"test-name": t.name, "passed": t.status == "pass", "score": int(t.score),
                   "max-score": int(t.max_score), "message": t.message} for t in tests],
    }
