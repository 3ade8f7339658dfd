"""The timeline, the capture checks and the sequence chart on hand-built captures (no Docker)."""
from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree

import pytest

from lab.checks import capture as capture_checks

from lab import catalog
from lab.run.capture import CaptureFile, Captures
from lab.report.capture import artifact_files, capture_fields
from lab.observe.pcap import ethernet_frame, ipv4_packet, pcap_header, pcap_record, read_pcap, tcp_segment, udp_datagram
from lab.scenario.plan import build_plan
from lab.run.record import ClientRun, RunRecord
from lab.observe.chart import build_chart
from lab.observe.observation import observe
from lab.report.sequence_chart import render_mermaid, render_svg
from lab.observe.timeline import analyse_connection, arrows, events_by_instance, tcp_connections, timeline_rows, udp_losses

C, S = "10.0.0.3", "10.0.0.2"
T0 = 1_700_000_000.0


def observed(record: RunRecord) -> tuple[RunRecord, object]:
    """A record and its observation, as the dispatcher hands them to a check."""
    return record, observe(record)


def decode(packets: list[tuple[float, bytes]]):
    data = pcap_header() + b"".join(pcap_record(ethernet_frame(p), T0 + t) for t, p in packets)
    return read_pcap(data).packets


def tcp(src, dst, sport, dport, seq, ack, flags, payload=b"", ip_id=1):
    return ipv4_packet(src, dst, 6, tcp_segment(sport, dport, seq, ack, flags, payload), ip_id=ip_id)


def handshake_packets(server_closes_first: bool = True, data_before_ack: bool = False):
    """(time in s, packet) of one echo connection as the client sent/received it."""
    cp, sp = 40000, 12000
    msg, reply = b"hello from client", b"HELLO FROM CLIENT"
    rows = [
        (0.000, tcp(C, S, cp, sp, 100, 0, ("SYN",), ip_id=1)),
        (0.001, tcp(S, C, sp, cp, 900, 101, ("SYN", "ACK"), ip_id=0)),
        (0.002, tcp(C, S, cp, sp, 101, 901, ("ACK",), ip_id=2)),
        (0.004, tcp(C, S, cp, sp, 101, 901, ("PSH", "ACK"), msg, ip_id=3)),
        (0.005, tcp(S, C, sp, cp, 901, 101 + len(msg), ("ACK",), ip_id=4)),
        (0.006, tcp(S, C, sp, cp, 901, 101 + len(msg), ("PSH", "ACK"), reply, ip_id=5)),
        (0.007, tcp(C, S, cp, sp, 101 + len(msg), 901 + len(reply), ("ACK",), ip_id=6)),
    ]
    c_end, s_end = 101 + len(msg), 901 + len(reply)
    if server_closes_first:
        rows += [(0.008, tcp(S, C, sp, cp, s_end, c_end, ("FIN", "ACK"), ip_id=7)),
                 (0.009, tcp(C, S, cp, sp, c_end, s_end + 1, ("FIN", "ACK"), ip_id=8)),
                 (0.010, tcp(S, C, sp, cp, s_end + 1, c_end + 1, ("ACK",), ip_id=9))]
    else:
        rows += [(0.008, tcp(C, S, cp, sp, c_end, s_end, ("FIN", "ACK"), ip_id=8)),
                 (0.009, tcp(S, C, sp, cp, s_end, c_end + 1, ("FIN", "ACK"), ip_id=7)),
                 (0.010, tcp(C, S, cp, sp, c_end + 1, s_end + 1, ("ACK",), ip_id=9))]
    if data_before_ack:
        rows[2], rows[3] = (0.002, rows[3][1]), (0.004, rows[2][1])
    return rows


