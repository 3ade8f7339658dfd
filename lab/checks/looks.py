"""Verdicts of the testinfra looks a scenario declares ([probes]): one check per probe.

Shared by the lab's own programs and a student's (lab.checks.student), so it stands on its own.
"""
from __future__ import annotations

from lab.checks.registry import CheckResult
from lab.run.record import RunRecord


def probe_results(record: RunRecord) -> list[CheckResult]:
    results = []
    for name, probe in record.plan.scenario.probes.items():
        seen = [o for o in record.probes if o.probe == name]
        if not seen:
            continue
        good = sum(o.passed for o in seen)
        label = probe.description or f"{probe.host}: {probe.expect} {probe.socket}".strip()
        failures = "; ".join(f"after {o.after or 'start'}: {o.detail}" for o in seen if not o.passed)
        detail = f"testinfra saw it {good}/{len(seen)} times" + (f"; {failures}" if failures else "")
        results.append(CheckResult(f"testinfra: {label}", good == len(seen), detail))
    return results
