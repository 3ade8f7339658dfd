"""The result document: what a run showed, as the contract result.schema.json defines it.

Built from the outcome: its verdicts, its record's plain facts, and its observation (decoded once
after the run by lab.observe: metrics, API trace, captures, timelines, chart); nothing is decoded
here. Every report format (console, JSON, JUnit, Markdown, HTML) and the grading read this
document, never the run itself, so that all of them tell the same story.
"""
from __future__ import annotations

import json
from typing import Any

from lab.checks.outcome import Outcome
from lab.escaping.text import clean_tree
from lab.report.capture import capture_fields

TIMELINE_ROWS = 40  # a bulk transfer has thousands of segments: the console and Markdown show the start


def result_document(outcome: Outcome) -> dict[str, Any]:
    """The result file, as tests/contracts/result.schema.json defines it (test_report checks it)."""
    record, seen = outcome.record, outcome.observation
    return {
        "scenario": record.plan.scenario.name,
        "passed": outcome.passed,
        "run_id": record.run_id,
        "started_at": outcome.started_at,
        "duration_s": round(outcome.duration_s, 3),
        "parameters": record.plan.parameters,
        # The seed of the impairments' random choices (--seed, or a student run's default): the
        # same seed and program meet the same losses again.
        **({"seed": record.plan.seed, "seed_source": record.plan.seed_source}
           if record.plan.seed is not None else {}),
        "impairment_backend": record.impairment_backend,
        "impairments": record.impairment_notes,
        "impairment_counters": record.impairment_counters,
        "metrics": seen.metrics,
        "checks": [_check_item(c) for c in outcome.checks if c.applicable],
        "not_applicable": [{"name": c.name, "reason": c.detail} for c in outcome.checks if not c.applicable],
        "programs": programs(record.plan),
        **({"student_output": student_output(record)} if record.plan.students else {}),
        "timings_s": {k: round(v, 3) for k, v in outcome.timings.items()},
        "lesson": record.plan.scenario.lesson,
        "artifacts": [],
        **capture_fields(record, seen),
        **({"api_trace": seen.api_trace} if seen.api_trace is not None else {}),
    }



def _check_item(check: Any) -> dict[str, Any]:
    item = {"name": check.name, "passed": check.passed, "detail": check.detail, "points": check.points}
    if check.hint and not check.passed:
        item["hint"] = check.hint
    return item



def programs(plan: Any) -> dict[str, dict[str, str]]:
    """Which program ran on each host that a student may fill: the lab's own, or a student's file."""
    ran: dict[str, dict[str, str]] = {}
    for role, slot in plan.scenario.students.items():
        if role in plan.students:
            ran[role] = {"host": slot.host, **plan.students[role].describe()}
        else:
            ran[role] = {"host": slot.host, "program": "lab", "name": plan.scenario.host(slot.host).program}
    return ran



def student_output(record: Any) -> dict[str, list[dict[str, Any]]]:
    """What each student program printed and how it ended, per role (a client: per run).

    Streamed out while it ran, so it is here even when the lab had to stop the program.
    """
    def one(events: list[dict[str, Any]], sentence: str | None = None) -> dict[str, Any]:
        text = {stream: "".join(e.get("text", "") for e in events
                                if e.get("event") == "output" and e.get("stream") == stream)
                for stream in ("stdout", "stderr")}
        ended = next((e for e in events if e.get("event") == "exited"), None)
        limit = next((e for e in events if e.get("event") == "limit"), None)
        entry: dict[str, Any] = {**text, "ended": None if ended is None else
                                 {k: ended.get(k) for k in ("rc", "signal", "reason", "seconds")}}
        if limit:
            entry["stopped"] = {k: limit.get(k) for k in ("what", "blocked_in", "state")}
            entry["stopped"].update({k: limit[k] for k in ("seen", "wait_timeout_s", "waited_s") if k in limit})
        if sentence is not None:
            entry["input"] = sentence
        return entry

    shown: dict[str, list[dict[str, Any]]] = {}
    for host, role in record.plan.student_hosts().items():
        if role == "server":
            shown[role] = [one(record.events_of_host(host))]
        else:
            shown[role] = [one(run.events, run.sentence) for run in record.clients_of(host)]
    return shown



def verdict_line(document: dict[str, Any]) -> str:
    """One sentence: the scenario, PASSED or FAILED, checks passed, time and impairment backend."""
    passed = sum(c["passed"] for c in document["checks"])
    total = len(document["checks"])
    word = "PASSED" if document["passed"] else "FAILED"
    backend = f", impairments by {document['impairment_backend']}" if document["impairment_backend"] else ""
    if document.get("seed") is not None:
        backend += f", seed {document['seed']}" + (" (default)" if document.get("seed_source") == "default" else "")
    return (f"{document['scenario']}: {word} — {passed}/{total} checks passed in "
            f"{document['duration_s']:.1f} s{backend}")



def trace_rows(api: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Column titles and rows (call n of every column) of the API trace table (console and Markdown)."""
    columns = api["columns"]
    titles = [f"{c['title']} ({c['host']})" if c["title"] != c["host"] else c["host"] for c in columns]
    depth = max((len(c["calls"]) for c in columns), default=0)
    rows = [[c["calls"][i]["text"] if i < len(c["calls"]) else "" for c in columns] for i in range(depth)]
    return titles, rows


def json_text(document: dict[str, Any]) -> str:
    """A result document as the JSON file the contract describes."""
    return json.dumps(clean_tree(document), indent=2, allow_nan=False) + "\n"

