"""Outcome checks over what a run observed: the dispatcher, and the lessons' own checks.

The registry itself (CheckResult, @check, validation) is the leaf lab.checks.registry; importing
this package imports every family (lab.checks.capture here too), so the registry is complete.

Each check states the lesson's expected outcome and, in its detail, what was expected and what was
seen, so a failing run teaches as much as a passing one.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from lab.checks.capture import automatic_checks
from lab.checks.looks import probe_results
from lab.checks.registry import (  # noqa: F401  (re-exported: lab.checks is the registry's front)
    REGISTRY,
    CheckFunction,
    CheckResult,
    HostName,
    OptionalParamName,
    ParamName,
    call,
    check,
    not_applicable,
    observed_hosts,
    validate_spec,
)
from lab.checks.student import run_student_checks
from lab.common import sentence, sentence_bytes
from lab.impairment import units
from lab.observe import stats, trace
from lab.observe.metrics import host_figures
from lab.observe.observation import Observation, observe
from lab.run.record import ClientRun, RunRecord
from lab.scenario.parameters import UNSET
from lab.scenario.routes import expected_routes


def run_checks(record: RunRecord, seen: Observation | None = None) -> list[CheckResult]:
    """Probe verdicts first (what testinfra saw during the run), then the scenario's checks.

    `seen` is the run's observation (lab.observe.observation, decoded once after the run); a
    check that reads captures or traces declares a ``seen`` parameter and is handed it.

    A check returns None when it does not apply to this run's parameters (e.g. the jitter check
    without jitter); it is left out rather than counted as passed. With a student's program in a
    role, lab.checks.student judges what the lab can observe of it instead.
    """
    seen = seen if seen is not None else observe(record)
    if record.plan.students:
        return run_student_checks(record, seen)
    results = probe_results(record)
    if record.timed_out:
        results.append(CheckResult("run finished within its time limit", False, record.timed_out))
    if record.impairment_problems is not None:
        problems = record.impairment_problems
        results.append(CheckResult(
            "impairments stayed in force through the run", not problems,
            "; ".join(problems) or f"{record.impairment_backend}: verified again after the last client "
                                   f"({len(record.impaired_instances)} host(s))"))
    if record.captures is not None:
        try:
            results += automatic_checks(record, seen)
        except Exception as error:  # a capture that cannot be read fails its check, not the run
            results.append(CheckResult("capture complete", False, f"could not evaluate: {error!r}"))
    for spec in record.plan.scenario.checks:
        try:
            result = call(spec, record, seen)
        except Exception as error:  # a check that crashes is a failed check, not a crashed run
            result = CheckResult(spec.check, False, f"check could not evaluate: {error!r}")
        if result is not None:
            results.append(replace(result, points=spec.points))
    return results




def _param(record: RunRecord, name: str) -> Any:
    return record.plan.parameters[name]


def _ms(record: RunRecord, name: str) -> float:
    """A duration parameter in ms; an unset one ("none") is no delay at all."""
    value = _param(record, name)
    return 0.0 if value == UNSET else units.parse_duration_ms(value)


def _fraction(record: RunRecord, name: str) -> float:
    """A percentage parameter as a fraction; an unset one ("none") is 0."""
    value = _param(record, name)
    return 0.0 if value == UNSET else units.parse_percent(value) / 100


def _clients(record: RunRecord, host: str) -> list[ClientRun]:
    runs = record.clients_of(host)
    if not runs:
        raise ValueError(f"no client of host '{host}' ran")
    return runs


def _why_not(run: ClientRun) -> str:
    """What a client said went wrong: its error event (e.g. the name lookup failed), else its
    last line on stderr, else its exit code."""
    error = run.first("error")
    if error:
        return (f"{error.get('name') or 'error'} during {error.get('during', '?')}: "
                f"{error.get('message', '')}".strip().rstrip(":"))
    timeouts = run.all("timeout")
    if timeouts:
        return f"{len(timeouts)} timeout(s), exit {run.rc}"
    last = run.stderr.strip().splitlines()[-1:]
    return last[0] if last else f"exit {run.rc}"


# ----- echo lessons ------------------------------------------------------------------------
@check("replies_uppercase")
def replies_uppercase(record: RunRecord, clients: HostName = "client") -> CheckResult:
    """Every client got back exactly its own sentence in upper case."""
    runs = _clients(record, clients)
    bad = []
    for run in runs:
        sent = {e.get("seq"): e for e in run.all("sent")}
        received = run.all("received")
        if not received:
            bad.append(f"{run.instance} got no reply ({_why_not(run)})")
            continue
        for reply in received:
            asked = sent.get(reply.get("seq"), {"text": "", "bytes": 0})
            # Texts in events are cut at 200 characters: the byte counts prove the whole sentence.
            # A line end is not part of the sentence (a line-based server, the lab's TCP client).
            if (sentence(reply["text"]) != sentence(asked["text"]).upper()
                    or sentence_bytes(reply["text"], reply.get("bytes") or 0)
                    != sentence_bytes(asked["text"], asked.get("bytes") or 0)):
                bad.append(f"{run.instance} sent {asked['bytes']} bytes {asked['text']!r}, "
                           f"got {reply.get('bytes')} bytes {reply['text']!r}")
    example = runs[0].first("received")
    shown = f" (e.g. {example['text']!r})" if example else ""
    if bad:
        return CheckResult("replies are the sentence in upper case", False, "; ".join(bad[:5]))
    return CheckResult("replies are the sentence in upper case", True,
                       f"{len(runs)}/{len(runs)} client(s) got their own sentence back upper-cased{shown}")


@check("tcp_connections_distinct")
def tcp_connections_distinct(record: RunRecord, server: HostName = "server", clients: HostName = "client"
                             ) -> CheckResult:
    """One listening socket, a new connection socket per client, one per client address."""
    runs = _clients(record, clients)
    accepted = [e for e in record.events_of_host(server) if e.get("event") == "accepted"]
    listening = [e for e in record.events_of_host(server) if e.get("event") == "listening"]
    peers = {tuple(e["client"]) for e in accepted}
    client_ends = {tuple(e["local"]) for r in runs for e in r.all("connected")[:1]}
    listen_fds = {e["listen_fd"] for e in accepted}
    ok = (len(accepted) == len(runs) and len(peers) == len(runs) and client_ends == peers
          and len(listening) == 1 and len(listen_fds) == 1
          and all(e["conn_fd"] != e["listen_fd"] for e in accepted))
    detail = (f"expected {len(runs)} accepted connections from {len(runs)} distinct client sockets "
              f"through 1 listening socket; saw {len(accepted)} accepted, {len(peers)} distinct "
              f"peers {sorted(peers)}, listening fd(s) {sorted(listen_fds)}, connection fd(s) "
              f"{[e['conn_fd'] for e in accepted]}, listening events {len(listening)}")
    return CheckResult("a new connection socket per client, one listening socket", ok, detail)


@check("tcp_lifetimes_sequential")
def tcp_lifetimes_sequential(record: RunRecord, server: HostName = "server") -> CheckResult:
    """Connections are served one after another: no two connection lifetimes overlap."""
    events = record.events_of_host(server)
    opened = {e["conn_id"]: e["t"] for e in events if e.get("event") == "accepted"}
    closed = {e["conn_id"]: e["t"] for e in events if e.get("event") == "closed"}
    spans = sorted((opened[c], closed.get(c, float("inf")), c) for c in opened)
    overlaps = [(a[2], b[2]) for a, b in zip(spans, spans[1:]) if b[0] < a[1]]
    unclosed = [c for c in opened if c not in closed]
    ok = bool(spans) and not overlaps and not unclosed
    detail = (f"{len(spans)} connection lifetimes, overlapping pairs {overlaps or 'none'}, "
              f"never closed {unclosed or 'none'}")
    return CheckResult("connection lifetimes do not overlap", ok, detail)


@check("udp_distinct_addresses")
def udp_distinct_addresses(record: RunRecord, server: HostName = "server", clients: HostName = "client"
                           ) -> CheckResult:
    """One server socket answered each client at the address recvfrom() gave it."""
    runs = _clients(record, clients)
    events = record.events_of_host(server)
    received = [e for e in events if e.get("event") == "received"]
    sent = [e for e in events if e.get("event") == "sent"]
    addresses = {tuple(e["client"]) for e in received}
    answered_back = all(tuple(s["client"]) == tuple(r["client"]) for r, s in zip(received, sent))
    listening = [e for e in events if e.get("event") == "listening"]
    ok = (len(addresses) == len(runs) and len(sent) == len(received) and answered_back
          and len(listening) == 1)
    detail = (f"expected {len(runs)} distinct client addresses on 1 server socket, each reply sent "
              f"to the address its datagram came from; saw {len(addresses)} addresses "
              f"{sorted(addresses)}, {len(received)} received, {len(sent)} sent, "
              f"replies to sender: {answered_back}")
    return CheckResult("server answers the address recvfrom() gave it", ok, detail)


@check("no_connection")
def no_connection(record: RunRecord, server: HostName = "server") -> CheckResult:
    """UDP: the server never accepted anything, because there is nothing to accept."""
    events = record.events_of_host(server)
    accepted = [e for e in events if e.get("event") == "accepted"]
    protocols = {e.get("proto") for e in events if e.get("event") == "listening"}
    ok = not accepted and protocols == {"udp"}
    return CheckResult("no connection is ever made", ok,
                       f"server sockets: {sorted(map(str, protocols))}; accepted connections: {len(accepted)}")


# ----- no-server lessons -------------------------------------------------------------------
@check("tcp_connect_refused")
def tcp_connect_refused(record: RunRecord, clients: HostName = "client", within_ms: float = 1000
                        ) -> CheckResult:
    """connect() to a port nobody listens on is refused at once by a reset."""
    bad = []
    for run in _clients(record, clients):
        error = run.first("error")
        elapsed = (error["t"] - run.started) * 1000 if error else None
        if run.first("connected") or not error or error.get("name") != "ECONNREFUSED" \
                or error.get("during") != "connect":
            bad.append(f"{run.instance}: events {[e['event'] for e in run.events]}, error {error}")
        elif elapsed is not None and elapsed > within_ms:
            bad.append(f"{run.instance}: refused only after {elapsed:.0f} ms")
    detail = "; ".join(bad) or f"connect() failed with ECONNREFUSED within {within_ms:.0f} ms (a reset, no wait)"
    return CheckResult("TCP connect() is refused at once", not bad, detail)


@check("udp_silent_timeout")
def udp_silent_timeout(record: RunRecord, clients: HostName = "client", timeout_param: ParamName = "timeout"
                       ) -> CheckResult:
    """An unconnected UDP socket hears nothing back: the datagram vanishes, the timeout fires."""
    timeout_ms = float(_param(record, timeout_param)) * 1000
    bad = []
    for run in _clients(record, clients):
        timeouts, errors, replies = run.all("timeout"), run.all("error"), run.all("received")
        waited = [t["waited_ms"] for t in timeouts]
        if replies or errors or not timeouts or len(timeouts) != len(run.all("sent")):
            bad.append(f"{run.instance}: {len(timeouts)} timeouts, {len(errors)} errors, {len(replies)} replies")
        elif any(w < timeout_ms * 0.9 or w > timeout_ms + 200 for w in waited):
            bad.append(f"{run.instance}: waited {waited} ms for a {timeout_ms:.0f} ms timeout")
    detail = "; ".join(bad) or (f"sendto() succeeded, no error was reported to the unconnected "
                                f"socket, recvfrom() timed out after ~{timeout_ms:.0f} ms")
    return CheckResult("unconnected UDP socket: silence, then its timeout", not bad, detail)


@check("udp_connected_refused")
def udp_connected_refused(record: RunRecord, clients: HostName = "connected-client") -> CheckResult:
    """A connected UDP socket is told of the ICMP port unreachable: ECONNREFUSED."""
    bad = []
    for run in _clients(record, clients):
        error = run.first("error")
        if not error or error.get("name") != "ECONNREFUSED" or run.all("received"):
            bad.append(f"{run.instance}: events {[e['event'] for e in run.events]}, error {error}")
    detail = "; ".join(bad) or "the connected socket's recv() failed with ECONNREFUSED (ICMP port unreachable)"
    return CheckResult("connected UDP socket: ECONNREFUSED", not bad, detail)


# ----- impairment lessons ------------------------------------------------------------------
def _summary(record: RunRecord, host: str) -> dict[str, Any]:
    run = _clients(record, host)[0]
    summary = run.first("summary")
    if summary is None:
        raise ValueError(f"{run.instance} printed no summary (exit {run.rc}): {run.stderr[-300:]}")
    return summary


UDP_IP_HEADERS = 28  # IPv4 (20) + UDP (8): what a rate limit counts beyond the payload


def _rtt(record: RunRecord, host: str) -> dict[str, float]:
    """RTT percentiles (min, p5, p50, p95, max) over every reply a client host received."""
    figures = host_figures(record, host)["rtt_ms"]
    if figures is None:
        raise ValueError(f"{host} received no reply, so it measured no RTT")
    return figures


@check("loss_within_interval")
def loss_within_interval(record: RunRecord, client: HostName = "client", loss_param: ParamName = "loss",
                         confidence: float = 0.99) -> CheckResult:
    """The measured loss is what a link with the configured loss gives, within its 99% interval."""
    summary = _summary(record, client)
    configured = _fraction(record, loss_param)
    low, high = stats.binomial_interval(summary["sent"], configured, confidence)
    measured = summary["loss_rate"]
    return CheckResult(
        f"measured loss within the {confidence:.0%} binomial interval", low <= measured <= high,
        f"configured {configured:.1%} over {summary['sent']} datagrams → allowed "
        f"{low:.1%}..{high:.1%}; measured {measured:.1%} ({summary['sent'] - summary['received']} lost)")


@check("server_saw_replied")
def server_saw_replied(record: RunRecord, server: HostName = "server", client: HostName = "client"
                       ) -> CheckResult:
    """UDP never retransmits: the server got exactly the datagrams the client got replies to."""
    run = _clients(record, client)[0]
    replied = {e["seq"] for e in run.all("received")}
    # The server may serve other clients too: its datagrams from this client carry this client's texts.
    texts = {e["text"] for e in run.all("sent")}
    at_server = [e for e in record.events_of_host(server)
                 if e.get("event") == "received" and e.get("text") in texts]
    seen = {e["seq"] for e in at_server}
    duplicates = len(at_server) - len(seen)
    ok = replied == seen and duplicates == 0
    return CheckResult(
        "server received exactly the datagrams that were answered", ok,
        f"client got replies to {len(replied)} seqs, server received {len(seen)} seqs; "
        f"only at server {sorted(seen - replied)[:10]}, only replied {sorted(replied - seen)[:10]}, "
        f"duplicates at server {duplicates} (no retransmission)")


@check("client_never_blocks")
def client_never_blocks(record: RunRecord, client: HostName = "client", timeout_param: ParamName = "timeout",
                        slack_ms: float = 100) -> CheckResult:
    """Every recvfrom() wait ends by its timeout: a lost datagram never hangs the client.

    A wait is measured by the client's clock from its send to the moment it runs again; the part
    it spent ready to run but waiting for a CPU (the kernel's count, `runnable_ms`, on a busy
    machine) is not blocking in recvfrom() and is left out.
    """
    run = _clients(record, client)[0]
    timeout_ms = float(_param(record, timeout_param)) * 1000
    waits = [(e["waited_ms"], e.get("runnable_ms", 0.0)) for e in run.all("timeout")]
    waited, runnable = max(waits, default=(0.0, 0.0))
    blocked = max((w - r for w, r in waits), default=0.0)
    ok = blocked <= timeout_ms + slack_ms and run.first("summary") is not None
    cpu = f", {runnable:.0f} ms of it waiting for a CPU" if runnable >= 1 else ""
    return CheckResult("client never blocks past its timeout", ok,
                       f"{len(waits)} timeouts, longest wait {waited:.0f} ms{cpu}; blocked at most "
                       f"{blocked:.0f} ms (limit {timeout_ms:.0f} ms + {slack_ms:.0f} ms scheduling slack)")


@check("rtt_p50_near")
def rtt_p50_near(record: RunRecord, client: HostName = "client", baseline: HostName = "baseline",
                 delay_param: ParamName = "delay", rate_param: OptionalParamName = "rate", tolerance_ms: float = 5.0
                 ) -> CheckResult:
    """RTT p50 = configured one-way delay (client egress) + the base RTT of the same path,
    + the time to put the datagram on a rate-limited link (IP length × 8 / rate)."""
    delay = _ms(record, delay_param)
    base = _rtt(record, baseline)["p50"]
    measured = _rtt(record, client)["p50"]
    rate = record.plan.parameters.get(rate_param, UNSET)
    serialisation = 0.0
    if rate != UNSET:
        sent = _clients(record, client)[0].first("sent")
        ip_bytes = (sent["bytes"] if sent else 0) + UDP_IP_HEADERS
        serialisation = ip_bytes * 8 / units.parse_rate_bit(rate) * 1000
    expected = delay + base + serialisation
    on_wire = f" + {serialisation:.2f} (at {rate})" if serialisation else ""
    return CheckResult(
        f"RTT p50 within ±{tolerance_ms:g} ms of delay + base RTT", abs(measured - expected) <= tolerance_ms,
        f"expected {delay:g} + {base:.2f}{on_wire} = {expected:.2f} ms; measured p50 {measured:.2f} ms")


@check("jitter_visible")
def jitter_visible(record: RunRecord, client: HostName = "client", baseline: HostName = "baseline",
                   jitter_param: ParamName = "jitter") -> CheckResult | None:
    """With jitter, the RTT spread (p95 − p5) grows well beyond the unimpaired path's.

    Without jitter it does not apply (None), whatever the RTTs: it looks at none of them.
    """
    jitter = _ms(record, jitter_param)
    if jitter == 0:
        return None
    base_rtt, rtt = _rtt(record, baseline), _rtt(record, client)
    base = base_rtt["p95"] - base_rtt["p5"]
    measured = rtt["p95"] - rtt["p5"]
    ok = measured >= base + jitter / 2
    return CheckResult("jitter spreads the RTT", ok,
                       f"jitter {jitter:g} ms: p95−p5 {measured:.2f} ms, base {base:.2f} ms "
                       f"(expected ≥ base + {jitter / 2:g} ms)")


@check("tcp_intact")
def tcp_intact(record: RunRecord, clients: HostName = "client") -> CheckResult:
    """TCP delivers every byte, in order, despite loss: the server's SHA-256 matches."""
    bad, shown = [], []
    for run in _clients(record, clients):
        transfer = run.first("transfer")
        if not transfer or not transfer.get("intact"):
            bad.append(f"{run.instance}: {transfer or 'no transfer event'}")
        else:
            shown.append(f"{run.instance} {transfer['bytes']} B")
    return CheckResult("all bytes arrive intact (SHA-256)", not bad,
                       "; ".join(bad) or "hash of what the server received = hash sent: " + ", ".join(shown))


