"""The lab's user-facing operations, one function per Invoke task.

Each returns an exit code or raises a LabError whose ``exit_code`` tasks.py turns into the
process status: 0 passed, 1 a check failed, 2 bad input (nothing created), 3 environment.
Everything shown to the user is drawn by lab.report.
"""
from __future__ import annotations

import logging
import os
import platform
import shutil
import signal
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lab import engines
from lab.report.console import (cleaned, cleaned_stale, interrupted, kept, opening_shell, print_findings,
                                print_scenarios, print_scenarios_json, print_summary, scenario_error,
                                stale_notice, wrote_compose)
from lab.report.document import result_document
from lab.report.files import writable_directory, write_plots, write_reports
from lab.report.progress import ConsoleProgress, batch_finished, batch_progress, batch_started
from lab.report.result_console import print_outcome

from lab.scenario import feasibility

from lab.engines import images

from lab.engines import ownership

from lab.impairment import platform_advice

from lab import catalog
from lab.common import APPS_IMAGE, LABEL_RUN, TOOLS_IMAGE, current_session
from lab.engines.base import HELPER_CAPABILITIES, Engine, HostSpec, LabRun
from lab.errors import BadInput, LabError, NodeUnavailable
from lab.run.pause import pause_point
from lab.scenario.languages import LANGUAGES
from lab.scenario.plan import IMPAIR_BACKENDS, Plan, build_plan
from lab.scenario.lang_trace import DEFAULT_LANG, check_lang, parse_lang
from lab.scenario.model import StudentProgram
from lab.scenario_run import run_scenario
from lab.run.runner import new_run_id

if TYPE_CHECKING:
    from lab.grading import submission

log = logging.getLogger(__name__)
LONG_RUN_S = 60  # a run expected to take longer says so before it starts


def list_scenarios() -> list[tuple[str, str]]:
    return [(name, catalog.lesson_of(path)) for name, path in catalog.available().items()]


def scenarios(as_json: bool = False, verbose: bool = False) -> int:
    """The scenario list; verbose adds each scenario's parameters as they are typed."""
    if as_json:
        print_scenarios_json(list_scenarios())
        return 0
    if not verbose:
        print_scenarios(list_scenarios())
        return 0
    for name, lesson in list_scenarios():
        try:
            parameters = list(catalog.load(name).parameters.values())
        except LabError as error:
            print_scenarios([(name, f"(cannot load: {error})")])
            continue
        print_scenarios([(name, lesson)], parameters)
    return 0


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM (CI cancelling a job, `timeout`) takes the same teardown path as Ctrl-C."""
    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt
    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _report_directory(report_dir: str | None) -> Path | None:
    """The report directory, made now: a bad path is bad input, found before the run."""
    return writable_directory(report_dir) if report_dir else None


def scenarios_taking(role: str) -> list[str]:
    """The scenarios a student's program may fill `role` in (their files' [students.ROLE])."""
    return [name for name in catalog.available() if role in catalog.load(name).students]


def student_programs(name: str, server: str | None, client: str | None) -> dict[str, submission.StudentProgram]:
    """The student's files for --server/--client, read and checked; a role the scenario cannot take is bad input."""
    scenario = catalog.load(name)
    given = {role: path for role, path in (("server", server), ("client", client)) if path is not None}
    if not given:
        return {}
    # What a plain run does not need is imported where it is needed: start-up is part of every
    # run's time (bench/udp_echo_vs_docker.py).
    from lab.grading import submission
    for role in given:
        if role not in scenario.students:
            raise BadInput(f"--{role}: scenario {name} has no role for a student's {role}; scenarios that "
                           f"take one: {', '.join(scenarios_taking(role)) or 'none'}")
    return {role: submission.read_program(path, f"--{role}") for role, path in given.items()}


