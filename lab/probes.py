"""Testinfra looks at the lab's containers while a scenario runs (``docker://<name>`` hosts).

Testinfra reads listening sockets with the container's own ``ss``, the way a student would check
by hand. One look testinfra has no module for, "no TCP socket of any state" (no-tcp), runs
``ss -Htan`` through testinfra and reads its local-address column here.
"""
from __future__ import annotations

import threading

import testinfra

from lab.engine import LabRun
from lab.model import Probe
from lab.record import ProbeObservation

# Docker's embedded DNS resolver listens on this address inside every container: not the lesson's.
DOCKER_DNS = "127.0.0.11"
_warming: dict[str, threading.Thread] = {}


def warm_up(lab: LabRun, host_name: str) -> threading.Thread:
    """Let testinfra learn the host (OS, where ss is) in the background, before the first look.

    Its first call on a host costs about six ``docker exec`` round trips; done while the run is
    busy elsewhere, the lesson's probes later cost one each.
    """
    def learn() -> None:
        host = testinfra.get_host(f"docker://{lab.container_name(host_name)}")
        try:
            host.socket.get_listening_sockets()
        except Exception:  # a failed warm-up only costs time; the real look reports errors
            pass

    thread = threading.Thread(target=learn, daemon=True)
    _warming[lab.container_name(host_name)] = thread
    thread.start()
    return thread


def look(lab: LabRun, probe: Probe, after: str | None) -> ProbeObservation:
    """One observation of a probe on the probe's host, right now."""
    name = lab.container_name(probe.host)
    warming = _warming.pop(name, None)
    if warming is not None:
        warming.join()
    host = testinfra.get_host(f"docker://{name}")
    if probe.expect in ("listening", "not-listening"):
        listening = host.socket(probe.socket).is_listening
        wanted = probe.expect == "listening"
        detail = f"{probe.socket} {'listening' if listening else 'not listening'}"
        return ProbeObservation(probe.name, after, listening == wanted, detail)
    # no-tcp: no TCP socket of any state on the host's network (no listener, no connection).
    tcp = [s for s in host.socket.get_listening_sockets()
           if s.startswith("tcp") and not s.startswith(f"tcp://{DOCKER_DNS}:")]
    rows = [line.split() for line in host.run("ss -Htan").stdout.splitlines() if line.strip()]
    sockets = [" ".join(row) for row in rows if not row[3].startswith(f"{DOCKER_DNS}:")]
    detail = f"tcp listeners {tcp or 'none'}; other tcp sockets: {sockets or 'none'}"
    return ProbeObservation(probe.name, after, not tcp and not sockets, detail)
