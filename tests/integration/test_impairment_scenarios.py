"""Impairment scenarios on the real engine with real impairments (userspace here; netem where the
kernel has it), plus the errors a user meets: bad values (exit 2) and an unavailable backend (exit 3).
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from lab import app
from lab.report.document import result_document

from lab import catalog
from lab.scenario.plan import build_plan
from lab.scenario_run import run_scenario

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "tests/contracts/result.schema.json").read_text())

pytestmark = pytest.mark.integration


def run(engine, name: str, overrides: dict, **options):
    plan = build_plan(catalog.load(name), overrides, **options)
    outcome = run_scenario(engine, plan, progress=lambda message: None)
    document = result_document(outcome)
    jsonschema.validate(document, SCHEMA)
    assert outcome.passed, [c for c in outcome.checks if not c.passed]
    return outcome, document


@pytest.fixture(scope="module")
def kernel(engine, built_images):
    return app.probe_kernel(engine)


def invoke(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "invoke", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=600)


def test_udp_loss_userspace_and_seed_reproducibility(engine, built_images, no_leftovers):
    _, first = run(engine, "udp-loss", {"count": "300"}, impair_backend="userspace", seed=11)
    _, second = run(engine, "udp-loss", {"count": "300"}, impair_backend="userspace", seed=11)
    assert first["impairment_backend"] == "userspace"
    assert first["metrics"]["lost_seqs"], "20% loss over 300 datagrams lost nothing"
    assert first["metrics"]["lost_seqs"] == second["metrics"]["lost_seqs"]
    assert first["parameters"]["seed"] == 11
    # What the daemon dropped is exactly what the client found missing (egress loss, one link).
    counted = first["impairment_counters"]["client eth0"]
    assert counted["dropped"] == len(first["metrics"]["lost_seqs"]) and counted["seen"] == 300


def test_udp_delay_with_jitter_userspace(engine, built_images, no_leftovers):
    outcome, document = run(engine, "udp-delay", {"delay": "50ms", "jitter": "10ms", "count": "60"},
                            impair_backend="userspace")
    rtt = document["metrics"]["rtt_ms"]
    assert 45 < rtt["p50"] < 56 and rtt["max"] - rtt["min"] > 8


def test_tcp_loss_userspace(engine, built_images, no_leftovers):
    # Seeded: the UDP contrast's loss check is statistical; a seed makes this test deterministic.
    _, document = run(engine, "tcp-loss", {"payload": "524288"}, impair_backend="userspace", seed=5)
    hosts = document["metrics"]["hosts"]
    assert hosts["client"]["retrans_segs"] > 0 and hosts["client"]["transfer"]["intact"]
    assert hosts["udp-client"]["loss_rate"] > 0


def test_auto_picks_what_the_probe_found(engine, built_images, kernel, no_leftovers):
    # Unseeded (a seed steers auto to userspace), so only the choice is asserted, not the statistics.
    plan = build_plan(catalog.load("udp-loss"), {"count": "50"})
    outcome = run_scenario(engine, plan, progress=lambda message: None)
    assert outcome.record.impairment_backend == ("netem" if kernel.netem else "userspace")


def test_netem_backend_on_the_real_engine(engine, built_images, kernel, no_leftovers):
    if not kernel.netem:
        pytest.skip("this kernel has no sch_netem; tests/test_netem_vm.py exercises netem in a VM")
    _, document = run(engine, "udp-loss", {"count": "300"}, impair_backend="netem")
    assert document["impairment_backend"] == "netem"
    run(engine, "udp-delay", {"delay": "50ms"}, impair_backend="netem")


def test_forced_netem_without_sch_netem_exits_3_with_what_to_do(engine, built_images, kernel, no_leftovers):
    if kernel.netem:
        pytest.skip("this kernel has sch_netem, so forcing netem works")
    result = invoke("scenario", "udp-loss", "--impair-backend", "netem", "--count", "10")
    assert result.returncode == 3, result.stdout + result.stderr
    assert "sch_netem" in result.stderr and "userspace" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("args, fragment", [
    (["--loss", "150%"], "loss"),
    (["--loss", "20 percent"], "loss"),
    (["--delay", "-5ms"], "delay"),
    (["--delay", "5parsecs"], "delay"),
    (["--count", "0"], "--count 0"),
])
def test_bad_impairment_values_exit_2_and_create_nothing(engine, no_leftovers, args, fragment):
    name = "udp-delay" if "--delay" in args else "udp-loss"
    result = invoke("scenario", name, *args)
    assert result.returncode == 2, result.stdout + result.stderr
    assert fragment in result.stderr and "Traceback" not in result.stderr


def test_an_impairment_that_vanishes_mid_run_fails_the_run(engine, built_images, no_leftovers):
    """Kill the userspace daemon while the client runs: the re-verification must fail the run."""
    import threading
    import time

    import docker.errors

    run_id = "vanish" + str(int(time.time()) % 10000)
    helper = f"socklab-{run_id}-client-helper"

    def kill_daemon_once_the_client_runs() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                container = engine.client.containers.get(f"socklab-{run_id}-client")
                if "udp_client" in container.exec_run(["ps", "-eo", "args"]).output.decode():
                    engine.client.containers.get(helper).exec_run(["pkill", "-9", "-f", "impaird"], user="root")
                    return
            except docker.errors.NotFound:
                pass
            time.sleep(0.2)

    killer = threading.Thread(target=kill_daemon_once_the_client_runs, daemon=True)
    killer.start()
    plan = build_plan(catalog.load("udp-delay"), {"delay": "50ms", "count": "60"},
                      impair_backend="userspace")
    outcome = run_scenario(engine, plan, progress=lambda message: None, run_id=run_id)
    killer.join(5)
    verdicts = {c.name: c for c in outcome.checks}
    lost = verdicts["impairments stayed in force through the run"]
    assert not lost.passed and "client eth0" in lost.detail, lost
    assert not outcome.passed