def run(name: str, overrides: dict[str, Any], impair_backend: str = "auto", seed: int | str | None = None,
        report_dir: str | None = None, keep: bool = False, server: str | None = None,
        client: str | None = None, capture: bool = False, engine_name: str | None = None,
        place: list[str] | None = None, lang: str | None = None) -> int:
    """Validate everything, make sure the images exist, run, report; 0 passed, 1 failed.

    ``server``/``client``: paths of a student's programs that run in those roles instead of the lab's.
    ``place``: HOST=NODE pins on a multi-node engine (--place).
    ``lang`` (--lang c|java): the traced hosts run again with the textbook's programs in that
    language, their calls beside the Python programs' (api-trace).
    """
    language = parse_lang(lang)
    scenario = catalog.load(name)
    students = student_programs(name, server, client)
    plan = build_plan(scenario, overrides, impair_backend, seed, capture=capture,
                      students=students, place=place)   # bad input stops here
    feasibility.check(plan)                # ... and here
    check_lang(plan, language)             # ... and here
    references: dict[str, StudentProgram] = {}
    if language != DEFAULT_LANG:   # the textbook's C/Java programs: only `--lang` imports their runner
        from lab.run.lang_trace import reference_programs

        references = reference_programs(language)   # ... and here
    directory = _report_directory(report_dir)
    engine = engines.connect(engine_name)
    check_placement(engine, plan.placement, explicit=bool(place))
    progress = ConsoleProgress(f"{name} — {scenario.lesson}")
    stale = _look_for_stale(engine)   # alongside the run: listing every labelled object takes a while
    images.ready(engine, progress)
    if any(LANGUAGES[p.language].compiled for p in students.values()):   # C, Java: built first (cached)
        from lab.run import build

        students = {role: build.built(engine, p, progress) for role, p in students.items()}
        plan = build_plan(scenario, overrides, impair_backend, seed, capture=capture,
                          students=students, place=place)
    progress("parameters: " + (", ".join(f"{k}={v}" for k, v in plan.parameters.items()) or "none"))
    expected = feasibility.expected_seconds(plan)
    if expected > LONG_RUN_S:
        progress(f"expected duration: about {expected:.0f} s (lost datagrams wait out their timeout)")
    run_id = new_run_id()
    with _sigterm_as_interrupt():
        try:
            result = run_scenario(engine, plan, progress, keep=keep, run_id=run_id, capture_dir=directory)
            document = result_document(result)
            other_passed = True
            if language != DEFAULT_LANG:
                other_passed = _beside_language(engine, plan, language, references, document, progress)
            print_outcome(document)
            if directory:
                pause_point("report")
                document["artifacts"] += write_plots(result.record, directory)
                from lab.report.capture import artifact_files

                for path in write_reports(document, directory, artifact_files(result.record, result.observation)):
                    progress(f"wrote {path}")
        except KeyboardInterrupt:
            interrupted()
            return 130
    _mention_stale(stale)
    if keep:
        kept(run_id, [i.name for i in plan.instances], engine.name, engine.kept_advice(run_id))
    return 0 if result.passed and other_passed else 1


def _beside_language(engine: Engine, plan: Plan, language: str, references: dict[str, StudentProgram],
                     document: dict[str, Any], progress: Callable[[str], None]) -> bool:
    """Run the textbook's ``language`` programs in the traced hosts; their calls beside Python's.

    True when every one of them was traced making calls (the run's own checks judge Python's).
    """
    from lab.observe.lang_trace import beside, language_api_trace
    from lab.run.lang_trace import run_in_language

    title = LANGUAGES[language].title
    progress(f"the textbook's {title} programs in the same hosts")
    finished = run_in_language(engine, plan, references, progress)
    other = language_api_trace(finished.record)
    document["api_trace"] = beside(document.get("api_trace") or {"columns": [], "notes": ""}, other, title,
                                   LANGUAGES[language].trace_notes)
    problems = [finished.record.timed_out, finished.record.student_failure,
                *(f"{c['host']} ({title}): {c['tracer_error'] or 'no socket call traced'}"
                  for c in other["columns"] if c["tracer_error"] or not c["calls"])]
    for problem in filter(None, problems):
        progress(f"{title}: {problem}")
    return not any(problems)


