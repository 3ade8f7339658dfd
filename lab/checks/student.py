"""Checks when a student's program fills a role: judged by what the lab can observe of it.

A student's program prints no JSON events. What the lab sees instead: the bytes the lab's own
clients got back (a student's server), what the student's client printed and how it ended (exit
status, the wall clock, where it was blocked when stopped), the lab's own server's events (a
student's client), and testinfra's look at the sockets. A scenario check that needs a student
program's events gets an observable equivalent here, or is reported *not applicable* — never
passed.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from lab.common import sentence
from lab.checks import hints, trace_diff
from lab.checks.opening import StudentVoice, judge, opening_checks
from lab.checks.registry import REGISTRY, CheckResult, not_applicable, observed_hosts
from lab.observe.observation import Observation
from lab.scenario.model import CheckSpec
from lab.run.record import BoundSocket, ClientRun, RunRecord
from lab.scenario.plan import STOP_REASONS

START_CHECK = "your server listens on port 12000"
ENDS_CHECK = "your client ends by itself"
NO_CRASH_CHECK = "your client runs without an error"

Equivalent = Callable[[RunRecord, CheckSpec], CheckResult]
EQUIVALENTS: dict[str, Equivalent] = {}


def equivalent(name: str) -> Callable[[Equivalent], Equivalent]:
    def register(function: Equivalent) -> Equivalent:
        EQUIVALENTS[name] = function
        return function
    return register


def check_title(check: str) -> str:
    """A readable name for a check that did not run: its docstring's first sentence."""
    doc = (REGISTRY[check].__doc__ or check).strip().splitlines()[0]
    return doc.rstrip(".")


def run_student_checks(record: RunRecord, seen: Observation) -> list[CheckResult]:
    plan = record.plan
    student_hosts = plan.student_hosts()
    results: list[CheckResult] = []
    if "server" in plan.students:
        results.append(server_started(record))
    if record.student_failure:
        reason = f"not run: {record.student_failure}"
        results += [not_applicable(check_title(spec.check), reason) for spec in plan.scenario.checks]
        return trace_diff.with_trace_hints(record, results)
    results += opening_checks(record, seen, StudentVoice(probe_hint=lambda result: _probe_hint(record, result)))
    if "client" in plan.students:
        endings = client_endings(record)
        if any(spec.check == "client_never_blocks" for spec in plan.scenario.checks):
            endings = endings[1:]   # that check says the same, in the scenario's own words
        results += endings
    for spec in plan.scenario.checks:
        involved = observed_hosts(spec) & set(student_hosts)
        result: CheckResult | None
        if involved:
            function = EQUIVALENTS.get(spec.check)
            if function is None:
                roles = ", ".join(sorted(student_hosts[h] for h in involved))
                results.append(not_applicable(
                    check_title(spec.check),
                    f"needs the JSON events of the lab's own {roles} program, which a student's program "
                    "does not print; the lab judges it by the other checks"))
                continue
            try:
                result = function(record, spec)
            except Exception as error:   # a check that crashes is a failed check, not a crashed run
                result = CheckResult(check_title(spec.check), False, f"check could not evaluate: {error!r}")
            if result.applicable:
                result = replace(result, points=spec.points)
        else:
            result = judge(spec, record, seen)
            if result is None:
                continue
            if not result.passed and "server" in plan.students:
                result = replace(result, hint=_server_hint(record, _lab_clients(record, spec)))
        results.append(result)
    return trace_diff.with_trace_hints(record, results)


# ----- a student's server ------------------------------------------------------------------
def _student_server_events(record: RunRecord) -> list[dict]:
    host = record.plan.slot("server").host
    return record.events_of_host(host)


def _server_stderr(record: RunRecord) -> str:
    if "server" not in record.plan.students:
        return ""
    return "".join(e.get("text", "") for e in _student_server_events(record)
                   if e.get("event") == "output" and e.get("stream") == "stderr")


def _server_proto(record: RunRecord) -> str:
    """tcp or udp: the kind of server the scenario's server host runs."""
    return record.plan.scenario.host(record.plan.slot("server").host).program.split("-")[0]


def _server_ended(record: RunRecord) -> dict | None:
    return next((e for e in _student_server_events(record) if e.get("event") == "exited"), None)


def _server_sockets(record: RunRecord) -> tuple[BoundSocket, ...] | None:
    """What the lab saw bound on the student's server: its look when the server never listened,
    else its first testinfra look at that host; None when it did not look."""
    if record.server_sockets is not None:
        return record.server_sockets
    host = record.plan.slot("server").host
    hosts = {name for name, probe in record.plan.scenario.probes.items() if probe.host == host}
    return next((o.sockets for o in record.probes if o.probe in hosts and o.sockets is not None), None)


