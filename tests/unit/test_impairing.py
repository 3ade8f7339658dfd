"""Impairments on a fake engine: helpers attached to the right hosts, backend chosen, applied, verified."""
from __future__ import annotations

import json

import pytest
from tests.unit.fake_engine import FakeEngine

from lab import catalog
from lab.common import TOOLS_IMAGE, CommandResult
from lab.engines.base import HELPER_CAPABILITIES, HostSpec, LabRun
from lab.errors import ImpairmentUnavailable
from lab.run.impairing import apply_all, helper_name, still_in_force
from lab.scenario.plan import build_plan

SCENARIO = {
    "lesson": "Loss on the client's egress.",
    "networks": [{"name": "lan"}],
    "hosts": [{"name": "server", "program": "udp-server", "networks": ["lan"]},
              {"name": "client", "program": "udp-client", "networks": ["lan"],
               "args": ["--host", "server"], "impair": {"loss": "20%"}}],
    "steps": [{"start": "server"}, {"run": "client"}],
    "checks": [{"check": "replies_uppercase"}],
}


class Kernel:
    """Answers a helper's commands like a kernel without sch_netem, with a working impaird."""

    def __init__(self, netem: bool = False, daemon_alive: bool = True) -> None:
        self.netem = netem
        self.daemon_alive = daemon_alive
        self.started: dict[str, str] = {}   # queue -> spec JSON given to `impaird start`

    def __call__(self, host: str, argv: list[str]) -> CommandResult:
        line = " ".join(argv)
        if "netem" in argv and not self.netem:
            return CommandResult(2, "", "Error: Specified qdisc kind is unknown.")
        if "impaird.py" in line and "start" in argv:
            self.started[argv[argv.index("--queue") + 1]] = argv[argv.index("--spec") + 1]
        if "impaird.py" in line and "status" in argv:
            spec = json.loads(self.started[argv[argv.index("--queue") + 1]])
            return CommandResult(0, json.dumps({"alive": self.daemon_alive, "rules_present": True,
                                                "in_force": True, "mode": "queue", "spec": spec,
                                                "counters": {"seen": 10, "dropped": 2}}), "")
        return CommandResult(0, "", "")


def started_lab(engine: FakeEngine, plan):
    run = LabRun(engine, "imp", "fake")
    lab = run.__enter__()
    lab.create_network("lan")
    for instance in plan.instances:
        lab.start(HostSpec(instance.name, "apps", ("sleep", "infinity"), instance.role, instance.networks))
    return run, lab


def test_helper_joins_the_impaired_host_and_the_probe_picks_userspace_without_netem():
    kernel = Kernel(netem=False)
    engine = FakeEngine(answer=kernel)
    plan = build_plan(catalog.parse("fake", SCENARIO), {})
    run, lab = started_lab(engine, plan)
    try:
        progress: list[str] = []
        applied = apply_all(lab, plan.impaired, "auto", progress.append)
        assert applied.backend == "userspace"
        assert applied.notes == ["client: eth0 egress: loss 20%"]
        helper = lab.specs[helper_name(plan.instance("client"))]
        assert (helper.target, helper.image, helper.capabilities) == ("client", TOOLS_IMAGE, HELPER_CAPABILITIES)
        assert "server-helper" not in lab.specs, "only impaired hosts get a helper"
        ran = [(host, argv, user) for host, argv, user in engine.execs]
        assert all(host == "client-helper" and user == "root" for host, _, user in ran)
        assert any("start" in argv for _, argv, _ in ran)
        assert "impairment backend: userspace (chosen by probe)" in progress

        problems, counters = still_in_force(lab, plan.impaired, applied.backend)
        assert problems == [] and counters == {"client eth0": {"seen": 10, "dropped": 2}}
        kernel.daemon_alive = False
        problems, _ = still_in_force(lab, plan.impaired, applied.backend)
        assert len(problems) == 1 and "not running" in problems[0]
    finally:
        run.__exit__(None, None, None)
    assert engine.count_labelled() == (0, 0)


def test_a_forced_netem_on_a_kernel_without_it_is_refused_before_anything_is_applied():
    engine = FakeEngine(answer=Kernel(netem=False))
    plan = build_plan(catalog.parse("fake", SCENARIO), {}, impair_backend="netem")
    run, lab = started_lab(engine, plan)
    try:
        with pytest.raises(ImpairmentUnavailable, match="sch_netem"):
            apply_all(lab, plan.impaired, "netem", lambda message: None)
        assert not any("start" in argv or "tc" == argv[0] and "replace" in argv for _, argv, _ in engine.execs)
    finally:
        run.__exit__(None, None, None)


def test_a_host_started_later_reuses_the_backend_without_probing_again():
    engine = FakeEngine(answer=Kernel(netem=False))
    plan = build_plan(catalog.parse("fake", SCENARIO), {})
    run, lab = started_lab(engine, plan)
    try:
        apply_all(lab, plan.impaired, "userspace", lambda message: None, backend_name="userspace")
        assert not any(argv[:3] == ["ip", "link", "add"] for _, argv, _ in engine.execs), "no probe"
    finally:
        run.__exit__(None, None, None)


@pytest.mark.parametrize("point", ["network", "start", "impair", "client"])
def test_a_run_passes_every_pause_point_of_the_interrupt_tests(point, monkeypatch, caplog):
    """The fault tests stop a run at these points (SOCKLAB_PAUSE_AT): each must stay on the path."""
    from lab.scenario_run import run_scenario

    monkeypatch.setenv("SOCKLAB_PAUSE_AT", f"{point}:0")
    engine = FakeEngine(answer=Kernel(netem=False))
    plan = build_plan(catalog.parse("fake", SCENARIO), {})
    with caplog.at_level("WARNING", logger="lab.run.pause"):
        run_scenario(engine, plan, progress=lambda message: None)
    assert f"paused at {point}" in caplog.text
