"""`invoke grade DIR`: every student's programs through the scenarios that can take them.

Each student's program runs in its own run of a scenario (its own networks and containers, the
lab's own program in the other role), up to ``jobs`` runs at once; one student's fork bomb meets
its own container's limits, never another student's run. A file that cannot run (binary, not
UTF-8) is that student's ``error`` row, not an abort. The gradebook and the classroom formats are
written by lab.grading.classroom from the runs' result documents.
"""
from __future__ import annotations

import logging
import os
import re
import secrets
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lab import catalog, engines
from lab.report.console import grade_environment_errors, interrupted, print_gradebook
from lab.report.document import json_text, result_document
from lab.report.files import writable_directory
from lab.report.junit import junit_xml
from lab.report.markdown import markdown
from lab.report.progress import GradeProgress
from lab.grading import classroom, git_commit, submission
from lab.report import class_page
from lab.report import html as html_report
from lab.common import SESSION_ENV
from lab.engines.base import Engine
from lab.errors import BadInput, BuildFailed, LabError
from lab.run import build
from lab.scenario import languages
from lab.scenario.plan import build_plan
from lab.scenario_run import run_scenario

log = logging.getLogger(__name__)
MAX_JOBS = 16
#: after a Ctrl-C, how often the session is swept again while runs under way wind down
STOP_SWEEP_EVERY_S = 1.0
# The file a role of a scenario needs, by the program its host runs (for messages), without its
# extension: a message names the extension of the language the student writes in.
FILE_OF_KIND = {"tcp-server": "TCPServer", "tcp-client": "TCPClient",
                "udp-server": "UDPServer", "udp-client": "UDPClient"}


@dataclass(frozen=True)
class Job:
    """One run to make: a student's file in one role of one scenario."""

    student: str
    scenario: str
    role: str
    path: Path


def student_scenarios() -> dict[str, dict[str, str]]:
    """Scenario → {role: the program kind a student's file must be} for every scenario that takes one."""
    offered: dict[str, dict[str, str]] = {}
    for name in catalog.available():
        scenario = catalog.load(name)
        if scenario.students:
            offered[name] = {role: scenario.host(slot.host).program for role, slot in scenario.students.items()}
    return offered


def choose_scenarios(requested: str | None) -> tuple[dict[str, dict[str, str]], bool]:
    """The scenarios to grade with, and whether the user named them (then every role gets a row)."""
    offered = student_scenarios()
    if not requested:
        return offered, False
    names = [n.strip() for n in requested.split(",") if n.strip()]
    if not names:
        raise BadInput("--scenarios: give names separated by commas, e.g. --scenarios udp-echo,tcp-sequential")
    chosen = {}
    for name in names:
        catalog.find(name)   # an unknown name: ScenarioNotFound (exit 2) with the closest match
        if name not in offered:
            raise BadInput(f"--scenarios: {name} takes no student program; scenarios that do: {', '.join(offered)}")
        chosen[name] = offered[name]
    return chosen, True


def plan_jobs(students: list[submission.StudentFolder], scenarios: dict[str, dict[str, str]], explicit: bool
              ) -> tuple[dict[str, list[Job]], dict[str, list[classroom.GradeRow]]]:
    """Per student: the runs to make, and the rows known without running (bad files, missing roles)."""
    jobs: dict[str, list[Job]] = {}
    rows: dict[str, list[classroom.GradeRow]] = {}
    for student in students:
        jobs[student.student], rows[student.student] = [], []
        if student.refused:
            rows[student.student].append(classroom.GradeRow(student.student, "-", "-", "error",
                                                            reason=student.refused))
            continue
        if not student.files:
            rows[student.student].append(classroom.GradeRow(
                student.student, "-", "-", "error",
                reason=f"no program found: expected any of {submission.EXPECTED_NAMES}"))
            continue
        written_in = languages.language_of(next(iter(student.files.values())).name) or languages.LANGUAGES["python"]
        for name, roles in scenarios.items():
            takes_one = any(kind in student.files for kind in roles.values())
            if not takes_one and not explicit:
                continue
            for role, kind in roles.items():
                path = student.files.get(kind)
                if kind in student.conflicts:   # two languages for one program: the student chooses
                    rows[student.student].append(classroom.GradeRow(
                        student.student, name, role, "error", reason=student.conflicts[kind]))
                    continue
                if path is None:
                    rows[student.student].append(classroom.GradeRow(
                        student.student, name, role, "not-applicable", reason=f"no {FILE_OF_KIND[kind]}{written_in.extensions[0]}"))
                    continue
                jobs[student.student].append(Job(student.student, name, role, path))
    return jobs, rows


