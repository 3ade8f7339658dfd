"""A small class graded by hand-made result documents: the class page's unit and browser tests share it."""
from __future__ import annotations

from pathlib import Path

from lab.grading import classroom
from lab.grading import grade as grading

ABUSER = '<img src=x onerror="document.title=1">"\'&<script>alert(1)</script>'


def document(scenario: str, role: str, checks: list[tuple[str, bool]]) -> dict:
    return {"scenario": scenario, "passed": all(p for _, p in checks), "duration_s": 2.0, "run_id": "r1",
            "lesson": "a lesson", "impairment_backend": None, "metrics": {}, "parameters": {}, "artifacts": [],
            "checks": [{"name": n, "passed": p, "detail": f"{n}: detail", "points": 1,
                        **({} if p else {"hint": f"fix {n}"})} for n, p in checks],
            "not_applicable": [], "programs": {role: {"host": role, "program": "student", "file": "X.py"}}}


def class_rows() -> list[classroom.GradeRow]:
    """Four students (one named like an attack), two scenario roles, every outcome."""
    upper = ("replies are the sentence in upper case", False)
    return [
        classroom.row_from_document("ada", "server", document("udp-echo", "server", [("listens", True), ("replies", True)])),
        classroom.row_from_document("ada", "server", document("tcp-sequential", "server", [("listens", True)])),
        classroom.row_from_document("bob", "server", document("udp-echo", "server", [("listens", True), upper])),
        classroom.GradeRow("bob", "tcp-sequential", "server", "not-applicable", reason="no TCPServer.py"),
        classroom.row_from_document(ABUSER, "server", document("udp-echo", "server", [("listens", False), upper])),
        classroom.GradeRow(ABUSER, "tcp-sequential", "server", "error", reason="TCPServer.py: binary file",
                           program="TCPServer.py"),
        classroom.row_from_document("cy", "server", document("udp-echo", "server", [("listens", True), upper])),
        classroom.row_from_document("cy", "server", document("tcp-sequential", "server", [("listens", False)])),
    ]


def written_class(directory: Path) -> Path:
    """The class's report folder as `invoke grade` writes it; its index.html."""
    grading.write_grades(class_rows(), directory, environ={})
    return directory / "index.html"