def check_placement(engine: Engine, placement: dict[str, str], explicit: bool) -> None:
    """Pinned hosts name nodes the engine has (exit 2 otherwise, before anything is created).

    A single-engine engine has no nodes: --place is refused there, a scenario's own `node =` pins
    are ignored (the scenario still runs, all on one machine).
    """
    nodes = engine.nodes()
    if not placement or (not nodes and not explicit):
        return
    if not nodes:
        raise BadInput(f"--place pins hosts to nodes of a swarm; the {engine.name} engine is one "
                       "machine: add --engine swarm (or leave out --place)")
    unknown = sorted({node for node in placement.values() if node not in nodes})
    if unknown:
        raise BadInput(f"placement on {', '.join(unknown)}: no such node in the swarm; its nodes: "
                       f"{', '.join(nodes)}")


def _look_for_stale(engine: Engine) -> Future[Any]:
    """Runs whose process died (killed, engine restarted) and left objects behind, looked for in a
    thread while the run goes on: the engine lists every labelled object (many on a shared engine),
    which would otherwise delay every run by that round trip."""
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="stale-runs")
    try:
        return pool.submit(lambda: ownership.stale_runs(engine.labelled()))
    finally:
        pool.shutdown(wait=False)


def _mention_stale(pending: Future[Any]) -> None:
    """Say so once the run is over, when dead runs left objects behind."""
    try:
        stale = pending.result(timeout=30)
    except Exception as error:  # only a notice: the run itself meets any real problem
        log.debug("looking for stale runs: %s", error)
        return
    if stale:
        stale_notice(stale)


def run_all(report_dir: str | None = None, impair_backend: str = "auto", jobs: int = 1,
            engine_name: str | None = None) -> int:
    """Every scenario with its defaults; a summary table; the worst exit code.

    jobs 1: one after another in this process. jobs N: up to N at once, each in its own
    `invoke scenario` process (lab.batch), their progress interleaved line by line and tagged,
    each one's tables printed whole when it ends.
    Exit: 130 if interrupted, 3 if any scenario met an environment problem, else 1 if any check
    failed, 2 if any had bad input, else 0.
    """
    if jobs < 1:
        raise BadInput(f"--jobs {jobs}: allowed 1 or more (scenarios run at once)")
    _report_directory(report_dir)
    if impair_backend not in IMPAIR_BACKENDS:
        raise BadInput(f"--impair-backend {impair_backend!r}: allowed {', '.join(IMPAIR_BACKENDS)}")
    names = [name for name, _ in list_scenarios()]
    seconds: dict[str, float] = {}
    if engine_name:   # the scenarios of --jobs N run as child processes: they read it from here
        os.environ[engines.ENGINE_ENV] = engines.chosen_name(engine_name)
    if jobs > 1:
        from lab import batch

        batch_started(len(names), jobs)

        def finished(end: batch.Finished) -> None:
            seconds[end.name] = end.seconds
            batch_finished(end.name, end.code, end.seconds, end.output)

        # Longest first: the runs that wait out lost datagrams (udp-loss, udp-delay: about 13 s)
        # come last in the catalogue; started last, they would set the batch's wall time alone.
        ran = batch.run_parallel(longest_first(names), jobs, report_dir, impair_backend,
                                 batch_progress, finished)
        codes = {name: ran[name] for name in names}   # the summary in the catalogue's order
    else:
        codes = {}
        for name in names:
            mark = time.monotonic()
            try:
                codes[name] = run(name, {}, impair_backend=impair_backend, report_dir=report_dir,
                                  engine_name=engine_name)
            except LabError as error:
                scenario_error(name, error)
                codes[name] = error.exit_code
            seconds[name] = time.monotonic() - mark
            if codes[name] == 130:
                break
    print_summary(codes, seconds)
    return worst(codes.values())


def longest_first(names: list[str]) -> list[str]:
    """Scenarios by their expected duration with defaults, longest first (ties: catalogue order)."""
    expected = {name: feasibility.expected_seconds(build_plan(catalog.load(name), {})) for name in names}
    return sorted(names, key=lambda name: -expected[name])


