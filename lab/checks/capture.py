"""Checks over a run's captures: the handshake lesson, and captures that agree with the clients.

Registered into lab.checks' registry (scenario files name them) or, for the two that every captured
run gets, added by `automatic_checks`.
"""
from __future__ import annotations

from lab.checks.registry import CheckResult, HostName, check
from lab.observe.observation import ConnectionView, Observation
from lab.observe.timeline import missing_exchanges
from lab.run.record import RunRecord
from lab.scenario.routes import VXLAN_PORT


def _view(record: RunRecord, seen: Observation, clients: str) -> ConnectionView:
    """The first TCP connection from a `clients` host in the captures, as the observation has it."""
    seen.captured_arrows()   # nothing captured, or unreadable captures: say so
    instances = {i.name for i in record.plan.of_host(clients)}
    found = [v for v in seen.connections if v.connection.client in instances]
    if not found:
        raise ValueError(f"no TCP connection from a '{clients}' host in the captures")
    return found[0]


@check("tcp_handshake_order")
def tcp_handshake_order(record: RunRecord, seen: Observation, clients: HostName = "client") -> CheckResult:
    """The three-way handshake happens first: SYN, SYN/ACK, ACK, and only then data."""
    findings = _view(record, seen, clients).findings
    return CheckResult("three-way handshake before any data", findings.order_ok, findings.order_detail)


@check("tcp_connect_after_synack")
def tcp_connect_after_synack(record: RunRecord, seen: Observation, clients: HostName = "client") -> CheckResult:
    """connect() returns (the client's `connected` event) only after the SYN/ACK reached it."""
    connection = _view(record, seen, clients).connection
    synack = next((a for a in connection.packets if a.packet.has("SYN", "ACK")), None)
    run = next((c for c in record.clients if c.instance == connection.client), None)
    event = run.first("connected") if run else None
    if synack is None or synack.received is None or event is None:
        return CheckResult("connect() returns after the SYN/ACK arrives", False,
                           f"SYN/ACK seen at the client: {synack is not None and synack.received is not None}; "
                           f"connected event: {event is not None}")
    gap = (event["t"] - synack.received) * 1000
    return CheckResult("connect() returns after the SYN/ACK arrives", gap > 0,
                       f"SYN/ACK reached {connection.client} at +0, its connected event came at "
                       f"{gap:+.3f} ms (same kernel clock)")


@check("tcp_accept_after_ack")
def tcp_accept_after_ack(record: RunRecord, seen: Observation, clients: HostName = "client",
                         server: HostName = "server") -> CheckResult:
    """accept() returns (the server's `accepted` event) only after the handshake's last ACK."""
    connection = _view(record, seen, clients).connection
    ack = connection.packets[2] if len(connection.packets) > 2 else None
    events = [e for e in record.events_of_host(server) if e.get("event") == "accepted"]
    if ack is None or ack.packet.flag_text != "ACK" or ack.received is None or not events:
        return CheckResult("accept() returns after the handshake's ACK arrives", False,
                           f"handshake ACK seen at the server: {ack is not None and ack.received is not None}; "
                           f"accepted events: {len(events)}")
    gap = (events[0]["t"] - ack.received) * 1000
    return CheckResult("accept() returns after the handshake's ACK arrives", gap > 0,
                       f"the ACK reached {connection.server} at +0, its accepted event came at "
                       f"{gap:+.3f} ms")


@check("tcp_data_acked")
def tcp_data_acked(record: RunRecord, seen: Observation, clients: HostName = "client") -> CheckResult:
    """Every data segment is acknowledged by the other side."""
    findings = _view(record, seen, clients).findings
    return CheckResult("every data segment ACKed", findings.data_acked, findings.data_detail)


@check("tcp_fin_exchange")
def tcp_fin_exchange(record: RunRecord, seen: Observation, clients: HostName = "client") -> CheckResult:
    """close() on each side sends a FIN and the other side ACKs it; says which side closed first."""
    findings = _view(record, seen, clients).findings
    return CheckResult("close(): a FIN from each side, each ACKed", findings.fin_ok, findings.fin_detail)


def automatic_checks(record: RunRecord, seen: Observation) -> list[CheckResult]:
    """Every captured run: complete captures, and (UDP clients) captures that agree with the client."""
    captures = record.captures
    if captures is None:
        return []
    results = [_complete(record)]
    if seen.capture_problem:
        raise ValueError(seen.capture_problem)
    all_arrows = seen.arrows
    for run in record.clients:
        summary = run.first("summary")
        if summary is None or run.instance not in {f.instance for f in captures.files}:
            continue
        late = {e.get("seq") for e in run.all("late")}
        measured = set(summary.get("lost_seqs", [])) - late
        seen = missing_exchanges(all_arrows, run.instance)
        ok = seen == measured
        detail = (f"{run.instance} counted {len(measured)} exchange(s) lost, the captures show "
                  f"{len(seen)} datagram(s) or replies that never arrived")
        if not ok:
            detail += (f"; only in the client's count: {sorted(measured - seen)[:10]}, only in the "
                       f"captures: {sorted(seen - measured)[:10]}")
        results.append(CheckResult(f"captures agree with {run.instance}'s losses", ok, detail))
    return results


def _complete(record: RunRecord) -> CheckResult:
    """Each capture holds what tcpdump counted, nothing was dropped, and every datagram a UDP
    client reports sending is in its capture (no lost tail)."""
    captures = record.captures
    assert captures is not None
    problems = list(captures.problems)
    owner = captures.address_owner()
    for run in record.clients:
        files = captures.of(run.instance, "sent") or captures.of(run.instance, "wire")
        if not files or not run.first("summary"):
            continue
        sent_events = len(run.all("sent"))
        # VXLAN (the routed lessons' subnets, lab.run.routing) carries those datagrams once more
        # inside its own UDP on the Docker network: the carrier is not a datagram the client sent.
        in_capture = sum(1 for f in files for p in captures.packets[f.file]
                         if p.proto == "udp" and owner.get(p.src) == run.instance and p.payload_len
                         and p.dport != VXLAN_PORT)
        if in_capture != sent_events:
            problems.append(f"{run.instance} sent {sent_events} datagrams, its capture holds {in_capture}")
    total = sum(f.packets for f in captures.files)
    return CheckResult("capture complete", not problems,
                       "; ".join(problems) or f"{len(captures.files)} pcap(s), {total} packets, "
                                              "none dropped; every datagram a client sent is in its capture")
