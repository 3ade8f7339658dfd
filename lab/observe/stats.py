"""Small statistics the checks need: percentiles and the binomial interval for loss."""
from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile, q in 0..100: the value at rank ceil(q/100 · n) of the sorted values.

    The same definition the udp client prints in its summary (images/apps/programs/udp_client.py),
    so a report never shows two p50s of the same RTTs; and always one of the measured values, which
    a student can find by sorting them.

    >>> percentile([1, 2, 3, 4], 50)
    2
    >>> percentile([1, 2, 3, 4], 95)
    4
    """
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q / 100 * len(ordered))) - 1]


def summary_ms(values: Sequence[float]) -> dict[str, float] | None:
    """min/p5/p50/p95/max of RTT samples, rounded to 0.01 ms; None without samples."""
    if not values:
        return None
    return {name: round(fn, 2) for name, fn in (
        ("min", min(values)), ("p5", percentile(values, 5)), ("p50", percentile(values, 50)),
        ("p95", percentile(values, 95)), ("max", max(values)))}


def _binomial_pmf(n: int, k: int, p: float) -> float:
    log = (math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)
           + k * math.log(p) + (n - k) * math.log1p(-p))
    return math.exp(log)


def binomial_count_interval(n: int, p: float, confidence: float = 0.99) -> tuple[int, int]:
    """The counts [lo, hi] that Binomial(n, p) falls in with probability >= confidence.

    Exact quantiles (no normal approximation, which is poor at small p), with (1 - confidence)/2
    cut from each tail.

    >>> binomial_count_interval(400, 0.2)
    (60, 101)
    """
    if n <= 0:
        raise ValueError("no trials")
    if p <= 0:
        return 0, 0
    if p >= 1:
        return n, n
    tail = (1 - confidence) / 2
    pmf = [_binomial_pmf(n, k, p) for k in range(n + 1)]
    low, cumulative = 0, 0.0
    while cumulative + pmf[low] <= tail:
        cumulative += pmf[low]
        low += 1
    high, cumulative = n, 0.0
    while cumulative + pmf[high] <= tail:
        cumulative += pmf[high]
        high -= 1
    return low, high


def binomial_interval(n: int, p: float, confidence: float = 0.99) -> tuple[float, float]:
    """The range of loss *rates* that a link dropping with probability p shows over n trials.

    >>> lo, hi = binomial_interval(200, 0.2); round(lo, 3), round(hi, 3)
    (0.13, 0.275)
    """
    low, high = binomial_count_interval(n, p, confidence)
    return low / n, high / n
