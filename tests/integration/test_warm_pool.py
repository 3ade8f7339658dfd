"""A grade's warm networks and kept lab hosts keep students apart, on the real engine (issue 17).

Inside Engine.warm_networks a run leases its networks from a pool instead of making its own, and
adopts the lab's idle clients a previous run of the same scenario left on them. What must hold
exactly as with a fresh lab per run: two runs at once never meet (each on its own network: one's
host can neither reach nor name the other's); the next run on a handed-on network meets nothing of
the previous one (its container, files, processes, sockets all gone); a kept client is handed on
only idle (no process of the previous run left in it) and answers the next run's new server.
"""
from __future__ import annotations

import textwrap
import time

import pytest

from lab.common import APPS_IMAGE
from lab.engines.base import HostSpec, LabRun
from lab.run.runner import new_run_id

pytestmark = pytest.mark.integration

# What a student's server might leave behind: a file, a process that outlives it, a bound socket.
LEAVE_TRACES = textwrap.dedent("""
    import os, socket, subprocess, time
    open('/tmp/left-behind', 'w').write('x')
    subprocess.Popen(['sleep', '1000'], start_new_session=True)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('', 12000))
    while True:
        data, peer = s.recvfrom(2048); s.sendto(data.upper(), peer)
""")
# Sends to an address and waits for an answer: prints REPLY or NOTHING.
ASK = textwrap.dedent("""
    import socket, sys
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(1.5)
    try:
        s.sendto(b'hello', (sys.argv[1], 12000)); print('REPLY', s.recvfrom(2048)[0])
    except OSError as error:
        print('NOTHING', error)
""")


def host(name: str, program: str, *args: str) -> HostSpec:
    return HostSpec(name=name, image=APPS_IMAGE, command=("python3", "-u", "-c", program, *args),
                    role="service", networks=("lan",))


def idle(name: str) -> HostSpec:
    return HostSpec(name=name, image=APPS_IMAGE, command=("sleep", "infinity"), role="client", networks=("lan",))


def wait_bound(lab, name: str) -> None:
    for _ in range(100):
        if ":12000" in lab.exec(name, ["ss", "-lnu"]).stdout:
            return
        time.sleep(0.1)
    raise AssertionError(f"{name} never bound udp/12000")


def network_ids(engine, lab) -> set[str]:
    networks = engine.client.containers.get(lab.docker_name("server")).attrs["NetworkSettings"]["Networks"]
    return {n["NetworkID"] for n in networks.values()}


def test_the_next_run_on_a_handed_on_network_meets_nothing_of_the_previous_one(engine):
    if engine.name != "docker":
        pytest.skip("the pool is the Docker engine's")
    with engine.warm_networks():
        first = LabRun(engine, new_run_id(), "pool-test")
        with first as lab:
            lab.create_network("lan")
            lab.start(host("server", LEAVE_TRACES))
            wait_bound(lab, "server")
            old_address = lab.address("server", "lan")
            old_network = network_ids(engine, lab)
            old_container = lab.docker_name("server")
            assert "left-behind" in lab.exec("server", ["ls", "/tmp"]).stdout
        second = LabRun(engine, new_run_id(), "pool-test")
        with second as lab:
            lab.create_network("lan")
            lab.start_all([host("server", "import time; time.sleep(600)"), idle("client")])
            assert network_ids(engine, lab) == old_network, "the pool handed the network on"
            members = engine.client.networks.get(next(iter(old_network))).attrs["Containers"] or {}
            assert sorted(m["Name"] for m in members.values()) == sorted(
                [lab.docker_name("server"), lab.docker_name("client")]), "only this run's hosts on it"
            assert not engine.client.containers.list(all=True, filters={"name": old_container})
            assert "left-behind" not in lab.exec("server", ["ls", "/tmp"]).stdout
            processes = lab.exec("server", ["ps", "-eo", "args"]).stdout
            assert "sleep 1000" not in processes
            assert ":12000" not in lab.exec("server", ["ss", "-lnu"]).stdout
            # The server's address is fixed on a pool network (kept clients' host tables stay true):
            # the old server's address is the new one's, and the new server does not answer.
            assert lab.address("server", "lan") == old_address
            asked = lab.exec("client", ["python3", "-c", ASK, old_address]).stdout
            assert asked.startswith("NOTHING"), asked
    assert engine.count_labelled(first.run_id) == (0, 0) and engine.count_labelled(second.run_id) == (0, 0)
    assert not any(engine.client.networks.list(filters={"id": i}) for i in old_network), "the pool removed it"


def test_two_runs_at_once_on_the_pool_cannot_reach_or_name_each_other(engine):
    if engine.name != "docker":
        pytest.skip("the pool is the Docker engine's")
    with engine.warm_networks():
        with LabRun(engine, new_run_id(), "pool-test") as one, LabRun(engine, new_run_id(), "pool-test") as other:
            for lab in (one, other):
                lab.create_network("lan")
                lab.start_all([host("server", LEAVE_TRACES), idle("client")])
            for lab in (one, other):
                wait_bound(lab, "server")
            assert network_ids(engine, one) != network_ids(engine, other)
            own = other.exec("client", ["python3", "-c", ASK, other.address("server", "lan")]).stdout
            assert own.startswith("REPLY"), own   # the probe works: its own lab answers
            foreign = other.exec("client", ["python3", "-c", ASK, one.address("server", "lan")]).stdout
            assert foreign.startswith("NOTHING"), foreign
            named = other.exec("client", ["getent", "hosts", one.docker_name("server")])
            assert named.rc != 0 and not named.stdout.strip(), named
            # The alias `server` names its own lab's server only.
            assert other.exec("client", ["getent", "hosts", "server"]).stdout.split()[0] == other.address("server", "lan")