def grade(directory: str, scenarios: str | None = None, jobs: int = 1, report_dir: str = "grades",
          engine_name: str | None = None, strict: bool = False, seed: int | str | None = None,
          cold: bool = False) -> int:
    """Grade a class; 0 when every student was graded, 3 when a run met an environment problem.

    ``strict`` (CI grading one push): 1 when any run failed or errored, so the grader's own exit
    code is the verdict and nothing has to read the gradebook back.
    ``seed`` (--seed N): the seed of every run's impairments; by default each scenario's own
    (lab.scenario.plan.default_seed), so the same program always meets the same losses.
    ``cold`` (--cold): no warm pool, every run makes its own networks and lab hosts, as a single
    `invoke scenario` does: slower, and the baseline the warm pool's verdicts are compared with.
    """
    from lab.engines import images
    from lab.scenario.parameters import parse_seed

    if not 1 <= jobs <= MAX_JOBS:
        raise BadInput(f"--jobs {jobs}: allowed 1..{MAX_JOBS} (each job is a whole lab of containers)")
    seed = parse_seed(seed)
    students = submission.scan_class(directory)
    chosen, explicit = choose_scenarios(scenarios)
    planned, known_rows = plan_jobs(students, chosen, explicit)
    out = writable_directory(report_dir)
    engine = engines.connect(engine_name)   # swarm: the runs spread over the nodes
    progress = GradeProgress(f"grade {directory}: {len(students)} student(s), "
                                    f"{sum(map(len, planned.values()))} run(s), {jobs} at a time",
                                    total=len(students))
    images.ready(engine, progress.line)
    os.environ.setdefault(SESSION_ENV, f"grade-{secrets.token_hex(3)}")   # cleanup sees only our runs
    rows: dict[str, list[classroom.GradeRow]] = {s: list(r) for s, r in known_rows.items()}
    environment_errors: list[str] = []
    lock = threading.Lock()
    remaining = {s: len(j) for s, j in planned.items()}

    def finished(student: str) -> None:
        progress.student_done(student, rows[student])

    stopping = threading.Event()   # Ctrl-C: what the runs do from now on is not a grade

    def record(job: Job, run: Future) -> None:
        """A run's row, once it is done; none once a Ctrl-C stopped the grade (a run it ended has
        failed because its containers went, not because of the student's program)."""
        if run.cancelled() or stopping.is_set():
            return
        row, environment = run.result()
        with lock:
            rows[job.student].append(row)
            if environment:
                environment_errors.append(f"{job.student} {job.scenario}/{job.role}: {environment}")
            remaining[job.student] -= 1
            last = remaining[job.student] == 0
        if last:
            finished(job.student)

    for student, own in planned.items():   # students with nothing to run are done at once
        if not own:
            finished(student)
    pool = ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="grade")
    futures: list[Future] = []
    try:
        # What is the same for every student is paid once per grade: the runs lease their networks
        # from one pool (one run at a time on each, handed on once its hosts are all removed), and
        # adopt the lab's idle clients kept there (lab.engines.docker_network_pool).
        with progress, nullcontext() if cold else engine.warm_networks():
            try:
                _submit_all(pool, planned, futures, engine, seed, record)
                for future in futures:
                    future.result()
            except KeyboardInterrupt:
                stopping.set()
                _stop_runs(pool, engine, futures)   # before the pool drains: nothing of a run is left on its networks
                raise
    except KeyboardInterrupt:
        interrupted()
        return 130
    finally:
        pool.shutdown(wait=True)
    ordered = [r for s in students for r in _in_order(rows[s.student], list(chosen))]
    for path in write_grades(ordered, out, commit_dates=commit_dates(students)):
        log.debug("wrote %s", path)
    print_gradebook(ordered, out, [line for line in classroom.seeds_lines(ordered) if line])
    if environment_errors:
        grade_environment_errors(environment_errors)
        return 3
    if strict and not verdict_passed(ordered):
        return 1
    return 0


