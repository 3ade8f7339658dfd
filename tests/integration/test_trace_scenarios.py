"""The observation scenarios of issue 7 on the real engine: api-trace (strace), tcp-backlog, routed."""
from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from lab.report.document import result_document

from lab import catalog
from lab.common import LABEL_RUN
from lab.scenario.plan import build_plan
from lab.scenario_run import run_scenario

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "tests/contracts/result.schema.json").read_text())

pytestmark = pytest.mark.integration


def run(engine, name: str, overrides: dict | None = None, **options):
    plan = build_plan(catalog.load(name), overrides or {})
    outcome = run_scenario(engine, plan, progress=lambda message: None, **options)
    document = result_document(outcome)
    jsonschema.validate(document, SCHEMA)
    return outcome, document


def test_api_trace_shows_each_programs_real_calls_and_the_programs_stay_unprivileged(engine, built_images, session):
    outcome, document = run(engine, "api-trace", keep=True)
    try:
        containers = engine.client.containers.list(
            all=True, filters={"label": f"{LABEL_RUN}={outcome.record.run_id}"})
        assert len(containers) == 4
        for container in containers:  # strace is the program's parent: no SYS_PTRACE, nothing added
            host_config = container.attrs["HostConfig"]
            assert container.attrs["Config"]["User"] == "student"
            assert not host_config["CapAdd"] and host_config["CapDrop"] == ["ALL"]
            assert "no-new-privileges" in host_config["SecurityOpt"]
    finally:
        engine.remove_labelled(outcome.record.run_id)
    assert engine.count_labelled(session=session) == (0, 0)
    assert outcome.passed, [c for c in outcome.checks if not c.passed]
    columns = {c["host"]: [call["call"] for call in c["calls"]] for c in document["api_trace"]["columns"]}
    assert list(columns) == ["tcp-server", "tcp-client", "udp-server", "udp-client"]
    assert columns["tcp-server"][:1] == ["socket"] and "listen" in columns["tcp-server"]
    assert columns["tcp-client"][:2] == ["socket", "connect"]
    assert columns["udp-server"] == ["socket", "bind", "recvfrom", "sendto", "close"]
    assert columns["udp-client"] == ["socket", "sendto", "recvfrom", "close"]
    # the descriptor accept() returned is the one the server's recv/send used, not the listening one
    server = document["api_trace"]["columns"][0]["calls"]
    accepted = next(c for c in server if c["call"].startswith("accept"))
    assert accepted["ret"] != accepted["fd"]
    assert {c["fd"] for c in server if c["call"] in ("recvfrom", "sendto")} == {accepted["ret"]}


@pytest.mark.parametrize("mode", ["iterative", "threaded"])
def test_tcp_backlog_iterative_queues_and_threaded_overlaps(engine, built_images, no_leftovers, mode):
    outcome, document = run(engine, "tcp-backlog", {"server_mode": mode})
    verdicts = {c.name: c for c in outcome.checks}
    server = outcome.record.events_of_host("server")
    assert server[0]["mode"] == mode and server[0]["backlog"] == 1
    late = {c.instance: c.first("start")["late_ms"] for c in outcome.record.clients}
    starts = [c.first("connected")["t"] - c.first("connected")["handshake_ms"] / 1000 for c in outcome.record.clients]
    assert max(starts) - min(starts) < 0.2, f"the five clients connect at once ({{start_at}}); ready late by ms: {late}"
    assert outcome.passed, [c for c in outcome.checks if not c.passed]
    late = verdicts["a SYN that finds the accept queue full is retransmitted after ~1 s"]
    if mode == "iterative":
        assert "served one after another: each wait grows with the place in the queue" in verdicts
        # listen(1): one served + two queued fit; the others' first SYN found the queue full
        assert late.detail.count("first SYN got no SYN/ACK") >= 2
    else:
        assert "threaded server: the clients' waits overlap" in verdicts
    assert document["captures"] and document["captures"][0]["instance"] == "server"


def test_routed_echo_crosses_the_router_with_the_ttl_lowered_and_routes_as_designed(engine, built_images, no_leftovers):
    outcome, document = run(engine, "routed", {"count": "3"})
    assert outcome.passed, [c for c in outcome.checks if not c.passed]
    observed = outcome.record.routing
    assert "10.77.2.0/24 via 10.77.1.1 dev lan-a" in observed.routes["client"]
    assert observed.forwarding == {"router": "1", "server": "0", "client": "0"}
    # the server saw the client's subnet address, so the datagrams really came through the router
    received = [e for e in outcome.record.events_of_host("server") if e["event"] == "received"]
    assert {tuple(e["client"])[0] for e in received} == {"10.77.1.10"} and {e["ttl"] for e in received} == {63}
    ttl = next(c for c in outcome.checks if c.name.startswith("packets arrive with a TTL 1 lower"))
    assert ttl.detail.startswith("captures, client to server: 3 packet(s), TTL lowered by [1]")
    assert "captures, server to client: 3 packet(s), TTL lowered by [1]" in ttl.detail
    # the chart draws each datagram through the router, and no VXLAN carrier
    mermaid = document["sequence_chart"]["mermaid"]
    assert mermaid.count("h0->>h1: datagram") == 3 and mermaid.count("h1->>h2: datagram") == 3
    assert "h0->>h2" not in mermaid and "73 B" not in mermaid


def test_routed_impairment_sits_on_the_routers_interface(engine, built_images, no_leftovers):
    outcome, document = run(engine, "routed", {"count": "3", "delay": "40ms"})
    assert outcome.passed, [c for c in outcome.checks if not c.passed]
    assert document["impairments"] == [next(n for n in document["impairments"] if n.startswith("router:"))]
    assert "lan-b" in document["impairments"][0]
    assert document["metrics"]["rtt_ms"]["min"] >= 40
