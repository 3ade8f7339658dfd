"""The grade's network pool (lab.engines.docker_network_pool): who may get which network, when."""
from __future__ import annotations

from lab.engines.docker_network_pool import NetworkPool, PoolNetwork


def pool() -> tuple[NetworkPool, list[str], list[str]]:
    made: list[str] = []
    removed: list[str] = []

    def create(name: str, kind: tuple[bool, str | None]) -> str:
        made.append(name)
        return f"id-{name}"

    return NetworkPool(create, lambda n: removed.append(n.name)), made, removed


def test_a_run_gets_a_network_of_its_own_while_it_runs():
    networks, made, _ = pool()
    one = networks.lease("run-a", True, None)
    other = networks.lease("run-b", True, None)
    assert one.id != other.id and len(made) == 2


def test_a_network_is_handed_on_only_when_its_runs_hosts_are_gone():
    networks, made, removed = pool()
    first = networks.lease("run-a", True, None)
    networks.give_back("run-a", hosts_gone=True)
    assert networks.lease("run-b", True, None) == first and len(made) == 1
    networks.give_back("run-b", hosts_gone=False)   # a host could not be removed: never handed on
    assert networks.free_count() == 0 and removed == []
    assert networks.lease("run-c", True, None) != first
    networks.drain()   # retired networks are removed at the end, after their runs' teardown
    assert first.name in removed


def test_only_a_network_of_the_same_kind_is_reused():
    networks, made, _ = pool()
    networks.lease("run-a", True, None)
    networks.give_back("run-a", hosts_gone=True)
    networks.lease("run-b", False, None)
    networks.lease("run-c", True, "10.77.0.0/24")
    assert len(made) == 3


def test_drain_removes_free_and_leased_networks():
    networks, _, removed = pool()
    a = networks.lease("run-a", True, None)
    networks.give_back("run-a", hosts_gone=True)
    b = networks.lease("run-b", False, None)
    networks.drain()
    assert sorted(removed) == sorted([a.name, b.name]) and networks.free_count() == 0
    assert isinstance(a, PoolNetwork) and a.name.startswith(f"socklab-{networks.run_id}-")


def kept_pool() -> tuple[NetworkPool, list[object]]:
    removed: list[object] = []
    networks = NetworkPool(lambda name, kind: (f"id-{name}", "172.30.0.0/16"), lambda n: None, removed.append)
    return networks, removed


def test_a_network_serves_only_the_same_scenarios_network_again():
    networks, _ = kept_pool()
    first = networks.lease("run-a", True, None, "udp-echo/lan")
    networks.give_back("run-a", hosts_gone=True)
    assert networks.lease("run-b", True, None, "tcp-echo/lan") != first
    assert networks.lease("run-c", True, None, "udp-echo/lan") == first


def test_a_kept_host_waits_for_the_next_run_on_its_network_only_when_vouched_clean():
    networks, removed = kept_pool()
    lan = networks.lease("run-a", True, None, "udp-echo/lan")
    assert networks.adopt("run-a", lan, "client-spec") is None   # nothing kept yet: the run makes it
    networks.made_for("run-a", lan, "client-spec", "container-1")
    assert networks.hand_back("run-a", clean=lambda c: True) == []
    networks.give_back("run-a", hosts_gone=True)
    lan_again = networks.lease("run-b", True, None, "udp-echo/lan")
    assert networks.adopt("run-b", lan_again, "another-spec") is None   # the signature must match
    assert networks.adopt("run-b", lan_again, "client-spec") == "container-1"
    assert networks.adopt("run-b", lan_again, "client-spec") is None    # one run at a time
    assert networks.hand_back("run-b", clean=lambda c: False) == ["container-1"]   # touched: removed
    networks.give_back("run-b", hosts_gone=True)
    networks.lease("run-c", True, None, "udp-echo/lan")
    assert networks.adopt("run-c", lan_again, "client-spec") is None
    assert networks.kept_made == 1 and networks.kept_adopted == 1


def test_a_run_adopts_only_on_a_network_it_holds():
    networks, _ = kept_pool()
    lan = networks.lease("run-a", True, None, "udp-echo/lan")
    networks.made_for("run-a", lan, "client-spec", "container-1")
    networks.hand_back("run-a", clean=lambda c: True)
    networks.give_back("run-a", hosts_gone=False)   # retired: its kept hosts go with it at the end
    try:
        networks.adopt("run-b", lan, "client-spec")
    except AssertionError:
        pass
    else:
        raise AssertionError("a run adopted a kept host on a network it does not hold")


def test_fixed_addresses_are_the_same_for_a_name_on_a_network_and_distinct_between_names():
    networks, _ = kept_pool()
    lan = networks.lease("run-a", True, None, "udp-echo/lan")
    server = networks.address_for(lan, "server")
    assert server == "172.30.255.253" and networks.address_for(lan, "server") == server
    assert networks.address_for(lan, "udp-server") == "172.30.255.252"
    unconfigured = NetworkPool(lambda name, kind: f"id-{name}", lambda n: None).lease("run-x", True, None)
    assert NetworkPool(lambda name, kind: "x", lambda n: None).address_for(unconfigured, "server") is None


def test_drain_removes_kept_hosts_before_the_networks():
    order: list[str] = []
    networks = NetworkPool(lambda name, kind: (f"id-{name}", "172.30.0.0/16"),
                           lambda n: order.append(f"network {n.name}"), lambda c: order.append(f"host {c}"))
    lan = networks.lease("run-a", True, None, "udp-echo/lan")
    networks.made_for("run-a", lan, "client-spec", "idle-one")
    networks.hand_back("run-a", clean=lambda c: True)
    networks.give_back("run-a", hosts_gone=True)
    busy = networks.lease("run-b", True, None, "udp-echo/lan")
    networks.made_for("run-b", busy, "client-spec", "busy-one")
    networks.drain()
    assert sorted(order[:2]) == ["host busy-one", "host idle-one"] and order[2].startswith("network ")
