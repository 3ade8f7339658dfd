"""What a grade keeps warm between its runs on one engine (Engine.warm_networks): networks, and on
the Docker engine the lab's own idle client hosts on them.

Every student's run of a scenario asks for the same networks (a bridge, internal, no host address)
and the same lab clients (idle containers the run execs its reference clients in); making and
removing them per run costs engine round trips and container starts that are the same for every
student. Inside a pool a run *leases* its networks instead: a free one made for the same scenario
and logical network if there is one, a new one otherwise. A network is leased to one run at a time
and handed back only once the engine shows that run's containers all removed
(DockerEngine.remove_labelled), so the next student's hosts never meet anything of the previous
one's on it: no container, no endpoint, no DNS alias. A run whose containers could not all be
removed gives its networks up for good (they are removed at the end).

**Kept hosts.** A host the runner marks ``keep_warm`` (a lab client: idle, untouched by anything
but the execs of the lab's own reference programs, never impaired, captured or looked at) may stay
on its network after the run, idle, for the next run of the same scenario on that network to adopt
(its *signature*, the whole host spec, must match). It is handed on only when every exec of the
run in it had ended and nothing else touched it; otherwise it is removed. A student's program never
runs in a kept host: what a student's program touches is made fresh for every run.

**Fixed addresses.** A kept client's host table is fixed when it is created (read-only root file
system), so the hosts made fresh per run on a pool network get fixed addresses there: the same host
name gets the same address (and, on the Docker engine, the MAC derived from it) in every run on that
network, and the host table stays true. That is why a pool network's subnet is configured
explicitly (the engine allows a fixed address only there).

Pool networks and kept hosts carry the labels of a run of their own (``pool-<token>``, this process
as owner, the session): ``invoke clean`` and the stale-run sweep find them like any run's; the pool
removes them when the grade ends.
"""
from __future__ import annotations

import ipaddress
import logging
import secrets
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

Kind = tuple[bool, "str | None", str]   # (internal, subnet, flavour: scenario/network)
#: fixed addresses are handed out from the top of a pool network's subnet, below its last one
FIRST_FIXED_FROM_TOP = 2


@dataclass(frozen=True)
class PoolNetwork:
    id: str
    name: str          # the engine's name: socklab-pool-<token>-<n>
    kind: Kind
    subnet: str | None = None   # configured explicitly: fixed addresses can be given on it


@dataclass(frozen=True)
class KeptHost:
    """A lab host a run adopted from (or made for) the pool: given back when the run ends."""

    network_id: str
    signature: str
    container: Any     # the engine's handle


