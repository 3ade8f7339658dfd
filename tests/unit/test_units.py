"""Units as users type them (lab/impairment/units.py): tc's units, stricter where tc is ambiguous."""
from __future__ import annotations

import pytest

from lab.errors import BadInput, ImpairmentSpecError
from lab.impairment.units import (
    format_duration,
    format_percent,
    format_rate,
    parse_duration_ms,
    parse_percent,
    parse_rate_bit,
)


@pytest.mark.parametrize(
    ("text", "ms"),
    [("50ms", 50.0), ("1s", 1000.0), ("0.5s", 500.0), ("200us", 0.2), ("0", 0.0), (0, 0.0),
     ("2 MS", 2.0), ("1.5msec", 1.5), ("3secs", 3000.0), ("500ns", 0.0005), ("0ms", 0.0)],
)
def test_duration(text: object, ms: float) -> None:
    assert parse_duration_ms(text) == pytest.approx(ms)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [("50", "no unit"), (50, "no unit"), ("50min", "unknown unit 'min'"), ("-5ms", "negative"),
     ("fast", "cannot read"), ("", "cannot read"), (None, "NoneType"), (True, "expected"),
     ("nanms", "cannot read"), (float("inf"), "finite")],
)
def test_duration_rejected(text: object, fragment: str) -> None:
    with pytest.raises(ImpairmentSpecError, match=fragment) as info:
        parse_duration_ms(text, "delay")
    assert "delay" in str(info.value)
    assert isinstance(info.value, BadInput)  # exit code 2, nothing created


def test_duration_error_lists_allowed_units() -> None:
    with pytest.raises(ImpairmentSpecError) as info:
        parse_duration_ms("5h", "delay")
    message = str(info.value)
    assert "'5h'" in message and "ms" in message and "us" in message


@pytest.mark.parametrize(
    ("text", "pct"),
    [("20%", 20.0), ("0.5%", 0.5), ("20", 20.0), (20, 20.0), (0.5, 0.5), ("100%", 100.0),
     ("0%", 0.0), (" 7 % ", 7.0)],
)
def test_percent(text: object, pct: float) -> None:
    assert parse_percent(text) == pytest.approx(pct)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [("101%", "outside 0%..100%"), ("-1%", "outside 0%..100%"), ("20pct", "unknown unit"),
     ("lots", "cannot read"), (150, "outside")],
)
def test_percent_rejected(text: object, fragment: str) -> None:
    with pytest.raises(ImpairmentSpecError, match=fragment):
        parse_percent(text, "loss")


@pytest.mark.parametrize(
    ("text", "bits"),
    [("1mbit", 1_000_000), ("512kbit", 512_000), ("10gbit", 10_000_000_000), ("100bit", 100),
     ("1mbps", 8_000_000), ("1kbps", 8_000), ("1bps", 8), ("1MBit", 1_000_000), ("1kibit", 1024),
     ("1mibps", 8 * 2**20), ("2.5mbit", 2_500_000), ("9600", 9600), (9600, 9600)],
)
def test_rate_follows_tc(text: object, bits: int) -> None:
    assert parse_rate_bit(text) == bits


@pytest.mark.parametrize(
    ("text", "fragment"),
    [("1mb", "unknown unit 'mb'"), ("0mbit", "not positive"), ("-1mbit", "not positive"),
     ("fast", "cannot read")],
)
def test_rate_rejected(text: object, fragment: str) -> None:
    with pytest.raises(ImpairmentSpecError, match=fragment) as info:
        parse_rate_bit(text, "rate")
    assert "bps" in str(info.value)  # says what is allowed, including the bytes caveat


def test_formats_are_exact_and_tc_readable() -> None:
    assert format_duration(50) == "50ms"
    assert format_duration(1.5) == "1.5ms"
    assert format_duration(0.2) == "200us"
    assert format_duration(1000) == "1000ms"
    assert format_percent(0.25) == "0.25%"
    assert format_rate(1_000_000) == "1mbit"
    assert format_rate(10**10) == "10gbit"
    assert format_rate(1_500_000) == "1500kbit"
    assert format_rate(1234) == "1234bit"


@pytest.mark.parametrize("text", ["50ms", "0.2ms", "1.5s", "123us"])
def test_duration_round_trip(text: str) -> None:
    ms = parse_duration_ms(text)
    assert parse_duration_ms(format_duration(ms)) == pytest.approx(ms)


@pytest.mark.parametrize("text", ["1mbit", "1mbps", "512kbit", "1234bit", "1kibit"])
def test_rate_round_trip(text: str) -> None:
    bits = parse_rate_bit(text)
    assert parse_rate_bit(format_rate(bits)) == bits
