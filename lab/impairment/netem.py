"""The reference backend: ``tc qdisc ... netem`` inside the host's own network namespace.

Pure command building (no process is started here), so tests assert the exact argv and another
runner (a qemu VM, a netns) can execute the same commands.

Egress is a root netem qdisc on the interface. Ingress goes through an IFB device, because a qdisc
only shapes what a device *sends*: an ``ingress`` qdisc on the interface redirects every arriving
packet (u32 ``match u32 0 0``, the classifier every kernel has; matchall is missing on some) to
``ifb-<if>``, whose root netem delays it as if it were leaving.

Idempotence, as containerlab does it: ``replace`` (applying twice is safe) and every field written
on every apply (``loss 0%`` included), so a later apply resets what an earlier one set. The one
thing netem keeps across ``replace`` when it is not given is the delay distribution table, and tc
ships no table for "uniform" (netem's built-in default); so when the spec wants that default with
jitter, the root qdisc is deleted first (unchecked) so that no earlier ``normal`` table survives.

Seed: ``seed N`` exists in netem from Linux 6.7 with iproute2 6.7 (it seeds netem's PRNG used for
loss, duplication, corruption, reordering and jitter). iproute2 6.1 (Debian 12) answers
``What is "seed"?``. The command is emitted when the spec has a seed; :mod:`lab.impairment.probe`
detects whether tc knows it and :func:`~lab.impairment.probe.choose_backend` refuses a forced
netem backend with a seed it cannot honour (auto falls back to the userspace backend).
"""
from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import TYPE_CHECKING

from lab.errors import ImpairmentNotInForce, ImpairmentSpecError, LabError
from lab.impairment.command import Command, CommandResult
from lab.impairment.spec import Impairment

if TYPE_CHECKING:
    from lab.impairment import ProbeResult
from lab.impairment.units import (
    format_duration,
    format_percent,
    format_rate,
    parse_duration_ms,
    parse_percent,
    parse_rate_bit,
)

__all__ = ["NETEM_HELP", "NetemBackend", "ifb_name", "parse_netem_show"]

NETEM_HELP = (
    "this kernel has no sch_netem. Load it with `modprobe sch_netem` on the Docker host, or "
    "install the kernel's extra modules (on Ubuntu: `apt install linux-modules-extra-$(uname -r)`), "
    "or use --impair-backend userspace (`invoke doctor` says what fits your platform)"
)

INGRESS_HANDLE = "ffff:"
#: u32 filter handle of the first node of the default hash table: fixed so `replace` is idempotent
U32_HANDLE = "800::800"
#: distributions tc ships a table for (uniform is netem's built-in default, not a table)
_TABLE_DISTRIBUTIONS = ("normal", "pareto", "paretonormal")


def ifb_name(interface: str) -> str:
    """The IFB device that carries ``interface``'s ingress: ``ifb-eth0`` (<= 15 characters).

    >>> ifb_name("eth0"), ifb_name("a-very-long-if")
    ('ifb-eth0', 'ifb-073c2969')
    """
    name = f"ifb-{interface}"
    if len(name) <= 15:
        return name
    return f"ifb-{zlib.crc32(interface.encode()):08x}"