def _submit_all(pool: ThreadPoolExecutor, planned: dict[str, list[Job]], futures: list[Future],
                engine: Engine, seed: int | None, record: Callable[[Job, Future], None]) -> None:
    """Every planned run into the pool, each recorded by `record` when it is done."""
    for own in planned.values():
        for job in own:
            future = pool.submit(_run_job, engine, job, seed)
            future.add_done_callback(lambda run, job=job: record(job, run))
            futures.append(future)


def _stop_runs(pool: ThreadPoolExecutor, engine: Engine, futures: list[Future]) -> None:
    """Ctrl-C: runs not started are dropped; runs under way lose their containers (their execs and
    their kept hosts' agent channels end with them) and end at once.

    Swept again every STOP_SWEEP_EVERY_S until a sweep comes after every worker is back: a run may
    create a host, or attach to a kept one's agent, just after a sweep listed the session's
    containers, and that run would otherwise wait on it until its scenario's time limit (seen: an
    interrupted grade overran its test's 120 s). Done before the network pool drains, so that no
    run's host is still on a pool network when it is removed."""
    pool.shutdown(wait=False, cancel_futures=True)
    session = os.environ[SESSION_ENV]
    under_way = futures
    while under_way:
        # Looked at before the sweep, so the last sweep comes after the last run ended. done(), not
        # wait()'s own test: a run cancelled before it started stays CANCELLED (never "notified"),
        # which wait() counts as not done, for ever.
        under_way = [f for f in futures if not f.done()]
        engine.remove_labelled(session=session)
        if under_way:
            wait(under_way, timeout=STOP_SWEEP_EVERY_S)


def verdict_passed(rows: list[classroom.GradeRow]) -> bool:
    """Whether a push passes: something was graded and no run failed or errored (n/a does not count).

    >>> verdict_passed([classroom.GradeRow("a", "s", "server", "passed")]), verdict_passed([])
    (True, False)
    """
    return any(r.outcome == "passed" for r in rows) and not any(r.outcome in ("failed", "error") for r in rows)


def commit_dates(students: list[submission.StudentFolder]) -> dict[str, str]:
    """Each student whose folder is a git checkout of its own: its commit's committer date."""
    dates = {}
    for student in students:
        if student.files:
            folder = next(iter(student.files.values())).parent
            date = git_commit.committer_date(folder)
            if date:
                dates[student.student] = date
    return dates


def _in_order(rows: list[classroom.GradeRow], scenarios: list[str]) -> list[classroom.GradeRow]:
    rank = {name: i for i, name in enumerate(scenarios)}
    return sorted(rows, key=lambda r: (rank.get(r.scenario, -1), r.role != "server", r.role))


def _run_job(engine: Engine, job: Job, seed: int | None = None) -> tuple[classroom.GradeRow, str]:
    """One run; a bad file is the student's error row, an engine failure an error row reported as such."""
    file_name = submission.student_name(job.path.name)
    try:   # named by its file name only: the teacher's paths stay out of the student's reports
        program = submission.read_program(job.path, shown=file_name)
    except submission.SubmissionError as error:
        return classroom.GradeRow(job.student, job.scenario, job.role, "error", reason=str(error),
                                  program=file_name), ""
    try:
        program = build.built(engine, program, lambda message: None)   # C, Java: built once, then cached
    except BuildFailed as error:   # the compiler's first error: the student's error row
        return classroom.GradeRow(job.student, job.scenario, job.role, "error", reason=str(error),
                                  program=program.name), ""
    except LabError as error:
        log.warning("%s %s/%s: %s", job.student, job.scenario, job.role, error)
        return classroom.GradeRow(job.student, job.scenario, job.role, "error", reason=str(error),
                                  program=program.name), str(error)
    try:
        scenario = catalog.load(job.scenario)
        impaired = any(h.impairments for h in scenario.hosts)   # --seed: only where there is a choice
        plan = build_plan(scenario, {}, seed=seed if impaired else None, students={job.role: program})
        outcome = run_scenario(engine, plan, progress=lambda message: None)
        document = result_document(outcome)
    except LabError as error:
        log.warning("%s %s/%s: %s", job.student, job.scenario, job.role, error)
        return classroom.GradeRow(job.student, job.scenario, job.role, "error", reason=str(error),
                                  program=program.name), str(error)
    except Exception as error:   # one run's unexpected failure must not stop the class's grading
        log.exception("%s %s/%s", job.student, job.scenario, job.role)
        reason = f"the lab failed on this run: {error!r}"
        return classroom.GradeRow(job.student, job.scenario, job.role, "error", reason=reason,
                                  program=program.name), reason
    return classroom.row_from_document(job.student, job.role, document), ""