@check("tcp_retransmissions")
def tcp_retransmissions(record: RunRecord, client: HostName = "client", minimum: int = 1) -> CheckResult:
    """The kernel retransmitted: the client's namespace counter RetransSegs grew."""
    run = _clients(record, client)[0]
    stats_event = run.first("tcp_stats")
    count = stats_event["retrans_segs"] if stats_event else None
    ok = count is not None and count >= minimum
    return CheckResult("TCP retransmitted lost segments", ok,
                       f"RetransSegs grew by {count} in {run.instance}'s network namespace "
                       f"(expected ≥ {minimum})")


# ----- API trace lessons (strace) ----------------------------------------------------------
def _traced_calls(seen: Observation, host: str) -> list[trace.SocketCall]:
    return list(seen.calls_of(host))


def _traced_hosts(record: RunRecord) -> list[str]:
    return [h.name for h in record.plan.scenario.hosts if h.trace]


def _shown(calls: list[trace.SocketCall]) -> str:
    return ", ".join(c.text() for c in calls) or "none"


@check("trace_starts_at_socket")
def trace_starts_at_socket(record: RunRecord, seen: Observation) -> CheckResult:
    """Every traced program was seen from its first socket() on (the tracer started it)."""
    bad, good = [], []
    traced = {t.host: t for t in seen.traced}
    for host in _traced_hosts(record):
        text = traced[host].text if host in traced else ""
        calls = traced[host].calls if host in traced else ()
        if not calls or calls[0].name != "socket":
            error = next((line for line in text.splitlines() if line.startswith("strace:")), "no trace")
            bad.append(f"{host}: first call {calls[0].text() if calls else 'none'} ({error})")
        else:
            good.append(f"{host} {len(calls)} calls")
    return CheckResult("each program traced from its first socket()", bool(good) and not bad,
                       "; ".join(bad) or "strace -f saw " + ", ".join(good))


