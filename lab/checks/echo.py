"""The echo lessons (tcp-echo, udp-echo, tcp-sequential, udp-multi-client): what comes back, and
the sockets a TCP server makes per client against the one socket a UDP server answers from.
"""
from __future__ import annotations

from lab.common import sentence, sentence_bytes
from lab.checks.reading import ran_clients, why_not
from lab.checks.registry import CheckResult, HostName, check
from lab.run.record import RunRecord

@check("replies_uppercase")
def replies_uppercase(record: RunRecord, clients: HostName = "client") -> CheckResult:
    """Every client got back exactly its own sentence in upper case."""
    runs = ran_clients(record, clients)
    bad = []
    for run in runs:
        sent = {e.get("seq"): e for e in run.all("sent")}
        received = run.all("received")
        if not received:
            bad.append(f"{run.instance} got no reply ({why_not(run)})")
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
    runs = ran_clients(record, clients)
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
    runs = ran_clients(record, clients)
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
