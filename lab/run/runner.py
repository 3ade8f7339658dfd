"""Runs a planned scenario on the engine: topology up, steps in order, observations gathered.

The runner only orchestrates: hosts are behind the engine interface (lab.engines.base, any
engine), impairments behind lab.run.impairing, testinfra looks in lab.run.looks. It judges
nothing: it returns what it saw (a FinishedRun), and lab.scenario_run.run_scenario checks it.
"""
from __future__ import annotations

import logging
import secrets
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from lab.run import looks
from lab.run import routing
from lab.common import APPS_IMAGE, CommandResult
from lab.engines.base import APP_USER, Engine, HelperSpec, HostSpec, Lab, LabRun, Limits
from lab.run.pause import pause_point
from lab.errors import LabError, RunTimedOut, StepFailed, StudentProgramFailed
from lab.run.impairing import apply_all, still_in_force
from lab.scenario.languages import LANGUAGES
from lab.scenario.plan import SERVER_ALIAS, START_AT, STOP_REASONS, STUDENT_CPUS, STUDENT_MEMORY_BYTES, STUDENT_PIDS, Instance, Plan
from lab.run.record import BoundSocket, ClientRun, RunRecord, parse_events
from lab.run.supervision import (
    STUDENT_LOG_BYTES,
    SUPERVISOR_CAPABILITIES,
    SUPERVISOR_START_USER,
    checked_against_engine,
)

if TYPE_CHECKING:
    from lab.run.capture import CaptureSession

log = logging.getLogger(__name__)
SERVICE_READY_TIMEOUT_S = 30
START_MARGIN_S = 1.0             # {start_at} of a parallel step: this far ahead of the launch,
START_MARGIN_PER_CLIENT_S = 0.3   # plus this per client (each starts Python in its container)
SUPERVISOR_EVENT = '"event": "{}"'   # how an event's name reads in the supervisor's JSON lines


def _at(argv: tuple[str, ...], start_at: str) -> tuple[str, ...]:
    """The argv with the {start_at} moment filled in."""
    return tuple(start_at if a == START_AT else a for a in argv)


__all__ = ["FinishedRun", "new_run_id", "run_lab"]


def new_run_id() -> str:
    return secrets.token_hex(3)


@dataclass
class FinishedRun:
    """What a run hands up: what was seen, when it started, and how long it took end to end.

    The run layer judges nothing: lab.scenario_run.run_scenario turns this into an Outcome.
    """

    record: RunRecord
    started_at: str
    duration_s: float
    timings: dict[str, float] = field(default_factory=dict)


