"""One registry of impairment backends: the choices, the plan's check and the choice derive from it."""
from __future__ import annotations

import pytest

from lab import impairment

from lab.scenario import plan
from lab.errors import ImpairmentUnavailable
from lab.impairment import probe
from lab.impairment.probe import ProbeResult, choose_backend
from lab.impairment.spec import Impairment


def kernel(netem: bool = True, nfqueue: bool = True) -> ProbeResult:
    return ProbeResult(netem, False, nfqueue, True, True, {"nfqueue": "no: no NFQUEUE target"})


class Perfect:
    """A backend a test registers in one line: it can run anything anywhere."""

    name = "perfect"

    def check(self, spec: Impairment) -> None:
        pass

    def unavailable(self, probe: ProbeResult, specs) -> str | None:
        return None


def test_every_list_of_backends_is_the_registry():
    assert impairment.CHOICES == ("auto", *impairment.BACKENDS)
    assert plan.IMPAIR_BACKENDS is impairment.CHOICES and probe.CHOICES is impairment.CHOICES


def test_adding_a_backend_is_one_line_and_auto_takes_the_first_that_can_run(monkeypatch):
    monkeypatch.setattr(impairment, "BACKENDS", {"perfect": f"{__name__}:Perfect", **impairment.BACKENDS})
    monkeypatch.setattr(probe, "BACKENDS", impairment.BACKENDS)
    assert choose_backend("auto", kernel(netem=False, nfqueue=False)) == "perfect"


def test_auto_walks_the_preference_order_and_says_why_each_backend_cannot():
    assert choose_backend("auto", kernel()) == "netem"
    assert choose_backend("auto", kernel(netem=False)) == "userspace"
    pareto = Impairment(delay_ms=50, jitter_ms=5, distribution="pareto")
    with pytest.raises(ImpairmentUnavailable) as refused:
        choose_backend("auto", kernel(netem=False), [pareto])
    text = str(refused.value)
    assert text.startswith("no impairment backend works here: netem: this kernel has no sch_netem")
    assert "userspace: the userspace impairment backend draws jitter" in text
