"""Captures on the real engine: tcpdump in the helpers, pcaps kept, decoded, and they agree with
what the programs measured; tcp-handshake's order checks pass on a real capture."""
from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from lab.report.document import result_document
from lab.report.files import write_reports

from lab import catalog
from lab.observe.pcap import read_pcap_file
from lab.scenario.plan import build_plan
from lab.scenario_run import run_scenario

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "tests/contracts/result.schema.json").read_text())

pytestmark = pytest.mark.integration


def run(engine, name: str, overrides: dict | None = None, capture_dir: Path | None = None, **options):
    plan = build_plan(catalog.load(name), overrides or {}, **options)
    outcome = run_scenario(engine, plan, progress=lambda message: None, capture_dir=capture_dir)
    document = result_document(outcome)
    jsonschema.validate(document, SCHEMA)
    return outcome, document


def test_capture_on_udp_loss_shows_the_lost_datagrams(engine, built_images, no_leftovers, tmp_path):
    outcome, document = run(engine, "udp-loss", {"count": "60", "loss": "25%"}, capture_dir=tmp_path,
                            capture=True, seed=3)
    # This test is about the captures: their checks must pass. (The scenario's timing check,
    # "client never blocks past its timeout", is the udp-loss tests' business and can be hit by
    # a machine under heavy load.)
    verdicts = {c.name: c for c in outcome.checks}
    for name in ("capture complete", "captures agree with client's losses",
                 "server received exactly the datagrams that were answered"):
        assert verdicts[name].passed, verdicts[name]

    files = {(c["instance"], c["view"]): c for c in document["captures"]}
    assert set(files) == {("server", "wire"), ("client", "wire"), ("client", "sent")}
    assert sorted(document["artifacts"]) == sorted([c["file"] for c in document["captures"]]
                                                   + ["udp-loss.sequence.svg"])
    from lab.report.capture import artifact_files
    write_reports(document, tmp_path, artifact_files(outcome.record, outcome.observation))
    assert all((tmp_path / name).is_file() for name in document["artifacts"])
    chart = document["sequence_chart"]
    assert chart["lost"] == document["metrics"]["sent"] - document["metrics"]["received"]
    assert chart["arrows"] + chart["omitted"] == sum(p["sent"] for p in document["capture_losses"])
    for entry in document["captures"]:
        assert (tmp_path / entry["file"]).is_file() and entry["kept"]
        assert len(read_pcap_file(tmp_path / entry["file"]).packets) <= entry["packets"]

    server_ip = outcome.record.clients[0].first("sent")["to"][0]
    to_server = lambda packets: [p for p in packets if p.proto == "udp" and p.dst == server_ip]  # noqa: E731
    client_sent = to_server(read_pcap_file(tmp_path / files["client", "sent"]["file"]).packets)
    client_wire = to_server(read_pcap_file(tmp_path / files["client", "wire"]["file"]).packets)
    server_got = to_server(read_pcap_file(tmp_path / files["server", "wire"]["file"]).packets)
    lost = document["metrics"]["sent"] - document["metrics"]["received"]
    assert len(client_sent) == 60 and lost > 0
    assert len(client_sent) - len(server_got) == lost
    assert len(client_wire) == len(server_got)  # the egress impairment drops before the wire
    path = next(p for p in document["capture_losses"] if p["from"] == "client")
    assert path["lost"] == lost and path["lost_seqs"] == document["metrics"]["lost_seqs"]


def test_capture_without_report_dir_is_decoded_then_removed(engine, built_images, no_leftovers):
    import tempfile

    before = set(Path(tempfile.gettempdir()).glob("socklab-capture-*"))
    outcome, document = run(engine, "udp-echo", capture=True)
    assert set(Path(tempfile.gettempdir()).glob("socklab-capture-*")) == before
    assert outcome.passed, [c for c in outcome.checks if not c.passed]
    assert document["artifacts"] == [] and document["captures"]
    assert all(not c["kept"] and c["packets"] > 0 for c in document["captures"])


def test_tcp_handshake_order_on_a_real_capture(engine, built_images, no_leftovers, tmp_path):
    """The handshake lesson on real packets: every check passes, the timeline reads like the book."""
    outcome, document = run(engine, "tcp-handshake", capture_dir=tmp_path)
    failed = [c for c in outcome.checks if not c.passed]
    assert outcome.passed, failed
    names = {c.name for c in outcome.checks}
    assert {"three-way handshake before any data", "connect() returns after the SYN/ACK arrives",
            "accept() returns after the handshake's ACK arrives", "every data segment ACKed",
            "close(): a FIN from each side, each ACKed", "capture complete"} <= names
    connection = document["tcp_connections"][0]
    packets = [(r["host"], r["what"]) for r in connection["timeline"] if r["kind"] == "packet"]
    assert packets[:3] == [("client", "SYN"), ("server", "SYN/ACK"), ("client", "ACK")]
    assert sum(what.startswith("FIN") for _, what in packets) == 2
    assert connection["closed_first"] in ("client", "server")
    from lab.report.capture import artifact_files
    files = artifact_files(outcome.record, outcome.observation)
    assert list(files) == ["tcp-handshake.sequence.svg"]
    assert sorted(document["artifacts"]) == sorted([c["file"] for c in document["captures"]]
                                                   + ["tcp-handshake.sequence.svg"])
    import xml.etree.ElementTree as ElementTree
    root = ElementTree.fromstring(files["tcp-handshake.sequence.svg"])
    drawn = [g for g in root.iter("{http://www.w3.org/2000/svg}g") if g.get("class") == "arrow"]
    assert len(drawn) == len(packets) == document["sequence_chart"]["arrows"]
