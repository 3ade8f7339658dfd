"""Scenario files, parameters and plans: every bad input is refused before anything is created."""
import pytest

from lab import catalog
from lab.errors import ParameterError, ScenarioFileError, ScenarioNotFound
from lab.scenario.plan import build_plan

ALL = list(catalog.available())


@pytest.mark.parametrize("name", ALL)
def test_every_scenario_loads_plans_and_states_one_lesson(name):
    scenario = catalog.load(name)
    plan = build_plan(scenario, {})
    assert scenario.lesson.endswith(".") and "\n" not in scenario.lesson
    assert plan.instances and all(i.argv for i in plan.instances)


def test_the_issue_scenarios_exist():
    for name in ("tcp-echo", "udp-echo", "tcp-sequential", "udp-multi-client", "tcp-no-server",
                 "udp-no-server"):
        assert name in ALL


def test_unknown_scenario_names_the_closest_and_lists_all():
    with pytest.raises(ScenarioNotFound) as caught:
        catalog.find("udp-los")
    message = str(caught.value)
    assert "Did you mean" in message and "tcp-echo" in message
    assert caught.value.exit_code == 2


def test_replicas_follow_the_clients_parameter():
    plan = build_plan(catalog.load("tcp-sequential"), {"clients": "5"})
    assert [i.name for i in plan.of_host("client")] == [f"client-{n}" for n in range(1, 6)]
    assert plan.instance("client-4").argv[-2:] == ("--name", "client-4")
    assert "hello from client-4" in plan.instance("client-4").argv


@pytest.mark.parametrize("overrides, match", [
    ({"clients": "0"}, "at least 1"),
    ({"clients": "21"}, "at most 20"),
    ({"clients": "three"}, "expected int"),
    ({"loss": "20%"}, "has no parameter --loss"),
    ({"client": "3"}, "did you mean --clients"),
])
def test_bad_parameters_are_refused_with_what_is_allowed(overrides, match):
    with pytest.raises(ParameterError, match=match):
        build_plan(catalog.load("tcp-sequential"), overrides)


def test_bad_backend_and_seed():
    scenario = catalog.load("tcp-echo")
    with pytest.raises(ParameterError, match="auto, netem, userspace"):
        build_plan(scenario, {}, impair_backend="tc")
    with pytest.raises(ParameterError, match="non-negative"):
        build_plan(scenario, {}, seed=-3)


def test_scenario_file_errors_name_the_field():
    base = {"lesson": "A lesson.", "hosts": [{"name": "s", "program": "tcp-server"}],
            "steps": [{"start": "s"}]}
    catalog.parse("ok", base)
    with pytest.raises(ScenarioFileError, match="program"):
        catalog.parse("x", {**base, "hosts": [{"name": "s", "program": "ftp-server"}]})
    with pytest.raises(ScenarioFileError, match="unknown field"):
        catalog.parse("x", {**base, "colour": "red"})
    with pytest.raises(ScenarioFileError, match="unknown check"):
        catalog.parse("x", {**base, "checks": [{"check": "magic"}]})
    with pytest.raises(ScenarioFileError, match="takes no"):
        catalog.parse("x", {**base, "checks": [{"check": "replies_uppercase", "colour": 1}]})
    with pytest.raises(ScenarioFileError, match="exactly one"):
        catalog.parse("x", {**base, "steps": [{"start": "s", "run": "s"}]})
    with pytest.raises(ScenarioFileError, match="not one of"):
        catalog.parse("x", {**base, "steps": [{"run": "nobody"}]})


def test_an_unset_impairment_parameter_applies_nothing_and_a_set_one_applies():
    scenario = catalog.load("tcp-loss")
    unset = build_plan(scenario, {})
    assert unset.parameters["rate"] == "none"
    assert all(s.rate_bit is None for i in unset.impaired for s in i.impairments)
    limited = build_plan(scenario, {"rate": "10mbit"})
    assert {i.name: i.impairments[0].rate_bit for i in limited.impaired} == {"client": 10_000_000,
                                                                          "udp-client": 10_000_000}
    assert limited.instance("clean-client").impairments == ()


def test_loss_and_delay_apply_to_the_client_egress_only():
    for name, field in (("udp-loss", "loss_pct"), ("udp-delay", "delay_ms")):
        plan = build_plan(catalog.load(name), {})
        assert [i.name for i in plan.impaired] == ["client"]
        spec, = plan.instance("client").impairments
        assert spec.direction == "egress" and getattr(spec, field) > 0


def test_seed_reaches_every_impairment():
    plan = build_plan(catalog.load("tcp-loss"), {}, seed=42)
    seeds = {i.name: s.seed for i in plan.impaired for s in i.impairments}
    assert set(seeds) == {"client", "udp-client"} and None not in seeds.values()
    assert len(set(seeds.values())) == 2, "two hosts must not drop the same packets"
    again = build_plan(catalog.load("tcp-loss"), {}, seed=42)
    assert {i.name: s.seed for i in again.impaired for s in i.impairments} == seeds
    assert plan.parameters["seed"] == 42


def test_a_host_may_impair_several_interfaces_but_not_one_twice():
    base = {"lesson": "Two links.", "networks": [{"name": "a"}, {"name": "b"}],
            "hosts": [{"name": "router", "program": "udp-server", "networks": ["a", "b"],
                       "impair": [{"interface": "eth0", "delay": "10ms"},
                                  {"interface": "eth1", "loss": "5%", "direction": "ingress"}]}],
            "steps": [{"start": "router"}]}
    plan = build_plan(catalog.parse("two", base), {})
    assert [(s.interface, s.direction) for s in plan.instance("router").impairments] == [
        ("eth0", "egress"), ("eth1", "ingress")]
    twice = {**base, "hosts": [{**base["hosts"][0], "impair": [{"delay": "1ms"}, {"loss": "1%"}]}]}
    with pytest.raises(ScenarioFileError, match="interface listed twice"):
        catalog.parse("twice", twice)


def test_a_forced_backend_refuses_what_it_cannot_do_before_anything_runs():
    pareto = catalog.parse("p", {
        "lesson": "Pareto jitter.", "steps": [{"run": "c"}],
        "hosts": [{"name": "c", "program": "udp-client",
                   "impair": {"delay": "10ms", "jitter": "2ms", "distribution": "pareto"}}]})
    with pytest.raises(ParameterError, match="--impair-backend userspace"):
        build_plan(pareto, {}, impair_backend="userspace")
    assert build_plan(pareto, {}, impair_backend="netem").instance("c").impairments
