"""A teacher's typo in a scenario file exits 2 at load, naming the file and the field.

Each case below starts from a valid scenario (udp-loss's shape) and breaks one thing, the way a
hand-written file goes wrong: a host, a parameter, a probe or a network that does not exist.
"""
from __future__ import annotations

import copy
from typing import Any

import pytest

from lab import catalog
from lab.errors import ScenarioFileError
from lab.scenario.plan import build_plan

FILE = "lesson.toml"


def valid() -> dict[str, Any]:
    return {
        "lesson": "UDP never retransmits.",
        "metrics_from": "client",
        "parameters": {
            "loss": {"kind": "percent", "default": "20%"},
            "count": {"kind": "int", "default": 50, "min": 1, "max": 500},
            "timeout": {"kind": "float", "default": 0.25, "min": 0.01, "max": 10},
        },
        "networks": [{"name": "lan"}],
        "hosts": [
            {"name": "server", "program": "udp-server"},
            {"name": "client", "program": "udp-client",
             "args": ["--host", "server", "--count", "{count}", "--timeout", "{timeout}"],
             "impair": {"loss": "{loss}"}},
        ],
        "probes": {"bound": {"host": "server", "socket": "udp://0.0.0.0:12000", "expect": "listening"}},
        "steps": [{"start": "server"}, {"probe": "bound"}, {"run": "client", "between": ["bound"]}],
        "checks": [{"check": "loss_within_interval"}, {"check": "server_saw_replied", "server": "server"}],
    }


def test_the_valid_scenario_loads_and_plans():
    build_plan(catalog.parse("lesson", valid(), FILE), {})


def broken(change) -> dict[str, Any]:
    data = copy.deepcopy(valid())
    change(data)
    return data


