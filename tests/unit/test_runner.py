"""The runner on a fake engine: order of operations, what the record holds, teardown always."""
from __future__ import annotations

import json
import os

import pytest
from tests.unit.fake_engine import FakeEngine

from lab.engines import ownership

from lab import catalog
from lab.common import LABEL_KEPT, LABEL_OWNER, LABEL_ROLE, LABEL_RUN, CommandResult
from lab.engines.base import APP_USER, LabRun
from lab.errors import EngineLost, StepFailed
from lab.scenario.plan import build_plan
from lab.scenario_run import run_scenario

ECHO = {
    "lesson": "A sentence goes out and comes back in upper case.",
    "networks": [{"name": "lan"}],
    "hosts": [{"name": "server", "program": "udp-server", "networks": ["lan"]},
              {"name": "client", "program": "udp-client", "replicas": 2, "networks": ["lan"],
               "args": ["--host", "server", "--message", "hello from {host}"]}],
    "steps": [{"start": "server"}, {"run": "client", "mode": "sequential"}],
    "checks": [{"check": "replies_uppercase"}],
}


def plan_of(data: dict, **changes: object):
    return build_plan(catalog.parse("fake", {**data, **changes}), {})


def client_output(text: str) -> CommandResult:
    events = [{"event": "sent", "seq": 1, "text": text, "bytes": len(text)},
              {"event": "received", "seq": 1, "text": text.upper(), "bytes": len(text)}]
    return CommandResult(0, "".join(json.dumps(e) + "\n" for e in events), "")


def echo(host: str, argv: list[str]) -> CommandResult:
    return client_output(argv[argv.index("--message") + 1])


def test_topology_first_then_steps_in_order_and_nothing_left():
    engine = FakeEngine(answer=echo)
    outcome = run_scenario(engine, plan_of(ECHO), progress=lambda message: None)
    assert outcome.passed, outcome.checks
    calls = [c[:2] for c in engine.calls]
    # the network before any host; idle clients and the leading service start together; clients
    # run one after another once the server is ready; teardown by label at the end
    assert calls[0] == ("network", "lan")
    assert set(calls[1:4]) == {("start", "client-1"), ("start", "client-2"), ("start", "server")}
    assert calls[4:6] == [("exec_background", "client-1"), ("exec_background", "client-2")]
    assert calls[-1] == ("remove", outcome.record.run_id)
    assert engine.count_labelled() == (0, 0)
    assert [c.instance for c in outcome.record.clients] == ["client-1", "client-2"]
    assert outcome.record.service_events["server"] == [{"event": "listening", "port": 12000}]


def test_the_engine_hears_which_hosts_will_be_looked_at_before_the_first_look(monkeypatch):
    """So that it can get ready for testinfra while the services start (the Docker engine opens a
    shell in each); hosts no probe names are not mentioned."""
    from lab.run import runner

    engine = FakeEngine(answer=echo)
    monkeypatch.setattr(runner.looks, "look_all",
                        lambda lab, probes, after: engine.calls.append(("look", tuple(p.host for p in probes))) or [])
    probed = {**ECHO, "probes": {"bound": {"host": "server", "socket": "udp://0.0.0.0:12000", "expect": "listening"}},
              "steps": [{"start": "server"}, {"probe": ["bound"]}, {"run": "client", "between": ["bound"]}]}
    run_scenario(engine, plan_of(probed), progress=lambda message: None)
    calls = [c[:2] for c in engine.calls]
    assert ("expect_looks", ("server",)) in calls
    assert calls.index(("expect_looks", ("server",))) < calls.index(("look", ("server",)))
    assert not [c for c in calls if c[0] == "expect_looks" and c != ("expect_looks", ("server",))]


def test_hosts_are_least_privileged_and_every_object_is_labelled():
    engine = FakeEngine(answer=echo)
    seen: dict[str, dict[str, str]] = {}
    original = engine.remove_labelled

    def remember_then_remove(run_id=None, session=None):
        seen.update({o.name: dict(o.labels) for o in engine.labelled(run_id)})
        return original(run_id, session)

    engine.remove_labelled = remember_then_remove  # type: ignore[method-assign]
    outcome = run_scenario(engine, plan_of(ECHO), progress=lambda message: None)
    lab = engine.labs[0]
    for spec in lab.specs.values():
        assert spec.user == APP_USER and spec.capabilities == () and spec.read_only
        assert spec.pids_limit and spec.memory_bytes
    clients = [s for s in lab.specs.values() if s.role == "client"]
    assert all(s.command == ("sleep", "infinity") for s in clients), "clients wait idle, run by exec"
    assert len(seen) == 4
    me = ownership.me()
    for labels in seen.values():
        assert labels[LABEL_RUN] == outcome.record.run_id
        assert ownership.Owner.parse(labels[LABEL_OWNER]) == me
        assert LABEL_KEPT not in labels
    assert {labels[LABEL_ROLE] for labels in seen.values()} == {"network", "service", "client"}


