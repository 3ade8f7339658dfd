"""Scenarios on the swarm engine with client and server on different nodes of the local swarm:
they pass as on one engine, leave nothing on either node, and a node that stops answering
mid-run fails the run with exit 3."""
from __future__ import annotations

import logging
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lab import catalog
from lab.scenario.plan import build_plan
from lab.scenario_run import run_scenario

ROOT = Path(__file__).resolve().parents[2]
ECHO = ["tcp-echo", "udp-echo", "tcp-sequential", "udp-multi-client"]

pytestmark = [pytest.mark.integration, pytest.mark.swarm]


def placed_nodes(caplog) -> dict[str, str]:
    """Host -> node, as the swarm engine logged where each task ran."""
    found = {}
    for record in caplog.records:
        match = re.match(r"(\S+) runs on node (\S+)", record.getMessage())
        if match:
            found[match.group(1)] = match.group(2)
    return found


@pytest.mark.parametrize("name", [*ECHO, "udp-loss"])
def test_scenario_passes_with_client_and_server_on_different_nodes(swarm_engine, nodes, swarm_no_leftovers,
                                                                   caplog, name):
    manager_node, other_node = nodes
    caplog.set_level(logging.DEBUG, logger="lab.engines.swarm_engine")
    plan = build_plan(catalog.load(name), {}, place={"server": other_node, "client": manager_node})
    outcome = run_scenario(swarm_engine, plan, progress=lambda message: None)
    assert outcome.passed, [c for c in outcome.checks if not c.passed]
    placed = placed_nodes(caplog)
    assert placed["server"] == other_node
    clients = [i.name for i in plan.instances if i.host == "client"]
    assert clients and all(placed[c] == manager_node for c in clients), placed
    helpers = {host: node for host, node in placed.items() if host.startswith("client-") and host not in clients}
    if name == "udp-loss":
        assert outcome.record.impairment_backend in ("netem", "userspace")
        assert helpers and set(helpers.values()) == {manager_node}, "the helper runs beside its target"


def test_without_placement_the_hosts_are_spread_over_both_nodes(swarm_engine, nodes, swarm_no_leftovers, caplog):
    caplog.set_level(logging.DEBUG, logger="lab.engines.swarm_engine")
    plan = build_plan(catalog.load("udp-echo"), {})
    outcome = run_scenario(swarm_engine, plan, progress=lambda message: None)
    assert outcome.passed, [c for c in outcome.checks if not c.passed]
    assert set(placed_nodes(caplog).values()) == set(nodes)


def _invoke(*args: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "invoke", *args], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, **kwargs)


def _wait_for_line(process: subprocess.Popen, needle: str, timeout: float) -> list[str]:
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if needle in line:
            return lines
    raise AssertionError(f"never saw {needle!r}: {''.join(lines)}")


def test_bad_placement_is_bad_input_and_creates_nothing(swarm_engine, swarm_no_leftovers):
    done = subprocess.run([sys.executable, "-m", "invoke", "scenario", "udp-echo", "--engine", "swarm",
                           "--place", "server=no-such-node"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "no-such-node: no such node in the swarm" in done.stderr


def test_interrupted_swarm_run_leaves_nothing_on_any_node(swarm_engine, nodes, swarm_no_leftovers):
    manager_node, other_node = nodes
    process = _invoke("scenario", "udp-loss", "--engine", "swarm", "--count", "2000",
                      "--place", f"client={other_node}", "--place", f"server={manager_node}")
    try:
        _wait_for_line(process, "udp-client running", 120)
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 130, output


def test_a_drained_node_is_named_by_doctor_and_a_run_exits_3_creating_nothing(swarm_engine, manager, nodes,
                                                                             swarm_no_leftovers):
    _, other_node = nodes
    node = next(n for n in manager.client.nodes.list() if n.attrs["Description"]["Hostname"] == other_node)
    spec = dict(node.attrs["Spec"], Availability="drain")
    node.update(spec)
    try:
        doctor = subprocess.run([sys.executable, "-m", "invoke", "doctor", "--engine", "swarm"], cwd=ROOT,
                                capture_output=True, text=True)
        assert doctor.returncode == 3, doctor.stdout + doctor.stderr
        said = " ".join(doctor.stdout.split())
        assert f"node {other_node}: NOT USABLE" in said and "availability drain" in said
        run = subprocess.run([sys.executable, "-m", "invoke", "scenario", "udp-echo", "--engine", "swarm"],
                             cwd=ROOT, capture_output=True, text=True)
        assert run.returncode == 3, run.stdout + run.stderr
        assert f"{other_node}: availability drain" in " ".join(run.stderr.split())
    finally:
        node.reload()
        node.update(dict(node.attrs["Spec"], Availability="active"))


def test_a_node_that_stops_answering_mid_run_fails_the_run_with_exit_3(swarm_engine, manager, local_swarm,
                                                                      nodes, session):
    """The node container is frozen (docker pause) while the client runs on it: the run must end
    with exit 3 naming the node; once it answers again, `invoke clean --engine swarm` leaves
    nothing on either node. Last in the module: the node needs a moment to be ready again."""
    manager_node, other_node = nodes
    node_container = manager.client.containers.get(local_swarm.nodes[0].container)
    process = _invoke("scenario", "udp-loss", "--engine", "swarm", "--count", "2000",
                      "--place", f"client={other_node}", "--place", f"server={manager_node}")
    paused = False
    try:
        seen = _wait_for_line(process, "udp-client running", 120)
        node_container.pause()
        paused = True
        rest, _ = process.communicate(timeout=120)
        output = "".join(seen) + rest
        print(output)
    finally:
        process.kill()
        if paused:
            node_container.unpause()
    assert process.returncode == 3, output
    assert f"swarm node {other_node} stopped answering" in output
    run_id = re.search(r"run (\w+): ", output).group(1)
    _wait_until_ready(manager, other_node)
    done = subprocess.run([sys.executable, "-m", "invoke", "clean", "--engine", "swarm", "--run", run_id],
                          cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    from lab.engines.swarm_engine import SwarmEngine

    fresh = SwarmEngine.connect()
    try:
        assert fresh.count_labelled(session=session) == (0, 0)
    finally:
        fresh.swarm.close()


def _wait_until_ready(manager, hostname: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for node in manager.client.nodes.list():
            if node.attrs["Description"]["Hostname"] == hostname and node.attrs["Status"]["State"] == "ready":
                return
        time.sleep(0.5)
    raise AssertionError(f"{hostname} not ready again within {timeout:.0f} s")