class NetemBackend:
    """tc netem commands for an :class:`Impairment` (see the module docstring)."""

    name = "netem"

    def check(self, spec: Impairment) -> None:
        """Raise if netem cannot express ``spec``: a table distribution it lacks, or a promised loss."""
        if spec.loss_within is not None and spec.loss_pct:
            raise ImpairmentSpecError(
                f"netem cannot promise that one of the first {spec.loss_within} packets is lost "
                "(its random choices are its own); use --impair-backend userspace (auto does)")
        if spec.distribution not in (None, "uniform", *_TABLE_DISTRIBUTIONS):
            raise ImpairmentSpecError(f"netem has no distribution {spec.distribution!r}")

    def unavailable(self, probe: ProbeResult, specs: Sequence[Impairment]) -> str | None:
        """No sch_netem, a seed this netem cannot take, or a spec it cannot express."""
        if not probe.netem:
            return NETEM_HELP
        if any(spec.seed is not None for spec in specs) and not probe.netem_seed:
            return ("this netem cannot take a seed (needs Linux >= 6.7 and iproute2 >= 6.7); drop "
                    "the seed or use --impair-backend userspace")
        return _refusal(self, specs)

    def devices(self, spec: Impairment) -> list[str]:
        """The devices whose root netem qdisc carries the impairment."""
        devices = []
        if spec.egress:
            devices.append(spec.interface)
        if spec.ingress:
            devices.append(ifb_name(spec.interface))
        return devices

    def netem_args(self, spec: Impairment) -> list[str]:
        """Every netem option for ``spec``, zero values included, in tc's order."""
        args = ["delay", format_duration(spec.delay_ms), format_duration(spec.jitter_ms)]
        if spec.jitter_ms and spec.distribution in _TABLE_DISTRIBUTIONS:
            args += ["distribution", str(spec.distribution)]
        args += ["loss", format_percent(spec.loss_pct)]
        args += ["duplicate", format_percent(spec.duplicate_pct)]
        args += ["reorder", format_percent(spec.reorder_pct)]
        args += ["corrupt", format_percent(spec.corrupt_pct)]
        args += ["rate", format_rate(spec.rate_bit) if spec.rate_bit else "0bit"]
        if spec.seed is not None:
            args += ["seed", str(spec.seed)]
        return args

    def apply_commands(self, spec: Impairment) -> list[Command]:
        """Commands that put ``spec`` in force; all checked, safe to run again."""
        self.check(spec)
        commands: list[Command] = []
        if spec.ingress:
            commands += self._ifb_commands(spec.interface)
        for device in self.devices(spec):
            if spec.jitter_ms and spec.distribution not in _TABLE_DISTRIBUTIONS:
                commands.append(Command(["tc", "qdisc", "del", "dev", device, "root"], check=False))
            commands.append(
                Command(["tc", "qdisc", "replace", "dev", device, "root", "netem", *self.netem_args(spec)])
            )
        return commands

    @staticmethod
    def _ifb_commands(interface: str) -> list[Command]:
        ifb = ifb_name(interface)
        return [
            Command(["ip", "link", "add", ifb, "type", "ifb"], tolerate=("File exists",)),
            Command(["ip", "link", "set", ifb, "up"]),
            Command(["tc", "qdisc", "replace", "dev", interface, "handle", INGRESS_HANDLE, "ingress"]),
            Command([
                "tc", "filter", "replace", "dev", interface, "parent", INGRESS_HANDLE,
                "protocol", "all", "prio", "1", "handle", U32_HANDLE,
                "u32", "match", "u32", "0", "0",
                "action", "mirred", "egress", "redirect", "dev", ifb,
            ]),
        ]

    def clear_commands(self, spec: Impairment) -> list[Command]:
        """Commands that remove what apply_commands() created.

        All are ``check=False``: "nothing to clear" (``Cannot delete qdisc with handle of zero``,
        ``Invalid handle``, ``Cannot find device``) is the normal answer on a clean interface,
        and the runner logs and ignores any failure here.
        """
        commands: list[Command] = []
        if spec.egress:
            commands.append(Command(["tc", "qdisc", "del", "dev", spec.interface, "root"], check=False))
        if spec.ingress:
            commands += [
                Command(["tc", "qdisc", "del", "dev", spec.interface, "handle", INGRESS_HANDLE, "ingress"],
                        check=False),
                Command(["ip", "link", "del", ifb_name(spec.interface)], check=False),
            ]
        return commands

    def verify_commands(self, spec: Impairment) -> list[Command]:
        """Read-only commands whose results verify() needs, in the order it expects them."""
        commands = [Command(["tc", "qdisc", "show", "dev", device]) for device in self.devices(spec)]
        if spec.ingress:
            commands.append(
                Command(["tc", "filter", "show", "dev", spec.interface, "parent", INGRESS_HANDLE])
            )
        return commands

    def verify(self, spec: Impairment, results: Sequence[CommandResult]) -> None:
        """Raise ImpairmentNotInForce unless the kernel reports exactly ``spec`` in force."""
        devices = self.devices(spec)
        expected = len(devices) + (1 if spec.ingress else 0)
        if len(results) != expected:
            raise ImpairmentNotInForce(
                f"verify needs {expected} results (one per verify command), got {len(results)}"
            )
        for device, result in zip(devices, results):
            if result.rc != 0:
                raise ImpairmentNotInForce(
                    f"`tc qdisc show dev {device}` failed (rc {result.rc}): {result.stderr.strip()}"
                )
            seen = parse_netem_show(result.stdout)
            if seen is None:
                raise ImpairmentNotInForce(
                    f"no root netem qdisc on {device} ({spec.describe()}); tc shows:\n"
                    f"{result.stdout.strip() or '(nothing)'}"
                )
            problems = _compare(spec, seen)
            if problems:
                raise ImpairmentNotInForce(
                    f"netem on {device} differs from {spec.describe()}: " + "; ".join(problems)
                )
        if spec.ingress:
            _verify_redirect(spec.interface, results[-1])