def server(name: str = "server") -> HostSpec:
    return host(name, LEAVE_TRACES)


def kept_client(table: dict[str, str]) -> HostSpec:
    return HostSpec(name="client", image=APPS_IMAGE, command=("sleep", "infinity"), role="client",
                    networks=("lan",), extra_hosts=table, keep_warm=True)


def one_run(engine, scenario: str = "kept-test", client_work: str | None = None) -> dict:
    """A run as a grade makes it: a fresh server (the student's), then a kept client that asks it
    by name; returns what it saw."""
    seen: dict[str, str] = {}
    with LabRun(engine, new_run_id(), scenario) as lab:
        lab.create_network("lan")
        lab.start(server())
        wait_bound(lab, "server")
        seen["server_address"] = lab.address("server", "lan")
        seen["server_container"] = lab.docker_name("server")
        lab.start(kept_client({"server": seen["server_address"]}))
        client = engine.client.containers.get(lab._container("client").id)
        seen["client_id"], seen["client_labels_run"] = client.id, client.labels["io.socklab.run"]
        seen["client_processes"] = [args for _pid, args in client.top(ps_args="-o pid,args")["Processes"]]
        seen["asked"] = lab.exec_background("client", ["python3", "-c", ASK, "server"]).result(10).stdout
        if client_work:   # still running when the run ends: the client may not be handed on
            lab.exec_background("client", ["sh", "-c", client_work])
            time.sleep(0.3)
    return seen


def test_a_kept_client_is_handed_on_idle_and_answers_the_next_runs_new_server(engine):
    if engine.name != "docker":
        pytest.skip("kept hosts are the Docker engine's")
    with engine.warm_networks():
        first = one_run(engine)
        second = one_run(engine)
        pool_run = second["client_labels_run"]
        assert first["asked"].startswith("REPLY") and second["asked"].startswith("REPLY"), (first, second)
        assert second["client_id"] == first["client_id"], "the second run adopted the kept client"
        assert second["server_address"] == first["server_address"], "the server's address is fixed"
        assert not engine.client.containers.list(all=True, filters={"name": first["server_container"]})
        # Only the kept client's own init and its agent (its command) are left in it when handed on.
        processes = second["client_processes"]
        assert len(processes) == 2 and all(p.endswith("/opt/socklab/programs/client_agent.py") for p in processes), \
            processes   # docker-init and the agent it started
        assert pool_run.startswith("pool-") and engine.count_labelled(pool_run)[0] == 1
    assert engine.count_labelled(pool_run) == (0, 0), "the grade's end removed the kept client and the network"


def test_a_kept_client_still_busy_or_touched_when_its_run_ends_is_removed_not_handed_on(engine):
    if engine.name != "docker":
        pytest.skip("kept hosts are the Docker engine's")
    with engine.warm_networks():
        busy = one_run(engine, client_work="sleep 30")
        after_busy = one_run(engine)
        assert after_busy["client_id"] != busy["client_id"]
        assert not engine.client.containers.list(all=True, filters={"id": busy["client_id"]}), "removed"
        with LabRun(engine, new_run_id(), "kept-test") as lab:   # a look inside (an exec): touched
            lab.create_network("lan")
            lab.start(server())
            lab.start(kept_client({"server": lab.address("server", "lan")}))
            touched = lab._container("client").id
            assert touched == after_busy["client_id"]
            lab.exec("client", ["true"])
        assert one_run(engine)["client_id"] != touched
        assert not engine.client.containers.list(all=True, filters={"id": touched})


CLIENT = "/opt/socklab/programs/udp_client.py"


def test_a_kept_clients_agent_runs_a_lab_client_as_an_exec_would(engine):
    """The agent forks the lab's client program instead of the engine exec'ing it: the same exit
    status, output and errors, and anything that is not a lab client program still goes by exec."""
    if engine.name != "docker":
        pytest.skip("kept hosts are the Docker engine's")
    from lab.engines import docker_engine

    with engine.warm_networks(), LabRun(engine, new_run_id(), "kept-test") as lab:
        lab.create_network("lan")
        lab.start(server())
        wait_bound(lab, "server")
        address = lab.address("server", "lan")
        lab.start(kept_client({"server": address}))
        assert lab._container("client").id in docker_engine._agents, "the kept client runs the agent"
        other = HostSpec(name="plain", image=APPS_IMAGE, command=("sleep", "infinity"), role="client",
                         networks=("lan",), extra_hosts={"server": address})
        lab.start(other)
        for argv in ([CLIENT, "--help"], [CLIENT, "--no-such-option"],
                     [CLIENT, "--host", "server", "--message", "hi", "--timeout", "2", "--name", "x"],
                     [CLIENT, "--host", "nowhere.invalid", "--timeout", "0.2", "--name", "x"]):
            by_agent = lab.exec_background("client", ["python3", *argv]).result(20)
            by_exec = lab.exec_background("plain", ["python3", *argv]).result(20)
            assert by_agent.rc == by_exec.rc, (argv, by_agent, by_exec)
            assert strip_times(by_agent.stdout) == strip_times(by_exec.stdout), argv
            assert by_agent.stderr == by_exec.stderr, argv
        assert "LEFT" in lab.exec_background("client", ["sh", "-c", "echo LEFT"]).result(20).stdout   # by exec


def strip_times(events: str) -> str:
    """The events without what differs between any two runs (times, round trips, ports)."""
    import json

    kept = []
    for line in events.splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            kept.append(line)
            continue
        kept.append(json.dumps({k: v for k, v in event.items()
                                if k not in ("t", "rtt_ms", "local", "waited_ms", "runnable_ms")}, sort_keys=True))
    return "\n".join(kept)