@check("trace_listen_accept_server_only")
def trace_listen_accept_server_only(record: RunRecord, seen: Observation, server: str = "tcp-server") -> CheckResult:
    """listen() and accept() belong to the TCP server alone: no client and no UDP program calls them."""
    found = {host: [c for c in _traced_calls(seen, host) if c.name in {"listen"} | trace.ACCEPT_CALLS]
             for host in _traced_hosts(record)}
    at_server = {c.name.rstrip("4") for c in found.get(server, [])}
    elsewhere = {host: calls for host, calls in found.items() if host != server and calls}
    ok = at_server == {"listen", "accept"} and not elsewhere
    others = "; ".join(f"{host}: {_shown(calls)}" for host, calls in elsewhere.items())
    return CheckResult("listen()/accept() only in the TCP server", ok,
                       f"{server}: {_shown(found.get(server, []))}; other programs: {others or 'none'}")


@check("trace_no_connect")
def trace_no_connect(record: RunRecord, seen: Observation, client: str = "udp-client") -> CheckResult:
    """The UDP client never connects: each sendto() names the server's address instead."""
    calls = _traced_calls(seen, client)
    connects = [c for c in calls if c.name == "connect"]
    addressed = [c for c in calls if c.name in trace.SEND_CALLS and c.address]
    ok = not connects and bool(addressed)
    return CheckResult(f"no connect() in {client}", ok,
                       f"connect calls: {_shown(connects)}; sends naming an address: {_shown(addressed)}")


