"""Parse impairment values the way users type them: ``50ms``, ``20%``, ``1mbit``.

The units follow tc(8), because the netem backend hands these values to tc and a user who knows
tc should never be surprised. Where tc is ambiguous we are stricter, and say so:

Durations (returned in milliseconds, float)
    ``s``/``sec``/``secs``, ``ms``/``msec``/``msecs``, ``us``/``usec``/``usecs``,
    ``ns``/``nsec``/``nsecs``; case-insensitive; a space between number and unit is allowed.
    A bare ``0`` is accepted. Any other bare number is *rejected*: tc reads a bare number as
    microseconds, which nobody typing ``delay 50`` means, so we ask for a unit instead.

Percentages (returned as percent, float, 0..100)
    ``20%``, ``0.5%``. A bare number is a percentage too (``20`` means 20%), as tc reads it;
    numbers from a scenario file (int/float) are read the same way. Values outside 0..100 are
    rejected. A fraction such as ``0.2`` therefore means 0.2%, not 20%.

Rates (returned in bits per second, int)
    Decimal bit units ``bit``, ``kbit``, ``mbit``, ``gbit``, ``tbit``; binary ``kibit``,
    ``mibit``, ``gibit``, ``tibit``; and *byte* units as tc understands them: ``bps`` is bytes per
    second, so ``1mbps`` is 1 MB/s = 8 000 000 bit/s (``kbps``, ``mbps``, ``gbps``, ``tbps``,
    ``kibps``, ``mibps``, ``gibps``, ``tibps``). Case-insensitive, as in tc. A bare number is bits
    per second, as in tc. The rate must be positive.

Every bad value raises :class:`lab.errors.ImpairmentSpecError` saying what was given and what is
allowed, so the CLI can exit with code 2 before anything is created.

>>> parse_duration_ms("50ms"), parse_duration_ms("0.5s"), parse_duration_ms("200us")
(50.0, 500.0, 0.2)
>>> parse_percent("0.5%"), parse_percent("20")
(0.5, 20.0)
>>> parse_rate_bit("1mbit"), parse_rate_bit("1mbps")
(1000000, 8000000)
"""
from __future__ import annotations

import math
import re

from lab.errors import ImpairmentSpecError

__all__ = [
    "DURATION_UNITS",
    "RATE_UNITS",
    "format_duration",
    "format_percent",
    "format_rate",
    "parse_duration_ms",
    "parse_percent",
    "parse_rate_bit",
]

#: duration unit -> milliseconds
DURATION_UNITS: dict[str, float] = {
    "s": 1000.0, "sec": 1000.0, "secs": 1000.0,
    "ms": 1.0, "msec": 1.0, "msecs": 1.0,
    "us": 1e-3, "usec": 1e-3, "usecs": 1e-3,
    "ns": 1e-6, "nsec": 1e-6, "nsecs": 1e-6,
}

_K, _M, _G, _T = 1e3, 1e6, 1e9, 1e12
_KI, _MI, _GI, _TI = 2.0**10, 2.0**20, 2.0**30, 2.0**40

#: rate unit (lower case) -> bits per second; the same table as tc's get_rate64()
RATE_UNITS: dict[str, float] = {
    "bit": 1.0, "kbit": _K, "mbit": _M, "gbit": _G, "tbit": _T,
    "kibit": _KI, "mibit": _MI, "gibit": _GI, "tibit": _TI,
    "bps": 8.0, "kbps": 8 * _K, "mbps": 8 * _M, "gbps": 8 * _G, "tbps": 8 * _T,
    "kibps": 8 * _KI, "mibps": 8 * _MI, "gibps": 8 * _GI, "tibps": 8 * _TI,
}

_NUMBER_UNIT = re.compile(r"^\s*([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)\s*([A-Za-z%]*)\s*$")


def _split(value: object, what: str, allowed: str) -> tuple[float, str]:
    """Split ``value`` into (number, unit-as-typed); numbers from YAML have no unit."""
    if isinstance(value, bool):  # bool is an int subclass; True is not a delay
        raise ImpairmentSpecError(f"{what}: got {value!r}; expected {allowed}")
    if isinstance(value, (int, float)):
        number, unit = float(value), ""
    elif isinstance(value, str):
        match = _NUMBER_UNIT.match(value)
        if not match:
            raise ImpairmentSpecError(f"{what}: cannot read {value!r}; expected {allowed}")
        number, unit = float(match.group(1)), match.group(2)
    else:
        raise ImpairmentSpecError(
            f"{what}: got {type(value).__name__} {value!r}; expected {allowed}"
        )
    if not math.isfinite(number):
        raise ImpairmentSpecError(f"{what}: {value!r} is not a finite number; expected {allowed}")
    return number, unit


