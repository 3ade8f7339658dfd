"""Every scenario on the real engine: passes, writes a valid result file, leaves nothing behind."""
from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from lab.report.document import result_document

from lab import catalog
from lab.scenario.plan import build_plan
from lab.scenario_run import run_scenario

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "tests/contracts/result.schema.json").read_text())
ECHO = ["tcp-echo", "udp-echo", "tcp-sequential", "udp-multi-client", "tcp-no-server", "udp-no-server"]

pytestmark = pytest.mark.integration


def run(engine, name: str, overrides: dict | None = None, **options):
    plan = build_plan(catalog.load(name), overrides or {}, **options)
    outcome = run_scenario(engine, plan, progress=lambda message: None)
    document = result_document(outcome)
    jsonschema.validate(document, SCHEMA)
    return outcome, document


@pytest.mark.parametrize("name", ECHO)
def test_echo_scenario_passes(engine, built_images, no_leftovers, name):
    outcome, document = run(engine, name)
    failed = [c for c in outcome.checks if not c.passed]
    assert outcome.passed, failed
    assert document["impairment_backend"] is None


def test_sequential_clients_are_separate_hosts_served_in_order(engine, built_images, no_leftovers):
    outcome, _ = run(engine, "tcp-sequential", {"clients": "4"})
    assert outcome.passed, [c for c in outcome.checks if not c.passed]
    clients = outcome.record.clients
    assert [c.instance for c in clients] == ["client-1", "client-2", "client-3", "client-4"]
    addresses = {c.first("connected")["local"][0] for c in clients}
    assert len(addresses) == 4, "each client must be its own host (own IP address)"
    listening_probes = [p for p in outcome.record.probes if p.probe == "server-listening"]
    assert len(listening_probes) == 5 and all(p.passed for p in listening_probes)


def test_a_failing_check_fails_the_run_and_still_tears_down(engine, built_images, no_leftovers):
    """tcp-echo's topology with the no-server expectation: the check must fail, exit code 1."""
    data = {
        "lesson": "A deliberately wrong expectation.",
        "hosts": [{"name": "server", "program": "tcp-server"},
                  {"name": "client", "program": "tcp-client", "args": ["--host", "server"]}],
        "steps": [{"start": "server"}, {"run": "client"}],
        "checks": [{"check": "tcp_connect_refused"}, {"check": "replies_uppercase"}],
    }
    plan = build_plan(catalog.parse("wrong", data), {})
    outcome = run_scenario(engine, plan, progress=lambda message: None)
    verdicts = {c.name: c.passed for c in outcome.checks}
    assert verdicts == {"TCP connect() is refused at once": False,
                        "replies are the sentence in upper case": True}
    assert not outcome.passed


