"""The picture of one run: opitios beside the bare route per scenario, in requests/s and p50/p99 latency.

Drawn from the same Scenario records as the table (bench/report.py), with matplotlib's object API
and its Agg canvas: no display, no pyplot state, the same file for the same numbers.
"""

from __future__ import annotations

from pathlib import Path
from textwrap import wrap

from matplotlib.figure import Figure

from bench.report import Scenario

COLOURS = {"opitios": "#1f6fb4", "bare": "#a0a0a0"}
WIDTH = 0.38  # of one bar; the pair of a scenario spans 0.76


def render(scenarios: list[Scenario], path: Path, title: str) -> Path:
    """Write ``path`` (a PNG): requests/s with each ratio and its target, then p50 to p99 latency."""
    figure = Figure(figsize=(14, 5.5), layout="constrained")
    figure.suptitle(title, fontsize=10)
    throughput, latency = figure.subplots(1, 2)
    # Narrow enough that seven scenarios' labels stand side by side without touching.
    labels = ["\n".join(wrap(f"({scenario.key}) {scenario.title}", 13)) for scenario in scenarios]
    _throughput(throughput, scenarios, labels)
    _latency(latency, scenarios, labels)
    throughput.legend(loc="upper left", fontsize=8)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100, metadata={"Software": None})  # no version stamp: a rerun differs by its numbers only
    return path


def _pairs(scenarios: list[Scenario]):
    """(x, app, phase) of every phase that ran: opitios left of the scenario's tick, the bare route right of it."""
    for index, scenario in enumerate(scenarios):
        for offset, target, phase in ((-WIDTH / 2, "opitios", scenario.opitios), (WIDTH / 2, "bare", scenario.bare)):
            if phase is not None:
                yield index + offset, target, phase


def _throughput(axes, scenarios: list[Scenario], labels: list[str]) -> None:
    """One bar per phase, and above each pair the opitios / bare ratio and its target."""
    labelled = set()
    for x, target, phase in _pairs(scenarios):
        axes.bar(x, phase.load.rps, WIDTH, color=COLOURS[target], label=None if target in labelled else target)
        labelled.add(target)
    top = max((phase.load.rps for _, _, phase in _pairs(scenarios)), default=0)
    axes.set_ylim(0, top * 1.25 or 1)
    for index, scenario in enumerate(scenarios):
        if scenario.ratio is None:
            continue
        wanted = f"\ntarget {scenario.ratio_target}" if scenario.ratio_target is not None else ""
        height = max(scenario.opitios.load.rps, scenario.bare.load.rps)
        axes.annotate(f"{scenario.ratio:.2f} ×{wanted}", (index, height), textcoords="offset points", xytext=(0, 3),
                      ha="center", fontsize=8)
    _axes(axes, labels, "requests/s (higher is better; opitios / bare above each pair)")


def _latency(axes, scenarios: list[Scenario], labels: list[str]) -> None:
    """A line from p50 (dot) to p99 (triangle) per phase, on a log scale: tails span three decades."""
    for x, target, phase in _pairs(scenarios):
        low, high = max(phase.load.p50_ms, 0.01), max(phase.load.p99_ms, 0.01)
        axes.plot([x, x], [low, high], color=COLOURS[target], linewidth=2)
        axes.plot([x], [low], marker="o", color=COLOURS[target])
        axes.plot([x], [high], marker="^", color=COLOURS[target])
    axes.set_yscale("log")
    _axes(axes, labels, "latency, ms, log scale (● p50, ▲ p99; lower is better)")


def _axes(axes, labels: list[str], title: str) -> None:
    axes.set_xticks(range(len(labels)), labels)
    axes.set_xlim(-0.6, len(labels) - 0.4)
    axes.set_title(title, fontsize=9)
    axes.tick_params(labelsize=8)
    axes.grid(axis="y", alpha=0.3)
