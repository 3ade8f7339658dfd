"""Which hosts a run captures: the scenario's own choice, or every host with --capture."""
from __future__ import annotations

import pytest

from lab import catalog
from lab.errors import ScenarioFileError
from lab.scenario.plan import build_plan

BASE = {
    "lesson": "x.",
    "hosts": [{"name": "server", "program": "udp-server"},
              {"name": "client", "program": "udp-client", "replicas": 2}],
    "steps": [{"start": "server"}, {"run": "client"}],
}


def test_no_capture_unless_asked():
    assert build_plan(catalog.parse("s", BASE), {}).capture_hosts == ()


def test_capture_flag_captures_every_host_and_every_replica():
    plan = build_plan(catalog.parse("s", BASE), {}, capture=True)
    assert plan.capture_hosts == ("server", "client")
    from lab.run.capture import capture_instances
    assert [i.name for i in capture_instances(plan)] == ["server", "client-1", "client-2"]


@pytest.mark.parametrize("value, hosts", [(True, ("server", "client")), (["client"], ("client",)), (False, ())])
def test_scenario_file_chooses_its_captured_hosts(value, hosts):
    assert build_plan(catalog.parse("s", {**BASE, "capture": value}), {}).capture_hosts == hosts


@pytest.mark.parametrize("value", [["router"], "yes", [], [1]])
def test_bad_capture_field_is_a_scenario_error(value):
    with pytest.raises(ScenarioFileError, match="capture"):
        catalog.parse("s", {**BASE, "capture": value})


def test_doctests_of_the_capture_module():
    """tcpdump's reports read and the settle script built as their docstrings show."""
    import doctest

    from lab.run import capture

    assert doctest.testmod(capture).failed == 0
