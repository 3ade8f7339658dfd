"""Which impairment backends work in a helper's network namespace, found by trying them.

The probe changes nothing the host can see: it makes its own veth pair ``slprobe0``/``slprobe1``,
tries a netem qdisc (and a netem seed) on it, an iptables statistic rule and an NFQUEUE rule that
match only ``slprobe0``, asks impaird to bind a queue, and deletes all of it (the veth pair goes,
taking its qdisc with it, even when a step fails half-way).
"""
from __future__ import annotations

import logging
from collections.abc import Iterable

from lab.errors import ImpairmentSpecError, ImpairmentUnavailable
from lab.impairment.command import CommandResult, CommandRunner
from lab.impairment.spec import Impairment
from lab.impairment import BACKENDS, CHOICES, ProbeResult, get_backend
from lab.impairment.netem import NETEM_HELP
from lab.impairment.userspace import IMPAIRD

log = logging.getLogger(__name__)

__all__ = ["CHOICES", "ProbeResult", "choose_backend", "probe_backends"]

PROBE_IF, PROBE_PEER = "slprobe0", "slprobe1"
PROBE_QUEUE = "65123"


def probe_backends(runner: CommandRunner, impaird: Iterable[str] = IMPAIRD) -> ProbeResult:
    """Try each mechanism in the runner's namespace; leave nothing behind."""
    details: dict[str, str] = {}
    made = _run(runner, ["ip", "link", "add", PROBE_IF, "type", "veth", "peer", "name", PROBE_PEER])
    if made.rc != 0 and "File exists" not in made.stderr:
        reason = made.stderr.strip() or f"rc {made.rc}"
        text = f"cannot create a probe interface ({reason}); does the helper have NET_ADMIN?"
        details = {k: text for k in ("netem", "netem_seed", "nfqueue", "iptables", "nft")}
        return ProbeResult(False, False, False, False, False, details)
    try:
        netem, netem_seed = _probe_netem(runner, details)
        iptables, nfqueue = _probe_iptables(runner, list(impaird), details)
        nft = _probe_nft(runner, details)
    finally:
        _run(runner, ["ip", "link", "del", PROBE_IF])
    result = ProbeResult(netem, netem_seed, nfqueue, iptables, nft, details)
    log.info("impairment probe: %s", result)
    return result


def _run(runner: CommandRunner, argv: list[str]) -> CommandResult:
    try:
        return runner.run(argv)
    except Exception as exc:  # noqa: BLE001 - a probe step that cannot run is a "no"
        log.debug("probe step %s raised %s", argv, exc)
        return CommandResult(127, "", str(exc))


def _probe_netem(runner: CommandRunner, details: dict[str, str]) -> tuple[bool, bool]:
    added = _run(runner, ["tc", "qdisc", "add", "dev", PROBE_IF, "root", "netem", "delay", "1ms"])
    if added.rc != 0:
        details["netem"] = f"no: {added.stderr.strip()} -- {NETEM_HELP}"
        details["netem_seed"] = "no: no netem"
        return False, False
    details["netem"] = "yes: tc netem works (the reference backend)"
    seeded = _run(runner, ["tc", "qdisc", "replace", "dev", PROBE_IF, "root", "netem",
                           "loss", "1%", "seed", "1"])
    shown = _run(runner, ["tc", "qdisc", "show", "dev", PROBE_IF]) if seeded.rc == 0 else seeded
    netem_seed = seeded.rc == 0 and " seed 1" in f" {shown.stdout}"
    details["netem_seed"] = (
        "yes: netem takes a seed" if netem_seed else
        "no: netem here cannot be seeded (needs Linux >= 6.7 and iproute2 >= 6.7); a seeded "
        "impairment uses the userspace backend"
    )
    _run(runner, ["tc", "qdisc", "del", "dev", PROBE_IF, "root"])
    return True, netem_seed


def _probe_iptables(runner: CommandRunner, impaird: list[str],
                    details: dict[str, str]) -> tuple[bool, bool]:
    statistic = ["POSTROUTING", "-o", PROBE_IF, "-m", "statistic", "--mode", "random",
                 "--probability", "0.5", "-j", "DROP"]
    iptables = _try_rule(runner, statistic)
    details["iptables"] = ("yes: iptables (mangle, statistic) works" if iptables else
                           "no: iptables cannot add a statistic rule; the userspace backend "
                           "cannot run (install iptables in the tools image, give NET_ADMIN)")
    queue = ["POSTROUTING", "-o", PROBE_IF, "-j", "NFQUEUE", "--queue-num", PROBE_QUEUE,
             "--queue-bypass"]
    rule = iptables and _try_rule(runner, queue)
    bound = _run(runner, [*impaird, "--probe", "--queue", PROBE_QUEUE]) if rule else None
    nfqueue = bool(rule and bound is not None and bound.rc == 0)
    if nfqueue:
        details["nfqueue"] = "yes: impaird can bind an NFQUEUE (the userspace backend works)"
    elif not rule:
        details["nfqueue"] = "no: iptables has no NFQUEUE target here (kernel without xt_NFQUEUE)"
    else:
        assert bound is not None
        details["nfqueue"] = (f"no: impaird cannot bind an NFQUEUE "
                              f"({(bound.stdout + bound.stderr).strip()})")
    return iptables, nfqueue


def _try_rule(runner: CommandRunner, rule: list[str]) -> bool:
    added = _run(runner, ["iptables", "-w", "-t", "mangle", "-A", *rule])
    if added.rc != 0:
        return False
    _run(runner, ["iptables", "-w", "-t", "mangle", "-D", *rule])
    return True


def _probe_nft(runner: CommandRunner, details: dict[str, str]) -> bool:
    added = _run(runner, ["nft", "add", "table", "inet", "slprobe"])
    if added.rc != 0:
        details["nft"] = f"no: {added.stderr.strip() or 'nft missing'} (informational; not needed)"
        return False
    _run(runner, ["nft", "delete", "table", "inet", "slprobe"])
    details["nft"] = "yes: nft works (informational; impaird uses iptables)"
    return True


def choose_backend(requested: str, probe: ProbeResult,
                   specs: Iterable[Impairment] = ()) -> str:
    """The backend to use: ``requested`` if it can run, or for "auto" the first of the registry
    (lab.impairment.BACKENDS, in order of preference) that says it can.

    Each backend judges itself (``unavailable``): netem takes a seed only on Linux/iproute2 >= 6.7,
    so with a seed "auto" passes on to userspace, and a forced netem is refused rather than run
    unseeded.
    """
    if requested not in CHOICES:
        raise ImpairmentSpecError(
            f"impairment backend {requested!r} is not known; use one of {', '.join(CHOICES)}"
        )
    specs = list(specs)
    candidates = list(BACKENDS) if requested == "auto" else [requested]
    reasons: list[str] = []
    for name in candidates:
        reason = get_backend(name).unavailable(probe, specs)
        if reason is None:
            return name
        reasons.append(f"{name}: {reason}")
    if requested != "auto":
        raise ImpairmentUnavailable(f"--impair-backend {requested}: {reasons[0].partition(': ')[2]}")
    raise ImpairmentUnavailable("no impairment backend works here: " + "; ".join(reasons))
