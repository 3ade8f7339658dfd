#!/usr/bin/env python3
"""Impairment fidelity per available backend: configured loss and delay against what clients measure.

Loss {1, 10, 30, 50}% over 1000 datagrams each (target: inside the 99% binomial interval) and
delay {10, 50, 200} ms (target: RTT p50 within ±2 ms for netem, ±5 ms for userspace, of delay +
base RTT); plus the time the backend probe and the impairment setup add to a scenario, against
the same scenario without impairment. Prints figures; asserts nothing.

    .venv/bin/python bench/impairment_fidelity.py [--datagrams 1000] [--backends userspace,netem]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lab import app  # noqa: E402

from lab import catalog

from lab.observe import stats
from lab.engines import Engine, connect  # noqa: E402
from lab.engines.images import ensure_images  # noqa: E402
from lab.observe.metrics import host_figures  # noqa: E402
from lab.scenario.plan import build_plan  # noqa: E402
from lab.scenario_run import run_scenario  # noqa: E402


def run(engine: Engine, name: str, overrides: dict, backend: str):
    plan = build_plan(catalog.load(name), overrides, impair_backend=backend)
    return run_scenario(engine, plan, progress=lambda message: None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datagrams", type=int, default=1000)
    parser.add_argument("--backends", default="")
    args = parser.parse_args()
    engine = connect()
    ensure_images(engine, progress=lambda message: None)
    kernel = app.probe_kernel(engine)
    backends = args.backends.split(",") if args.backends else (
        ["netem"] if kernel.netem else []) + (["userspace"] if kernel.nfqueue else [])
    print(f"kernel: netem={kernel.netem} nfqueue={kernel.nfqueue}; backends measured: {', '.join(backends)}")
    for backend in backends:
        tolerance = 2.0 if backend == "netem" else 5.0
        print(f"\n== {backend}: loss over {args.datagrams} datagrams")
        print(f"{'configured':>10} {'measured':>9} {'99% interval':>15}  inside")
        for loss in (1, 10, 30, 50):
            outcome = run(engine, "udp-loss", {"loss": f"{loss}%", "count": str(args.datagrams),
                                               "timeout": "0.05"}, backend)
            figures = host_figures(outcome.record, "client")
            low, high = stats.binomial_interval(figures["sent"], loss / 100)
            inside = low <= figures["loss_rate"] <= high
            print(f"{loss:>9}% {figures['loss_rate']:>9.1%} {low:>7.1%}..{high:<6.1%}  {'yes' if inside else 'NO'}")
        print(f"\n== {backend}: delay (client egress), 100 datagrams; base RTT from an unimpaired client")
        print(f"{'configured':>10} {'base p50':>9} {'RTT p50':>8} {'RTT p95':>8} {'p50 error':>10}  within ±{tolerance:g} ms")
        for delay in (10, 50, 200):
            outcome = run(engine, "udp-delay", {"delay": f"{delay}ms", "count": "100"}, backend)
            base = host_figures(outcome.record, "baseline")["rtt_ms"]["p50"]
            rtt = host_figures(outcome.record, "client")["rtt_ms"]
            error = rtt["p50"] - (delay + base)
            print(f"{delay:>8}ms {base:>7.2f}ms {rtt['p50']:>6.2f}ms {rtt['p95']:>6.2f}ms {error:>+8.2f}ms  "
                  f"{'yes' if abs(error) <= tolerance else 'NO'}")
    # What the probe and the impairment setup add: udp-loss with 0% loss has no impairment at all.
    plain = run(engine, "udp-loss", {"loss": "0%", "count": "20"}, "auto")
    impaired = run(engine, "udp-loss", {"loss": "10%", "count": "20"}, "auto")
    print(f"\nscenario udp-loss, 20 datagrams: without impairment {plain.duration_s:.2f} s, with "
          f"{impaired.duration_s:.2f} s ({impaired.record.impairment_backend}); helper start + probe + "
          f"apply + verify = {impaired.timings.get('impairment_setup_s', 0):.2f} s")


if __name__ == "__main__":
    main()