def record_for(name: str, files: dict[tuple[str, str], list[tuple[float, bytes]]],
               events: dict[str, list[dict]] | None = None, overrides: dict | None = None,
               receiver_delay: float = 0.0002) -> RunRecord:
    """A RunRecord whose captures hold `files[(instance, view)]`; the server's wire capture is the
    client's packets shifted by `receiver_delay` unless given."""
    plan = build_plan(catalog.load(name), overrides or {}, capture=True)
    record = RunRecord(plan=plan, run_id="test")
    captures = Captures(addresses={"client": {"eth0": C}, "server": {"eth0": S}}, kept_in=None)
    for (instance, view), rows in files.items():
        name_ = f"{name}.{instance}.eth0{'.sent' if view == 'sent' else ''}.pcap"
        packets = decode(rows)
        host = "client" if instance.startswith("client") else "server"
        captures.files.append(CaptureFile(host, instance, "eth0", view, name_, len(packets), len(packets), 0))
        captures.packets[name_] = packets
    record.captures = captures
    events = events or {}
    record.service_events["server"] = events.get("server", [])
    record.clients.append(ClientRun("client", "client", 0, events.get("client", []), T0, T0 + 1))
    return record


def tcp_record(**kwargs):
    rows = handshake_packets(**{k: v for k, v in kwargs.items() if k in ("server_closes_first", "data_before_ack")})
    shifted = [(t + 0.0002, p) for t, p in rows]
    events = kwargs.get("events") or {
        "client": [{"event": "connected", "t": T0 + 0.0013}, {"event": "sent", "t": T0 + 0.0041},
                   {"event": "received", "t": T0 + 0.0062, "text": "HELLO FROM CLIENT", "bytes": 17},
                   {"event": "closed", "t": T0 + 0.0095}],
        "server": [{"event": "accepted", "t": T0 + 0.0030, "conn_id": 1}],
    }
    return record_for("tcp-handshake", {("client", "wire"): rows, ("server", "wire"): shifted}, events)


# ----- timeline and checks ------------------------------------------------------------------------
def test_every_packet_becomes_one_arrow_matched_to_its_arrival():
    record = tcp_record()
    found = arrows(record.captures, record)
    assert len(found) == 10 and not any(a.lost for a in found)
    syn = found[0]
    assert (syn.sender, syn.receiver, syn.what, syn.call) == ("client", "server", "SYN", "connect()")
    assert syn.received == pytest.approx(T0 + 0.0002)  # from the server's capture
    synack = found[1]
    assert synack.what == "SYN/ACK" and synack.call == "kernel, for listen()" and synack.received == pytest.approx(T0 + 0.001)
    assert [a.what for a in found][:4] == ["SYN", "SYN/ACK", "ACK", "data 17 B"]
    assert found[2].call == "connect()" and found[3].call == "send()" and found[7].call == "close()"


def test_handshake_checks_pass_on_a_textbook_connection():
    record = tcp_record()
    for check in (capture_checks.tcp_handshake_order, capture_checks.tcp_connect_after_synack,
                  capture_checks.tcp_accept_after_ack, capture_checks.tcp_data_acked,
                  capture_checks.tcp_fin_exchange):
        result = check(record, observe(record))
        assert result.passed, result
    assert "server closed first" in capture_checks.tcp_fin_exchange(record, observe(record)).detail


def test_client_closing_first_is_named():
    record = tcp_record(server_closes_first=False)
    connection = tcp_connections(arrows(record.captures, record))[0]
    findings = analyse_connection(connection)
    assert findings.fin_ok and findings.closed_first == "client"


def test_data_before_the_handshake_ack_fails_the_order_check():
    result = capture_checks.tcp_handshake_order(*observed(tcp_record(data_before_ack=True)))
    assert not result.passed and "C:data 17 B" in result.detail


def test_connected_event_before_the_synack_fails():
    events = {"client": [{"event": "connected", "t": T0 + 0.0005}],
              "server": [{"event": "accepted", "t": T0 + 0.0001}]}
    record = tcp_record(events=events)
    assert not capture_checks.tcp_connect_after_synack(record, observe(record)).passed
    assert not capture_checks.tcp_accept_after_ack(record, observe(record)).passed


def test_a_missing_fin_fails_the_close_check():
    rows = handshake_packets()[:-2]  # the client's FIN and the last ACK never happen
    record = record_for("tcp-handshake", {("client", "wire"): rows, ("server", "wire"): rows})
    result = capture_checks.tcp_fin_exchange(record, observe(record))
    assert not result.passed and "no FIN from the client" in result.detail


