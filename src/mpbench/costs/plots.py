"""Figures of a costs summary (matplotlib, Agg): every function returns a Figure and never shows it.

Series are chosen by the probes' fields (`Measure`, `Pattern`, start method, payload kind), and
words are put on them last. As in mpbench.plots, each series has a colour of its own and thread
executors are drawn dashed; times are in seconds on log axes, labelled as the tables write them.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import Literal, TypeVar

import matplotlib

matplotlib.use("Agg")  # no display: figures only go to files

import numpy as np
from matplotlib import ticker
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from mpbench.costs import figures as costs  # its `Figure` is a measured cost, not a picture
from mpbench.costs.advice import describe, format_rate
from mpbench.costs.probes import PAYLOAD_KINDS, Measure, Pattern, format_bytes
from mpbench.plots import PALETTE, legend
from mpbench.tables import executor_label, format_seconds

FIGURE_SIZE = (7.0, 4.6)  # inches
BAR_INCHES = 0.32  # a dispatch bar and its gap
BREAK_EVEN_NOTE = "vertical lines: break-even predicted (dashed) and measured (solid)"
# By start method (the first for threads) or payload kind, so lines that coincide still show.
MARKERS = ("o", "s", "^", "D", "v", "P")
Item = TypeVar("Item")


def startup_figure(summary: costs.CostSummary, title: str = "Start-up against workers"
                   ) -> Figure:
    """Time to start each executor until every worker has run a task, against workers: a line
    per executor and start method with its 95 % interval (log scale: µs for threads, tenths of
    a second for a spawned pool)."""
    figure, axes = _single(title)
    groups = _grouped(_of(summary, Measure.STARTUP),
                      lambda item: (item.probe.pattern, item.probe.start_method))
    methods = summary.results.options.start_methods
    for index, items in enumerate(groups):
        items.sort(key=lambda item: item.probe.workers)
        method = items[0].probe.start_method
        axes.errorbar([item.probe.workers for item in items], [item.seconds for item in items],
                      yerr=_whiskers(items), capsize=3, marker=_marker(method, methods),
                      color=PALETTE[index % len(PALETTE)],
                      linestyle=_style(items[0].probe.pattern),
                      label=executor_label(describe(items[0]), items[0].probe.start_method))
    workers = sorted({item.probe.workers for items in groups for item in items})
    axes.set_xticks(workers, [str(count) for count in workers])
    axes.set_xlabel("workers")
    _log_seconds(axes, "y", "start-up (log scale)")
    axes.grid(True, alpha=0.3)
    legend(figure, [axes], "dashed: threads")
    return figure


def dispatch_figure(summary: costs.CostSummary, title: str = "Dispatch cost per task"
                    ) -> Figure:
    """What one trivial task costs beyond its work on each executor, and what one costs while
    its worker is busy: a bar each with its 95 % interval (log scale: a thread pool's µs
    beside a process started per task)."""
    items = [*_of(summary, Measure.DISPATCH),
             *(item for item in _of(summary, Measure.LOADED) if item.seconds > 0)]
    figure = Figure(figsize=(FIGURE_SIZE[0], max(3.0, BAR_INCHES * len(items) + 1.6)),
                    layout="constrained")
    axes = figure.subplots()
    for kind, colour, label in ((Pattern.POOL, PALETTE[0], "processes"),
                                (Pattern.THREADS, PALETTE[1], "threads"),
                                (Measure.LOADED, PALETTE[2], "processes, busy worker")):
        rows = [row for row, item in enumerate(items) if _bar_kind(item) == kind]
        if rows:
            mine = [items[row] for row in rows]
            bars = axes.barh(rows, [item.seconds for item in mine], xerr=_whiskers(mine),
                             color=colour, capsize=3, label=label)
            axes.bar_label(bars, [format_seconds(item.seconds) for item in mine],
                           fontsize="x-small", padding=6)
    axes.set_yticks(range(len(items)),
                    [f"{executor_label(describe(item), item.probe.start_method)}, "
                     f"w{item.probe.workers}" for item in items])
    axes.invert_yaxis()  # in the tables' order, top down
    _log_seconds(axes, "x", "per task (log scale)")
    if items:  # room for the labels beyond the longest bar
        axes.set_xlim(min(item.seconds for item in items) / 3,
                      max(item.seconds for item in items) * 6)
        axes.legend(fontsize="small")
    axes.grid(True, axis="x", alpha=0.3)
    axes.set_title(title)
    return figure


def round_trip_figure(summary: costs.CostSummary,
                      title: str = "Round-trip throughput against payload size") -> Figure:
    """Payload bytes over the round trip's time against payload size, a line per payload kind
    with its 95 % interval: latency rules small payloads, copying large ones."""
    figure, axes = _single(title)
    trips = _of(summary, Measure.ROUND_TRIP)
    sizes = sorted({item.probe.payload_bytes for item in trips})
    for index, kind in enumerate(PAYLOAD_KINDS):
        items = sorted((item for item in trips if item.probe.payload_kind == kind),
                       key=lambda item: item.probe.payload_bytes)
        if not items:
            continue
        payloads = np.array([item.probe.payload_bytes for item in items], float)
        rates = payloads / [item.seconds for item in items]
        fastest = payloads / _finite([item.low for item in items])  # the shorter time
        slowest = payloads / _finite([item.high for item in items])
        axes.errorbar(payloads, rates, yerr=_spread(rates, slowest, fastest),
                      marker=MARKERS[index % len(MARKERS)], fillstyle="full" if index == 0
                      else "none", capsize=3, color=PALETTE[index % len(PALETTE)],
                      label=f"{kind} payload")
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xticks(sizes, [format_bytes(size) for size in sizes])
    axes.xaxis.set_minor_formatter(ticker.NullFormatter())
    axes.yaxis.set_major_formatter(ticker.FuncFormatter(
        lambda value, _: format_rate(value, True) if value > 0 else ""))
    axes.set_xlabel("payload (log scale)")
    axes.set_ylabel("payload / round-trip time (log scale)")
    axes.grid(True, alpha=0.3)
    legend(figure, [axes], "pickling included; the payload travels both ways")
    return figure


def break_even_figure(summary: costs.CostSummary,
                      title: str = "Break-even: predicted against measured") -> Figure:
    """The sweep's paired speedup over serial against task length per swept executor, with its
    95 % interval as a band, the line of 1× (break-even), and each executor's predicted
    (dashed) and measured (solid) break-even where finite and within the swept lengths."""
    figure, axes = _single(title)
    groups = _grouped(summary.sweep, lambda point: point.probe.pattern)
    span = [point.task_seconds for point in summary.sweep]
    axes.axhline(1.0, color="black", linewidth=0.8, linestyle=":", label="as fast as serial")
    for index, points in enumerate(groups):
        points.sort(key=lambda point: point.task_seconds)
        colour = PALETTE[index % len(PALETTE)]
        lengths = [point.task_seconds for point in points]
        axes.fill_between(lengths, _finite([point.low for point in points]),
                          _finite([point.high for point in points]), color=colour, alpha=0.2,
                          linewidth=0)
        probe = points[0].probe
        axes.plot(lengths, [point.speedup for point in points], marker="o", color=colour,
                  label=executor_label(probe.pattern, probe.start_method))
        _mark_break_even(axes, summary, Pattern(probe.pattern), colour, span)
    _log_seconds(axes, "x", "task length (log scale)")
    axes.set_ylim(bottom=0)
    axes.set_ylabel("speedup over serial (×)")
    axes.grid(True, alpha=0.3)
    legend(figure, [axes], BREAK_EVEN_NOTE)
    return figure


def _mark_break_even(axes: Axes, summary: costs.CostSummary, pattern: Pattern, colour: str,
                     span: Sequence[float]) -> None:
    """Vertical lines at an executor's break-evens: none at inf (never), 0 (already at the
    shortest tasks) or far outside the sweep, where a line would only stretch the axis."""
    found = next((item for item in summary.break_evens if item.executor == pattern.value), None)
    if found is None or not span:
        return
    for seconds, style in ((found.predicted_s, "--"), (found.measured_s, "-")):
        if seconds is not None and min(span) / 3 <= seconds <= max(span) * 3:
            axes.axvline(seconds, color=colour, linestyle=style, linewidth=1.2)


def _bar_kind(item: costs.Figure) -> Pattern | Measure:
    """A dispatch bar's colour: a busy worker's figure, else processes or threads."""
    if item.probe.measure == Measure.LOADED.value:
        return Measure.LOADED
    return Pattern.POOL if Pattern(item.probe.pattern).uses_processes else Pattern.THREADS


def _of(summary: costs.CostSummary, measure: Measure) -> list[costs.Figure]:
    return [item for item in summary.figures if item.probe.measure == measure.value]


def _grouped(items: Sequence[Item], key: Callable[[Item], Hashable]) -> list[list[Item]]:
    """`items` in groups of one key each, in the order the keys first appear."""
    groups: dict[Hashable, list[Item]] = {}
    for item in items:
        groups.setdefault(key(item), []).append(item)
    return list(groups.values())


def _single(title: str) -> tuple[Figure, Axes]:
    figure = Figure(figsize=FIGURE_SIZE, layout="constrained")
    axes = figure.subplots()
    axes.set_title(title)
    return figure, axes


def _marker(start_method: str | None, start_methods: Sequence[str]) -> str:
    """The first marker for threads, then one per start method in the order they were asked for."""
    if start_method not in start_methods:
        return MARKERS[0]
    return MARKERS[(start_methods.index(start_method) + 1) % len(MARKERS)]


def _style(pattern: str) -> str:
    return "-" if Pattern(pattern).uses_processes else "--"


def _finite(values: Sequence[float]) -> np.ndarray:
    """An interval's ends with what is not a finite number as NaN: no whisker, no band there."""
    array = np.array(values, float)
    return np.where(np.isfinite(array), array, np.nan)


def _spread(centres: np.ndarray, lows: np.ndarray, highs: np.ndarray) -> np.ndarray:
    """Error-bar lengths below and above each centre; 0 where the interval is unknown."""
    below = np.nan_to_num(np.clip(centres - lows, 0, None), nan=0.0)
    above = np.nan_to_num(np.clip(highs - centres, 0, None), nan=0.0)
    return np.vstack([below, above])


def _whiskers(items: Sequence[costs.Figure]) -> np.ndarray:
    return _spread(np.array([item.seconds for item in items], float),
                   _finite([item.low for item in items]), _finite([item.high for item in items]))


def _log_seconds(axes: Axes, which: Literal["x", "y"], label: str) -> None:
    """A log axis of seconds whose ticks read as the tables do: `10.0 µs`, `1.00 ms`."""
    if which == "x":
        axes.set_xscale("log")
    else:
        axes.set_yscale("log")
    axis = axes.xaxis if which == "x" else axes.yaxis
    axis.set_major_formatter(ticker.FuncFormatter(lambda value, _: format_seconds(value)))
    axis.set_minor_formatter(ticker.NullFormatter())
    axis.set_label_text(label)