def _server_seen(record: RunRecord) -> hints.ServerSeen:
    return hints.ServerSeen(proto=_server_proto(record), stderr=_server_stderr(record),
                            sockets=_server_sockets(record), ended=_server_ended(record))


def _probe_hint(record: RunRecord, probe_check: CheckResult) -> str:
    """Why testinfra did not see what it expected on a student's server ("" when it did, or when
    the server is the lab's own)."""
    if probe_check.passed or "server" not in record.plan.students:
        return ""
    ended = _server_ended(record)
    if ended and ended.get("reason") in STOP_REASONS:
        return "the lab stopped your server" + STOP_REASONS[str(ended["reason"])]
    if ended:
        crashed = hints.crash_hint(_server_stderr(record), "your server")
        return crashed or "your server ended; a server runs until it is stopped (while True: ...)"
    host = record.plan.slot("server").host
    failed = [o for o in record.probes if not o.passed and o.sockets is not None
              and record.plan.scenario.probes[o.probe].host == host]
    if failed:
        wrong = hints.socket_hint(failed[0].sockets, _server_proto(record))
        if wrong:
            return wrong
    if "not listening" in probe_check.detail and "tcp://" in probe_check.detail:
        return ("no socket listened on tcp port 12000 when the lab looked while your server ran: keep the "
                "listening socket open between clients and close only the connection socket that accept() "
                "returned")
    if "not listening" in probe_check.detail:
        return "the server's socket must stay bound to port 12000"
    return "your server has a socket it should not have (see what testinfra saw)"


def _server_hint(record: RunRecord, runs: list[ClientRun]) -> str:
    """Why a student's server failed the lab's clients: stopped by a limit, crashed, or its code."""
    ended = _server_ended(record)
    if ended and ended.get("reason") in STOP_REASONS:
        return "the lab stopped your server" + STOP_REASONS[str(ended["reason"])]
    return hints.lab_client_hint(runs, _server_seen(record))


def _lab_clients(record: RunRecord, spec: CheckSpec) -> list[ClientRun]:
    hosts = observed_hosts(spec)
    return [c for c in record.clients if c.host in hosts]


def server_started(record: RunRecord) -> CheckResult:
    program = record.plan.students["server"]
    proto = _server_proto(record)
    if record.student_failure:
        message = record.student_failure
        sockets = record.server_sockets
        seen = f"; bound: {hints.seen_sockets(sockets)}" if sockets is not None else ""
        hint = (hints.crash_hint(_server_stderr(record), "your server") or hints.socket_hint(sockets, proto)
                or (hints.nothing_bound(sockets, proto) + ": " if sockets is not None else "")
                + f"create the socket, bind(('', 12000)){' and listen()' if proto == 'tcp' else ''} "
                "before anything that waits")
        return CheckResult(START_CHECK, False,
                           f"expected {program.name} to bind {proto}/12000; seen: {message}{seen}", hint=hint)
    events = _student_server_events(record)
    started = next((e for e in events if e.get("event") == "started"), None)
    listening = next((e for e in events if e.get("event") == "listening"), None)
    took = f" after {listening['t'] - started['t']:.2f} s" if started and listening else ""
    seen = listening.get("proto") if listening else "?"
    ok = seen == proto
    hint = ""
    if not ok:
        hint = (hints.socket_hint((BoundSocket(str(seen), "0.0.0.0", 12000),), proto)
                or f"this scenario needs a {proto.upper()} server (socket type)")
    return CheckResult(START_CHECK, ok, f"expected a {proto} socket on port 12000; {program.name} "
                                        f"bound {seen}/12000{took}", hint=hint)


@equivalent("tcp_connections_distinct")
def connections_distinct(record: RunRecord, spec: CheckSpec) -> CheckResult:
    """Student server: every lab client got its own connection; student client: one per run."""
    name = "a new connection socket per client"
    if "client" in record.plan.students:
        return _client_connections(record, spec)
    runs = _lab_clients(record, spec)
    connected = [r for r in runs if r.first("connected")]
    ends = {tuple(r.first("connected")["local"]) for r in connected}   # type: ignore[index]
    ok = len(connected) == len(runs) > 0 and len(ends) == len(runs)
    detail = (f"expected {len(runs)} clients each connected from its own socket; seen {len(connected)} "
              f"connected from {len(ends)} distinct sockets")
    hint = "" if ok else _server_hint(record, runs)
    return CheckResult(name, ok, detail, hint=hint)


