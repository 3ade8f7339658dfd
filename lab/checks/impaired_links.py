"""The impaired-link lessons (udp-loss, udp-delay, tcp-loss): measured loss, RTT and jitter against
the configured impairment, UDP never retransmitting, TCP delivering every byte anyway.
"""
from __future__ import annotations

from typing import Any

from lab.checks.reading import duration_ms, fraction, param, ran_clients
from lab.checks.registry import CheckResult, HostName, OptionalParamName, ParamName, check
from lab.impairment import units
from lab.observe import stats
from lab.observe.metrics import host_figures
from lab.run.record import RunRecord
from lab.scenario.parameters import UNSET

def _summary(record: RunRecord, host: str) -> dict[str, Any]:
    run = ran_clients(record, host)[0]
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
    configured = fraction(record, loss_param)
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
    run = ran_clients(record, client)[0]
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
    run = ran_clients(record, client)[0]
    timeout_ms = float(param(record, timeout_param)) * 1000
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
    delay = duration_ms(record, delay_param)
    base = _rtt(record, baseline)["p50"]
    measured = _rtt(record, client)["p50"]
    rate = record.plan.parameters.get(rate_param, UNSET)
    serialisation = 0.0
    if rate != UNSET:
        sent = ran_clients(record, client)[0].first("sent")
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
    jitter = duration_ms(record, jitter_param)
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
    for run in ran_clients(record, clients):
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
    run = ran_clients(record, client)[0]
    stats_event = run.first("tcp_stats")
    count = stats_event["retrans_segs"] if stats_event else None
    ok = count is not None and count >= minimum
    return CheckResult("TCP retransmitted lost segments", ok,
                       f"RetransSegs grew by {count} in {run.instance}'s network namespace "
                       f"(expected ≥ {minimum})")