class NetworkPool:
    """Free networks by kind, the networks each live run holds, and the idle kept hosts on them."""

    def __init__(self, create: Callable[[str, Kind], "str | tuple[str, str | None]"],
                 remove: Callable[[PoolNetwork], None],
                 remove_host: Callable[[Any], None] | None = None) -> None:
        """`create(name, kind)` makes a network and returns its id (or id and subnet); `remove`
        removes one; `remove_host` removes a kept host (engines that keep hosts)."""
        self.run_id = f"pool-{secrets.token_hex(3)}"
        self._create, self._remove, self._remove_host = create, remove, remove_host
        self._free: dict[Kind, list[PoolNetwork]] = {}
        self._leased: dict[str, list[PoolNetwork]] = {}
        self._retired: list[PoolNetwork] = []   # a host of its run was still on it: never handed on
        self._idle: dict[str, dict[str, list[Any]]] = {}   # network id -> signature -> idle kept hosts
        self._kept_by_run: dict[str, list[KeptHost]] = {}
        self._addresses: dict[str, dict[str, str]] = {}    # network id -> host name -> fixed address
        self._lock = threading.Lock()
        self._made = 0
        self.kept_made = 0      # kept hosts created (a figure for the benches)
        self.kept_adopted = 0   # runs' hosts that were an idle kept host instead of a new container

    def lease(self, run_id: str, internal: bool, subnet: str | None, flavour: str = "") -> PoolNetwork:
        kind: Kind = (internal, subnet, flavour)
        with self._lock:
            free = self._free.get(kind)
            network = free.pop() if free else None
            if network is None:
                self._made += 1
                name = f"socklab-{self.run_id}-{self._made}"
        if network is None:
            made = self._create(name, kind)
            network_id, made_subnet = made if isinstance(made, tuple) else (made, subnet)
            network = PoolNetwork(network_id, name, kind, made_subnet)
        with self._lock:
            self._leased.setdefault(run_id, []).append(network)
        return network

    # ----- kept hosts -----------------------------------------------------------------------------
    def adopt(self, run_id: str, network: PoolNetwork, signature: str) -> Any | None:
        """An idle kept host of this signature on a network the run holds, now the run's; or None."""
        with self._lock:
            assert network in self._leased.get(run_id, []), "a run adopts only on a network it holds"
            idle = self._idle.get(network.id, {}).get(signature)
            if not idle:
                return None
            container = idle.pop()
            self._kept_by_run.setdefault(run_id, []).append(KeptHost(network.id, signature, container))
            self.kept_adopted += 1
            return container

    def made_for(self, run_id: str, network: PoolNetwork, signature: str, container: Any) -> None:
        """A new keepable host the run made on its network: the pool's from now on."""
        with self._lock:
            self._kept_by_run.setdefault(run_id, []).append(KeptHost(network.id, signature, container))
            self.kept_made += 1

    def hand_back(self, run_id: str, clean: Callable[[Any], bool]) -> list[Any]:
        """The run is over: its kept hosts that `clean` vouches for are idle again (for the next run
        on the network); the others are returned, for the caller to remove at once."""
        with self._lock:
            kept = self._kept_by_run.pop(run_id, [])
        dirty = []
        for host in kept:
            if clean(host.container):
                with self._lock:
                    self._idle.setdefault(host.network_id, {}).setdefault(host.signature, []).append(host.container)
            else:
                dirty.append(host.container)
        return dirty

    def address_for(self, network: PoolNetwork, host: str) -> str | None:
        """The fixed address of `host` on a pool network (the same in every run on it), or None when
        the network's subnet is not configured explicitly (or is too small)."""
        if network.subnet is None:
            return None
        subnet = ipaddress.ip_network(network.subnet, strict=False)
        if subnet.version != 4 or subnet.num_addresses < 64:
            return None
        with self._lock:
            table = self._addresses.setdefault(network.id, {})
            if host not in table:
                table[host] = str(subnet.broadcast_address - FIRST_FIXED_FROM_TOP - len(table))
            return table[host]

    def idle_hosts(self) -> Mapping[str, int]:
        """Network id -> how many kept hosts wait idle on it (for tests and benches)."""
        with self._lock:
            return {n: sum(map(len, by_signature.values())) for n, by_signature in self._idle.items()}

    # ----- handing networks back ------------------------------------------------------------------
    def give_back(self, run_id: str, hosts_gone: bool) -> None:
        """The run is over: its networks are free again when its hosts are all gone; otherwise they
        are retired, removed at the end (by then the run's teardown has removed its stragglers)."""
        with self._lock:
            networks = self._leased.pop(run_id, [])
            for network in networks:
                if hosts_gone:
                    self._free.setdefault(network.kind, []).append(network)
                else:
                    self._retired.append(network)

    def free_count(self) -> int:
        with self._lock:
            return sum(len(v) for v in self._free.values())

    def made(self) -> int:
        return self._made

    def drain(self) -> None:
        """Remove every kept host, then every network of the pool (leased ones too: their runs are
        over by now)."""
        with self._lock:
            hosts = [c for by_signature in self._idle.values() for group in by_signature.values() for c in group]
            hosts += [k.container for group in self._kept_by_run.values() for k in group]
            networks = [n for group in self._free.values() for n in group]
            networks += [n for group in self._leased.values() for n in group] + self._retired
            self._idle.clear()
            self._kept_by_run.clear()
            self._free.clear()
            self._leased.clear()
            self._retired.clear()
        if self._remove_host is not None:
            for container in hosts:
                try:
                    self._remove_host(container)
                except Exception as error:  # noqa: BLE001 - left for `invoke clean` (it carries the labels)
                    log.warning("kept host not removed: %s", error)
        for network in networks:
            self._remove_quietly(network)

    def _remove_quietly(self, network: PoolNetwork) -> None:
        try:
            self._remove(network)
        except Exception as error:  # noqa: BLE001 - left for `invoke clean` (it carries the labels)
            log.warning("pool network %s not removed: %s", network.name, error)


class WarmNetworks:
    """Engine.warm_networks for the engines built on this pool (docker, swarm), written once: an
    engine says how to make its pool (:meth:`_new_pool`); a nested call is served by the outer pool."""

    _pool: NetworkPool | None = None

    def _new_pool(self) -> NetworkPool:
        raise NotImplementedError

    @contextmanager
    def warm_networks(self) -> Iterator[None]:
        """Runs inside lease their networks (and, where the engine keeps hosts, adopt the lab's
        idle clients) from one pool; everything the pool made is removed on the way out."""
        if self._pool is not None:   # already inside one: the outer pool serves
            yield
            return
        pool = self._new_pool()
        self._pool = pool
        try:
            yield
        finally:
            self._pool = None
            pool.drain()
