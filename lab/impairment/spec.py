"""What impairment to put on one interface of one host: a typed, validated value.

:func:`parse_impairment` takes the values as users write them (scenario file or CLI override:
``delay=50ms jitter=10ms loss=20%``) and returns an :class:`Impairment` or raises
:class:`lab.errors.ImpairmentSpecError` naming what is wrong and what is allowed. The dataclass
checks itself too (``__post_init__``), so an ``Impairment`` built in code is as safe as a parsed one.
Everything here happens before any container exists: lab.scenario.plan parses every impairment while
planning, so a bad value exits 2 with nothing created.
"""
from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lab.errors import ImpairmentSpecError
from lab.impairment.units import (
    format_duration,
    format_percent,
    format_rate,
    parse_duration_ms,
    parse_percent,
    parse_rate_bit,
)

__all__ = [
    "DIRECTIONS",
    "DISTRIBUTIONS",
    "FIELDS",
    "Impairment",
    "parse_impairment",
]

DIRECTIONS = ("egress", "ingress", "both")
#: netem's delay distributions; None (the default) is netem's own: uniform within +-jitter.
DISTRIBUTIONS = ("uniform", "normal", "pareto", "paretonormal")
#: the keys parse_impairment() accepts, in the order they are documented
FIELDS = (
    "interface", "direction", "delay", "jitter", "distribution",
    "loss", "duplicate", "reorder", "corrupt", "rate", "seed",
)
_IFNAME = re.compile(r"^[A-Za-z0-9_.@-]{1,15}$")  # Linux IFNAMSIZ is 16 including the NUL
_SEED_MAX = 2**64 - 1  # netem's seed is a u64


