"""The routed lesson without Docker: scenario validation, the helper's commands, the checks."""
import copy
from dataclasses import replace

import pytest

from lab.scenario import routes as routing

from lab import catalog
from lab.run.capture import CaptureFile, Captures
from lab.checks import REGISTRY
from lab.errors import ScenarioFileError
from lab.observe.pcap import Packet
from lab.scenario.plan import build_plan
from lab.run.record import ClientRun, RoutingObservation, RunRecord
from lab.scenario.loader import tomllib

ROUTED = tomllib.loads((catalog.SCENARIOS_DIR / "routed.toml").read_text())
UNDERLAY = {"router": {"net-a": "172.18.0.2", "net-b": "172.19.0.2"}, "client": {"net-a": "172.18.0.3"},
            "server": {"net-b": "172.19.0.3"}}


def load(change=None):
    data = copy.deepcopy(ROUTED)
    if change:
        change(data)
    return catalog.parse("routed", data)


def test_the_routed_scenario_loads_with_its_subnets_routes_and_router():
    scenario = load()
    assert [s.name for s in scenario.subnets] == ["lan-a", "lan-b"]
    assert scenario.host("router").forward and not scenario.host("client").forward
    plan = build_plan(scenario, {})
    assert plan.instance("router").forward and not plan.impaired  # loss/delay unset by default
    assert build_plan(scenario, {"loss": "10%"}).instance("router").impairments[0].interface == "lan-b"


@pytest.mark.parametrize("change, message", [
    (lambda d: d["subnets"][0].update(prefix="10.77.1.0/33"), "prefix"),
    (lambda d: d["subnets"][0]["addresses"].update(client="10.77.2.10"), "not a host address of 10.77.1.0/24"),
    (lambda d: d["subnets"][0]["addresses"].update(server="10.77.1.20"), "server is not on network net-a"),
    (lambda d: d["subnets"][0].update(name="eth1"), "names the interface"),
    (lambda d: d["subnets"][0].update(name="a-very-long-subnet-name"), "names the interface"),
    (lambda d: d["routes"][0].update(via="10.77.2.1"), "no neighbour of client"),
    (lambda d: d["routes"][0].update(host="nobody"), "has an address on no subnet"),
    (lambda d: d["hosts"][0].update(forward="yes"), "forward: true or false"),
    (lambda d: d["steps"].insert(0, {"run": "client"}), "starts in a later step"),
])
def test_bad_subnets_and_routes_are_refused_before_anything_runs(change, message):
    with pytest.raises(ScenarioFileError, match=message):
        load(change)


def test_each_host_gets_one_script_with_its_segments_and_routes():
    script = routing.host_script(load(), "client", UNDERLAY)
    # Docker's default route (engines before v25) goes first: `ip route` shows the lesson's alone.
    assert script.splitlines()[:2] == ["set -e", "ip route del default 2>/dev/null || true"]
    assert script.splitlines()[4:] == [
        'ip link add lan-a type vxlan id 1 local 172.18.0.3 dev "$dev" dstport 4789',
        "bridge fdb append 00:00:00:00:00:00 dev lan-a dst 172.18.0.2",
        "ip address add 10.77.1.10/24 dev lan-a", "ip link set lan-a up",
        "ip route replace 10.77.2.0/24 via 10.77.1.1 dev lan-a"]
    router = routing.host_script(load(), "router", UNDERLAY)
    assert "id 1 local 172.18.0.2" in router and "id 2 local 172.19.0.2" in router
    assert "ip route replace" not in router  # a router needs only its connected subnets


def record(observed=None, client_events=(), server_events=(), captures=None) -> RunRecord:
    plan = build_plan(load(), {})
    return RunRecord(plan, "abc123", {"server": list(server_events)},
                     [ClientRun("client", "client", 0, list(client_events), 0.0, 1.0)],
                     routing=observed, captures=captures)


def observation() -> RoutingObservation:
    scenario = load()
    routes = {h: routing.expected_routes(scenario, h) + ["default via 172.18.0.1 dev eth0"]
              for h in ("router", "server", "client")}
    return RoutingObservation(routes, {"router": "1", "server": "0", "client": "0"}, UNDERLAY)