def test_programs_run_least_privileged_and_only_the_helper_may_change_the_network(engine, built_images, session):
    """Least privilege, read back from Docker itself during a kept run, and tried from inside."""
    from lab.common import LABEL_ROLE, LABEL_RUN
    from lab.engines.base import MEMORY_LIMIT_BYTES, PIDS_LIMIT, WRITABLE_DIRS

    plan = build_plan(catalog.load("udp-loss"), {"count": "5"})
    outcome = run_scenario(engine, plan, progress=lambda message: None, keep=True)
    try:
        containers = engine.client.containers.list(
            all=True, filters={"label": f"{LABEL_RUN}={outcome.record.run_id}"})
        roles = {c.labels[LABEL_ROLE] for c in containers}
        assert roles == {"service", "client", "helper"}
        for container in containers:
            host_config, config = container.attrs["HostConfig"], container.attrs["Config"]
            assert not host_config["PortBindings"] and not host_config["PublishAllPorts"]
            assert not host_config["Privileged"]
            if container.labels[LABEL_ROLE] == "helper":
                assert sorted(host_config["CapAdd"]) == ["NET_ADMIN", "NET_RAW"]
                assert host_config["NetworkMode"].startswith("container:")
                continue
            assert config["User"] == "student" and not host_config["CapAdd"]
            assert host_config["CapDrop"] == ["ALL"]
            assert host_config["SecurityOpt"] == ["no-new-privileges"]
            assert host_config["ReadonlyRootfs"] is True
            assert sorted(host_config["Tmpfs"]) == sorted(WRITABLE_DIRS)
            assert host_config["PidsLimit"] == PIDS_LIMIT and host_config["Memory"] == MEMORY_LIMIT_BYTES
        networks = engine.client.networks.list(filters={"label": f"{LABEL_RUN}={outcome.record.run_id}"})
        assert networks and all(n.attrs["Internal"] for n in networks)
        assert all(n.attrs["Options"].get("com.docker.network.bridge.inhibit_ipv4") == "true" for n in networks)
        gateway = networks[0].attrs["IPAM"]["Config"][0]["Gateway"]

        # From inside an app container: the root file system refuses writes, the tmpfs dirs take
        # them, and there is no way out of the lab: neither an outside address (TEST-NET-1) nor the
        # host behind the bridge's gateway address (it holds no address there) answers.
        client = next(c for c in containers if c.labels[LABEL_ROLE] == "client")
        rc, output = client.exec_run(["sh", "-c", "touch /opt/x; echo rc=$?; touch /tmp/x /home/student/x && echo ok"])
        assert b"Read-only file system" in output and b"rc=1" in output and b"ok" in output, output
        rc, output = client.exec_run(["python3", "-c", OUTSIDE_ATTEMPT, "192.0.2.1", gateway])
        outcomes = dict(line.split() for line in output.decode().splitlines())
        unreachable = {"ENETUNREACH", "EHOSTUNREACH"}   # no route (Docker >= 25) / nobody at the gateway
        assert rc == 0 and set(outcomes) == {"192.0.2.1", gateway} and set(outcomes.values()) <= unreachable, output
        rc, output = client.exec_run(["ip", "route", "show", "default"])
        assert output.strip() in (b"", f"default via {gateway} dev eth0".encode()), output
    finally:
        engine.remove_labelled(outcome.record.run_id)
    assert engine.count_labelled(session=session) == (0, 0)


# Connect to each address given (at once, a thread each) with a short timeout; prints the address
# and the errno's name. "Unreachable" comes from the kernel: with no route at once, with a route to
# an address nobody holds after ARP gives up (about 3 s). A timeout would mean packets went out.
OUTSIDE_ATTEMPT = """
import errno, socket, sys, threading

def attempt(address):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(8)
    try:
        s.connect((address, 80))
        print(address, "CONNECTED")
    except OSError as error:
        print(address, errno.errorcode.get(error.errno, type(error).__name__))

threads = [threading.Thread(target=attempt, args=(a,)) for a in sys.argv[1:]]
for t in threads: t.start()
for t in threads: t.join()
"""


def test_a_run_past_its_timeout_fails_a_check_and_tears_down(engine, built_images, no_leftovers):
    """A client that would wait 30 s in a scenario allowed 3 s: a failed check (exit 1), nothing left."""
    data = {
        "lesson": "A run that cannot finish in time.",
        "timeout_s": 3,
        "hosts": [{"name": "server", "program": "none"},
                  {"name": "client", "program": "udp-client",
                   "args": ["--host", "server", "--timeout", "30"]}],
        "steps": [{"run": "client"}],
        "checks": [{"check": "udp_silent_timeout", "timeout_param": "timeout"}],
        "parameters": {"timeout": {"kind": "float", "default": 30}},
    }
    plan = build_plan(catalog.parse("slow", data), {})
    outcome = run_scenario(engine, plan, progress=lambda message: None)
    assert not outcome.passed and outcome.duration_s < 15
    timeout_check = outcome.checks[0]
    assert timeout_check.name == "run finished within its time limit" and not timeout_check.passed
    assert "client: python3" in timeout_check.detail
