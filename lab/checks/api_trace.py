"""The API trace lesson (api-trace): the socket calls strace saw each program make, read from the
run's observation (lab.observe.observation), not from the programs' own events.

Host arguments are TracedHostName: checked at load like any host, but the check reads the host's
trace, not its JSON events, so it still judges a student's traced program.
"""
from __future__ import annotations

from lab.checks.registry import CheckResult, TracedHostName, check
from lab.observe import trace
from lab.observe.observation import Observation
from lab.run.record import RunRecord

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
def trace_listen_accept_server_only(record: RunRecord, seen: Observation, server: TracedHostName = "tcp-server"
                                    ) -> CheckResult:
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
def trace_no_connect(record: RunRecord, seen: Observation, client: TracedHostName = "udp-client"
                     ) -> CheckResult:
    """The UDP client never connects: each sendto() names the server's address instead."""
    calls = _traced_calls(seen, client)
    connects = [c for c in calls if c.name == "connect"]
    addressed = [c for c in calls if c.name in trace.SEND_CALLS and c.address]
    ok = not connects and bool(addressed)
    return CheckResult(f"no connect() in {client}", ok,
                       f"connect calls: {_shown(connects)}; sends naming an address: {_shown(addressed)}")


@check("trace_accept_new_descriptor")
def trace_accept_new_descriptor(record: RunRecord, seen: Observation, server: TracedHostName = "tcp-server"
                                ) -> CheckResult:
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
def trace_reply_to_sender(record: RunRecord, seen: Observation, server: TracedHostName = "udp-server"
                          ) -> CheckResult:
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