# ----- UDP losses -----------------------------------------------------------------------------------
def udp_record(count: int = 6, lost: tuple[int, ...] = (2, 5)):
    """A client that sent `count` datagrams; those in `lost` were dropped by its egress impairment."""
    sent, wire, server = [], [], []
    t = 0.0
    for seq in range(1, count + 1):
        request = ipv4_packet(C, S, 17, udp_datagram(50000, 12000, f"seq={seq} hello".encode()), ip_id=seq)
        sent.append((t + 0.003, request))  # netfilter's log: read 3 ms late
        if seq not in lost:
            wire.append((t, request))
            server.append((t + 0.0001, request))
            reply = ipv4_packet(S, C, 17, udp_datagram(12000, 50000, f"SEQ={seq} HELLO".encode()), ip_id=100 + seq)
            server.append((t + 0.0002, reply))
            wire.append((t + 0.0003, reply))
            t += 0.001
        else:
            t += 0.25  # the client's timeout
    events = {"client": [{"event": "sent", "seq": s, "t": T0} for s in range(1, count + 1)]
              + [{"event": "summary", "lost_seqs": list(lost)}]}
    return record_for("udp-loss", {("client", "wire"): wire, ("client", "sent"): sent,
                                   ("server", "wire"): server}, events, {"count": str(count)})


def test_lost_datagrams_are_in_the_sent_view_only_and_placed_in_order():
    record = udp_record()
    found = arrows(record.captures, record)
    lost = [a for a in found if a.lost]
    assert [a.what for a in lost] == ["datagram 11 B seq=2", "datagram 11 B seq=5"]
    assert all(a.received is None and a.sender == "client" for a in lost)
    requests = [a for a in found if a.sender == "client"]
    assert [a.what.split("seq=")[1] for a in requests] == ["1", "2", "3", "4", "5", "6"]
    assert [a.sent for a in found] == sorted(a.sent for a in found)
    losses = udp_losses(found)
    assert [(p.sender, p.sent, p.arrived, p.lost_seqs) for p in losses] == \
        [("client", 6, 4, (2, 5)), ("server", 4, 4, ())]


def test_automatic_checks_agree_with_the_client_and_catch_a_disagreement():
    record = udp_record()
    verdicts = {c.name: c for c in capture_checks.automatic_checks(record, observe(record))}
    assert verdicts["capture complete"].passed
    assert verdicts["captures agree with client's losses"].passed
    record.clients[0].events[-1]["lost_seqs"] = [2]  # the client says it lost only one
    verdicts = {c.name: c for c in capture_checks.automatic_checks(record, observe(record))}
    assert not verdicts["captures agree with client's losses"].passed
    record.clients[0].events.append({"event": "sent", "seq": 7, "t": T0})  # a datagram not captured
    assert not capture_checks.automatic_checks(record, observe(record))[0].passed


# ----- the chart --------------------------------------------------------------------------------------
def svg_arrows(svg: str):
    root = ElementTree.fromstring(svg)  # well-formed, or this raises
    ns = "{http://www.w3.org/2000/svg}"
    return [g for g in root.iter(f"{ns}g") if g.get("class") == "arrow"]


def test_tcp_chart_has_one_arrow_per_packet_and_notes_for_events():
    record = tcp_record()
    chart = build_chart(arrows(record.captures, record), record)
    svg = render_svg(chart, "tcp-handshake")
    drawn = svg_arrows(svg)
    assert len(drawn) == 10 == chart.drawn and chart.omitted == 0
    assert [g.get("data-from") for g in drawn[:3]] == ["client", "server", "client"]
    assert "accept() returns a new socket" in svg and "connect() returns" in svg
    assert [name for name, _ in chart.lifelines] == ["client", "server"]


def test_lost_arrows_stop_midway_with_a_cross():
    record = udp_record()
    svg = render_svg(build_chart(arrows(record.captures, record), record))
    lost = [g for g in svg_arrows(svg) if g.get("data-lost") == "true"]
    assert len(lost) == 2
    ns = "{http://www.w3.org/2000/svg}"
    for group in lost:
        assert group.find(f"{ns}path[@class='cross']") is not None
        line = group.find(f"{ns}line")
        assert line.get("marker-end") is None
        assert abs(float(line.get("x2")) - float(line.get("x1"))) < 0.6 * 340