@check("trace_accept_new_descriptor")
def trace_accept_new_descriptor(record: RunRecord, seen: Observation, server: str = "tcp-server") -> CheckResult:
    """accept() returns a NEW descriptor (the connection socket); the listening one stays open,
    and the conversation uses the new one."""
    calls = _traced_calls(seen, server)
    listening = {c.fd for c in calls if c.name == "listen" and c.ok}
    accepts = [c for c in calls if c.name in trace.ACCEPT_CALLS and c.ok]
    new = {c.ret for c in accepts}
    talk = {c.fd for c in calls if c.name in trace.SEND_CALLS | trace.RECV_CALLS}
    ok = bool(accepts) and len(listening) == 1 and not (new & listening) and bool(talk) and talk <= new
    return CheckResult("accept() returns a new descriptor", ok,
                       f"listening descriptor {sorted(map(str, listening))}; accept() returned "
                       f"{sorted(map(str, new))}; send/recv used {sorted(map(str, talk))}")


@check("trace_reply_to_sender")
def trace_reply_to_sender(record: RunRecord, seen: Observation, server: str = "udp-server") -> CheckResult:
    """Each sendto() of the UDP server names the address its recvfrom() returned just before."""
    calls = _traced_calls(seen, server)
    pairs, bad, last = 0, [], None
    for call in calls:
        if call.name in trace.RECV_CALLS and call.ok:
            last = call.address
        elif call.name in trace.SEND_CALLS:
            pairs += 1
            if last is None or call.address != last:
                bad.append(f"{call.text()} after recvfrom() from {last}")
    ok = pairs > 0 and not bad
    detail = "; ".join(bad) or (f"{pairs} sendto() call(s), each to the address recvfrom() returned: "
                                + _shown([c for c in calls if c.name in trace.SEND_CALLS | trace.RECV_CALLS]))
    return CheckResult("sendto() names the address recvfrom() returned", ok, detail)