def _verify_redirect(interface: str, result: CommandResult) -> None:
    ifb = ifb_name(interface)
    if result.rc != 0 or f"to device {ifb})" not in result.stdout:
        raise ImpairmentNotInForce(
            f"ingress of {interface} is not redirected to {ifb}; tc filter shows:\n"
            f"{(result.stdout or result.stderr).strip() or '(nothing)'}"
        )


_KEYWORDS = {
    "limit", "delay", "distribution", "loss", "duplicate", "reorder", "corrupt", "rate",
    "seed", "gap", "ecn", "slot", "jitter", "refcnt",
}


def parse_netem_show(text: str) -> dict[str, list[str]] | None:
    """Options of the root netem qdisc in ``tc qdisc show`` output, as keyword -> value tokens.

    >>> parse_netem_show("qdisc netem 8001: root refcnt 2 limit 1000 delay 50ms  10ms loss 20%")
    {'refcnt': ['2'], 'limit': ['1000'], 'delay': ['50ms', '10ms'], 'loss': ['20%']}
    >>> parse_netem_show("qdisc noqueue 0: root refcnt 2") is None
    True
    """
    for line in text.splitlines():
        tokens = line.split()
        if len(tokens) < 4 or tokens[:2] != ["qdisc", "netem"] or "root" not in tokens:
            continue
        options: dict[str, list[str]] = {}
        current: list[str] | None = None
        for token in tokens[tokens.index("root") + 1:]:
            if token in _KEYWORDS:
                current = options.setdefault(token, [])
            elif current is not None:
                current.append(token)
        return options
    return None


def _compare(spec: Impairment, seen: dict[str, list[str]]) -> list[str]:
    """Differences between ``spec`` and parsed tc output; tc omits fields that are zero."""
    problems: list[str] = []
    delay = seen.get("delay", [])
    _close(problems, "delay", spec.delay_ms, _ms(delay, 0), rel=0.01, abs_=0.001)
    _close(problems, "jitter", spec.jitter_ms, _ms(delay, 1), rel=0.01, abs_=0.001)
    for name in ("loss", "duplicate", "reorder", "corrupt"):
        values = [v for v in seen.get(name, []) if v != "random"]
        got = parse_percent(values[0]) if values else 0.0
        _close(problems, name, getattr(spec, f"{name}_pct"), got, rel=0.0, abs_=0.01)
    rate = seen.get("rate", [])
    _close(problems, "rate", float(spec.rate_bit or 0), float(parse_rate_bit(rate[0])) if rate else 0.0,
           rel=0.01, abs_=8.0)
    if spec.seed is not None and seen.get("seed", [None])[0] != str(spec.seed):
        problems.append(f"seed: want {spec.seed}, tc shows {seen.get('seed')}")
    return problems


def _ms(tokens: list[str], index: int) -> float:
    """Duration token ``index`` of a delay clause (tc prints correlations as ``25%``)."""
    times = [t for t in tokens if not t.endswith("%")]
    return parse_duration_ms(times[index]) if len(times) > index else 0.0


def _close(problems: list[str], name: str, want: float, got: float, *, rel: float, abs_: float) -> None:
    if abs(want - got) > max(abs_, rel * abs(want)):
        problems.append(f"{name}: want {want:g}, tc shows {got:g}")




def _refusal(backend: NetemBackend, specs: Sequence[Impairment]) -> str | None:
    """The first spec the backend's own check refuses, as its reason (None: it takes them all)."""
    for spec in specs:
        try:
            backend.check(spec)
        except LabError as error:
            return str(error)
    return None
