"""The userspace backend: for kernels without sch_netem, an NFQUEUE daemon in the helper.

The helper container (tools image, sharing the host's network namespace, NET_ADMIN + NET_RAW)
carries ``/opt/socklab/impaird.py``, a pure-stdlib daemon (images/tools/impaird.py). This module
only builds the commands that start, check and stop it; the daemon does the rest:

* ``impaird.py start --queue N --spec JSON`` forks the daemon, which binds NFQUEUE N, installs its
  own iptables chain ``SOCKLAB-N`` (mangle POSTROUTING -o IF for egress, PREROUTING -i IF for
  ingress) and only then lets ``start`` exit 0. So the command is a plain checked command
  (waited for): a failure (no NFQUEUE, no iptables) is an error at apply time, not later.
  Starting again replaces the running daemon, so applying twice is safe.
* ``impaird.py status --queue N`` prints JSON (alive, rules present, mode, counters); verify()
  reads it.
* ``impaird.py stop --queue N`` stops it (SIGTERM, then SIGKILL) and removes any rule left behind.

What decides loss (the one field with two mechanisms):
    ingress loss alone without a seed -> an iptables ``statistic --mode random`` DROP rule (mode
    "kernel": nothing held in userspace). Everything else -> the daemon decides each packet with
    seeded RNGs (mode "queue"). Egress loss never uses a kernel DROP: netfilter reports such a
    drop to the local sender as ``sendto() -> EPERM``, which a real lossy link never does.

What it can do: delay, jitter (uniform or normal), loss, duplicate, reorder, corrupt (one bit past
the IP header, so the transport checksum sees it), rate, in either or both directions, seedable.
What it cannot: pareto/paretonormal jitter (refused, never approximated) and anything but IPv4
(IPv6 and ARP pass unimpaired, whereas netem delays every frame).
"""
from __future__ import annotations

import json
import zlib
from collections.abc import Sequence
from typing import TYPE_CHECKING

from lab.errors import ImpairmentNotInForce, ImpairmentUnavailable, LabError
from lab.impairment.command import Command, CommandResult
from lab.impairment.spec import Impairment

if TYPE_CHECKING:
    from lab.impairment import ProbeResult

__all__ = ["IMPAIRD", "UserspaceBackend", "queue_for", "uses_kernel_loss"]

#: how to run the daemon inside the tools image (images/tools/Dockerfile copies it there)
IMPAIRD = ("python3", "/opt/socklab/impaird.py")
SUPPORTED_DISTRIBUTIONS = (None, "uniform", "normal")


def queue_for(interface: str) -> int:
    """The NFQUEUE number (and chain SOCKLAB-<n>) for an interface: stable, so that clear and
    verify find the daemon that apply started without keeping any state.

    >>> queue_for("eth0") == queue_for("eth0") != queue_for("eth1")
    True
    """
    return 1000 + zlib.crc32(interface.encode()) % 60000


def uses_kernel_loss(spec: Impairment) -> bool:
    """True when the daemon will use an iptables DROP rule instead of its queue (mode "kernel").

    Mirrors ``Spec.kernel_loss`` in impaird.py (a unit test keeps the two in step).
    """
    return spec.seed is None and spec.direction == "ingress" and not (
        spec.delay_ms or spec.jitter_ms or spec.duplicate_pct or spec.reorder_pct
        or spec.corrupt_pct or spec.rate_bit
    )


class UserspaceBackend:
    """Commands that run impaird in the helper container (see the module docstring)."""

    name = "userspace"

    def __init__(self, impaird: Sequence[str] = IMPAIRD) -> None:
        self.impaird = list(impaird)

    def check(self, spec: Impairment) -> None:
        """Refuse what the daemon cannot do, before anything runs."""
        if spec.distribution not in SUPPORTED_DISTRIBUTIONS:
            raise ImpairmentUnavailable(
                f"the userspace impairment backend draws jitter from a uniform or normal "
                f"distribution only, not {spec.distribution}; use distribution=normal (or leave "
                "it out), or a kernel with sch_netem (--impair-backend netem)"
            )

    def unavailable(self, probe: ProbeResult, specs: Sequence[Impairment]) -> str | None:
        """No NFQUEUE for the daemon (unless every spec is an ingress loss the kernel can drop
        alone with iptables), or a spec the daemon cannot do."""
        kernel_only = probe.iptables and bool(specs) and all(uses_kernel_loss(spec) for spec in specs)
        if not (probe.nfqueue or kernel_only):
            return probe.details.get("nfqueue", "no NFQUEUE")
        for spec in specs:
            try:
                self.check(spec)
            except LabError as error:
                return str(error)
        return None

    def mode(self, spec: Impairment) -> str:
        return "kernel" if uses_kernel_loss(spec) else "queue"

    def apply_commands(self, spec: Impairment) -> list[Command]:
        self.check(spec)
        payload = json.dumps(spec.to_dict(), sort_keys=True, separators=(",", ":"))
        return [Command([*self.impaird, "start", "--queue", str(queue_for(spec.interface)),
                         "--spec", payload])]

    def clear_commands(self, spec: Impairment) -> list[Command]:
        """Stop the daemon; it removes its rules (stop exits 0 when nothing runs)."""
        return [Command([*self.impaird, "stop", "--queue", str(queue_for(spec.interface))],
                        check=False)]

    def verify_commands(self, spec: Impairment) -> list[Command]:
        """``status`` exits 1 when not in force; unchecked so that verify() explains why."""
        return [Command([*self.impaird, "status", "--queue", str(queue_for(spec.interface))],
                        check=False)]

    def verify(self, spec: Impairment, results: Sequence[CommandResult]) -> None:
        if len(results) != 1:
            raise ImpairmentNotInForce(f"verify needs 1 result (impaird status), got {len(results)}")
        result = results[0]
        try:
            status = json.loads(result.stdout)
        except ValueError:
            raise ImpairmentNotInForce(
                f"impaird status gave no JSON (rc {result.rc}): "
                f"{(result.stderr or result.stdout).strip() or '(nothing)'}"
            ) from None
        where = f"impaird queue {queue_for(spec.interface)} for {spec.describe()}"
        if not status.get("alive"):
            raise ImpairmentNotInForce(f"{where} is not running; its log is "
                                       f"/run/socklab/impaird-{queue_for(spec.interface)}.log")
        if not status.get("rules_present"):
            raise ImpairmentNotInForce(f"{where} runs but its iptables rules are missing")
        if not status.get("in_force", True):
            raise ImpairmentNotInForce(f"{where} is not in force: {status.get('reason') or 'no reason given'}")
        if status.get("mode") != self.mode(spec):
            raise ImpairmentNotInForce(f"{where} runs in mode {status.get('mode')!r}, "
                                       f"expected {self.mode(spec)!r}")
        try:
            running = Impairment.from_dict(status.get("spec") or {})
        except Exception as exc:  # noqa: BLE001 - any unreadable spec means "not ours"
            raise ImpairmentNotInForce(f"{where} reports an unreadable spec: {exc}") from None
        if running != spec:
            raise ImpairmentNotInForce(f"{where} runs a different impairment: {running.describe()}")