def run_lab(engine: Engine, plan: Plan, progress: Callable[[str], None],
            keep: bool = False, run_id: str | None = None,
            capture_dir: Path | None = None) -> FinishedRun:
    """Realise the plan, run its steps, gather what was seen; teardown always happens.

    Captured pcaps are written to `capture_dir` (the report directory); without one they go to a
    temporary directory that is removed once they are decoded into the record.
    """
    if plan.capture_hosts and capture_dir is None:
        with tempfile.TemporaryDirectory(prefix="socklab-capture-") as scratch:
            finished = run_lab(engine, plan, progress, keep, run_id, Path(scratch))
        if finished.record.captures is not None:
            finished.record.captures.kept_in = None
        return finished
    run_id = run_id or new_run_id()
    started_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    started = time.monotonic()
    record = RunRecord(plan=plan, run_id=run_id)
    timings: dict[str, float] = {}
    scenario = plan.scenario
    deadline = started + scenario.timeout_s
    unbuilt = [p.name for p in plan.students.values() if LANGUAGES[p.language].compiled and not p.artifact]
    if unbuilt:   # lab.run.build.built() first: the plan carries what the supervisor starts
        raise LabError(f"{', '.join(unbuilt)}: not built; a compiled program runs only after lab.run.build")
    with LabRun(engine, run_id, scenario.name, keep=keep) as lab:
        capture = None
        if capture_dir and plan.capture_hosts:
            from lab.run.capture import CaptureSession  # tcpdump helpers and pcap decoding: captured runs only

            capture = CaptureSession(lab, plan, capture_dir, progress)
        try:
            _run_steps(lab, plan, record, timings, deadline, progress, capture)
            if capture:
                mark = time.monotonic()
                record.captures = capture.stop()
                timings["capture_stop_s"] = time.monotonic() - mark
                progress(f"capture stopped: {len(record.captures.files)} pcap(s)")
            if record.impairment_backend:
                record.impairment_problems, record.impairment_counters = still_in_force(
                    lab, [i for i in plan.impaired if i.name in record.impaired_instances],
                    record.impairment_backend)
        except RunTimedOut as error:
            record.timed_out = str(error)
            progress(str(error))
        except StudentProgramFailed as error:   # the remaining steps need a server that is up
            record.student_failure = str(error)
            record.server_sockets = _sockets_of_student_server(lab, plan)
            progress(str(error))
        except KeyboardInterrupt:
            capture = None  # Ctrl-C: straight to teardown, no copying out
            raise
        finally:
            if capture and capture.running:  # cut short (timeout, failed step): keep what was seen
                try:
                    record.captures = capture.stop()
                except Exception as error:  # never hide the run's own error behind this one
                    log.warning("stopping the capture failed: %s", error)
            for instance in plan.instances:
                # Every event is a flushed line: the logs are complete without stopping first.
                if instance.role == "service" and instance.name in set(lab.hosts()):
                    try:
                        record.service_events[instance.name] = parse_events(lab.logs(instance.name))
                        if instance.traced:  # strace writes to the program's stderr
                            record.traces[instance.name] = lab.stderr(instance.name)
                    except StepFailed as error:  # keep the first error of the run, if any
                        log.warning("%s", error)
    duration = time.monotonic() - started
    return FinishedRun(record, started_at, duration, timings)


def _run_steps(lab: Lab, plan: Plan, record: RunRecord, timings: dict[str, float], deadline: float,
               progress: Callable[[str], None], capture: CaptureSession | None = None) -> None:
    """Topology up, then the scenario's steps in order."""
    scenario, run_id = plan.scenario, record.run_id
    mark = time.monotonic()
    for network in scenario.networks:
        lab.create_network(network.name, internal=network.internal, subnet=network.subnet)
    pause_point("network")
    # Clients wait idle in their own containers, so impairments are in force before they run.
    # The services of a leading "start" step start alongside them (one round of latency).
    early = set(scenario.steps[0].hosts) if scenario.steps and scenario.steps[0].action == "start" else set()
    routed = bool(scenario.subnets)
    # With a student's program in the run, clients start once the services of the first step are
    # up, with those services' names in their host table (see _service_names).
    later = [i for i in plan.instances if i.role == "client"] if plan.students or plan.host_table else []
    # The hosts the scenario's probes look at: the engine may get ready for that while the run
    # waits for the services to be ready (the Docker engine opens a shell in each). Not where a
    # student's program runs: a process the engine adds there joins the container's pids cgroup
    # past its limit (seen: a fork bomb's container at 71 of 64), so its looks stay one exec each.
    students = {i.host for i in plan.instances if i.student}
    looked_at = {scenario.probes[n].host for step in scenario.steps
                 for n in (*step.probes, *step.between)} - students
    kept = _may_be_kept(plan, looked_at)
    lab.start_all([_container(i, ("sleep", "infinity"), routed, keep_warm=i.name in kept)
                   for i in plan.instances if (i.role == "client" or i.program == "none") and i not in later]
                  + [_container(i, i.argv, routed)
                     for i in plan.instances if i.host in early and i.program != "none"])
    if later:
        names = _service_names(lab, plan, early)
        lab.start_all([_container(i, ("sleep", "infinity"), routed, _host_table(i, names), keep_warm=i.name in kept)
                       for i in later])
    pause_point("start")
    if looked_at:
        lab.expect_looks(sorted(looked_at & set(lab.hosts())))
    if scenario.subnets:  # the scenario's own subnets and routes, before any program sends
        routed_at = time.monotonic()
        record.routing = routing.set_up(lab, plan, progress)
        timings["routing_s"] = time.monotonic() - routed_at
    progress(f"run {run_id}: {len(scenario.networks)} network(s), "
             f"{len(plan.instances)} host(s) planned")
    timings["topology_s"] = time.monotonic() - mark
    started_services: set[str] = set()
    for step in scenario.steps:
        if step.action == "start":
            for host in step.hosts:
                _start_service(lab, plan, host, progress, already_started=host in early)
                started_services.add(host)
            _impair_ready(lab, plan, record, started_services, progress, timings)
        elif step.action == "run":
            if capture:  # listening before the first client of the step sends anything
                mark = time.monotonic()
                capture.start_ready()
                timings["capture_start_s"] = timings.get("capture_start_s", 0.0) + time.monotonic() - mark
            _impair_ready(lab, plan, record, started_services, progress, timings)
            _run_clients(lab, plan, record, step.hosts, step.mode, step.between, deadline, progress)
        elif step.action == "probe":
            record.probes += looks.look_all(lab, [scenario.probes[n] for n in step.probes], None)