def worst(codes: Iterable[int]) -> int:
    """The exit code of a batch: interrupted over environment over failed check over bad input.

    >>> worst([0, 1, 3]), worst([0, 2, 1]), worst([0, 0]), worst([130, 3])
    (3, 1, 0, 130)
    """
    codes = set(codes)
    for code in (130, 3, 1, 2):
        if code in codes:
            return code
    return 0 if codes <= {0} else max(codes)


def build(force: bool = False, engine_name: str | None = None) -> int:
    engine = engines.connect(engine_name)
    progress = ConsoleProgress("build images")
    images.ready(engine, progress, force=force, verbose=True)
    return 0


def clean(run_id: str | None = None, stale: bool = False, engine_name: str | None = None) -> int:
    """Remove one run's objects, every run's, or (stale) those of runs whose process is gone."""
    if stale and run_id:
        raise BadInput("--stale and --run: give one of them")
    engine = engines.connect(engine_name)
    if not stale:
        if run_id and not engine.labelled(run_id=run_id):
            # A mistyped id must not look like a successful clean.
            runs = sorted({o.labels.get(LABEL_RUN, "?") for o in engine.labelled()})
            raise BadInput(f"--run {run_id}: no such run on the engine; runs present: "
                           f"{', '.join(runs) or 'none'}")
        containers, networks = engine.remove_labelled(run_id)
        cleaned(containers, networks, run_id)
        return 0
    # A test session cleans only its own runs' leftovers, never another session's.
    runs = ownership.stale_runs(engine.labelled(session=current_session()))
    removed = [engine.remove_labelled(run) for run in sorted(runs)]
    cleaned_stale(sorted(runs), sum(c for c, _ in removed), sum(n for _, n in removed))
    return 0


def probe_kernel(engine: Engine, node: str | None = None) -> Any:
    """What the engine's kernel offers the impairment backends (a ProbeResult)."""
    return probe_engine_kernel(engine, node)[0]


def probe_engine_kernel(engine: Engine, node: str | None = None) -> tuple[Any, str]:
    """The ProbeResult and the engine kernel's release (`uname -r` in the container: the engine's
    kernel, which on Desktop/WSL/Colima is not the host's), from a throwaway helper container
    (on `node` of a multi-node engine)."""
    from lab.run.impairing import HelperRunner
    from lab.impairment.probe import probe_backends

    with LabRun(engine, f"doctor-{new_run_id()}", "doctor") as lab:
        lab.start(HostSpec("probe", TOOLS_IMAGE, ("sleep", "infinity"), "helper", user="root",
                           capabilities=HELPER_CAPABILITIES, read_only=False, node=node))
        runner = HelperRunner(lab, "probe")
        return probe_backends(runner), runner.run(["uname", "-r"]).stdout.strip()


def doctor(engine_name: str | None = None) -> int:
    """What this machine can do, and what each finding means for the user.

    The engine surveys itself (lab.engines.survey: how it is reached, its nodes and their images);
    a part that is not usable is named and the doctor exits 3 (NodeUnavailable) without starting
    anything. Then where its base image comes from, and each node's kernel (one, for one engine).
    """
    from lab.engines import base_image

    findings = [("host", f"{platform.system()} {platform.release()}, python {platform.python_version()}")]
    survey = engines.survey(engine_name, [APPS_IMAGE, TOOLS_IMAGE])
    findings += survey.findings
    engine = survey.engine
    if engine is None:
        print_findings(findings)
        raise NodeUnavailable(survey.problem)
    host = base_image.HostFacts.of_this_machine()
    reachable, reason = engine.registry_reachable(base_image.PULLED_BASE)
    if reachable:
        findings.append(("registry", f"{base_image.PULLED_BASE} can be pulled — images build on it"))
    elif host.can_bootstrap:
        tool = "mmdebstrap is installed" if shutil.which("mmdebstrap") else "install mmdebstrap"
        findings.append(("registry", f"cannot pull {base_image.PULLED_BASE} ({reason}) — the base is "
                                     f"bootstrapped locally from this host's apt sources ({tool})"))
    else:
        findings.append(("registry", base_image.no_base_advice(host, reason)))
    if engine.image_labels(TOOLS_IMAGE) is None:
        findings.append(("kernel", f"tools image not built yet — run `invoke build{engines.option(engine.name)}`, "
                                   f"then `invoke doctor{engines.option(engine.name)}`"))
    else:
        for node in engine.nodes() or [None]:
            findings += _kernel_findings(engine, node, host.os_release)
    print_findings(findings)
    return 0