# ----- backlog lessons (tcp-backlog) -------------------------------------------------------
@dataclass(frozen=True)
class Turn:
    """One client of a burst, in the order the server accepted it."""

    place: int                 # 1 = accepted first
    instance: str
    started: float             # when its connect() began (epoch s)
    handshake_ms: float        # how long connect() took
    replied: float | None      # when its reply arrived (None: never)
    local: tuple[str, int]

    @property
    def wait_ms(self) -> float | None:
        return None if self.replied is None else (self.replied - self.started) * 1000


def turns(record: RunRecord, server: str = "server", clients: str = "client") -> list[Turn]:
    """The clients in the server's accept() order, with their connect start and reply times.

    A client is matched to its `accepted` event by its socket address (the server's `client` is
    the client's `local`); clients the server never accepted come last, in their own order.
    """
    accepted = [tuple(e["client"]) for e in record.events_of_host(server) if e.get("event") == "accepted"]
    runs = []
    for run in _clients(record, clients):
        connected, received = run.first("connected"), run.first("received")
        if connected is None:
            runs.append((len(accepted) + len(runs), run, None, None))
            continue
        local = tuple(connected["local"])
        place = accepted.index(local) if local in accepted else len(accepted) + len(runs)
        runs.append((place, run, connected, received))
    result = []
    for place, (_, run, connected, received) in enumerate(sorted(runs, key=lambda r: r[0]), start=1):
        handshake = float(connected["handshake_ms"]) if connected else 0.0
        started = connected["t"] - handshake / 1000 if connected else run.started
        result.append(Turn(place, run.instance, started, handshake,
                           received["t"] if received else None,
                           tuple(connected["local"]) if connected else ("", 0)))  # type: ignore[arg-type]
    return result