STUDENT_LIMITS = Limits(cpus=STUDENT_CPUS, memory_bytes=STUDENT_MEMORY_BYTES, pids=STUDENT_PIDS,
                        log_bytes=STUDENT_LOG_BYTES)


def _may_be_kept(plan: Plan, looked_at: set[str]) -> set[str]:
    """The lab's own clients a grade may keep between students (HostSpec.keep_warm): idle hosts
    that only the execs of the lab's reference clients touch. Not in a lesson with subnets, routes,
    several networks or a capture, and never a host that is impaired, looked at, forwards, or where
    a student's program runs: what a student's program touches is made fresh for every run."""
    scenario = plan.scenario
    if len(scenario.networks) != 1 or scenario.subnets or plan.capture_hosts:
        return set()
    impaired = {i.name for i in plan.impaired}
    return {i.name for i in plan.instances
            if i.role == "client" and not i.student and i.program != "none" and not i.forward
            and i.name not in impaired and i.host not in looked_at}


def _container(instance: Instance, command: tuple[str, ...], routed: bool = False,
               hosts: dict[str, str] | None = None, keep_warm: bool = False) -> HostSpec:
    """A host of the plan; one where a student's program runs gets the student limits.

    There the supervisor starts as root with two capabilities, to run the program as another user
    than itself, and drops both at once (lab.run.supervision, images/apps/programs/student_run.py).
    """
    # A router forwards IPv4: a sysctl of its own network namespace, set when it is created. In a
    # routed lesson the other hosts do not (a new namespace may inherit forwarding from the host's).
    sysctls = {"net.ipv4.ip_forward": "1" if instance.forward else "0"} if instance.forward or routed else {}
    # A student's program in a compiled language runs in its language's image (its runtime: a JVM).
    image = LANGUAGES[instance.student.language].image if instance.student else APPS_IMAGE
    return HostSpec(name=instance.name, image=image, command=command, role=instance.role,
                    networks=instance.networks, sysctls=sysctls, aliases=instance.aliases,
                    limits=STUDENT_LIMITS if instance.student else None, extra_hosts=hosts or {},
                    node=instance.node, keep_warm=keep_warm,
                    **({"user": SUPERVISOR_START_USER, "capabilities": SUPERVISOR_CAPABILITIES}
                       if instance.student else {}))


def _wait(pending: Future[CommandResult], timeout: float, what: str) -> CommandResult:
    """The result of a background exec, or RunTimedOut when the scenario's time runs out first."""
    try:
        return pending.result(timeout)
    except FutureTimeout:
        raise RunTimedOut(f"{what} still running when the scenario's time limit ran out "
                          f"({timeout:.0f} s left for it); give it fewer datagrams or a shorter timeout"
                          ) from None


def _what(name: str, argv: tuple[str, ...]) -> str:
    return f"{name}: {' '.join(argv[:2])}"