def _kernel_findings(engine: Engine, node: str | None, os_release: str) -> list[tuple[str, str]]:
    """The kernel of the engine (or of one node) and what it offers the impairment backends;
    where netem is missing, the advice for the platform it runs on."""
    topic = "kernel" if node is None else f"kernel {node}"
    try:
        probe, kernel = probe_engine_kernel(engine, node)
    except LabError as error:
        if node is None:
            raise
        return [(topic, f"could not probe: {error}")]
    backend = "netem" if probe.netem else "userspace" if probe.nfqueue else "none"
    found = [(topic, f"the engine's kernel is {kernel}; impairment backend here: {backend}")]
    found += [(topic, line) for line in probe.describe()]
    if not probe.netem:
        found.append(("netem" if node is None else f"netem {node}", platform_advice.netem_advice(
            kernel, platform.system(), platform.release(), os_release)))
    return found


def swarm_up(nodes: int = 1) -> int:
    """A local swarm to try the swarm engine: this engine as manager, `nodes` node containers."""
    from lab.engines import swarm_local

    if nodes < 1:
        raise BadInput(f"--nodes {nodes}: at least 1 node container beside this engine")
    progress = ConsoleProgress("local swarm")
    swarm = swarm_local.up(swarm_local.this_engine(), nodes, progress)
    path = swarm_local.write_nodes_file(swarm)
    progress(f"wrote {path} (how socklab reaches the node engines)")
    progress("next: invoke build --engine swarm, then invoke scenario udp-echo --engine swarm; "
             "invoke swarm-down takes it apart")
    return 0


def swarm_down() -> int:
    """Take every local swarm apart and leave this engine as swarm-up found it."""
    from lab.engines import swarm_local

    progress = ConsoleProgress("local swarm")
    found = swarm_local.down(swarm_local.this_engine())
    for path in swarm_local.remove_nodes_files():
        progress(f"removed {path}")
    progress(f"{found} local swarm(s) taken down" if found else "no local swarm was running")
    return 0


def compose(name: str, output_dir: str = "compose") -> int:
    """Write compose/NAME.yml for a scenario's topology (default parameters)."""
    from lab.scenario import compose as compose_file

    plan = build_plan(catalog.load(name), {})
    path = Path(output_dir) / f"{name}.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(compose_file.render(plan))
    wrote_compose(path)
    return 0


def shell(host: str, run_id: str | None = None) -> int:
    """An interactive shell on a host of a kept lab; the shell's own exit status."""
    import subprocess
    import sys

    from lab.shell import pick

    engine = engines.connect()
    run, host = pick(engine.live_runs(current_session()), host, run_id)
    argv = engine.shell_argv(run.run_id, host, interactive=sys.stdin.isatty())
    opening_shell(run.run_id, run.scenario, host)
    return subprocess.run(argv).returncode


def grade(directory: str, scenarios: str | None = None, jobs: int = 1, report_dir: str = "grades",
          engine_name: str | None = None, strict: bool = False, seed: int | str | None = None,
          cold: bool = False) -> int:
    """Every student's programs through the scenarios that take them; gradebook and classroom files."""
    from lab.grading import grade as grading

    with _sigterm_as_interrupt():
        return grading.grade(directory, scenarios, jobs, report_dir, engine_name, strict, seed, cold)