@equivalent("udp_distinct_addresses")
def distinct_addresses(record: RunRecord, spec: CheckSpec) -> CheckResult:
    """Student UDP server: each client got back its own sentence, so each reply went where it came from."""
    runs = _lab_clients(record, spec)
    bad = []
    for run in runs:
        own = {sentence(e.get("text", "")).upper() for e in run.all("sent")}
        replies = [sentence(e.get("text", "")) for e in run.all("received")]
        if not replies or any(r not in own for r in replies):
            bad.append(f"{run.instance} sent {sorted(own)[:1]}, got {replies[:2] or 'nothing'}")
    ok = not bad and bool(runs)
    detail = (f"expected each of {len(runs)} clients to get its own sentence back; "
              + ("; ".join(bad[:4]) if bad else f"all {len(runs)} did"))
    hint = "" if ok else (hints.misdirected_hint(runs) or _server_hint(record, runs))
    return CheckResult("server answers the address recvfrom() gave it", ok, detail, hint=hint)


# ----- a student's client ------------------------------------------------------------------
def _student_runs(record: RunRecord) -> list[ClientRun]:
    return record.clients_of(record.plan.slot("client").host)


def _ended(run: ClientRun) -> dict:
    return run.first("exited") or {}


def _lab_server_texts(record: RunRecord) -> set[str]:
    """Every text the lab's servers received (what the student's client sent)."""
    texts = set()
    for events in record.service_events.values():
        texts |= {sentence(e.get("text", "")) for e in events if e.get("event") == "received"}
    return texts


def lost_runs(record: RunRecord) -> list[int] | None:
    """The student client's runs (1-based) whose sentence never reached the lab's server: the runs
    that met a loss. None when the server is a student's too (it prints no events to tell)."""
    if "server" in record.plan.students:
        return None
    arrived = _lab_server_texts(record)
    return [n for n, run in enumerate(_student_runs(record), start=1) if run.sentence not in arrived]


def _losses_seen(record: RunRecord) -> str:
    lost = lost_runs(record)
    if lost is None or not any(spec.loss_pct for i in record.plan.of_host(record.plan.slot("client").host)
                               for spec in i.impairments):
        return ""
    seed = f", seed {record.plan.seed}" if record.plan.seed is not None else ""
    if not lost:
        return f"; no datagram of its runs was lost{seed}"
    return f"; lost on the way: the datagram of run{'s' if len(lost) > 1 else ''} " \
           f"{', '.join(map(str, lost))}{seed}"


def limits_text(limit_s: float) -> str:
    """Every limit a student's client can meet, as numbers (also in the README)."""
    from lab.scenario.plan import STUDENT_MAX_WAIT_S, STUDENT_WAIT_GRACE_S
    return (f"a timeout up to {STUDENT_MAX_WAIT_S:g} s is accepted; a wait with no timeout is stopped after "
            f"{STUDENT_WAIT_GRACE_S:g} s blocked ({STUDENT_MAX_WAIT_S:g} s in a blocking recvfrom()); "
            f"wall clock {limit_s:g} s a run")


def client_endings(record: RunRecord) -> list[CheckResult]:
    """The student's client ends by itself (its waits judged from the kernel), and without a Python error."""
    slot = record.plan.slot("client")
    runs = _student_runs(record)
    stopped, crashed = [], []
    for position, run in enumerate(runs, start=1):
        ended, limit = _ended(run), run.first("limit")
        if ended.get("reason") in ("cpu", "memory"):
            limit = {"what": ended["reason"]}
        if limit or not ended:
            stopped.append((position, run, limit or {"what": "no end seen"}))
        elif ended.get("rc") != 0:
            crashed.append((position, run))
    results = []
    losses = _losses_seen(record)
    if stopped:
        position, run, limit = stopped[0]
        seen = f"run {position} was stopped ({limit.get('what')}"
        seen += f", blocked in {limit['blocked_in']}()" if limit.get("blocked_in") else ""
        seen += f": the kernel showed {limit['seen']}" if limit.get("seen") else ""
        seen += f", blocked {limit['waited_s']:g} s" if isinstance(limit.get("waited_s"), (int, float)) else ""
        seen += f"); printed: {run.printed().strip()[-200:]!r}" if run.printed().strip() else ")"
        results.append(CheckResult(ENDS_CHECK, False,
                                   f"expected every run to end by itself ({limits_text(slot.limit_s)}); "
                                   f"{len(stopped)}/{len(runs)} did not — {seen}{losses}",
                                   hint=hints.limit_hint(limit, "client", slot.limit_s)))
    else:
        longest = max((_ended(r).get("seconds", 0.0) for r in runs), default=0.0)
        results.append(CheckResult(ENDS_CHECK, bool(runs),
                                   f"{len(runs)}/{len(runs)} runs ended by themselves (longest {longest:.2f} s; "
                                   f"{limits_text(slot.limit_s)}){losses}"))
    if crashed:
        position, run = crashed[0]
        message = hints.python_message(run.printed("stderr"))
        hint = hints.crash_hint(run.printed("stderr"), "your client") or f"your client crashed: {message}"
        if "timeout" in message.lower():
            hint = ("your client's timeout fired and the exception ended it: catch socket.timeout "
                    "(TimeoutError) and report the lost datagram instead")
        results.append(CheckResult(NO_CRASH_CHECK, False,
                                   f"expected exit status 0; run {position} ended with status "
                                   f"{_ended(run).get('rc')}: {message or run.printed('stderr')[-200:]}",
                                   hint=hint))
    else:
        finished = [r for r in runs if _ended(r) and not r.first("limit")]
        results.append(CheckResult(NO_CRASH_CHECK, bool(finished),
                                   f"{len(finished)} run(s) that ended did so with exit status 0"))
    return results


