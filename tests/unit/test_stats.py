import importlib.util
import random
import sys
from pathlib import Path

import pytest

from lab.observe.stats import binomial_interval, percentile, summary_ms

PROGRAMS = Path(__file__).resolve().parents[2] / "images" / "apps" / "programs"


def _udp_client():
    sys.path.insert(0, str(PROGRAMS))  # the program imports its sibling events.py
    try:
        spec = importlib.util.spec_from_file_location("udp_client_under_test", PROGRAMS / "udp_client.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(PROGRAMS))
    return module


def test_percentile_is_nearest_rank():
    assert percentile([10, 20, 30, 40, 50], 50) == 30
    assert percentile([1, 2], 50) == 1
    assert percentile([5, 1, 4, 2, 3], 95) == 5 and percentile([5, 1, 4, 2, 3], 5) == 1
    with pytest.raises(ValueError):
        percentile([], 50)


def test_the_lab_and_the_udp_client_agree_on_every_percentile():
    """One definition in one report: the client's own summary and the lab's figures match."""
    client = _udp_client()
    rng = random.Random(3)
    for n in (1, 2, 3, 4, 5, 10, 29, 30, 100, 101):
        rtts = [round(rng.uniform(0.05, 250.0), 3) for _ in range(n)]
        theirs, ours = client.rtt_stats(rtts), summary_ms(rtts)
        for key in ("min", "p50", "p95", "max"):
            assert round(theirs[key], 2) == ours[key], (n, key, theirs, ours)


def test_summary_has_the_contract_fields():
    summary = summary_ms([1.0, 2.0, 3.0])
    assert summary is not None and {"min", "p50", "p95", "max"} <= set(summary)
    assert summary_ms([]) is None


def test_binomial_interval_covers_a_real_binomial_about_99_percent_of_the_time():
    rng = random.Random(7)
    low, high = binomial_interval(200, 0.2)
    inside = sum(low <= sum(rng.random() < 0.2 for _ in range(200)) / 200 <= high for _ in range(2000))
    assert 0.975 <= inside / 2000 <= 1.0
    assert binomial_interval(100, 0) == (0.0, 0.0)
    # A link that loses 30% is far outside the 20% interval.
    assert not low <= 0.30 <= high
