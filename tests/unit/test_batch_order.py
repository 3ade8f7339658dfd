"""`invoke all --jobs N` starts the longest scenarios first (issue 17): the catalogue puts the
runs that wait out lost datagrams last, where they alone would set the batch's wall time."""
from __future__ import annotations

from lab import app, catalog


def test_the_scenarios_that_wait_out_losses_start_first():
    names = list(catalog.available())
    order = app.longest_first(names)
    assert sorted(order) == sorted(names)
    assert set(order[:2]) == {"udp-loss", "udp-delay"}
    assert order.index("tcp-loss") < order.index("tcp-echo")
