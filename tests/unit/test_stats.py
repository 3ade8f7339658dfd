import random

import pytest

from lab.stats import binomial_interval, percentile, summary_ms


def test_percentile_interpolates():
    assert percentile([10, 20, 30, 40, 50], 50) == 30
    assert percentile([1, 2], 50) == 1.5
    with pytest.raises(ValueError):
        percentile([], 50)


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