def test_long_runs_keep_the_first_arrows_every_lost_one_and_say_what_was_left_out():
    record = udp_record(count=60, lost=(3, 40, 55))
    all_arrows = arrows(record.captures, record)
    chart = build_chart(all_arrows, record, max_arrows=10)
    lost_drawn = [r for r in chart.rows if getattr(r, "lost", False)]
    assert len(lost_drawn) == 3 and chart.drawn == 10 + 2  # seq 3 is among the first ten
    assert chart.drawn + chart.omitted == len(all_arrows)
    svg = render_svg(chart)
    assert len(svg_arrows(svg)) == chart.drawn and "not drawn" in svg
    mermaid = render_mermaid(chart)
    assert mermaid.count("-x") == 3 and "not drawn" in mermaid


MERMAID_LINE = re.compile(r"^    (participant h\d+ as [^;#]+|h\d+(->>|-x)h\d+: [^;#]+|Note over h\d+(,h\d+)?: [^;#]+)$")


def test_mermaid_block_syntax():
    record = tcp_record()
    text = render_mermaid(build_chart(arrows(record.captures, record), record))
    lines = text.rstrip("\n").split("\n")
    assert lines[0] == "sequenceDiagram"
    assert all(MERMAID_LINE.match(line) for line in lines[1:]), [l for l in lines[1:] if not MERMAID_LINE.match(l)]
    assert sum("->>" in line for line in lines) == 10
    assert "h0->>h1: SYN — connect()" in text


def test_result_fields_and_markdown_carry_the_chart():
    from lab.report.markdown import markdown

    record = tcp_record()
    fields = capture_fields(record, observe(record))
    assert fields["artifacts"] == []  # not kept: no report directory
    assert fields["sequence_chart"]["arrows"] == 10 and fields["sequence_chart"]["svg"] is None
    timeline = fields["tcp_connections"][0]
    assert timeline["closed_first"] == "server"
    assert [r["what"] for r in timeline["timeline"] if r["kind"] == "packet"][:3] == ["SYN", "SYN/ACK", "ACK"]
    record.captures.kept_in = "somewhere"  # type: ignore[assignment]
    fields = capture_fields(record, observe(record))
    assert "tcp-handshake.sequence.svg" in fields["artifacts"]
    assert list(artifact_files(record, observe(record))) == ["tcp-handshake.sequence.svg"]
    document = {"scenario": "tcp-handshake", "passed": True, "duration_s": 1.0, "impairment_backend": None,
                "lesson": "x", "checks": [], **fields}
    text = markdown(document)
    assert "```mermaid\nsequenceDiagram" in text and "| 0.000 | client | SYN |" in text


def test_tcp_in_the_sent_view_is_not_matched_against_the_wire():
    """netfilter logs one 64 KiB GSO send where the wire carries segments: TCP comes from the wire."""
    rows = handshake_packets()
    gso = (0.0041, tcp(C, S, 40000, 12000, 101, 901, ("PSH", "ACK"), b"x" * 3000, ip_id=3))
    record = record_for("tcp-handshake", {("client", "wire"): rows, ("client", "sent"): [gso],
                                          ("server", "wire"): rows})
    found = arrows(record.captures, record)
    assert len(found) == 10 and not any(a.lost for a in found)


def test_a_connections_timeline_holds_the_servers_events_of_that_connection_only():
    # An iterative server with several clients: the events of the other clients' connections
    # (tcp-backlog, tcp-sequential) are not this connection's.
    server = [{"event": "accepted", "t": T0 + 0.0030, "conn_id": 1, "client": [C, 40000]},
              {"event": "received", "t": T0 + 0.0045, "conn_id": 1},
              {"event": "accepted", "t": T0 + 0.0050, "conn_id": 2, "client": ["10.0.0.4", 40001]},
              {"event": "received", "t": T0 + 0.0060, "conn_id": 2},
              {"event": "closed", "t": T0 + 0.0070, "conn_id": 2}]
    record = tcp_record(events={"client": [{"event": "connected", "t": T0 + 0.0013}], "server": server})
    connection = tcp_connections(arrows(record.captures, record))[0]
    rows = timeline_rows(connection, events_by_instance(record))
    assert [(r.who, r.what) for r in rows if r.kind == "event"] == [
        ("client", "connected"), ("server", "accepted"), ("server", "received")]
