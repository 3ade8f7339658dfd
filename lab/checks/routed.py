"""The routed lesson (routed): each host's routing table as the scenario designed it, and a TTL one
lower per router on the way.
"""
from __future__ import annotations

from lab.checks.reading import ran_clients
from lab.checks.registry import CheckResult, HostName, check
from lab.run.record import RunRecord
from lab.scenario.routes import expected_routes

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
def ttl_one_lower(record: RunRecord, client: HostName = "client", server: HostName = "server", hops: int = 1
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
    sent = {e["seq"]: e.get("ttl") for r in ran_clients(record, client) for e in r.all("sent")}
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
