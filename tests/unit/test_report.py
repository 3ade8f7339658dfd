"""The result file follows the contract; JUnit and Markdown carry every check."""
import json
from pathlib import Path
from xml.etree import ElementTree

import jsonschema

from lab import report, scenario_loader
from lab.checks import run_checks
from lab.plan import build_plan
from lab.record import ClientRun, RunRecord
from lab.runner import Outcome

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "tests/contracts/result.schema.json").read_text())
SHARED = ROOT.parent / "shared/contracts/result.schema.json"


def udp_loss_outcome() -> Outcome:
    """A udp-loss run as the programs would print it: 10 sent, seqs 3 and 7 lost."""
    plan = build_plan(scenario_loader.load("udp-loss"), {"count": "10", "loss": "20%"})
    events = []
    for seq in range(1, 11):
        text = f"seq={seq} hello from client"
        events.append({"event": "sent", "seq": seq, "text": text, "t": 1.0})
        if seq in (3, 7):
            events.append({"event": "timeout", "seq": seq, "waited_ms": 250.4})
        else:
            events.append({"event": "received", "seq": seq, "text": text.upper(), "rtt_ms": 0.3 + seq / 100})
    events.append({"event": "summary", "sent": 10, "received": 8, "lost_seqs": [3, 7], "loss_rate": 0.2})
    server = [{"event": "listening", "proto": "udp"}] + [
        {"event": "received", "seq": s, "text": f"seq={s} hello from client", "client": ["10.0.0.2", 4000]}
        for s in range(1, 11) if s not in (3, 7)]
    record = RunRecord(plan, "abc123", {"server": server},
                       [ClientRun("client", "client", 0, events, 0.0, 3.0)], [], "userspace", ["client: loss 20%"])
    return Outcome(record, run_checks(record), "2026-11-25T00:00:00Z", 3.2)


def test_the_vendored_schema_is_the_shared_contract():
    if SHARED.exists():
        assert json.loads(SHARED.read_text()) == SCHEMA


def test_result_document_validates_and_carries_the_figures():
    document = report.result_document(udp_loss_outcome())
    jsonschema.validate(document, SCHEMA)
    assert document["passed"] is True, document["checks"]
    assert document["metrics"]["sent"] == 10 and document["metrics"]["loss_rate"] == 0.2
    assert document["metrics"]["lost_seqs"] == [3, 7]
    assert document["impairment_backend"] == "userspace"
    assert document["parameters"]["loss"] == "20%"


def test_a_server_that_saw_a_lost_datagram_fails_the_no_retransmission_check():
    outcome = udp_loss_outcome()
    outcome.record.service_events["server"].append(
        {"event": "received", "seq": 3, "text": "seq=3 hello from client", "client": ["10.0.0.2", 4000]})
    verdicts = {c.name: c.passed for c in run_checks(outcome.record)}
    assert verdicts["server received exactly the datagrams that were answered"] is False


def test_junit_and_markdown_list_every_check(tmp_path):
    document = report.result_document(udp_loss_outcome())
    paths = report.write_reports(document, tmp_path)
    suite = ElementTree.parse(paths[1]).getroot()
    assert int(suite.get("tests")) == len(document["checks"]) and suite.get("failures") == "0"
    assert paths[2].read_text().count("| ✅ |") == len(document["checks"])
    assert "udp-loss: PASSED" in report.verdict_line(document)