def _turns_text(found: list[Turn]) -> str:
    return ", ".join(f"{t.place}. {t.instance} {t.wait_ms:.0f} ms" if t.wait_ms is not None
                     else f"{t.place}. {t.instance} no reply" for t in found)


def _mode(record: RunRecord, mode_param: str) -> str:
    return str(record.plan.parameters.get(mode_param, "iterative"))


def _open_at_once(record: RunRecord, server: str) -> int:
    """The most connections the server had open at the same time (from accepted/closed events)."""
    edges = sorted([(e["t"], 1) for e in record.events_of_host(server) if e.get("event") == "accepted"]
                   + [(e["t"], -1) for e in record.events_of_host(server) if e.get("event") == "closed"],
                   key=lambda edge: (edge[0], edge[1]))
    most = current = 0
    for _, step in edges:
        current += step
        most = max(most, current)
    return most


@check("tcp_served_in_turn")
def tcp_served_in_turn(record: RunRecord, server: str = "server", clients: str = "client",
                       hold_param: str = "hold", mode_param: str = "server_mode") -> CheckResult | None:
    """Iterative server: clients that arrive at once are served one after another, each reply at
    least one hold after the one before, so each client's wait grows with its place in the queue."""
    if _mode(record, mode_param) != "iterative":
        return None
    hold = _ms(record, hold_param)
    found = turns(record, server, clients)
    replied = [t for t in found if t.replied is not None]
    # The gaps between replies on the server's own clock when it says when it sent them: a client
    # that a busy machine schedules late reads its reply late and would shorten the next gap.
    sent = sorted(e["t"] for e in record.events_of_host(server) if e.get("event") == "sent")
    reply_times, clock = ((sent, "sent by the server") if sent else
                          ([t.replied for t in replied], "received by the clients"))
    gaps = [(b - a) * 1000 for a, b in zip(reply_times, reply_times[1:])]  # type: ignore[operator]
    waits = [t.wait_ms for t in replied]
    spread = (max(t.started for t in found) - min(t.started for t in found)) * 1000
    growing = all(b > a for a, b in zip(waits, waits[1:]))  # type: ignore[operator]
    at_once = _open_at_once(record, server)
    late = [f"{r.instance} {s['late_ms']:.0f} ms" for r in _clients(record, clients)
            if (s := r.first("start")) and s.get("late_ms", 0) > 50]
    ok = (len(replied) == len(found) and at_once == 1 and all(g >= 0.9 * hold for g in gaps) and growing)
    detail = (f"waits by place in the queue: {_turns_text(found)}; replies {', '.join(f'{g:.0f}' for g in gaps)} ms "
              f"apart ({clock}; each ≥ 0.9 × hold {hold:g} ms expected); at most {at_once} connection(s) open at "
              f"once; clients began connect() within {spread:.0f} ms of each other"
              + (f" (ready after the common start moment, on a busy machine: {', '.join(late)})"
                 if late else ""))
    return CheckResult("served one after another: each wait grows with the place in the queue", ok, detail)