def parse_duration_ms(value: object, what: str = "duration") -> float:
    """Return ``value`` in milliseconds; negative durations are rejected.

    >>> parse_duration_ms("1s"), parse_duration_ms("0"), parse_duration_ms(" 2 MS ")
    (1000.0, 0.0, 2.0)
    """
    allowed = "a number with a unit: ms, s, us, ns (e.g. 50ms, 0.5s)"
    number, unit = _split(value, what, allowed)
    if unit == "":
        if number == 0:
            return 0.0
        raise ImpairmentSpecError(
            f"{what}: {value!r} has no unit; expected {allowed} "
            "(tc would read a bare number as microseconds)"
        )
    scale = DURATION_UNITS.get(unit.lower())
    if scale is None:
        raise ImpairmentSpecError(f"{what}: unknown unit {unit!r} in {value!r}; expected {allowed}")
    if number < 0:
        raise ImpairmentSpecError(f"{what}: {value!r} is negative; a duration must be >= 0")
    return number * scale


def parse_percent(value: object, what: str = "percentage") -> float:
    """Return ``value`` as a percentage in 0..100 (``"20%"`` and ``"20"`` both give 20.0).

    >>> parse_percent("100%"), parse_percent(0)
    (100.0, 0.0)
    """
    allowed = "a percentage from 0% to 100% (e.g. 20% or 0.5%)"
    number, unit = _split(value, what, allowed)
    if unit not in ("", "%"):
        raise ImpairmentSpecError(f"{what}: unknown unit {unit!r} in {value!r}; expected {allowed}")
    if not 0.0 <= number <= 100.0:
        raise ImpairmentSpecError(f"{what}: {value!r} is outside 0%..100%; expected {allowed}")
    return number


def parse_rate_bit(value: object, what: str = "rate") -> int:
    """Return ``value`` in bits per second (tc's units: ``bps`` means *bytes* per second).

    >>> parse_rate_bit("512kbit"), parse_rate_bit("10gbit"), parse_rate_bit("100bit")
    (512000, 10000000000, 100)
    """
    allowed = (
        "a positive rate with a tc unit: bit, kbit, mbit, gbit, tbit (bits/s), kibit..tibit, "
        "or bps, kbps, mbps, gbps, tbps (BYTES/s, as in tc; 1mbps = 8mbit)"
    )
    number, unit = _split(value, what, allowed)
    scale = 1.0 if unit == "" else RATE_UNITS.get(unit.lower())
    if scale is None:
        raise ImpairmentSpecError(f"{what}: unknown unit {unit!r} in {value!r}; expected {allowed}")
    bits = round(number * scale)
    if bits <= 0:
        raise ImpairmentSpecError(f"{what}: {value!r} is not positive; expected {allowed}")
    return bits


def format_duration(ms: float) -> str:
    """Write a duration for tc, exactly and readably: ``50ms``, ``1.5ms``, ``200us``, ``0ms``.

    Microseconds are used below 1 ms so that tc (which stores nanoseconds) gets the exact value.

    >>> format_duration(50), format_duration(0.2), format_duration(1500), format_duration(0)
    ('50ms', '200us', '1500ms', '0ms')
    """
    if ms == 0 or ms >= 1:
        return f"{_trim(ms)}ms"
    return f"{_trim(ms * 1000.0)}us"


def format_percent(pct: float) -> str:
    """Write a percentage for tc: ``20%``, ``0.5%``.

    >>> format_percent(20.0), format_percent(0.5), format_percent(0)
    ('20%', '0.5%', '0%')
    """
    return f"{_trim(pct)}%"


def format_rate(bits: int) -> str:
    """Write a rate for tc in the largest decimal bit unit that holds it exactly.

    >>> format_rate(1_000_000), format_rate(512_000), format_rate(8_000_000), format_rate(1500)
    ('1mbit', '512kbit', '8mbit', '1500bit')
    """
    bits = int(bits)
    for unit, scale in (("tbit", 10**12), ("gbit", 10**9), ("mbit", 10**6), ("kbit", 10**3)):
        if bits >= scale and bits % scale == 0:
            return f"{bits // scale}{unit}"
    return f"{bits}bit"


def _trim(number: float) -> str:
    """Shortest decimal for ``number`` without exponent or trailing zeros."""
    text = f"{number:.6f}".rstrip("0").rstrip(".")
    return text or "0"