@dataclass(frozen=True)
class Impairment:
    """Impairment of one interface in one direction (or both), in plain units.

    ``delay_ms``/``jitter_ms`` in milliseconds, percentages in 0..100, ``rate_bit`` in bits per
    second (None: no rate limit), ``seed`` (None: unseeded) for reproducible random choices.

    >>> Impairment().is_empty
    True
    >>> Impairment(delay_ms=50, jitter_ms=10, loss_pct=20).describe()
    'eth0 egress: delay 50ms +-10ms, loss 20%'
    """

    interface: str = "eth0"
    direction: str = "egress"
    delay_ms: float = 0.0
    jitter_ms: float = 0.0
    distribution: str | None = None
    loss_pct: float = 0.0
    duplicate_pct: float = 0.0
    reorder_pct: float = 0.0
    corrupt_pct: float = 0.0
    rate_bit: int | None = None
    seed: int | None = None
    # At least one of the first N packets is lost (None: no promise). Set for a student's program
    # under loss, so that the run whose lesson is loss always meets one; the userspace daemon
    # keeps the promise (netem cannot, so a spec with it goes to the userspace backend).
    loss_within: int | None = None

    def __post_init__(self) -> None:
        _check(self)

    @property
    def is_empty(self) -> bool:
        """True when applying this would change nothing about the traffic."""
        return not (
            self.delay_ms or self.jitter_ms or self.loss_pct or self.duplicate_pct
            or self.reorder_pct or self.corrupt_pct or self.rate_bit
        )

    @property
    def egress(self) -> bool:
        return self.direction in ("egress", "both")

    @property
    def ingress(self) -> bool:
        return self.direction in ("ingress", "both")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (field names as in the dataclass); inverse of from_dict()."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Impairment:
        """Rebuild from to_dict() output (validated again)."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ImpairmentSpecError(f"unknown impairment field(s) {unknown}; allowed: {sorted(names)}")
        return cls(**dict(data))

    def describe(self) -> str:
        """One line for logs and reports: ``eth0 egress: delay 50ms +-10ms (normal), loss 20%``."""
        parts: list[str] = []
        if self.delay_ms:
            delay = f"delay {format_duration(self.delay_ms)}"
            if self.jitter_ms:
                delay += f" +-{format_duration(self.jitter_ms)}"
                if self.distribution:
                    delay += f" ({self.distribution})"
            parts.append(delay)
        for name in ("loss", "duplicate", "reorder", "corrupt"):
            pct = getattr(self, f"{name}_pct")
            if pct:
                parts.append(f"{name} {format_percent(pct)}")
        if self.rate_bit:
            parts.append(f"rate {format_rate(self.rate_bit)}")
        if self.seed is not None:
            parts.append(f"seed {self.seed}")
        if self.loss_within is not None and self.loss_pct:
            parts.append(f"at least one of the first {self.loss_within} packets lost")
        return f"{self.interface} {self.direction}: " + (", ".join(parts) or "no impairment")


def _check(spec: Impairment) -> None:
    """Every rule on the values; each message says what was wrong and what is allowed."""
    if not isinstance(spec.interface, str) or not _IFNAME.match(spec.interface):
        raise ImpairmentSpecError(
            f"interface: {spec.interface!r} is not an interface name "
            "(1-15 characters: letters, digits, '_', '.', '-', '@'; e.g. eth0)"
        )
    if spec.direction not in DIRECTIONS:
        raise ImpairmentSpecError(
            f"direction: {spec.direction!r} is not allowed; use one of {', '.join(DIRECTIONS)}"
        )
    _check_number("delay", spec.delay_ms, "a duration >= 0 (e.g. 50ms)")
    _check_number("jitter", spec.jitter_ms, "a duration >= 0 (e.g. 10ms)")
    for name in ("loss", "duplicate", "reorder", "corrupt"):
        value = getattr(spec, f"{name}_pct")
        _check_number(name, value, "a percentage from 0% to 100%")
        if value > 100:
            raise ImpairmentSpecError(f"{name}: {value}% is above 100%; allowed 0%..100%")
    if spec.jitter_ms and not spec.delay_ms:
        raise ImpairmentSpecError(
            f"jitter {format_duration(spec.jitter_ms)} needs a delay: jitter varies the delay "
            "around its mean, so give delay too (e.g. delay=50ms jitter=10ms)"
        )
    if spec.distribution is not None:
        if spec.distribution not in DISTRIBUTIONS:
            raise ImpairmentSpecError(
                f"distribution: {spec.distribution!r} is not known; use one of "
                f"{', '.join(DISTRIBUTIONS)} (or leave it out for netem's default, uniform)"
            )
        if not spec.jitter_ms:
            raise ImpairmentSpecError(
                f"distribution {spec.distribution} needs jitter: it shapes how the delay varies "
                "(e.g. delay=50ms jitter=10ms distribution=normal)"
            )
    if spec.reorder_pct and not spec.delay_ms:
        raise ImpairmentSpecError(
            f"reorder {format_percent(spec.reorder_pct)} needs a delay: reordered packets are the "
            "ones sent without the delay, so give delay too (e.g. delay=10ms reorder=25%)"
        )
    if spec.rate_bit is not None and (
        isinstance(spec.rate_bit, bool) or not isinstance(spec.rate_bit, int) or spec.rate_bit <= 0
    ):
        raise ImpairmentSpecError(f"rate: {spec.rate_bit!r} is not a positive number of bits/s")
    if spec.seed is not None and (
        isinstance(spec.seed, bool) or not isinstance(spec.seed, int) or not 0 <= spec.seed <= _SEED_MAX
    ):
        raise ImpairmentSpecError(f"seed: {spec.seed!r} is not an integer from 0 to 2**64-1")
    if spec.loss_within is not None and (
        isinstance(spec.loss_within, bool) or not isinstance(spec.loss_within, int) or spec.loss_within < 1
    ):
        raise ImpairmentSpecError(f"loss_within: {spec.loss_within!r} is not a number of packets >= 1")


def _check_number(name: str, value: object, allowed: str) -> None:
    if (
        isinstance(value, bool) or not isinstance(value, (int, float))
        or not math.isfinite(value) or value < 0
    ):
        raise ImpairmentSpecError(f"{name}: {value!r} is not allowed; expected {allowed}")


def parse_impairment(fields: Mapping[str, object]) -> Impairment:
    """Build an Impairment from user values keyed by :data:`FIELDS`; None means "not given".

    >>> parse_impairment({"delay": "50ms", "loss": "20%", "direction": "both"}).describe()
    'eth0 both: delay 50ms, loss 20%'
    """
    unknown = sorted(str(key) for key in fields if key not in FIELDS)
    if unknown:
        raise ImpairmentSpecError(
            f"unknown impairment field(s): {', '.join(unknown)}; allowed: {', '.join(FIELDS)}"
        )
    given = {key: value for key, value in fields.items() if value is not None}
    kwargs: dict[str, Any] = {}
    if "interface" in given:
        kwargs["interface"] = str(given["interface"]).strip()
    if "direction" in given:
        kwargs["direction"] = str(given["direction"]).strip().lower()
    if "distribution" in given:
        kwargs["distribution"] = str(given["distribution"]).strip().lower() or None
    if "delay" in given:
        kwargs["delay_ms"] = parse_duration_ms(given["delay"], "delay")
    if "jitter" in given:
        kwargs["jitter_ms"] = parse_duration_ms(given["jitter"], "jitter")
    for name in ("loss", "duplicate", "reorder", "corrupt"):
        if name in given:
            kwargs[f"{name}_pct"] = parse_percent(given[name], name)
    if "rate" in given:
        kwargs["rate_bit"] = parse_rate_bit(given["rate"], "rate")
    if "seed" in given:
        kwargs["seed"] = _parse_seed(given["seed"])
    return Impairment(**kwargs)


def _parse_seed(value: object) -> int:
    text = str(value).strip()
    if isinstance(value, bool) or not re.fullmatch(r"\d+", text) or int(text) > _SEED_MAX:
        raise ImpairmentSpecError(f"seed: {value!r} is not an integer from 0 to 2**64-1")
    return int(text)
