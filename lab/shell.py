"""`invoke shell HOST [--run ID]`: which kept run and which host a user means, or why not.

Pure: the engine lists the runs it has (run id → scenario and host names), this module picks one
or raises BadInput (exit 2) naming what exists, so a typo never opens a shell somewhere else.
"""
from __future__ import annotations

from lab.engines.base import LiveRun
from lab.errors import BadInput


def pick(runs: list[LiveRun], host: str, run_id: str | None) -> tuple[LiveRun, str]:
    """The run and host to open a shell on.

    Without `run_id` the only live run is meant; with none or several, the user is told which
    exist and how to keep one.
    """
    if not runs:
        raise BadInput("no kept lab to open a shell in: start one with "
                       "`invoke scenario NAME --keep`, then `invoke shell HOST`")
    listing = "; ".join(r.describe() for r in runs)
    if run_id is None:
        if len(runs) > 1:
            raise BadInput(f"{len(runs)} labs are running; say which with --run ID: {listing}")
        run = runs[0]
    else:
        matching = [r for r in runs if r.run_id == run_id]
        if not matching:
            raise BadInput(f"--run {run_id}: no such lab running; running: {listing}")
        run = matching[0]
    if host not in run.hosts:
        raise BadInput(f"run {run.run_id} has no host {host!r}; its hosts: {', '.join(run.hosts)}")
    return run, host
