"""Pinning hosts to nodes (--place HOST=NODE, a scenario's `node =`): checked before anything runs."""
from __future__ import annotations

import pytest

from lab import catalog
from lab.errors import BadInput, ParameterError, ScenarioFileError
from lab.scenario.plan import build_plan


def test_place_pins_every_replica_of_a_host_and_overrides_the_scenario():
    data = {"lesson": "l", "hosts": [
        {"name": "server", "program": "udp-server", "node": "lab-01"},
        {"name": "client", "program": "udp-client", "replicas": 3, "args": ["--host", "server"]}],
        "steps": [{"start": "server"}, {"run": "client"}], "checks": [{"check": "replies_uppercase"}]}
    scenario = catalog.parse("pinned", data)
    plan = build_plan(scenario, {})
    assert plan.placement == {"server": "lab-01"}
    plan = build_plan(scenario, {}, place=["client=lab-02", "server=lab-03"])
    assert plan.placement == {"server": "lab-03", "client": "lab-02"}
    assert {i.name: i.node for i in plan.instances} == {
        "server": "lab-03", "client-1": "lab-02", "client-2": "lab-02", "client-3": "lab-02"}


@pytest.mark.parametrize("place, message", [
    (["nobody=lab-01"], "has no host 'nobody'; its hosts: server, client"),
    (["server"], "expected HOST=NODE"),
    (["server="], "expected HOST=NODE"),
])
def test_bad_placement_is_bad_input(place, message):
    with pytest.raises(ParameterError, match=message) as error:
        build_plan(catalog.load("udp-echo"), {}, place=place)
    assert isinstance(error.value, BadInput) and error.value.exit_code == 2


def test_a_scenario_node_must_be_a_name():
    data = {"lesson": "l", "hosts": [{"name": "server", "program": "udp-server", "node": 3}],
            "steps": [{"start": "server"}], "checks": []}
    with pytest.raises(ScenarioFileError, match=r"hosts\[0\] \(server\)\.node"):
        catalog.parse("bad", data)
