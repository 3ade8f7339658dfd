"""A test hook: ``SOCKLAB_PAUSE_AT=<point>[:<seconds>]`` makes a run wait at one point.

The fault tests (tests/integration/test_faults.py) deliver SIGINT/SIGTERM at each point of a run,
or cut the engine off while the run waits, and check what is left. To know the run *is* at that
point, the run logs ``paused at <point>`` (a warning, on stderr) and sleeps there: until a signal
ends the wait, or for `seconds` (default 120) before it carries on. Unset, this costs one
environment lookup per point. Not meant for users.
"""
from __future__ import annotations

import logging
import os
import time

log = logging.getLogger(__name__)

PAUSE_ENV = "SOCKLAB_PAUSE_AT"
#: the points a run passes, in order
POINTS = ("network", "start", "impair", "client", "report")


def pause_point(point: str) -> None:
    """Wait here if $SOCKLAB_PAUSE_AT names this point."""
    wanted, _, seconds = os.environ.get(PAUSE_ENV, "").partition(":")
    if wanted != point:
        return
    log.warning("paused at %s (%s)", point, PAUSE_ENV)
    time.sleep(float(seconds or 120))