def test_parallel_clients_all_start_before_any_is_waited_for():
    engine = FakeEngine(answer=echo)
    data = {**ECHO, "steps": [{"start": "server"}, {"run": "client", "mode": "parallel"}]}
    outcome = run_scenario(engine, plan_of(data), progress=lambda message: None)
    assert outcome.passed
    assert [c for c in engine.calls if c[0] == "exec_background"] == [
        ("exec_background", "client-1", "python3"), ("exec_background", "client-2", "python3")]


def test_a_failing_step_still_tears_everything_down():
    def broken(host: str, argv: list[str]) -> CommandResult:
        raise StepFailed(f"exec in {host} failed: container crashed")

    engine = FakeEngine(answer=broken)
    with pytest.raises(StepFailed, match="container crashed"):
        run_scenario(engine, plan_of(ECHO), progress=lambda message: None)
    assert engine.count_labelled() == (0, 0)


def test_an_engine_lost_mid_run_is_reported_not_the_teardowns_echo_of_it():
    """The engine vanishes during a client: the run ends with EngineLost (exit 3), and the
    teardown's own failure (the engine is still gone) does not hide it."""
    engine = FakeEngine(answer=lambda host, argv: (_ for _ in ()).throw(EngineLost("socket gone")))

    def unreachable(run_id=None, session=None):
        raise EngineLost("still gone")

    engine.remove_labelled = unreachable  # type: ignore[method-assign]
    with pytest.raises(EngineLost, match="socket gone") as caught:
        run_scenario(engine, plan_of(ECHO), progress=lambda message: None)
    assert caught.value.exit_code == 3


def test_ctrl_c_during_a_client_tears_down():
    def interrupted(host: str, argv: list[str]) -> CommandResult:
        raise KeyboardInterrupt

    engine = FakeEngine(answer=interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_scenario(engine, plan_of(ECHO), progress=lambda message: None)
    assert engine.count_labelled() == (0, 0)


def test_keep_leaves_a_finished_run_labelled_kept_but_never_an_interrupted_one():
    engine = FakeEngine(answer=echo)
    outcome = run_scenario(engine, plan_of(ECHO), progress=lambda message: None, keep=True)
    kept = engine.labelled(outcome.record.run_id)
    assert len(kept) == 4 and all(o.labels[LABEL_KEPT] == "true" for o in kept)
    engine.remove_labelled(outcome.record.run_id)

    with pytest.raises(KeyboardInterrupt):
        with LabRun(engine, "cut", "fake", keep=True) as lab:
            lab.create_network("lan")
            raise KeyboardInterrupt
    assert engine.count_labelled() == (0, 0)


def test_a_client_past_the_time_limit_is_a_failed_check_and_teardown_happens():
    engine = FakeEngine(answer=lambda host, argv: None)  # the client never finishes
    outcome = run_scenario(engine, plan_of(ECHO, timeout_s=1), progress=lambda message: None)
    assert outcome.record.timed_out and "still running" in outcome.record.timed_out
    assert not outcome.passed
    assert engine.count_labelled() == (0, 0)


def test_a_service_that_never_gets_ready_fails_the_step():
    engine = FakeEngine(answer=echo, program_output=lambda spec: "")
    with pytest.raises(StepFailed, match="server was not ready"):
        run_scenario(engine, plan_of(ECHO), progress=lambda message: None)
    assert engine.count_labelled() == (0, 0)


def test_owner_of_this_process_is_alive_and_a_gone_pid_is_dead():
    me = ownership.me()
    assert not ownership.is_dead(me)
    assert ownership.is_dead(ownership.Owner(me.host, 2**22 + 12345, "1"))  # above pid_max's default
    assert not ownership.is_dead(ownership.Owner("another-machine", 1, "1"))
    assert ownership.is_dead(ownership.Owner(me.host, os.getpid(), "0")), "a recycled pid is not the owner"