@check("tcp_waits_overlap")
def tcp_waits_overlap(record: RunRecord, server: str = "server", clients: str = "client",
                      hold_param: str = "hold", mode_param: str = "server_mode") -> CheckResult | None:
    """Threaded server: the clients are served at the same time, so once connected nobody waits for
    another's turn: each reply comes about one hold after the client's send()."""
    if _mode(record, mode_param) != "threaded":
        return None
    hold = _ms(record, hold_param)
    found = turns(record, server, clients)
    served = {run.instance: (run.first("received") or {}).get("rtt_ms") for run in _clients(record, clients)}
    at_once = _open_at_once(record, server)
    ok = all(ms is not None and ms < 2 * hold for ms in served.values()) and at_once >= 2
    shown = ", ".join(f"{name} {ms:.0f} ms" if ms is not None else f"{name} no reply"
                      for name, ms in served.items())
    detail = (f"send() to reply: {shown} (each < 2 × hold = {2 * hold:g} ms expected: no client waited "
              f"for another's turn); up to {at_once} connections open at once; waits from connect(): "
              f"{_turns_text(found)}")
    return CheckResult("threaded server: the clients' waits overlap", ok, detail)


@dataclass(frozen=True)
class LateSyn:
    """A client whose first SYN went unanswered and whose retransmission got through."""

    instance: str
    first: float
    retransmitted_after_s: float
    answered: bool


def late_syns(record: RunRecord, server: str, clients: str) -> list[LateSyn] | None:
    """From the server's capture: clients that sent their SYN more than once (None: no capture)."""
    captures = record.captures
    instances = [i.name for i in record.plan.of_host(server)]
    if captures is None or not any(captures.of(i) for i in instances):
        return None
    packets = [p for i in instances for p in captures.packets_of(i)]
    owner = {t.local: t.instance for t in turns(record, server, clients)}
    found = []
    for (ip, port), instance in owner.items():
        syns = [p for p in packets if p.proto == "tcp" and p.src == ip and p.sport == port
                and p.has("SYN") and not p.has("ACK")]
        if len(syns) < 2:
            continue
        answers = [p for p in packets if p.proto == "tcp" and p.dst == ip and p.dport == port
                   and p.has("SYN", "ACK")]
        first_answered = any(syns[0].time <= a.time < syns[1].time for a in answers)
        found.append(LateSyn(instance, syns[0].time, syns[1].time - syns[0].time,
                             not first_answered and any(a.time >= syns[1].time for a in answers)))
    return found


@check("tcp_late_syn")
def tcp_late_syn(record: RunRecord, server: str = "server", clients: str = "client",
                 backlog_param: str = "backlog", mode_param: str = "server_mode") -> CheckResult | None:
    """A SYN that finds the accept queue full is dropped without an answer; the client's TCP sends
    it again after its initial retransmission timeout (1 s), and connect() takes that long.

    Linux queues up to backlog + 1 finished handshakes, so with an iterative server busy with one
    client, the (backlog + 3)-th client of a burst finds the queue full.
    """
    iterative = _mode(record, mode_param) == "iterative"
    backlog = int(record.plan.parameters.get(backlog_param, 1))
    found_turns = turns(record, server, clients)
    fit = backlog + 2
    # A threaded server empties the queue as fast as it can accept(): a burst may still overflow it.
    expected = len(found_turns) > fit if iterative else None
    slow = [t for t in found_turns if t.handshake_ms >= 800]
    seen = late_syns(record, server, clients)
    queue = (f"listen({backlog}) queues {backlog + 1} finished handshakes while the server serves one, "
             f"so {fit} of {len(found_turns)} clients fit" if iterative else
             f"threaded server, listen({backlog}): a burst may overflow the queue before accept() runs")
    if seen is None:  # no capture: the clients' connect() times tell it
        ok = expected in (None, bool(slow)) and all(t.handshake_ms < 1600 for t in slow)
        named = ", ".join(f"{t.instance} connect() took {t.handshake_ms:.0f} ms" for t in slow) or "none"
        return CheckResult("a SYN that finds the accept queue full is retransmitted after ~1 s", ok,
                           f"{queue}; late connects (no capture, from the clients' connect() times): {named}")
    good = [s for s in seen if s.answered and 0.8 <= s.retransmitted_after_s <= 1.6]
    handshakes = {t.instance: t.handshake_ms for t in found_turns}
    named = "; ".join(
        f"{s.instance}: first SYN got no SYN/ACK (queue full), sent again {s.retransmitted_after_s:.2f} s "
        f"later{' and answered' if s.answered else ', still unanswered'}; its connect() took "
        f"{handshakes.get(s.instance, 0):.0f} ms" for s in seen) or "no SYN was sent twice"
    ok = (expected in (None, bool(seen)) and len(good) == len(seen)
          and all(handshakes.get(s.instance, 0) >= s.retransmitted_after_s * 1000 * 0.95 for s in seen))
    return CheckResult("a SYN that finds the accept queue full is retransmitted after ~1 s", ok,
                       f"{queue}; in the server's capture: {named}")


