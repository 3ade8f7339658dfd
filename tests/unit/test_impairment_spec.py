"""Impairment specs (lab/impairment/spec.py): every bad input rejected before anything exists."""
from __future__ import annotations

import pytest

from lab.errors import ImpairmentSpecError
from lab.impairment.spec import FIELDS, Impairment, parse_impairment


def test_full_parse() -> None:
    spec = parse_impairment({
        "interface": "eth1", "direction": "both", "delay": "50ms", "jitter": "10ms",
        "distribution": "normal", "loss": "20%", "duplicate": "1%", "reorder": "5%",
        "corrupt": "0.5%", "rate": "1mbit", "seed": "42",
    })
    assert spec == Impairment(
        interface="eth1", direction="both", delay_ms=50.0, jitter_ms=10.0, distribution="normal",
        loss_pct=20.0, duplicate_pct=1.0, reorder_pct=5.0, corrupt_pct=0.5, rate_bit=1_000_000,
        seed=42,
    )
    assert spec.egress and spec.ingress and not spec.is_empty


def test_defaults_and_empty() -> None:
    spec = parse_impairment({})
    assert spec == Impairment()
    assert spec.interface == "eth0" and spec.direction == "egress" and spec.is_empty
    assert parse_impairment({"loss": None, "delay": None}).is_empty  # None means "not given"
    assert parse_impairment({"seed": 3}).is_empty  # a seed alone changes nothing


@pytest.mark.parametrize(
    "fields", [{"delay": "1ms"}, {"loss": "1%"}, {"duplicate": "1%"}, {"corrupt": "1%"},
               {"rate": "1mbit"}, {"delay": "1ms", "reorder": "1%"}],
)
def test_not_empty(fields: dict[str, str]) -> None:
    assert not parse_impairment(fields).is_empty


def test_case_and_space_tolerated() -> None:
    spec = parse_impairment({"direction": " Ingress ", "distribution": "Normal", "delay": "5ms",
                             "jitter": "1ms"})
    assert spec.direction == "ingress" and spec.distribution == "normal"


@pytest.mark.parametrize(
    ("fields", "fragments"),
    [
        ({"loss": "120%"}, ["loss", "120%", "0%..100%"]),
        ({"duplicate": "-1%"}, ["duplicate", "0%..100%"]),
        ({"reorder": "101", "delay": "5ms"}, ["reorder", "0%..100%"]),
        ({"corrupt": "200%"}, ["corrupt"]),
        ({"delay": "-5ms"}, ["delay", "negative"]),
        ({"jitter": "10ms"}, ["jitter", "needs a delay"]),
        ({"reorder": "25%"}, ["reorder", "needs a delay"]),
        ({"delay": "5ms", "jitter": "1ms", "distribution": "gaussian"},
         ["gaussian", "normal", "pareto", "paretonormal", "uniform"]),
        ({"delay": "5ms", "distribution": "normal"}, ["distribution normal needs jitter"]),
        ({"direction": "sideways"}, ["sideways", "egress", "ingress", "both"]),
        ({"lag": "5ms"}, ["unknown impairment field", "lag", "delay", "loss", "rate", "seed"]),
        ({"interface": "eth0; reboot"}, ["interface", "not an interface name"]),
        ({"interface": "x" * 16}, ["interface"]),
        ({"seed": "-1"}, ["seed"]),
        ({"seed": "abc"}, ["seed"]),
        ({"seed": str(2**64)}, ["seed"]),
        ({"rate": "0bit"}, ["rate", "not positive"]),
        ({"delay": "50"}, ["delay", "no unit"]),
    ],
)
def test_rejected_with_clear_message(fields: dict[str, object], fragments: list[str]) -> None:
    with pytest.raises(ImpairmentSpecError) as info:
        parse_impairment(fields)
    for fragment in fragments:
        assert fragment in str(info.value)


def test_dataclass_checks_itself() -> None:
    with pytest.raises(ImpairmentSpecError, match="loss"):
        Impairment(loss_pct=150)
    with pytest.raises(ImpairmentSpecError, match="needs a delay"):
        Impairment(jitter_ms=5)
    with pytest.raises(ImpairmentSpecError, match="rate"):
        Impairment(rate_bit=-1)
    with pytest.raises(ImpairmentSpecError, match="delay"):
        Impairment(delay_ms=float("nan"))


def test_round_trip_dict() -> None:
    spec = parse_impairment({"delay": "20ms", "loss": "3%", "seed": 7, "direction": "ingress"})
    assert Impairment.from_dict(spec.to_dict()) == spec
    with pytest.raises(ImpairmentSpecError, match="unknown"):
        Impairment.from_dict({"bogus": 1})


def test_describe() -> None:
    spec = parse_impairment({"delay": "50ms", "jitter": "10ms", "distribution": "normal",
                             "loss": "20%", "rate": "1mbit", "seed": 1})
    assert spec.describe() == "eth0 egress: delay 50ms +-10ms (normal), loss 20%, rate 1mbit, seed 1"
    assert Impairment().describe() == "eth0 egress: no impairment"


def test_fields_documented() -> None:
    assert set(FIELDS) == {"delay", "jitter", "distribution", "loss", "duplicate", "reorder",
                           "corrupt", "rate", "direction", "interface", "seed"}
