"""The no-server lessons (tcp-no-server, udp-no-server): a reset refuses TCP at once; an unconnected
UDP socket hears nothing and its timeout fires; a connected one is told (ECONNREFUSED).
"""
from __future__ import annotations

from lab.checks.reading import param, ran_clients
from lab.checks.registry import CheckResult, HostName, ParamName, check
from lab.run.record import RunRecord

@check("tcp_connect_refused")
def tcp_connect_refused(record: RunRecord, clients: HostName = "client", within_ms: float = 1000
                        ) -> CheckResult:
    """connect() to a port nobody listens on is refused at once by a reset."""
    bad = []
    for run in ran_clients(record, clients):
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
    timeout_ms = float(param(record, timeout_param)) * 1000
    bad = []
    for run in ran_clients(record, clients):
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
    for run in ran_clients(record, clients):
        error = run.first("error")
        if not error or error.get("name") != "ECONNREFUSED" or run.all("received"):
            bad.append(f"{run.instance}: events {[e['event'] for e in run.events]}, error {error}")
    detail = "; ".join(bad) or "the connected socket's recv() failed with ECONNREFUSED (ICMP port unreachable)"
    return CheckResult("connected UDP socket: ECONNREFUSED", not bad, detail)
