"""Networks kept warm between the runs of one grade on the Docker engine (Engine.warm_networks).

Every student's run of a scenario asks for the same networks (a bridge, internal, no host address);
making and removing them costs two engine round trips and a bridge per run. Inside a pool a run
*leases* its networks instead: a free one of the same kind (internal, subnet) if there is one, a new
one otherwise. A network is leased to one run at a time and handed back only once the engine shows
that run's containers all removed (DockerEngine.remove_labelled), so the next student's hosts never
meet anything of the previous one's on it: no container, no endpoint, no DNS alias. A run whose
containers could not all be removed gives its networks up for good (they are removed at the end).

Pool networks carry the labels of a run of their own (``pool-<token>``, this process as owner, the
session): ``invoke clean`` and the stale-run sweep find them like any run's; the pool removes them
when the grade ends.
"""
from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)

Kind = tuple[bool, "str | None"]   # (internal, subnet)


@dataclass(frozen=True)
class PoolNetwork:
    id: str
    name: str          # the engine's name: socklab-pool-<token>-<n>
    kind: Kind


class NetworkPool:
    """Free networks by kind, and the networks each live run holds."""

    def __init__(self, create: Callable[[str, Kind], str], remove: Callable[[PoolNetwork], None]) -> None:
        """`create(name, kind)` makes a network and returns its id; `remove` removes one."""
        self.run_id = f"pool-{secrets.token_hex(3)}"
        self._create, self._remove = create, remove
        self._free: dict[Kind, list[PoolNetwork]] = {}
        self._leased: dict[str, list[PoolNetwork]] = {}
        self._retired: list[PoolNetwork] = []   # a host of its run was still on it: never handed on
        self._lock = threading.Lock()
        self._made = 0

    def lease(self, run_id: str, internal: bool, subnet: str | None) -> PoolNetwork:
        kind: Kind = (internal, subnet)
        with self._lock:
            free = self._free.get(kind)
            network = free.pop() if free else None
            if network is None:
                self._made += 1
                name = f"socklab-{self.run_id}-{self._made}"
        if network is None:
            network = PoolNetwork(self._create(name, kind), name, kind)
        with self._lock:
            self._leased.setdefault(run_id, []).append(network)
        return network

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
        """Remove every network of the pool (leased ones too: their runs are over by now)."""
        with self._lock:
            networks = [n for group in self._free.values() for n in group]
            networks += [n for group in self._leased.values() for n in group] + self._retired
            self._free.clear()
            self._leased.clear()
            self._retired.clear()
        for network in networks:
            self._remove_quietly(network)

    def _remove_quietly(self, network: PoolNetwork) -> None:
        try:
            self._remove(network)
        except Exception as error:  # noqa: BLE001 - left for `invoke clean` (it carries the labels)
            log.warning("pool network %s not removed: %s", network.name, error)
