"""From captures and the programs' events to what a student reads: arrows, a TCP timeline, losses.

Pure: works on decoded packets (lab.observe.pcap) and events, no Docker. Every host stamps its captures and
its events with the same kernel real-time clock (containers of one host share it), so a packet's
arrival and the `connected`/`accepted` event it causes can be compared directly.

An **arrow** is one packet from the host that sent it to the host it was for: sent at the time
of the sender's capture, received at the time of the receiver's, or *lost* when the receiver was
captured and its capture never saw the packet.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lab.observe.pcap import Packet
from lab.run.record import RunRecord
from lab.scenario.routes import VXLAN_PORT

if TYPE_CHECKING:
    from lab.run.capture import Captures

PORT = 12000


@dataclass(frozen=True)
class Arrow:
    """One packet between two hosts of the run, labelled with what it is and which call caused it."""

    sender: str                 # container name, or the IP address of a host nobody captured
    receiver: str
    packet: Packet              # as the sender's capture saw it (the receiver's when only it saw it)
    sent: float
    received: float | None      # None: not seen by the receiver (lost, or receiver not captured)
    lost: bool
    what: str                   # SYN, SYN/ACK, ACK, FIN/ACK, data 18 B, datagram 20 B, ...
    call: str                   # the socket call that caused it: connect(), send(), close(), ...
    ends: tuple[str, ...] = ()  # a routed hop: the hosts whose packet it is (sender, receiver)

    @property
    def label(self) -> str:
        return f"{self.what} — {self.call}" if self.call else self.what


def _seq_of(packet: Packet) -> int | None:
    """The n of a payload that starts with ``seq=<n> `` (the UDP client's datagrams and replies)."""
    head = packet.payload[:24].lower()
    if head.startswith(b"seq="):
        digits = head[4:].split(b" ", 1)[0]
        if digits.isdigit():
            return int(digits)
    return None


def _what(packet: Packet) -> str:
    if packet.proto == "tcp":
        if packet.payload_len:
            flags = "/".join(f for f in ("FIN",) if f in packet.flags)
            return f"data {packet.payload_len} B" + (f" +{flags}" if flags else "")
        return packet.flag_text or "TCP"
    if packet.proto == "udp":
        seq = _seq_of(packet)
        return f"datagram {packet.payload_len} B" + (f" seq={seq}" if seq is not None else "")
    if packet.proto == "icmp":
        return "ICMP"
    return packet.proto.upper()


def _programs(record: RunRecord) -> dict[str, str]:
    return {i.name: i.program for i in record.plan.instances}


def call_of(packet: Packet, program: str, after_synack: bool = False) -> str:
    """Which socket call of the sender's program put this packet on the wire.

    >>> from lab.observe.pcap import Packet
    >>> call_of(Packet(0, 0.0, "a", "b", "tcp", 64, 1, 40, 1, 2, ("SYN",)), "tcp-client")
    'connect()'
    """
    if packet.proto == "udp":
        return "sendto()" if program in ("udp-client", "udp-server") else ""
    if packet.proto == "icmp":
        return "kernel: port unreachable"
    if packet.proto != "tcp":
        return ""
    if packet.has("RST"):
        return "kernel: nothing listens" if program in ("none", "tcp-server") else "kernel"
    if packet.has("SYN") and not packet.has("ACK"):
        return "connect()"
    if packet.has("SYN", "ACK"):
        return "kernel, for listen()" if program == "tcp-server" else "kernel"
    if packet.has("FIN"):
        return "close()"
    if packet.payload_len:
        return "send()"
    if after_synack:  # the handshake's last step: the client's kernel, still inside connect()
        return "connect()"
    return ""




def _carrier(packet: Packet) -> bool:
    """A VXLAN datagram carrying a routed lesson's subnet (lab.run.routing), not one a program sent:
    the packet inside it is drawn from the subnet's own interface."""
    return packet.proto == "udp" and packet.dport == VXLAN_PORT


@dataclass(frozen=True)
class Hop:
    """A packet a router (a host with ``forward = true``) received and sent on."""

    router: str
    arrived: float
    left: float | None            # None: it never left (dropped at the router)
    forwarded: Packet | None      # as it left, with its TTL lowered


def _forwarded(captures: Captures, record: RunRecord, owner: dict[str, str]) -> dict[tuple[object, ...], Hop]:
    """Packets that passed a captured router, by key: seen arriving, then leaving with a lower TTL.

    Only packets neither from nor to the router itself; one router per packet (the lab's routed
    lessons have one).
    """
    routers = {i.name for i in record.plan.instances if getattr(i, "forward", False)}
    hops: dict[tuple[object, ...], Hop] = {}
    for router in sorted(routers & {f.instance for f in captures.files}):
        seen: dict[tuple[object, ...], list[Packet]] = {}
        for packet in captures.packets_of(router, "wire"):
            if owner.get(packet.src) != router and owner.get(packet.dst) != router and not _carrier(packet):
                seen.setdefault(packet.key(), []).append(packet)
        for key, sightings in seen.items():
            first = sightings[0]
            onward = next((p for p in sightings[1:] if p.ttl < first.ttl), None)
            hops.setdefault(key, Hop(router, first.time, onward.time if onward else None, onward))
    return hops


def arrows(captures: Captures, record: RunRecord) -> list[Arrow]:
    """Every packet between captured hosts, in the order it was sent, each matched to its arrival.

    A host's own packets come from its "sent" view where it has one (every packet its sockets
    sent, even those an egress impairment dropped), else from its wire view.
    """
    owner = captures.address_owner()
    programs = _programs(record)
    instances = sorted({f.instance for f in captures.files})
    through = _forwarded(captures, record, owner)
    received_at: dict[str, dict[tuple[object, ...], list[float]]] = {}
    for instance in instances:
        table: dict[tuple[object, ...], list[float]] = {}
        for packet in captures.packets_of(instance, "wire"):
            if owner.get(packet.dst) == instance and not _carrier(packet):
                table.setdefault(packet.key(), []).append(packet.time)
        received_at[instance] = table
    result: list[Arrow] = []
    synacked: set[tuple[object, ...]] = set()
    for instance in instances:
        wire = [p for p in captures.packets_of(instance, "wire") if owner.get(p.src) == instance and not _carrier(p)]
        # TCP is taken from the wire only: netfilter logs a TCP send before segmentation (one
        # 64 KiB GSO packet where the wire carries many segments), so the two would never match;
        # a TCP segment an impairment dropped shows up as its retransmission instead.
        sent_view = [p for p in captures.packets_of(instance, "sent")
                     if owner.get(p.src) == instance and p.proto != "tcp"]
        if sent_view:
            outgoing = _merge_sent([p for p in wire if p.proto != "tcp"], sent_view)
            outgoing += [(p, p.time, True) for p in wire if p.proto == "tcp"]
            outgoing.sort(key=lambda item: item[1])
        else:
            outgoing = [(p, p.time, True) for p in wire]
        for packet, when, on_wire in outgoing:
            receiver = owner.get(packet.dst, packet.dst)
            arrived = received_at.get(receiver, {}).get(packet.key())
            arrival = arrived.pop(0) if arrived else None
            captured_receiver = receiver in received_at
            lost = (not on_wire) or (captured_receiver and arrival is None)
            hop = through.get(packet.key()) if on_wire else None
            if hop is not None and instance != hop.router and receiver != hop.router:
                # Routed: one arrow to the router, one from the router onwards (lowered TTL).
                ends = (instance, receiver)
                result.append(Arrow(instance, hop.router, packet, when, hop.arrived, False, _what(packet), "",
                                    ends))
                onward = hop.forwarded or packet
                result.append(Arrow(hop.router, receiver, onward, hop.left if hop.left is not None else hop.arrived,
                                    arrival, hop.left is None or (captured_receiver and arrival is None),
                                    _what(onward), "", ends))
                continue
            result.append(Arrow(instance, receiver, packet, when, arrival, lost, _what(packet), ""))
    # Packets received from hosts nobody captured: drawn from their arrival.
    captured_senders = set(instances)
    for instance in instances:
        for packet in captures.packets_of(instance, "wire"):
            sender = owner.get(packet.src, packet.src)
            if owner.get(packet.dst) == instance and sender not in captured_senders and not _carrier(packet):
                result.append(Arrow(sender, instance, packet, packet.time, packet.time, False,
                                    _what(packet), ""))
    result.sort(key=lambda a: (a.sent, a.packet.index))
    labelled = []
    for arrow in result:
        connection = (arrow.packet.src, arrow.packet.sport, arrow.packet.dst, arrow.packet.dport)
        reverse = (arrow.packet.dst, arrow.packet.dport, arrow.packet.src, arrow.packet.sport)
        after_synack = reverse in synacked and arrow.packet.has("ACK") and not arrow.packet.payload_len
        if arrow.packet.has("SYN", "ACK"):
            synacked.add(connection)
        elif after_synack:
            synacked.discard(reverse)
        call = call_of(arrow.packet, programs.get(arrow.sender, ""), after_synack)
        labelled.append(Arrow(arrow.sender, arrow.receiver, arrow.packet, arrow.sent, arrow.received,
                              arrow.lost, arrow.what, call, arrow.ends))
    return labelled


def _merge_sent(wire: list[Packet], sent: list[Packet]) -> list[tuple[Packet, float, bool]]:
    """Each packet the host's sockets sent, with the time it left (the wire's, more exact) and
    whether it reached the wire at all.

    A packet the impairment dropped has only netfilter's log time, which tcpdump stamps when it
    reads the log, a little late: it is moved back by the typical lag seen on the packets that did
    reach the wire, and kept after the packet sent before it.
    """
    on_wire: dict[tuple[object, ...], list[Packet]] = {}
    for packet in wire:
        on_wire.setdefault(packet.key(), []).append(packet)
    matched: list[tuple[Packet, Packet | None]] = []
    for packet in sent:
        matches = on_wire.get(packet.key())
        matched.append((packet, matches.pop(0) if matches else None))
    lags = sorted(logged.time - left.time for logged, left in matched if left is not None)
    lag = lags[len(lags) // 2] if lags else 0.0
    merged: list[tuple[Packet, float, bool]] = []
    last = float("-inf")
    for logged, left in matched:
        if left is not None:
            last = left.time
            merged.append((left, left.time, True))
        else:
            last = max(logged.time - lag, last + 1e-6)
            merged.append((logged, last, False))
    # Packets on the wire the netfilter log did not see (none expected): keep them too.
    merged += [(p, p.time, True) for rest in on_wire.values() for p in rest]
    return sorted(merged, key=lambda item: item[1])


# ----- UDP: what the captures say was lost --------------------------------------------------------
@dataclass(frozen=True)
class PathLoss:
    """Datagrams one host sent to another, and how many the receiver's capture saw."""

    sender: str
    receiver: str
    sent: int
    arrived: int
    lost_seqs: tuple[int, ...]

    @property
    def lost(self) -> int:
        return self.sent - self.arrived

    def describe(self) -> str:
        return (f"{self.sender} → {self.receiver}: {self.sent} datagrams in {self.sender}'s capture, "
                f"{self.arrived} in {self.receiver}'s; {self.lost} never arrived")


def udp_losses(all_arrows: Iterable[Arrow]) -> list[PathLoss]:
    """Per sender → receiver pair (receiver captured): UDP datagrams sent and lost on the way."""
    paths: dict[tuple[str, str], list[Arrow]] = {}
    for arrow in all_arrows:
        if arrow.packet.proto == "udp" and (arrow.received is not None or arrow.lost):
            paths.setdefault((arrow.sender, arrow.receiver), []).append(arrow)
    result = []
    for (sender, receiver), items in sorted(paths.items()):
        lost = tuple(sorted(s for a in items if a.lost and (s := _seq_of(a.packet)) is not None))
        result.append(PathLoss(sender, receiver, len(items), sum(not a.lost for a in items), lost))
    return result


def missing_exchanges(all_arrows: Iterable[Arrow], client: str) -> set[int]:
    """Seqs of a UDP client whose datagram or whose reply some capture shows lost."""
    return {s for a in all_arrows if a.lost and a.packet.proto == "udp"
            and client in (a.sender, a.receiver, *a.ends) and (s := _seq_of(a.packet)) is not None}


# ----- TCP: one connection's timeline -------------------------------------------------------------
@dataclass(frozen=True)
class TimelineRow:
    """A packet of the connection or a program event, at its time (ms from the first SYN)."""

    at_ms: float
    who: str            # the host that sent the packet or printed the event
    kind: str           # "packet" | "event"
    what: str           # SYN, SYN/ACK, data 18 B, ... or the event's name (connected, accepted)
    detail: str = ""


@dataclass(frozen=True)
class TcpConnection:
    """The packets of one TCP connection between a client and a server, from the client's capture,
    plus the server's capture for when each packet reached the server."""

    client: str
    server: str
    packets: tuple[Arrow, ...]     # in the order they were sent

    def index(self, predicate: Any) -> int | None:
        return next((n for n, a in enumerate(self.packets) if predicate(a)), None)


def tcp_connections(all_arrows: Iterable[Arrow], port: int = PORT) -> list[TcpConnection]:
    """Arrows of each TCP connection to `port`, grouped by the client's (address, port)."""
    groups: dict[tuple[str, int | None, str, str], list[Arrow]] = {}
    for arrow in all_arrows:
        packet = arrow.packet
        if packet.proto != "tcp" or port not in (packet.sport, packet.dport):
            continue
        if packet.dport == port:
            key = (packet.src, packet.sport, arrow.sender, arrow.receiver)
        else:
            key = (packet.dst, packet.dport, arrow.receiver, arrow.sender)
        groups.setdefault(key, []).append(arrow)
    return [TcpConnection(client, server, tuple(items)) for (_, _, client, server), items in groups.items()]


@dataclass(frozen=True)
class HandshakeFindings:
    """What a student should see in one connection, each with what was seen."""

    order_ok: bool
    order_detail: str
    data_acked: bool
    data_detail: str
    fin_ok: bool
    fin_detail: str
    closed_first: str | None


def analyse_connection(connection: TcpConnection) -> HandshakeFindings:
    """SYN, SYN/ACK, ACK before any data; data and its ACK; a FIN from each side, each ACKed."""
    packets = list(connection.packets)
    client, server = connection.client, connection.server
    names = [f"{'C' if a.sender == client else 'S'}:{a.what}" for a in packets]
    seen = ", ".join(names[:12]) + (" ..." if len(names) > 12 else "")
    first_three = [(a.sender, a.packet.flag_text, a.packet.payload_len) for a in packets[:3]]
    expected = [(client, "SYN", 0), (server, "SYN/ACK", 0), (client, "ACK", 0)]
    first_data = connection.index(lambda a: a.packet.payload_len > 0)
    order_ok = first_three == expected and (first_data is None or first_data >= 3)
    order_detail = ("SYN (client), SYN/ACK (server), ACK (client), then data; seen: " + seen)

    data = [a for a in packets if a.packet.payload_len > 0]
    unacked = []
    for arrow in data:
        end = (arrow.packet.seq or 0) + arrow.packet.payload_len
        acked = any(b.sender != arrow.sender and b.sent >= arrow.sent and b.packet.has("ACK")
                    and _seq_ge(b.packet.ack or 0, end) for b in packets)
        if not acked:
            unacked.append(f"{arrow.sender} {arrow.what}")
    data_acked = bool(data) and not unacked
    data_detail = (f"{len(data)} data segment(s), each ACKed by the other side" if data_acked else
                   ("no data segment" if not data else f"not ACKed: {', '.join(unacked)}"))

    fins = {}
    for arrow in packets:
        if arrow.packet.has("FIN") and arrow.sender not in fins:
            fins[arrow.sender] = arrow
    fin_acked = {}
    for side, fin in fins.items():
        end = (fin.packet.seq or 0) + fin.packet.payload_len + 1
        fin_acked[side] = any(b.sender != side and b.sent >= fin.sent and b.packet.has("ACK")
                              and _seq_ge(b.packet.ack or 0, end) for b in packets)
    order = sorted(fins.values(), key=lambda a: a.sent)
    closed_first = order[0].sender if order else None
    fin_ok = set(fins) == {client, server} and all(fin_acked.values())
    role = {client: "client", server: "server"}
    if fins:
        fin_detail = (f"{role[closed_first]} closed first (its FIN at "  # type: ignore[index]
                      f"{(order[0].sent - packets[0].sent) * 1000:.3f} ms); "
                      + "; ".join(f"{role[s]} FIN {'ACKed' if fin_acked[s] else 'never ACKed'}" for s in fins))
        if len(fins) < 2:
            missing = client if client not in fins else server
            fin_detail += f"; no FIN from the {role[missing]}"
    else:
        fin_detail = "no FIN from either side"
    return HandshakeFindings(order_ok, order_detail, data_acked, data_detail, fin_ok, fin_detail,
                             role.get(closed_first) if closed_first else None)


def _seq_ge(a: int, b: int) -> bool:
    """a >= b in 32-bit sequence space."""
    return ((a - b) & 0xFFFFFFFF) < 0x80000000


def timeline_rows(connection: TcpConnection, events: dict[str, list[dict[str, Any]]]) -> list[TimelineRow]:
    """Packets (at the time their sender sent them) and the two programs' events, in time order."""
    if not connection.packets:
        return []
    zero = connection.packets[0].sent
    rows = [TimelineRow(round((a.sent - zero) * 1000, 3), a.sender, "packet", a.what,
                        "; ".join(part for part in (a.call, _arrival(a)) if part))
            for a in connection.packets]
    conn_id = _server_conn_id(connection, events.get(connection.server, []))
    for who in (connection.client, connection.server):
        for event in events.get(who, []):
            if who == connection.server and conn_id is not None and event.get("conn_id") not in (None, conn_id):
                continue  # another client's connection on the same server (tcp-backlog, tcp-sequential)
            if isinstance(event.get("t"), (int, float)) and event["t"] >= zero - 0.5:
                rows.append(TimelineRow(round((event["t"] - zero) * 1000, 3), who, "event",
                                        str(event.get("event"))))
    return sorted(rows, key=lambda r: (r.at_ms, r.kind == "event"))


def _server_conn_id(connection: TcpConnection, server_events: list[dict[str, Any]]) -> Any:
    """The server's conn_id for this connection: its accepted event names the client's address and
    port, the ones the connection's first packet came from (None: no such event, keep them all)."""
    first = connection.packets[0]
    packet = first.packet
    client_end = [packet.src, packet.sport] if first.sender == connection.client else [packet.dst, packet.dport]
    for event in server_events:
        if event.get("event") == "accepted" and list(event.get("client") or []) == client_end:
            return event.get("conn_id")
    return None


def _arrival(arrow: Arrow) -> str:
    if arrow.received is not None:
        return f"arrived +{(arrow.received - arrow.sent) * 1000:.3f} ms"
    return "lost" if arrow.lost else ""


def events_by_instance(record: RunRecord) -> dict[str, list[dict[str, Any]]]:
    events = {name: list(found) for name, found in record.service_events.items()}
    for client in record.clients:
        events.setdefault(client.instance, []).extend(client.events)
    return events