@equivalent("replies_uppercase")
def client_printed_replies(record: RunRecord, spec: CheckSpec) -> CheckResult:
    """Student client: for every sentence that reached the lab's server, the client printed its reply."""
    name = "replies are the sentence in upper case"
    runs = _student_runs(record)
    if "server" in record.plan.students:   # a student's server prints no events: every run counts
        arrived = {r.sentence or "" for r in runs}
    else:
        arrived = _lab_server_texts(record)
    delivered = [r for r in runs if r.sentence in arrived]
    bad = []
    for position, run in enumerate(runs, start=1):
        if run not in delivered:
            continue
        expected = (run.sentence or "").upper()
        printed = run.printed()
        if expected not in printed:
            bad.append((position, run, expected, printed))
    if not delivered:
        sent_any = bool(arrived)
        limited = next((r.first("limit") for r in runs if r.first("limit")), None)
        if limited and not sent_any:
            return CheckResult(name, False, "expected the server to receive the sentence of each run; it received "
                                            "nothing", hint=hints.limit_hint(limited, "client",
                                                                            record.plan.slot("client").limit_s))
        return CheckResult(name, False, f"expected the server to receive the sentence of each run; it received "
                                        f"{'other texts: ' + repr(sorted(arrived)[:2]) if sent_any else 'nothing'}",
                           hint=("send exactly the sentence input() returned" if sent_any else
                                 _never_sent_hint(runs)))
    if bad:
        position, run, expected, printed = bad[0]
        hint = "print the reply the server sent back: print(modified_message.decode())"
        if (run.sentence or "") in printed:
            hint = "your client printed the sentence it sent, not the server's reply"
        elif not printed.strip() and run.first("limit"):
            hint = hints.limit_hint(run.first("limit") or {}, "client", record.plan.slot("client").limit_s)
        return CheckResult(name, False, f"run {position}: expected {expected!r} in the client's output; "
                                        f"seen {printed.strip()[-200:]!r}", hint=hint)
    lost = len(runs) - len(delivered)
    extra = f" ({lost} sentence(s) lost on the way, as the impairment intends)" if lost else ""
    return CheckResult(name, True, f"{len(delivered)}/{len(delivered)} delivered sentences came back and were "
                                   f"printed in upper case{extra}")


def _never_sent_hint(runs: list[ClientRun]) -> str:
    for run in runs:
        crashed = hints.crash_hint(run.printed("stderr"), "your client")
        if crashed:
            return crashed.replace("crashed:", "crashed before the server got anything:", 1)
    return "the server received nothing: send the sentence to ('hostname', 12000)"


def _client_connections(record: RunRecord, spec: CheckSpec) -> CheckResult:
    """Student TCP client: the lab's server accepted one connection per run and saw it closed."""
    server = str(spec.args.get("server", "server"))
    if "server" in record.plan.students:
        return not_applicable("one connection per client run, closed at the end",
                              "needs the lab's own server's accept/close events; the server is a student's "
                              "program too (the replies check judges the pair)")
    events = record.events_of_host(server)
    accepted = [e for e in events if e.get("event") == "accepted"]
    closed = [e for e in events if e.get("event") == "closed"]
    runs = _student_runs(record)
    ok = len(accepted) == len(runs) and len(closed) == len(accepted)
    hint = ""
    if not accepted:
        hint = _never_sent_hint(runs).replace("send the sentence to", "connect() to")
    elif not ok:
        hint = "open one connection per sentence: connect(), send(), recv(), close()"
    return CheckResult("one connection per client run, closed at the end", ok,
                       f"expected {len(runs)} connection(s) accepted by the lab's server; seen {len(accepted)} "
                       f"accepted, {len(closed)} closed", hint=hint)


@equivalent("client_never_blocks")
def client_never_blocks(record: RunRecord, spec: CheckSpec) -> CheckResult:
    """Student client: every run ended by itself within its limit (it did not wait forever)."""
    ends = client_endings(record)[0]
    return replace(ends, name="client never blocks past its timeout")
