"""The result file follows the contract; JUnit and Markdown carry every check."""
import json
from pathlib import Path
from xml.etree import ElementTree

import jsonschema
import pytest

from lab.report.document import result_document, verdict_line
from lab.report.files import write_reports

from lab import catalog
from lab.checks import run_checks
from lab.scenario.plan import build_plan
from lab.run.record import ClientRun, RunRecord
from lab.checks.outcome import Outcome

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "tests/contracts/result.schema.json").read_text())
CONTRACT = "shared/contracts/result.schema.json"


def shared_contract() -> Path | None:
    """The outside tools' copy of the contract: $SOCKLAB_SHARED_CONTRACT, or shared/contracts in a
    directory above the checkout (a worktree sits deeper than the main checkout)."""
    import os

    if os.environ.get("SOCKLAB_SHARED_CONTRACT"):
        return Path(os.environ["SOCKLAB_SHARED_CONTRACT"])
    return next((p / CONTRACT for p in ROOT.parents if (p / CONTRACT).exists()), None)


def udp_loss_outcome() -> Outcome:
    """A udp-loss run as the programs would print it: 10 sent, seqs 3 and 7 lost."""
    plan = build_plan(catalog.load("udp-loss"), {"count": "10", "loss": "20%"})
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
    shared = shared_contract()
    if shared is None:
        pytest.skip(f"no {CONTRACT} above {ROOT} (set SOCKLAB_SHARED_CONTRACT to compare)")
    assert json.loads(shared.read_text()) == SCHEMA, f"tests/contracts/result.schema.json differs from {shared}"


def test_the_vendored_schema_is_a_valid_schema_that_refuses_a_wrong_document():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    document = result_document(udp_loss_outcome())
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**document, "passed": "yes"}, SCHEMA)


def test_result_document_validates_and_carries_the_figures():
    document = result_document(udp_loss_outcome())
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
    document = result_document(udp_loss_outcome())
    paths = write_reports(document, tmp_path)
    suite = ElementTree.parse(paths[1]).getroot()
    assert int(suite.get("tests")) == len(document["checks"]) and suite.get("failures") == "0"
    assert paths[2].read_text().count("| ✅ |") == len(document["checks"])
    assert "udp-loss: PASSED" in verdict_line(document)


def test_jitter_check_is_left_out_without_jitter_even_when_the_baseline_got_no_reply():
    """No jitter: the check does not apply, so it must not look at RTTs (a missing baseline reply
    would otherwise fail a run that has nothing to do with jitter)."""
    from lab.checks.impaired_links import jitter_visible

    plan = build_plan(catalog.load("udp-delay"), {})
    silent = [{"event": "sent", "seq": 1, "text": "seq=1 x"}, {"event": "timeout", "seq": 1, "waited_ms": 2000}]
    record = RunRecord(plan, "abc123", {}, [ClientRun("baseline", "baseline", 1, silent, 0.0, 2.0)])
    assert jitter_visible(record) is None
    jittery = build_plan(catalog.load("udp-delay"), {"jitter": "10ms"})
    record = RunRecord(jittery, "abc123", {}, [ClientRun("baseline", "baseline", 1, silent, 0.0, 2.0)])
    with pytest.raises(ValueError, match="baseline received no reply"):
        jitter_visible(record)


def test_a_client_without_reply_says_why():
    """The client's own error event, e.g. a name lookup that failed, not just its exit code."""
    from lab.checks.echo import replies_uppercase

    plan = build_plan(catalog.load("udp-echo"), {})
    failed = [{"event": "error", "seq": None, "during": "resolve", "errno": -3, "name": "EAI_AGAIN",
               "message": "Temporary failure in name resolution"},
              {"event": "summary", "sent": 0, "received": 0}]
    record = RunRecord(plan, "abc123", {}, [ClientRun("client", "client", 1, failed, 0.0, 10.0)])
    verdict = replies_uppercase(record)
    assert not verdict.passed
    assert "client got no reply (EAI_AGAIN during resolve: Temporary failure in name resolution)" in verdict.detail