def _wait_student_server(lab: Lab, instance: Instance, ready_s: float) -> float:
    """Wait until a student's server has its socket on port 12000; why not, as the student's failure.

    The supervisor reports ``listening`` when the socket appears (the textbook server prints no
    event) and ``exited`` when the program ends; a crash or a syntax error ends it at once.
    """
    assert instance.student is not None
    started = time.monotonic()
    # Awaited, not polled: the engine follows the log; what it saw is then read as a whole, so
    # the verdict comes from the parsed events only (a student's text cannot forge a JSON key).
    lab.wait_for_any_log(instance.name, (SUPERVISOR_EVENT.format("listening"), SUPERVISOR_EVENT.format("exited")),
                         ready_s)
    events = parse_events(lab.logs(instance.name))
    if any(e.get("event") == "listening" for e in events):
        return time.monotonic() - started
    ended = next((e for e in events if e.get("event") == "exited"), None)
    if ended:
        stderr = "".join(e["text"] for e in events if e.get("event") == "output" and e.get("stream") == "stderr")
        how = f"exit status {ended['rc']}" if ended.get("rc") is not None else f"killed by {ended.get('signal')}"
        how += STOP_REASONS.get(str(ended.get("reason")), "")
        raise StudentProgramFailed(f"{instance.student.name} ended ({how}) before it listened on port 12000"
                                   + (f": {stderr.strip()}" if stderr.strip() else ""))
    raise StudentProgramFailed(f"{instance.student.name} did not bind port 12000 within {ready_s:g} s")


def _sockets_of_student_server(lab: Lab, plan: Plan) -> tuple[BoundSocket, ...] | None:
    """What a student's server that never listened on 12000 had bound (the hint names it), or None.

    The look runs in a helper sharing the server's network namespace, not as an exec in the
    server's container: a process the engine adds there joins its pids cgroup past its limit
    (seen: a fork bomb's container at 70 of 64). The helper has no capability.
    """
    if "server" not in plan.students:
        return None
    instance = plan.of_host(plan.slot("server").host)[0].name
    helper = f"{instance}-sockets"
    try:
        lab.attach_helper(HelperSpec(name=helper, target=instance, image=APPS_IMAGE, capabilities=(),
                                     user=APP_USER))
        return looks.sockets_on(lab, helper)
    except Exception as error:  # a look that fails leaves the hint without it, never the run
        log.warning("could not list the sockets of %s: %s", instance, error)
        return None


def _start_service(lab: Lab, plan: Plan, host: str, progress: Callable[[str], None],
                   already_started: bool = False) -> None:
    """Start a service (unless started with the topology) and wait for its ready event."""
    for instance in plan.of_host(host):
        if not already_started and instance.program != "none":  # programless hosts are up already
            lab.start(_container(instance, instance.argv, bool(plan.scenario.subnets)))
        if instance.student:
            took = _wait_student_server(lab, instance, plan.slot("server").ready_s)
            progress(f"{instance.name}: {instance.student.name} (student) listening after {took:.1f} s")
            continue
        ready = plan.scenario.host(host).ready_event
        if ready:
            lab.wait_for_log(instance.name, f'"event": "{ready}"', SERVICE_READY_TIMEOUT_S)
        progress(f"{instance.name}: {instance.program} started" + (f" ({ready})" if ready else ""))


def _impair_ready(lab: Lab, plan: Plan, record: RunRecord, started: set[str],
                  progress: Callable[[str], None], timings: dict[str, float]) -> None:
    """Impair every host that is up and not impaired yet: clients at once, services once started."""
    pending = [i for i in plan.impaired
               if i.name not in record.impaired_instances and (i.role == "client" or i.program == "none" or i.host in started)]
    if not pending:
        return
    mark = time.monotonic()
    applied = apply_all(lab, pending, plan.impair_backend, progress, record.impairment_backend)
    record.impairment_backend = applied.backend
    record.impairment_notes += applied.notes
    record.impaired_instances |= {i.name for i in pending}
    pause_point("impair")
    timings["impairment_setup_s"] = timings.get("impairment_setup_s", 0.0) + time.monotonic() - mark


