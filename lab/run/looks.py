"""Testinfra looks at the lab's hosts while a scenario runs (the engine gives each host's URL).

Testinfra reads the sockets with the container's own ``ss`` and decides with its socket module
(its ss parser and ``host.socket(spec).is_listening``'s rules), the way a student would check by
hand. Every look is an exec in a container, so a look is made cheap in four ways:

- On the Docker engine a look goes over the lab's own API connection to a shell kept open in the
  host (testinfra's ``docker-api://`` backend, lab.engines.docker_testinfra), opened while the run
  waits for its services: no docker CLI, no runc exec per look.

- The apps image is ours: Linux with iproute2's ``ss`` on PATH. Each testinfra host is told so up
  front (the socket module testinfra itself picks for such a host), instead of five round trips of
  detection per host (``uname -s``, os-release, ``uname -m``, ``command -v command``,
  ``command -v ss``). tests/unit/test_probes.py checks that testinfra's own detection picks the same.
- All probes of one moment on one host share one listing, ``ss --numeric --all --tcp --udp``:
  testinfra's parser reads the listening sockets from it for listening/not-listening probes, and
  "no TCP socket of any state" (no-tcp, which testinfra has no module for) reads its TCP rows.
- Hosts are looked at concurrently.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from lab.engines.base import Lab
from lab.scenario.model import Probe
from lab.run.record import BoundSocket, ProbeObservation

SS = "ss"                                  # on PATH in the apps image (iproute2)
EVERY_SOCKET = f"{SS} --numeric --all --tcp --udp"   # any state, with the Netid column
LISTENING = ("listening", "not-listening")


def _socket_module() -> type:
    from testinfra.modules.socket import LinuxSocketSS

    class AppsImageSocket(LinuxSocketSS):
        """testinfra's ss-based socket module, as its detection picks it on the apps image."""

        _command = SS

        @classmethod
        def get_module_class(cls, host: Any) -> type:
            return cls

    return AppsImageSocket


def testinfra_host(url: str) -> Any:
    """testinfra's host for a lab container, told what it would otherwise detect by exec."""
    import testinfra

    host = testinfra.get_host(url)
    if "socket" not in vars(host):
        vars(host)["has_command_v"] = True          # functools.cached_property's slot
        host.socket = _socket_module().get_module(host)
    return host


@dataclass(frozen=True)
class Listing:
    """One host's sockets at one moment, from one ``ss`` run."""

    listening: list[tuple[Any, ...]]   # as testinfra's parser yields them: (protocol, host, port)
    tcp_rows: list[str]                # every TCP socket in any state, the engine's own left out


def take_listing(host: Any, engine_addresses: Sequence[str] = ()) -> Listing:
    """One exec: every TCP/UDP socket; testinfra's own parser picks the listening ones. TCP
    sockets on `engine_addresses` (the engine's DNS resolver, Lab.engine_addresses) are left out."""
    result = host.run(EVERY_SOCKET)
    if result.rc != 0:
        raise RuntimeError(f"{EVERY_SOCKET} exited {result.rc}: {result.stderr.strip()[:200]}")

    class Taken(host.socket):  # type: ignore[misc,name-defined]
        """testinfra's socket module reading this listing instead of running ss again."""

        @classmethod
        def run(cls, *args: Any, **kwargs: Any) -> Any:
            return result

    listening = list(Taken(None)._iter_sockets(True))
    rows = [line.split() for line in result.stdout.splitlines()[1:] if line.strip()]
    tcp = [" ".join(row[1:]) for row in rows
           if row[0] == "tcp" and row[4].rpartition(":")[0] not in engine_addresses]
    return Listing(listening, tcp)


def bound_sockets(listing: Listing, engine_addresses: Sequence[str] = ()) -> tuple[BoundSocket, ...]:
    """The listening TCP and bound UDP sockets of a listing, each once; the engine's own (its DNS
    resolver, Lab.engine_addresses) left out: a student never bound those."""
    seen: dict[tuple[str, str, int], None] = {}
    for row in listing.listening:
        if len(row) == 3 and row[0] in ("tcp", "udp") and row[1] not in engine_addresses:
            seen[(str(row[0]), str(row[1]), int(row[2]))] = None
    return tuple(BoundSocket(*key) for key in seen)


def sockets_on(lab: Lab, instance: str) -> tuple[BoundSocket, ...]:
    """What is bound on one container right now (one exec): e.g. a student's server on the wrong port."""
    listing = take_listing(testinfra_host(lab.testinfra_url(instance)), lab.engine_addresses)
    return bound_sockets(listing, lab.engine_addresses)


def look_all(lab: Lab, probes: Sequence[Probe], after: str | None) -> list[ProbeObservation]:
    """One observation of each probe, right now: one listing per host, hosts concurrently."""
    by_host: dict[str, list[Probe]] = defaultdict(list)
    for probe in probes:
        by_host[probe.host].append(probe)
    if not by_host:
        return []
    urls = {name: lab.testinfra_url(name) for name in by_host}
    with ThreadPoolExecutor(max_workers=len(by_host)) as pool:
        listings = {name: pool.submit(lambda url: take_listing(testinfra_host(url), lab.engine_addresses), urls[name])
                    for name in by_host}
        seen = {probe.name: _observe(probe, after, listings[probe.host], lab.engine_addresses) for probe in probes}
    return [seen[probe.name] for probe in probes]


def look(lab: Lab, probe: Probe, after: str | None) -> ProbeObservation:
    """One observation of one probe, right now."""
    return look_all(lab, [probe], after)[0]


def _observe(probe: Probe, after: str | None, pending: Future[Listing],
             engine_addresses: Sequence[str] = ()) -> ProbeObservation:
    try:
        listing = pending.result()
        sockets = bound_sockets(listing, engine_addresses)
        if probe.expect in LISTENING:
            listening = _is_listening(probe.socket, listing.listening)
            detail = f"{probe.socket} {'listening' if listening else 'not listening'}"
            if not listening:
                detail += f" (bound: {'; '.join(s.text() for s in sockets) or 'nothing'})"
            return ProbeObservation(probe.name, after, listening == (probe.expect == "listening"), detail,
                                    sockets)
        # no-tcp: no TCP socket of any state on the host (no listener, no connection).
        return ProbeObservation(probe.name, after, not listing.tcp_rows,
                                f"TCP sockets of any state: {'; '.join(listing.tcp_rows) or 'none'}", sockets)
    except Exception as error:  # a look that fails is a failed probe, never a crashed run
        return ProbeObservation(probe.name, after, False, f"testinfra could not look: {error}")


def _is_listening(spec: str, listed: list[tuple[Any, ...]]) -> bool:
    """testinfra's own is_listening rules, over a listing already taken."""
    from testinfra.modules.socket import Socket

    class Listed(Socket):
        def _iter_sockets(self, listening: bool) -> Any:
            return iter(listed)

    return bool(Listed(spec).is_listening)