CASES = [
    # (what goes wrong, the change, fragments the message must contain)
    ("check names a host that does not exist",
     lambda d: d["checks"].__setitem__(1, {"check": "server_saw_replied", "server": "sever"}),
     ["checks[1] (server_saw_replied).server", "'sever'", "not a host", "server, client"]),
    ("a trace check names a host that does not exist",
     lambda d: d["checks"].append({"check": "trace_listen_accept_server_only", "server": "tcp-sever"}),
     ["checks[2] (trace_listen_accept_server_only).server", "'tcp-sever'", "not a host", "its hosts: server, client"]),
    ("a backlog check names clients that do not exist",
     lambda d: d["checks"].append({"check": "tcp_served_in_turn", "clients": "clinets"}),
     ["checks[2] (tcp_served_in_turn).clients", "'clinets'", "not a host", "its hosts: server, client"]),
    ("a routed check names a host that does not exist",
     lambda d: d["checks"].append({"check": "ttl_one_lower", "server": "servr"}),
     ["checks[2] (ttl_one_lower).server", "'servr'", "not a host", "its hosts: server, client"]),
    ("a backlog check's hold parameter does not exist",
     lambda d: d["checks"].append({"check": "tcp_served_in_turn", "hold_param": "hodl"}),
     ["checks[2] (tcp_served_in_turn).hold_param", "'hodl'", "not a parameter", "loss, count, timeout"]),
    ("check's default host is missing from the scenario",
     lambda d: d["checks"].append({"check": "rtt_p50_near", "delay_param": "loss"}),
     ["checks[2] (rtt_p50_near).baseline", "'baseline' (its default", "not a host"]),
    ("check names a parameter that does not exist",
     lambda d: d["checks"].__setitem__(0, {"check": "loss_within_interval", "loss_param": "los"}),
     ["checks[0] (loss_within_interval).loss_param", "'los'", "not a parameter", "loss, count, timeout"]),
    ("check's default parameter is missing",
     lambda d: d["parameters"].pop("loss") and d["hosts"][1].pop("impair"),
     ["checks[0] (loss_within_interval).loss_param", "'loss' (its default", "not a parameter"]),
    ("check name misspelt",
     lambda d: d["checks"].append({"check": "loss_within_intervall"}),
     ["checks[2]", "unknown check 'loss_within_intervall'", "did you mean 'loss_within_interval'"]),
    ("check argument it does not take",
     lambda d: d["checks"][0].__setitem__("confidance", 0.9),
     ["checks[0] (loss_within_interval)", "takes no confidance"]),
    ("placeholder names no parameter",
     lambda d: d["hosts"][1]["args"].__setitem__(3, "{cout}"),
     ["hosts[1] (client).args[3]", "placeholder {cout}", "did you mean 'count'"]),
    ("impairment placeholder names no parameter",
     lambda d: d["hosts"][1].__setitem__("impair", {"loss": "{lost}"}),
     ["hosts[1] (client).impair.loss", "placeholder {lost}"]),
    ("replicas placeholder names no parameter",
     lambda d: d["hosts"][1].__setitem__("replicas", "{clients}"),
     ["hosts[1] (client).replicas", "placeholder {clients}"]),
    ("step runs a host that does not exist",
     lambda d: d["steps"].__setitem__(2, {"run": "clinet"}),
     ["steps[2].run", "'clinet'", "did you mean 'client'"]),
    ("step takes a probe that does not exist",
     lambda d: d["steps"].__setitem__(1, {"probe": "bund"}),
     ["steps[1].probe", "'bund'", "did you mean 'bound'"]),
    ("between names a probe that does not exist",
     lambda d: d["steps"][2].__setitem__("between", ["bound", "nope"]),
     ["steps[2].between", "'nope'"]),
    ("probe on a host that does not exist",
     lambda d: d["probes"]["bound"].__setitem__("host", "srever"),
     ["probes.bound.host", "'srever'"]),
    ("probe without a socket to look at",
     lambda d: d["probes"]["bound"].pop("socket"),
     ["probes.bound.socket", "tcp://0.0.0.0:12000"]),
    ("host on a network that does not exist",
     lambda d: d["hosts"][0].__setitem__("networks", ["wan"]),
     ["hosts[0] (server).networks", "'wan'", "lan"]),
    ("metrics from a host that does not exist",
     lambda d: d.__setitem__("metrics_from", "clients"),
     ["metrics_from", "'clients'"]),
    ("parameter kind misspelt",
     lambda d: d["parameters"]["loss"].__setitem__("kind", "percentage"),
     ["parameters.loss.kind", "'percentage'", "did you mean 'percent'"]),
    ("parameter default of the wrong kind",
     lambda d: d["parameters"]["count"].__setitem__("default", "many"),
     ["parameters.count.default", "expected int"]),
    ("parameter default outside its own bounds",
     lambda d: d["parameters"]["count"].__setitem__("default", 1000),
     ["parameters.count.default", "at most 500"]),
    ("parameter that shadows a socklab option",
     lambda d: d["parameters"].__setitem__("seed", {"kind": "int", "default": 1}),
     ["parameters.seed", "reserved"]),
    ("field misspelt",
     lambda d: d["hosts"][1].__setitem__("replica", 2),
     ["hosts[1]", "unknown field(s) 'replica' (did you mean 'replicas'?)"]),
    ("two hosts with one name",
     lambda d: d["hosts"].append({"name": "server", "program": "none"}),
     ["hosts", "share the name server"]),
]


@pytest.mark.parametrize("change, fragments", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_typo_names_the_file_and_the_field(change, fragments):
    with pytest.raises(ScenarioFileError) as caught:
        catalog.parse("lesson", broken(change), FILE)
    message = str(caught.value)
    assert caught.value.exit_code == 2
    assert message.startswith(f"{FILE}: "), message
    for fragment in fragments:
        assert fragment in message, message


HOST_TYPES = {"HostName", "TracedHostName"}
PARAMETER_TYPES = {"ParamName", "OptionalParamName"}


def test_every_check_argument_that_names_a_host_or_parameter_is_typed_so():
    """What makes a typo fail at load: the loader knows a host argument only by its type."""
    import inspect

    from lab.checks import REGISTRY

    untyped = []
    for name, function in REGISTRY.items():
        for argument, declared in inspect.signature(function).parameters.items():
            wanted = (HOST_TYPES if argument in ("server", "client", "clients", "baseline")
                      else PARAMETER_TYPES if argument.endswith("_param") else None)
            if wanted is not None and declared.annotation not in wanted:
                untyped.append(f"{name}.{argument}: {declared.annotation}")
    assert untyped == []


def test_every_parameter_of_every_scenario_is_an_option_of_invoke_scenario():
    """README: each parameter becomes --NAME (tasks.py reads the files, nothing to edit)."""
    import tasks

    options = {a.name for a in tasks.scenario.get_arguments()}
    for name in catalog.available():
        for parameter in catalog.load(name).parameters:
            assert parameter in options, (name, parameter)
