"""Testinfra looks at the lab's hosts while a scenario runs (``docker://<name>`` hosts).

Testinfra reads listening sockets with the container's own ``ss`` and decides with its socket
module (``host.socket(spec).is_listening``'s rules), the way a student would check by hand. Every
look is a ``docker exec``, so a look is made cheap in three ways:

- The apps image is ours: Linux with iproute2's ``ss`` on PATH. Each testinfra host is told so up
  front (the socket module testinfra itself picks for such a host), instead of five round trips of
  detection per host (``uname -s``, os-release, ``uname -m``, ``command -v command``,
  ``command -v ss``). tests/unit/test_probes.py checks that testinfra's own detection picks the same.
- All probes of one moment on one host share one listing: one ``ss --listening`` for every
  listening/not-listening probe, and one ``ss -Htan`` for "no TCP socket of any state" (no-tcp,
  which testinfra has no module for: its local-address column is read here).
- Hosts, and the two listings of a host, are looked at concurrently.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from lab.engine import LabRun
from lab.model import Probe
from lab.record import ProbeObservation

# Docker's embedded DNS resolver listens on this address inside every container: not the lesson's.
DOCKER_DNS = "127.0.0.11"
SS = "ss"                        # on PATH in the apps image (iproute2)
TCP_ANY_STATE = "ss -Htan"       # every TCP socket, listening or not, no header
LISTENING = ("listening", "not-listening")


def testinfra_host(url: str) -> Any:
    """testinfra's host for a lab container, told what it would otherwise detect by exec."""
    import testinfra
    from testinfra.modules.socket import LinuxSocketSS

    class AppsImageSocket(LinuxSocketSS):
        """testinfra's ss-based socket module, as its detection picks it on the apps image."""

        _command = SS

        @classmethod
        def get_module_class(cls, host: Any) -> type:
            return cls

    host = testinfra.get_host(url)
    if "socket" not in vars(host):
        vars(host)["has_command_v"] = True          # functools.cached_property's slot
        host.socket = AppsImageSocket.get_module(host)
    return host


def look_all(lab: LabRun, probes: Sequence[Probe], after: str | None) -> list[ProbeObservation]:
    """One observation of each probe, right now: one listing per host and kind, concurrently."""
    by_host: dict[str, list[Probe]] = defaultdict(list)
    for probe in probes:
        by_host[probe.host].append(probe)
    if not by_host:
        return []
    urls = {name: f"docker://{lab.container_name(name)}" for name in by_host}
    with ThreadPoolExecutor(max_workers=2 * len(by_host)) as pool:
        listings = {name: _listings(pool, urls[name], group) for name, group in by_host.items()}
        seen = {probe.name: _observe(probe, after, listings[probe.host]) for probe in probes}
    return [seen[probe.name] for probe in probes]


def look(lab: LabRun, probe: Probe, after: str | None) -> ProbeObservation:
    """One observation of one probe, right now."""
    return look_all(lab, [probe], after)[0]


def _listings(pool: ThreadPoolExecutor, url: str, probes: list[Probe]) -> dict[str, Future[Any]]:
    """Start the listings this host's probes need: listening sockets, TCP sockets of any state."""
    host = testinfra_host(url)
    wanted: dict[str, Callable[[], Any]] = {}
    if any(p.expect in LISTENING for p in probes):
        wanted["listening"] = host.socket.get_listening_sockets
    if any(p.expect == "no-tcp" for p in probes):
        wanted["tcp"] = lambda: host.run(TCP_ANY_STATE)
    return {kind: pool.submit(call) for kind, call in wanted.items()}


def _observe(probe: Probe, after: str | None, listings: dict[str, Future[Any]]) -> ProbeObservation:
    try:
        if probe.expect in LISTENING:
            listening = _is_listening(probe.socket, listings["listening"].result())
            detail = f"{probe.socket} {'listening' if listening else 'not listening'}"
            return ProbeObservation(probe.name, after, listening == (probe.expect == "listening"), detail)
        # no-tcp: no TCP socket of any state on the host (no listener, no connection).
        result = listings["tcp"].result()
        if result.rc != 0:
            raise RuntimeError(f"{TCP_ANY_STATE} exited {result.rc}: {result.stderr.strip()[:200]}")
        rows = [line.split() for line in result.stdout.splitlines() if line.strip()]
        sockets = [" ".join(row) for row in rows if not row[3].startswith(f"{DOCKER_DNS}:")]
        return ProbeObservation(probe.name, after, not sockets,
                                f"TCP sockets of any state: {'; '.join(sockets) or 'none'}")
    except Exception as error:  # a look that fails is a failed probe, never a crashed run
        return ProbeObservation(probe.name, after, False, f"testinfra could not look: {error}")


def _is_listening(spec: str, listed: list[str]) -> bool:
    """testinfra's own is_listening rules, over a listing already taken."""
    from testinfra.modules.socket import Socket, parse_socketspec

    sockets = []
    for entry in listed:
        try:
            sockets.append(parse_socketspec(entry))
        except RuntimeError:  # e.g. a link-local address with a scope: not a socket a lesson asks about
            continue

    class Listed(Socket):
        def _iter_sockets(self, listening: bool) -> Any:
            return iter(sockets)

    return bool(Listed(spec).is_listening)
