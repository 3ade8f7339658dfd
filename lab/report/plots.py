"""Plots a student looks at, drawn with matplotlib from what the clients measured.

Which plots a scenario gets is data, like its checks: `[[plots]]` tables in the scenario file name
a plot of the registry below and its arguments (`plot = "rtt_by_seq"`, `client = "client"`).
Each plot is a pair: a pure function that pulls the figures out of the run record (unit-tested
without matplotlib) and a drawing. matplotlib is imported only when a plot is drawn, i.e. with
--report-dir: `invoke scenario` without it never pays the import. The drawing uses a bare
`Figure` on the Agg canvas (no pyplot, no display, no global state).
"""
from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lab.errors import ScenarioFileError
from lab.scenario.model import PlotSpec
from lab.run.record import RunRecord
from lab.impairment.units import parse_duration_ms

if TYPE_CHECKING:
    from matplotlib.figure import Figure

DPI = 100
SIZE_IN = (10.0, 4.6)
LOST = "#c62828"
MEASURED = "#1565c0"
OTHER = "#757575"


# ----- the figures behind each plot (pure) ---------------------------------------------------
@dataclass(frozen=True)
class RttBySeq:
    host: str
    rtts: list[tuple[int, float]]        # (seq, rtt_ms) of each answered datagram
    lost: list[int]                      # seqs that got no reply within the timeout
    timeout_ms: float | None


