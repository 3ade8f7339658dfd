"""Figures measured by the clients, summarised per client host (and for the contract's top level)."""
from __future__ import annotations

from typing import Any

from lab.observe import stats
from lab.run.record import RunRecord


def host_figures(record: RunRecord, host: str) -> dict[str, Any]:
    """sent/received/loss/RTT over all replicas of one client host, plus TCP transfer figures."""
    runs = record.clients_of(host)
    sent = sum(len(r.all("sent")) for r in runs)
    received = sum(len(r.all("received")) for r in runs)
    rtts = [e["rtt_ms"] for r in runs for e in r.all("received") if "rtt_ms" in e]
    lost = sorted(s for r in runs for e in r.all("summary") for s in e.get("lost_seqs", []))
    figures: dict[str, Any] = {"sent": sent, "received": received,
                               "loss_rate": round(1 - received / sent, 4) if sent else 0.0,
                               "rtt_ms": stats.summary_ms(rtts)}
    if any(r.all("summary") for r in runs):
        figures["lost_seqs"] = lost
    transfers = [e for r in runs for e in r.all("transfer")[:1]]
    tcp = [e for r in runs for e in r.all("tcp_stats")[:1]]
    if transfers:
        figures["transfer"] = {
            "bytes": sum(t["bytes"] for t in transfers),
            "seconds": round(sum(t["seconds"] for t in transfers), 3),
            "goodput_mbit_s": round(sum(t["goodput_mbit_s"] for t in transfers) / len(transfers), 2),
            "intact": all(t.get("intact") for t in transfers),
        }
    if tcp:
        figures["retrans_segs"] = sum(t["retrans_segs"] for t in tcp)
        figures["out_segs"] = sum(t["out_segs"] for t in tcp)
    return figures


def metrics(record: RunRecord) -> dict[str, Any]:
    """The result's metrics: the primary client's figures at top level, every host's under hosts."""
    students = record.plan.student_hosts()   # a student's client prints no figures
    hosts = sorted({c.host for c in record.clients if c.host not in students})
    per_host = {h: host_figures(record, h) for h in hosts}
    primary = record.plan.scenario.metrics_from or (hosts[0] if hosts else None)
    result: dict[str, Any] = {}
    if primary in per_host:
        top = per_host[primary]
        result = {k: v for k, v in top.items() if k in ("sent", "received", "loss_rate", "lost_seqs")}
        if top["rtt_ms"]:
            result["rtt_ms"] = top["rtt_ms"]
    result["hosts"] = per_host
    return result
