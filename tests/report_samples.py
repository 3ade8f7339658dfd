"""Run records as the programs would have printed them, and a report written from one.

Shared by the unit tests of the plots and the HTML page and by the browser test.
"""
from __future__ import annotations

from pathlib import Path

from lab.report.document import result_document
from lab.report.files import write_plots, write_reports

from lab import catalog
from lab.checks import run_checks
from lab.scenario.plan import build_plan
from lab.run.record import ClientRun, RunRecord
from lab.checks.outcome import Outcome

FIXTURE_SVG = Path(__file__).resolve().parent / "fixtures/sequence-chart.svg"


def udp_loss_record(message: str = "hello from client") -> RunRecord:
    """10 datagrams, seqs 3 and 7 lost."""
    plan = build_plan(catalog.load("udp-loss"), {"count": "10"})
    events = []
    for seq in range(1, 11):
        text = f"seq={seq} {message}"
        events.append({"event": "sent", "seq": seq, "text": text})
        if seq in (3, 7):
            events.append({"event": "timeout", "seq": seq, "waited_ms": 250.4})
        else:
            events.append({"event": "received", "seq": seq, "text": text.upper(), "rtt_ms": 0.3 + seq / 100})
    events.append({"event": "summary", "sent": 10, "received": 8, "lost_seqs": [3, 7], "loss_rate": 0.2})
    server = [{"event": "listening"}] + [{"event": "received", "seq": s, "text": f"seq={s} {message}"}
                                         for s in range(1, 11) if s not in (3, 7)]
    return RunRecord(plan, "abc123", {"server": server}, [ClientRun("client", "client", 0, events, 0.0, 3.0)],
                     [], "userspace", ["client: eth0 egress: loss 20%"])


def tcp_loss_record() -> RunRecord:
    plan = build_plan(catalog.load("tcp-loss"), {"payload": "4096"})

    def bulk(name: str, points: list[tuple[float, int]]) -> ClientRun:
        events = [{"event": "progress", "seconds": t, "bytes_acked": b} for t, b in points]
        events.append({"event": "transfer", "bytes": 4096, "seconds": points[-1][0], "goodput_mbit_s": 1.0,
                       "intact": True})
        return ClientRun(name, name, 0, events, 0.0, 1.0)

    return RunRecord(plan, "abc123", {}, [bulk("clean-client", [(0.0, 0), (0.001, 4096)]),
                                          bulk("client", [(0.0, 0), (0.001, 2048), (0.21, 2048), (0.22, 4096)])])


def udp_delay_record() -> RunRecord:
    plan = build_plan(catalog.load("udp-delay"), {"delay": "50ms", "jitter": "5ms"})

    def client(name: str, rtts: list[float]) -> ClientRun:
        return ClientRun(name, name, 0, [{"event": "received", "seq": i, "rtt_ms": r} for i, r in enumerate(rtts)],
                         0.0, 1.0)

    return RunRecord(plan, "abc123", {}, [client("baseline", [0.3, 0.35, 0.4]),
                                          client("client", [46.0, 50.2, 51.0, 54.9, 49.0])])


def written_report(tmp_path: Path, record: RunRecord, chart: bool = True) -> tuple[dict, Path]:
    document = result_document(Outcome(record, run_checks(record), "2026-11-26T00:00:00Z", 3.2))
    document["artifacts"] += write_plots(record, tmp_path)
    if chart:
        name = f"{document['scenario']}.sequence.svg"
        (tmp_path / name).write_text(FIXTURE_SVG.read_text())
        (tmp_path / f"{document['scenario']}.client.eth0.pcap").write_bytes(b"")
        document["artifacts"] += [name, f"{document['scenario']}.client.eth0.pcap"]
        document["captures"] = [{"host": "client", "instance": "client", "interface": "eth0",
                                 "view": "wire", "file": f"{document['scenario']}.client.eth0.pcap", "packets": 18,
                                 "kept": True}]
    write_reports(document, tmp_path)
    return document, tmp_path / f"{document['scenario']}.html"
