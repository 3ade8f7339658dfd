"""Reading a run's record the way the lessons' checks do: a parameter in the unit it is meant
in, the runs of a client host (none ran: the check cannot evaluate), and why a client failed.

Shared by every lesson family (lab.checks.echo, no_server, impaired_links, backlog, routed).
"""
from __future__ import annotations

from typing import Any

from lab.impairment import units
from lab.run.record import ClientRun, RunRecord
from lab.scenario.parameters import UNSET


def param(record: RunRecord, name: str) -> Any:
    return record.plan.parameters[name]


def duration_ms(record: RunRecord, name: str) -> float:
    """A duration parameter in ms; an unset one ("none") is no delay at all."""
    value = param(record, name)
    return 0.0 if value == UNSET else units.parse_duration_ms(value)


def fraction(record: RunRecord, name: str) -> float:
    """A percentage parameter as a fraction; an unset one ("none") is 0."""
    value = param(record, name)
    return 0.0 if value == UNSET else units.parse_percent(value) / 100


def ran_clients(record: RunRecord, host: str) -> list[ClientRun]:
    runs = record.clients_of(host)
    if not runs:
        raise ValueError(f"no client of host '{host}' ran")
    return runs


def why_not(run: ClientRun) -> str:
    """What a client said went wrong: its error event (e.g. the name lookup failed), else its
    last line on stderr, else its exit code."""
    error = run.first("error")
    if error:
        return (f"{error.get('name') or 'error'} during {error.get('during', '?')}: "
                f"{error.get('message', '')}".strip().rstrip(":"))
    timeouts = run.all("timeout")
    if timeouts:
        return f"{len(timeouts)} timeout(s), exit {run.rc}"
    last = run.stderr.strip().splitlines()[-1:]
    return last[0] if last else f"exit {run.rc}"
