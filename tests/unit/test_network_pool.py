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