def _number(value: Any) -> bool:
    """A figure a plot can use (a student's program may print anything in its events)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == value


def rtt_by_seq_data(record: RunRecord, client: str = "client") -> RttBySeq | None:
    runs = record.clients_of(client)
    rtts = sorted((e["seq"], e["rtt_ms"]) for r in runs for e in r.all("received")
                  if _number(e.get("seq")) and _number(e.get("rtt_ms")))
    lost = sorted({s for r in runs for e in r.all("summary") if isinstance(e.get("lost_seqs"), list)
                   for s in e["lost_seqs"] if _number(s)})
    waited = [e["waited_ms"] for r in runs for e in r.all("timeout") if _number(e.get("waited_ms"))]
    if not rtts and not lost:
        return None
    return RttBySeq(client, rtts, lost, max(waited) if waited else None)


@dataclass(frozen=True)
class RttDistribution:
    host: str
    rtts: list[float]
    baseline: list[float]                # RTTs of the unimpaired baseline client, if any
    delay_ms: float | None               # the configured one-way delay
    jitter_ms: float | None


def _duration(record: RunRecord, parameter: str) -> float | None:
    value = record.plan.parameters.get(parameter)
    if value is None or str(value).lower() in ("", "none"):
        return None
    return parse_duration_ms(value, f"--{parameter}")


def rtt_distribution_data(record: RunRecord, client: str = "client", baseline: str = "baseline",
                          delay_param: str = "delay", jitter_param: str = "jitter") -> RttDistribution | None:
    def rtts(host: str) -> list[float]:
        return [e["rtt_ms"] for r in record.clients_of(host) for e in r.all("received") if _number(e.get("rtt_ms"))]

    measured = rtts(client)
    if not measured:
        return None
    return RttDistribution(client, measured, rtts(baseline), _duration(record, delay_param),
                           _duration(record, jitter_param))


@dataclass(frozen=True)
class Delivery:
    host: str
    label: str                           # host and what impaired it
    points: list[tuple[float, int]]      # (seconds since the first send, bytes acknowledged)
    total: int


def bytes_over_time_data(record: RunRecord, clients: Iterable[str] = ("client",)) -> list[Delivery]:
    deliveries = []
    for host in clients:
        for run in record.clients_of(host):
            points = [(float(e["seconds"]), int(e["bytes_acked"])) for e in run.all("progress")
                      if _number(e.get("seconds")) and _number(e.get("bytes_acked"))]
            transfer = run.first("transfer")
            if not points or not transfer or not _number(transfer.get("bytes")):
                continue
            impaired = [i.describe().split(": ", 1)[-1] for i in record.plan.instance(run.instance).impairments]
            label = f"{run.instance} ({'; '.join(impaired) if impaired else 'no impairment'})"
            deliveries.append(Delivery(run.instance, label, points, int(transfer["bytes"])))
    return deliveries


# ----- drawings -------------------------------------------------------------------------------
def _figure(title: str) -> Figure:
    from matplotlib.figure import Figure

    figure = Figure(figsize=SIZE_IN, dpi=DPI, layout="constrained")
    figure.suptitle(title, fontsize=11)
    return figure


def draw_rtt_by_seq(record: RunRecord, client: str = "client", timeout_param: str = "timeout") -> Figure | None:
    data = rtt_by_seq_data(record, client)
    if data is None:
        return None
    sent = len(data.rtts) + len(data.lost)
    figure = _figure(f"{record.plan.scenario.name}: round-trip time of each datagram — "
                     f"{len(data.lost)} of {sent} lost ({len(data.lost) / sent:.1%})")
    axes = figure.add_subplot()
    values = [r for _, r in data.rtts]
    if data.rtts:
        axes.plot([s for s, _ in data.rtts], values, ".", color=MEASURED, markersize=4,
                  label="reply received: its RTT")
    timeout = record.plan.parameters.get(timeout_param)
    timeout_ms = float(timeout) * 1000 if _number(timeout) else None
    # A lost datagram has no RTT: its cross sits at the timeout the client waited for it in vain.
    level = timeout_ms or max(values, default=1.0) * 1.5
    top = max(values + [level])
    # A timeout (or a few slow replies) far above the rest must not flatten them: log scale.
    spread = bool(values) and top / max(sorted(values)[len(values) // 2], 1e-3) > 20
    if spread:
        axes.set_yscale("log")
    if timeout_ms:
        axes.axhline(timeout_ms, color=LOST, linestyle=":", linewidth=1,
                     label=f"the client's timeout: {timeout_ms:g} ms")
    if data.lost:
        axes.plot(data.lost, [level] * len(data.lost), "x", color=LOST, markersize=7, mew=1.6,
                  label=f"lost: no reply within the timeout ({len(data.lost)})")
        for seq in data.lost:
            axes.axvline(seq, color=LOST, alpha=0.15, linewidth=1)
    axes.set_xlabel("sequence number (seq=N in the datagram)")
    axes.set_ylabel("RTT (ms)" + (", log scale" if spread else ""))
    if spread:
        axes.set_ylim(top=top * 2.5)
    else:
        axes.set_ylim(bottom=0, top=top * 1.2)
    axes.set_xlim(0, sent + 1)
    axes.grid(alpha=0.3)
    _legend_below(axes, 3)
    return figure


def _legend_below(axes: Any, columns: int) -> None:
    """Under the axes, so it never hides a point."""
    axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=columns, fontsize=9, frameon=False)


def draw_rtt_distribution(record: RunRecord, client: str = "client", baseline: str = "baseline",
                          delay_param: str = "delay", jitter_param: str = "jitter") -> Figure | None:
    data = rtt_distribution_data(record, client, baseline, delay_param, jitter_param)
    if data is None:
        return None
    delay = f"{data.delay_ms:g} ms" if data.delay_ms is not None else "no"
    figure = _figure(f"{record.plan.scenario.name}: RTT distribution with {delay} one-way delay"
                     + (f" ± {data.jitter_ms:g} ms jitter" if data.jitter_ms else ""))
    axes = figure.add_subplot()
    every = data.rtts + data.baseline
    low, high = min(every), max(every)
    if data.delay_ms is not None:
        high = max(high, data.delay_ms)
    bins = [low + (high - low) * i / 60 for i in range(61)] if high > low else 10
    axes.hist(data.rtts, bins=bins, color=MEASURED, alpha=0.8, label=f"{data.host}: {len(data.rtts)} RTTs")
    if data.baseline:
        axes.hist(data.baseline, bins=bins, color=OTHER, alpha=0.7,
                  label=f"{baseline} (no delay): {len(data.baseline)} RTTs")
    if data.delay_ms is not None:
        axes.axvline(data.delay_ms, color=LOST, linestyle="--", linewidth=1.5,
                     label=f"configured delay {data.delay_ms:g} ms")
        if data.baseline:
            base = sorted(data.baseline)[len(data.baseline) // 2]
            axes.axvline(data.delay_ms + base, color="black", linestyle=":", linewidth=1.5,
                         label=f"expected RTT: delay + base RTT {base:.2f} ms")
        if data.jitter_ms:
            axes.axvspan(data.delay_ms - data.jitter_ms, data.delay_ms + data.jitter_ms, color=LOST,
                         alpha=0.08, label=f"delay ± jitter {data.jitter_ms:g} ms")
    axes.set_xlabel("round-trip time (ms)")
    axes.set_ylabel("datagrams")
    axes.grid(alpha=0.3)
    _legend_below(axes, 2)
    return figure


def draw_bytes_over_time(record: RunRecord, clients: Iterable[str] = ("client",)) -> Figure | None:
    deliveries = bytes_over_time_data(record, clients)
    if not deliveries:
        return None
    figure = _figure(f"{record.plan.scenario.name}: bytes delivered (acknowledged by the server) over time")
    axes = figure.add_subplot()
    colours = [OTHER, LOST, MEASURED, "#2e7d32"]
    for index, delivery in enumerate(deliveries):
        seconds = [t for t, _ in delivery.points]
        mib = [b / 2**20 for _, b in delivery.points]
        axes.step(seconds, mib, where="post", color=colours[index % len(colours)], linewidth=1.8,
                  marker=".", markersize=3, label=f"{delivery.label}: {seconds[-1] * 1000:.0f} ms")
    total = max(d.total for d in deliveries) / 2**20
    axes.axhline(total, color="black", linewidth=0.8, linestyle=":")
    axes.set_xlabel("seconds since the first send()")
    axes.set_ylabel("MiB delivered")
    axes.set_ylim(0, total * 1.08)
    axes.set_xlim(left=0)
    axes.grid(alpha=0.3)
    _legend_below(axes, 1)
    return figure


PlotFunction = Callable[..., "Figure | None"]
REGISTRY: dict[str, PlotFunction] = {
    "rtt_by_seq": draw_rtt_by_seq,
    "rtt_distribution": draw_rtt_distribution,
    "bytes_over_time": draw_bytes_over_time,
}


HOST_ARGUMENTS = ("client", "baseline", "clients")


def validate_spec(spec: PlotSpec, where: str, host_names: tuple[str, ...]) -> None:
    """Unknown plots, arguments or hosts are a scenario-file error, found at load time."""
    if spec.plot not in REGISTRY:
        raise ScenarioFileError(f"{where}: unknown plot '{spec.plot}'; known: {', '.join(sorted(REGISTRY))}")
    accepted = set(inspect.signature(REGISTRY[spec.plot]).parameters) - {"record"}
    unknown = set(spec.args) - accepted
    if unknown:
        raise ScenarioFileError(f"{where}: takes no {', '.join(sorted(unknown))}; "
                                f"it takes {', '.join(sorted(accepted))}")
    for argument in HOST_ARGUMENTS:
        value = spec.args.get(argument)
        for host in [value] if isinstance(value, str) else (value or []):
            if host not in host_names:
                raise ScenarioFileError(f"{where}: {argument} '{host}' is no host of the scenario; "
                                        f"hosts: {', '.join(host_names)}")


def file_name(scenario: str, spec: PlotSpec) -> str:
    """`udp-loss.rtt-by-seq.png`: beside udp-loss.json, named after the scenario and the plot."""
    return f"{scenario}.{spec.plot.replace('_', '-')}.png"


def draw(record: RunRecord, directory: Path) -> list[Path]:
    """Every plot of the scenario that has data, written as PNG into `directory`."""
    written = []
    for spec in record.plan.scenario.plots:
        figure = REGISTRY[spec.plot](record, **_arguments(spec.args))
        if figure is None:
            continue
        path = directory / file_name(record.plan.scenario.name, spec)
        figure.savefig(path, format="png", dpi=DPI, metadata={"Software": None})
        written.append(path)
    return written


def _arguments(args: dict[str, Any]) -> dict[str, Any]:
    return {k: tuple(v) if isinstance(v, list) else v for k, v in args.items()}