# ----- routed lessons -----------------------------------------------------------------------
@check("routes_as_designed")
def routes_as_designed(record: RunRecord) -> CheckResult:
    """Each host's routing table (``ip route``, read by testinfra) holds its subnets and the routes
    the scenario designed, and every router forwards IPv4."""

    observed = record.routing
    scenario = record.plan.scenario
    if observed is None:
        return CheckResult("each host's routes are as designed", False, "the routes were never set up")
    bad, shown = [], []
    for host in observed.routes:
        missing = [line for line in expected_routes(scenario, host) if line not in observed.routes[host]]
        if missing:
            bad.append(f"{host} lacks {missing}; its routes: {observed.routes[host]}")
        else:
            shown.append(f"{host}: " + "; ".join(expected_routes(scenario, host)))
    routers = [h.name for h in scenario.hosts if h.forward]
    for host in routers:
        if observed.forwarding.get(host) != "1":
            bad.append(f"{host} does not forward (ip_forward {observed.forwarding.get(host)!r})")
    others = [h for h in observed.forwarding if h not in routers and observed.forwarding[h] != "0"]
    bad += [f"{h} forwards but is no router" for h in others]
    detail = "; ".join(bad) or (" | ".join(shown) + f" | forwarding on {', '.join(routers) or 'no host'}")
    return CheckResult("each host's routes are as designed (testinfra: ip route)", not bad, detail)


@check("ttl_one_lower")
def ttl_one_lower(record: RunRecord, client: str = "client", server: str = "server", hops: int = 1
                  ) -> CheckResult:
    """Packets arrive with a TTL lower by the number of routers on the way (each forward lowers it).

    From the captures when both ends were captured (the same packet, by its IP id and payload, in
    the client's and the server's capture), else from the programs: the TTL the client's socket
    sends with (udp_client --show-ttl) and the one the server's recvmsg() saw (--recv-ttl).
    """
    sources = []
    captures = record.captures
    senders = [i.name for i in record.plan.of_host(client)]
    receivers = [i.name for i in record.plan.of_host(server)]
    if captures is not None and any(captures.of(i) for i in senders) and any(captures.of(i) for i in receivers):
        def crossing(source: list[str], target: list[str]) -> list[tuple[int, int]]:
            """(TTL sent, TTL arrived) of each packet from `source` seen in `target`'s capture."""
            ips = {ip for i in target for ip in captures.addresses.get(i, {}).values()}
            arrived = {p.key(): p.ttl for i in target for p in captures.packets_of(i)}
            return [(p.ttl, arrived[p.key()]) for i in source for p in captures.packets_of(i)
                    if p.dst in ips and p.proto in ("udp", "tcp") and p.key() in arrived]
        sources.append((f"captures, {client} to {server}", crossing(senders, receivers)))
        sources.append((f"captures, {server} to {client}", crossing(receivers, senders)))
    sent = {e["seq"]: e.get("ttl") for r in _clients(record, client) for e in r.all("sent")}
    got = [(sent.get(e.get("seq")), e.get("ttl")) for e in record.events_of_host(server) if e.get("event") == "received"]
    program_pairs = [(a, b) for a, b in got if a is not None and b is not None]
    if program_pairs:
        sources.append(("the programs (IP_TTL sent, IP_RECVTTL received)", program_pairs))
    if not sources:
        return CheckResult(f"packets arrive with a TTL {hops} lower", False,
                           "no TTL seen: neither both ends captured nor --show-ttl/--recv-ttl events")
    ok, parts = True, []
    for where, pairs in sources:
        differences = sorted({a - b for a, b in pairs})
        good = bool(pairs) and differences == [hops]
        ok = ok and good
        example = f" (e.g. sent {pairs[0][0]}, arrived {pairs[0][1]})" if pairs else ""
        parts.append(f"{where}: {len(pairs)} packet(s), TTL lowered by {differences or 'nothing seen'}{example}")
    return CheckResult(f"packets arrive with a TTL {hops} lower ({hops} router(s) on the way)", ok,
                       "; ".join(parts))