def safe_name(student: str) -> str:
    """A student's name as a folder name (never a path out of the report directory).

    >>> safe_name("ada lovelace"), safe_name("../etc")
    ('ada lovelace', '_.._etc')
    """
    name = re.sub(r"[/\\\0]", "_", student)
    return f"_{name}" if name.startswith(".") else name


def write_grades(rows: list[classroom.GradeRow], out: Path, environ: dict[str, str] | None = None,
                 commit_dates: dict[str, str] | None = None) -> list[Path]:
    """The gradebook, each student's reports, and the classroom formats (whole class and per student).

    ``commit_dates``: student → the committer date of the commit graded (Classroom 50's ``datetime``).
    """
    commit_dates = commit_dates or {}
    written = []

    def put(path: Path, text: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)

    put(out / "gradebook.csv", classroom.gradebook_csv(rows))
    put(out / "gradebook.md", classroom.gradebook_markdown(rows))
    grouped = classroom.by_student(rows)
    for student, own in grouped.items():
        folder = out / safe_name(student)
        for row in own:
            if row.document is None:
                continue
            stem = f"{row.scenario}.{row.role}"
            put(folder / f"{stem}.json", json_text(row.document))
            put(folder / f"{stem}.junit.xml", junit_xml(row.document) + "\n")
            put(folder / f"{stem}.md", markdown(row.document))
            put(folder / f"{stem}.html", html_report.render(row.document, folder))
        tests = classroom.classroom_tests(own)
        put(folder / "autograding-result.txt", classroom.autograding_output(tests) + "\n")
        put(folder / "result.json", _json(classroom.classroom50_result(tests, environ, commit_dates.get(student))))
    everyone = classroom.classroom_tests(rows, prefix_student=len(grouped) > 1)
    put(out / "autograding-result.txt", classroom.autograding_output(everyone) + "\n")
    # One student (a push, a Classroom 50 submission): the class's result.json is that student's.
    alone = commit_dates.get(next(iter(grouped))) if len(grouped) == 1 else None
    put(out / "result.json", _json(classroom.classroom50_result(everyone, environ, alone)))
    put(out / "index.html", class_index(rows, grouped))
    return written


def class_index(rows: list[classroom.GradeRow], grouped: dict[str, list[classroom.GradeRow]]) -> str:
    """The class page (lab.report.class_page): each cell linked to the run's page written beside it."""
    runs = [class_page.ClassRun(row.student, row.scenario, row.role, row.outcome, tuple(row.failed_checks),
                                row.reason, class_page.page_link(safe_name(row.student), f"{row.scenario}.{row.role}.html")
                                if row.document is not None else None)
            for row in rows]
    scores = {}
    for student, own in grouped.items():
        tests = classroom.classroom_tests(own)
        scores[student] = (sum(t.score for t in tests), sum(t.max_score for t in tests))
    generated = time.strftime("graded %Y-%m-%d %H:%M UTC", time.gmtime())
    return class_page.render(runs, scores, "socklab grades", generated)


def _json(data: Any) -> str:
    import json

    from lab.escaping.text import clean_tree

    return json.dumps(clean_tree(data), indent=2, ensure_ascii=False) + "\n"
