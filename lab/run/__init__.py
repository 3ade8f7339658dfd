"""Layer 4, a run: realise a plan on an engine, run its steps, capture, gather what was seen.

The runner owns a run's lifetime and its teardown; it knows engines through their interface
(lab.engines.base) and hands back a record of what happened, which the layers above judge.
"""