def _run_clients(lab: Lab, plan: Plan, record: RunRecord, hosts: tuple[str, ...], mode: str,
                 between: tuple[str, ...], deadline: float, progress: Callable[[str], None]) -> None:
    instances = [i for h in hosts for i in plan.of_host(h)]
    students = [i for i in instances if i.student]
    instances = [i for i in instances if not i.student]
    for instance in students:
        _run_student_client(lab, plan, record, instance, deadline, progress)
    if not instances:
        return
    if mode == "parallel":
        # {start_at}: far enough ahead for every container to have started its interpreter.
        start_at = f"{time.time() + START_MARGIN_S + START_MARGIN_PER_CLIENT_S * len(instances):.3f}"
        progress(f"{len(instances)} client(s) start at once")
        launched = [(i, time.time(), lab.exec_background(i.name, _at(i.argv, start_at))) for i in instances]
        pause_point("client")
        for instance, began, pending in launched:
            result = _wait(pending, max(1.0, deadline - time.monotonic()), _what(instance.name, instance.argv))
            record.clients.append(ClientRun(instance.name, instance.host, result.rc,
                                            parse_events(result.stdout), began, time.time(), result.stderr))
            if instance.traced:
                record.traces[instance.name] = result.stderr
            progress(f"{instance.name}: done (exit {result.rc})")
        return
    for position, instance in enumerate(instances, start=1):
        if time.monotonic() > deadline:
            raise RunTimedOut(f"the scenario's time limit ({plan.scenario.timeout_s:.0f} s) ran out before "
                              f"{instance.name} could start")
        progress(f"{instance.name} ({position}/{len(instances)}): {instance.program} running")
        began = time.time()
        pending = lab.exec_background(instance.name, _at(instance.argv, f"{began:.3f}"))
        pause_point("client")
        result = _wait(pending, max(1.0, deadline - time.monotonic()), _what(instance.name, instance.argv))
        record.clients.append(ClientRun(instance.name, instance.host, result.rc,
                                        parse_events(result.stdout), began, time.time(), result.stderr))
        if instance.traced:
            record.traces[instance.name] = result.stderr
        record.probes += looks.look_all(lab, [plan.scenario.probes[n] for n in between], instance.name)


def _run_student_client(lab: Lab, plan: Plan, record: RunRecord, instance: Instance, deadline: float,
                        progress: Callable[[str], None]) -> None:
    """A student's client, once per sentence, one run after another, each within its wall clock."""
    assert instance.student is not None
    slot = plan.slot("client")
    for run, sentence in enumerate(instance.inputs, start=1):
        if time.monotonic() > deadline:
            raise RunTimedOut(f"the scenario's time limit ({plan.scenario.timeout_s:.0f} s) ran out before "
                              f"run {run} of {instance.student.name}")
        progress(f"{instance.name}: {instance.student.name} (student) run {run}/{len(instance.inputs)}: "
                 f"input {sentence!r}")
        began = time.time()
        # The supervisor stops the program at limit_s; a little more for the engine's round trips.
        pending = lab.exec_background(instance.name, (*instance.argv, "--input", sentence))
        result = _wait(pending, max(1.0, min(deadline - time.monotonic(), slot.limit_s + 10)),
                       f"{instance.name}: {instance.student.name} run {run}")
        what = f"{instance.name}: {instance.student.name} run {run}"
        events = checked_against_engine(parse_events(result.stdout), result.rc, what)
        record.clients.append(ClientRun(f"{instance.name} run {run}", instance.host, result.rc, events,
                                        began, time.time(), result.stderr, sentence))


def _host_table(instance: Instance, names: dict[str, tuple[str, str]]) -> dict[str, str]:
    """A client's host table: the services on its networks; ``hostname`` its own server's, when the
    plan names one (api-trace --lang: two textbook clients, each with its own server)."""
    table = {n: a for n, (a, net) in names.items() if net in instance.networks}
    if instance.hostname_of and instance.hostname_of in table:
        table[SERVER_ALIAS] = table[instance.hostname_of]
    return table


def _service_names(lab: Lab, plan: Plan, started: set[str]) -> dict[str, tuple[str, str]]:
    """Name → (address, network) of every service that is up, under its name and its aliases.

    A client looks the server up by name on every run ('hostname' in the textbook client). The
    engine's DNS answers too, but a busy engine can answer after the resolver's 5 s timeout, which
    would fail a student for the machine's load; host-table entries answer at once, the way a
    classroom's /etc/hosts does.
    """
    names: dict[str, tuple[str, str]] = {}
    for instance in plan.instances:
        if instance.role != "service" or instance.host not in started or instance.program == "none":
            continue
        for network in instance.networks:
            address = lab.address(instance.name, network)
            for name in (instance.name, *instance.aliases):
                names.setdefault(name, (address, network))
    return names
