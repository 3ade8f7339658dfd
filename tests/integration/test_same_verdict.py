"""Same program, same verdict: one small class graded 10 times, then once more beside busy loops
that load every core, on the real engine; every gradebook must be the same, byte for byte.

The class: a UDP client with settimeout(5) (correct, common: it used to fail whenever a datagram
was lost, the lab's wall clock being 5 s too), one with settimeout(1.0), and one without a timeout
(fails: it would wait forever), under udp-loss (seeded loss, at least one datagram lost) and
udp-echo. Deselect with ``-m "not repeat_grades"`` (about ten minutes on a busy 2-core machine).
"""
from __future__ import annotations

import csv
import difflib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lab.scenario.plan import default_seed

ROOT = Path(__file__).resolve().parents[2]
SUBMISSIONS = ROOT / "tests/submissions"
CLASS = {"five-seconds": "settimeout-5s/UDPClient.py", "one-second": "with-timeout/UDPClient.py",
         "no-timeout": "no-timeout/udp_client.py"}
EXPECTED = {**{(student, "udp-echo", "server"): "not-applicable" for student in CLASS},   # no UDPServer.py
            **{(student, "udp-echo", "client"): "passed" for student in CLASS},
            ("five-seconds", "udp-loss", "client"): "passed", ("one-second", "udp-loss", "client"): "passed",
            ("no-timeout", "udp-loss", "client"): "failed"}
IDLE_GRADES = 10

pytestmark = [pytest.mark.integration, pytest.mark.repeat_grades]


def _grade(class_dir: Path, out: Path) -> tuple[int, float]:
    from lab.grading.grade import grade

    started = time.monotonic()
    code = grade(str(class_dir), scenarios="udp-loss,udp-echo", jobs=3, report_dir=str(out))
    return code, time.monotonic() - started


def _lost_runs(out: Path) -> dict[str, str]:
    """Per student: the runs of its udp-loss client whose datagram was lost, as the report says."""
    lost = {}
    for student in CLASS:
        document = json.loads((out / student / "udp-loss.client.json").read_text())
        ends = next(c for c in document["checks"] if c["name"] == "client never blocks past its timeout")
        lost[student] = ends["detail"].partition("lost on the way: ")[2] or "none"
    return lost


def _difference(tmp_path: Path, attempt: int, first: str, other: str) -> str:
    """What grade ``attempt`` changed against grade 1: the gradebook's diff, then each changed run's
    checks with their details in both grades (or its error), so a failure says which check moved."""
    lines = [f"grade {attempt + 1} against grade 1:"]
    lines += difflib.unified_diff(first.splitlines(), other.splitlines(), "grade 1", f"grade {attempt + 1}",
                                  lineterm="")
    before = {(r["student"], r["scenario"], r["role"]): r for r in csv.DictReader(first.splitlines())}
    for row in csv.DictReader(other.splitlines()):
        key = (row["student"], row["scenario"], row["role"])
        if before.get(key) == row:
            continue
        for grade, label, graded in ((0, "grade 1", before.get(key, {})), (attempt, f"grade {attempt + 1}", row)):
            report = tmp_path / f"grades-{grade}" / key[0] / f"{key[1]}.{key[2]}.json"
            if not report.is_file():
                why = graded.get("failed_checks") or graded.get("outcome") or "not in this gradebook"
                lines.append(f"  {label} {'/'.join(key)}: no report ({why})")
                continue
            for check in json.loads(report.read_text())["checks"]:
                lines.append(f"  {label} {'/'.join(key)}: {'ok ' if check['passed'] else 'NOT'} "
                             f"{check['name']}: {check['detail'][:300]}")
    return "\n".join(lines)


def _busy_loops(count: int) -> list[subprocess.Popen]:
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]


def test_the_same_class_graded_ten_times_and_under_load_gets_the_same_gradebook(engine, built_images,
                                                                                 no_leftovers, tmp_path):
    class_dir = tmp_path / "class"
    for student, file in CLASS.items():
        (class_dir / student).mkdir(parents=True)
        shutil.copy(SUBMISSIONS / file, class_dir / student / "UDPClient.py")
    gradebooks, rows = [], []
    for attempt in range(IDLE_GRADES + 1):
        loaded = attempt == IDLE_GRADES
        loops = _busy_loops(os.cpu_count() or 2) if loaded else []
        try:
            load = os.getloadavg()[0]
            code, seconds = _grade(class_dir, tmp_path / f"grades-{attempt}")
        finally:
            for loop in loops:
                loop.kill()
                loop.wait()
        out = tmp_path / f"grades-{attempt}"
        assert code == 0
        gradebooks.append((out / "gradebook.csv").read_text())
        rows.append((f"{attempt + 1}{' (busy loops on every core)' if loaded else ''}", f"{load:.1f}",
                     f"{seconds:.0f} s", _lost_runs(out)))
    first = list(csv.DictReader(gradebooks[0].splitlines()))
    table = ["| grade | load before | took | gradebook.csv | lost datagrams (udp-loss, per student) |",
             "|---|---|---|---|---|"]
    for (name, load, took, lost), text in zip(rows, gradebooks):
        same = "identical to grade 1" if text == gradebooks[0] else "DIFFERENT"
        table.append(f"| {name} | {load} | {took} | {same} | "
                     + "; ".join(f"{s}: {v}" for s, v in lost.items()) + " |")
    print("\n" + "\n".join(table) + "\n\n" + gradebooks[0])
    differences = [_difference(tmp_path, attempt, gradebooks[0], text)
                   for attempt, text in enumerate(gradebooks) if text != gradebooks[0]]
    assert not differences, "\n".join(table) + "\n\n" + "\n\n".join(differences)
    assert {(r["student"], r["scenario"], r["role"]): r["outcome"] for r in first} == EXPECTED, gradebooks[0]
    seeds = {r["scenario"]: r["seed"] for r in first if r["outcome"] != "not-applicable"}
    assert seeds == {"udp-loss": str(default_seed("udp-loss")), "udp-echo": ""}
    assert all(row[3] == rows[0][3] for row in rows), "the same datagrams were lost every time"
    assert all(lost != "none" for lost in rows[0][3].values()), "every client met a loss"