def test_routes_as_designed_passes_and_a_missing_route_or_router_fails():
    assert REGISTRY["routes_as_designed"](record(observation())).passed
    broken = observation()
    broken.routes["server"] = broken.routes["server"][:1]
    result = REGISTRY["routes_as_designed"](record(broken))
    assert not result.passed and "server lacks ['10.77.1.0/24 via 10.77.2.1 dev lan-b']" in result.detail
    broken = observation()
    broken.forwarding["router"] = "0"
    assert "router does not forward" in REGISTRY["routes_as_designed"](record(broken)).detail


def test_ttl_from_the_programs_events():
    sent = [{"event": "sent", "seq": n, "ttl": 64} for n in (1, 2)]
    arrived = [{"event": "received", "seq": n, "ttl": 63} for n in (1, 2)]
    result = REGISTRY["ttl_one_lower"](record(client_events=sent, server_events=arrived))
    assert result.passed and "2 packet(s), TTL lowered by [1]" in result.detail
    same = [{"event": "received", "seq": n, "ttl": 64} for n in (1, 2)]
    assert not REGISTRY["ttl_one_lower"](record(client_events=sent, server_events=same)).passed
    assert not REGISTRY["ttl_one_lower"](record()).passed  # no TTL seen at all


def test_ttl_from_the_same_packet_in_both_captures():
    def packet(ttl):
        return Packet(0, 1.0, "10.77.1.10", "10.77.2.10", "udp", ttl, 77, 59, 40000, 12000, payload_len=31,
                      payload=b"seq=1 hello")
    files = [CaptureFile("client", "client", "lan-a", "wire", "c.pcap", 1),
             CaptureFile("server", "server", "lan-b", "wire", "s.pcap", 1)]
    captures = Captures(files, {"c.pcap": (packet(64),), "s.pcap": (packet(63),)},
                        {"client": {"lan-a": "10.77.1.10"}, "server": {"lan-b": "10.77.2.10"}})
    result = REGISTRY["ttl_one_lower"](record(captures=captures))
    assert "captures, client to server: 1 packet(s), TTL lowered by [1] (e.g. sent 64, arrived 63)" in result.detail
    assert not result.passed and "captures, server to client: 0 packet(s), TTL lowered by nothing seen" in result.detail
    reply = Packet(1, 1.1, "10.77.2.10", "10.77.1.10", "udp", 64, 78, 59, 12000, 40000, payload_len=31)
    captures.packets = {"c.pcap": (packet(64), replace(reply, ttl=63)), "s.pcap": (packet(63), reply)}
    assert REGISTRY["ttl_one_lower"](record(captures=captures)).passed


def test_the_chart_draws_a_routed_datagram_through_the_router_and_leaves_out_vxlan():
    """One datagram forwarded (TTL 64 -> 63), one dropped at the router; VXLAN carriers are not arrows."""
    from lab.observe.timeline import arrows, missing_exchanges

    def datagram(seq, when, ttl, ip_id):
        return Packet(0, when, "10.77.1.10", "10.77.2.10", "udp", ttl, ip_id, 40, 40000, 12000,
                      payload_len=12, payload=f"seq={seq} hi".encode())

    carrier = Packet(0, 1.0, "172.18.0.3", "172.18.0.2", "udp", 64, 9, 90, 55555, 4789, payload_len=62)
    wire = {
        "client": [carrier, datagram(1, 1.0, 64, 1), datagram(2, 2.0, 64, 2)],
        "router": [datagram(1, 1.001, 64, 1), datagram(1, 1.002, 63, 1), datagram(2, 2.001, 64, 2)],
        "server": [datagram(1, 1.003, 63, 1)],
    }
    files = [CaptureFile(h, h, "any", "wire", f"{h}.pcap", len(p)) for h, p in wire.items()]
    addresses = {"client": {"eth0": "172.18.0.3", "lan-a": "10.77.1.10"},
                 "router": {"eth0": "172.18.0.2", "eth1": "172.19.0.2", "lan-a": "10.77.1.1", "lan-b": "10.77.2.1"},
                 "server": {"eth0": "172.19.0.3", "lan-b": "10.77.2.10"}}
    captures = Captures(files, {f"{h}.pcap": tuple(p) for h, p in wire.items()}, addresses)
    drawn = [(a.sender, a.receiver, a.packet.ttl, a.lost) for a in arrows(captures, record())]
    assert drawn == [("client", "router", 64, False), ("router", "server", 63, False),
                     ("client", "router", 64, False), ("router", "server", 64, True)]
    assert missing_exchanges(arrows(captures, record()), "client") == {2}
