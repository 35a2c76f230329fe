"""Figures of a summary (matplotlib, Agg): every function returns a Figure and never shows it.

One subplot per kernel, so a glance compares kernels; colours follow executors (or machines,
when machines are compared) through every figure of a report.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")  # no display: figures only go to files

import numpy as np
import pandas as pd
from matplotlib import ticker
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from mpbench.analysis import SERIAL, THREAD_EXECUTORS, amdahl_speedup
from mpbench.frame import same_series
from mpbench.model import Scaling
from mpbench.tables import executor_label, several_interpreters

PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
           "#7f7f7f", "#bcbd22", "#17becf"]
SUBPLOT_SIZE = (4.6, 3.6)  # inches per kernel


def _grid(kernels: Sequence[str], title: str) -> tuple[Figure, list[Axes]]:
    columns = min(len(kernels), 2)
    rows = math.ceil(len(kernels) / columns)
    figure = Figure(figsize=(SUBPLOT_SIZE[0] * columns, SUBPLOT_SIZE[1] * rows + 0.6),
                    layout="constrained")
    axes = list(np.atleast_1d(figure.subplots(rows, columns, squeeze=False)).ravel())
    for extra in axes[len(kernels):]:
        extra.set_visible(False)
    figure.suptitle(title)
    return figure, axes[: len(kernels)]


@dataclass(frozen=True)
class Curve:
    """One executor and start method's points, sorted by workers."""

    label: str
    threads: bool  # a thread executor: drawn dashed
    points: pd.DataFrame

    @property
    def style(self) -> str:
        return "--" if self.threads else "-"


def _curves(summary: pd.DataFrame) -> list[Curve]:
    """A curve for each interpreter, executor and start method, serial left out; interpreters
    are named when there are several, so their curves overlay like machines'."""
    parallel = summary[summary["executor"] != SERIAL]
    several = several_interpreters(parallel)
    return [
        Curve(executor_label(str(executor), start_method, scaling)
              + (f" @{tag}" if several else ""),
              executor in THREAD_EXECUTORS, group.sort_values("workers"))
        for (tag, executor, start_method, scaling), group in parallel.groupby(
            ["interpreter", "executor", "start_method", "scaling"], dropna=False, sort=False)
    ]


def _worker_axis(axes: Axes, workers: Sequence[int]) -> None:
    ticks = sorted(set(workers))
    axes.set_xticks(ticks, [str(tick) for tick in ticks])
    axes.set_xlabel("workers")
    axes.grid(True, alpha=0.3)


def _error_bars(points: pd.DataFrame, value: str) -> np.ndarray:
    low = (points[value] - points[f"{value}_low"]).clip(lower=0).fillna(0)
    high = (points[f"{value}_high"] - points[value]).clip(lower=0).fillna(0)
    return np.vstack([low.to_numpy(float), high.to_numpy(float)])


def speedup_figure(summary: pd.DataFrame, fits: pd.DataFrame, title: str = "Speedup over serial"
                   ) -> Figure:
    """Speedup against workers per kernel: a line per executor with its 95 % interval, the ideal
    line, and each executor's fitted Amdahl curve (dotted)."""
    kernels = list(dict.fromkeys(summary["kernel"]))
    figure, axes_list = _grid(kernels, title)
    colours = _colours(curve.label for curve in _curves(summary))
    for kernel, axes in zip(kernels, axes_list, strict=True):
        of_kernel = summary[summary["kernel"] == kernel]
        workers = of_kernel["workers"].to_numpy(int)
        span = np.linspace(1, max(workers.max(), 2), 50)
        axes.plot(span, span, color="black", linewidth=0.8, linestyle="--", label="ideal")
        for curve in _curves(of_kernel):
            points = curve.points
            axes.errorbar(points["workers"], points["speedup"],
                          yerr=_error_bars(points, "speedup"), marker="o", capsize=3,
                          color=colours[curve.label], label=curve.label, linestyle=curve.style)
            sigma = _fitted_sigma(fits, kernel, points)
            if sigma is not None:
                axes.plot(span, amdahl_speedup(span, sigma), color=colours[curve.label],
                          linestyle=":", linewidth=1)
        _mark_oversubscribed(axes, of_kernel)
        _mark_disturbed(axes, of_kernel, "speedup")
        _worker_axis(axes, list(workers))
        axes.set_ylabel("speedup over serial (×)")
        axes.set_title(_kernel_title(kernel, of_kernel))
    legend(figure, axes_list, "dotted: fitted Amdahl curve")
    return figure


def efficiency_figure(summary: pd.DataFrame, title: str = "Parallel efficiency") -> Figure:
    """Efficiency (speedup / workers) against workers per kernel; 1.0 is perfect scaling."""
    kernels = list(dict.fromkeys(summary["kernel"]))
    figure, axes_list = _grid(kernels, title)
    colours = _colours(curve.label for curve in _curves(summary))
    for kernel, axes in zip(kernels, axes_list, strict=True):
        of_kernel = summary[summary["kernel"] == kernel]
        axes.axhline(1.0, color="black", linewidth=0.8, linestyle="--", label="ideal")
        for curve in _curves(of_kernel):
            axes.errorbar(curve.points["workers"], curve.points["efficiency"],
                          yerr=_error_bars(curve.points, "efficiency"), marker="o", capsize=3,
                          color=colours[curve.label], label=curve.label, linestyle=curve.style)
        _mark_oversubscribed(axes, of_kernel)
        _mark_disturbed(axes, of_kernel, "efficiency")
        _worker_axis(axes, list(of_kernel["workers"]))
        axes.set_ylim(bottom=0)
        axes.set_ylabel("efficiency (speedup / workers)")
        axes.set_title(_kernel_title(kernel, of_kernel))
    legend(figure, axes_list)
    return figure


def startup_figure(summary: pd.DataFrame, title: str = "Executor start-up") -> Figure:
    """Median time to create each executor and get one trivial task back from every worker, at
    the largest worker count, by executor and start method (log scale: µs to seconds)."""
    parallel = summary[(summary["executor"] != SERIAL) & summary["startup_s"].notna()]
    top = parallel[parallel["workers"] == parallel["workers"].max()]
    costs = top.assign(start_method=top["start_method"].fillna("in-process")).groupby(
        ["executor", "start_method"], sort=False)["startup_s"].median()
    executors = list(dict.fromkeys(costs.index.get_level_values(0)))
    methods = list(dict.fromkeys(costs.index.get_level_values(1)))
    figure = Figure(figsize=(max(6.0, 1.1 * len(executors) + 2), 4.2), layout="constrained")
    axes = figure.subplots()
    width = 0.8 / max(len(methods), 1)
    for index, method in enumerate(methods):
        heights = [costs.get((executor, method), np.nan) * 1000 for executor in executors]
        bars = axes.bar(np.arange(len(executors)) + (index - (len(methods) - 1) / 2) * width,
                        heights, width, label=method, color=PALETTE[index % len(PALETTE)])
        axes.bar_label(bars, [f"{h:.3g}" if np.isfinite(h) else "" for h in heights],
                       fontsize="x-small", padding=2)
    axes.set_xticks(np.arange(len(executors)), executors, rotation=30, ha="right")
    axes.set_yscale("log")
    axes.yaxis.set_major_formatter(ticker.FuncFormatter(lambda value, _: f"{value:g}"))
    if not costs.empty:
        axes.set_ylim(bottom=float(costs.min()) * 1000 / 3, top=float(costs.max()) * 1000 * 3)
    axes.set_ylabel("start-up (ms, log scale)")
    workers = int(top["workers"].max()) if not top.empty else 0
    axes.set_title(f"{title} with {workers} workers")
    axes.grid(True, axis="y", alpha=0.3)
    axes.legend(title="start method")
    return figure


def machines_figure(summary: pd.DataFrame, labels: Mapping[str, str],
                    title: str = "Speedup by machine") -> Figure:
    """The speedup plot of several results files overlaid, one colour per file (`labels` names
    them): per kernel, each file's best process executor (solid) and best thread executor
    (dashed). Files, not machine names: two runs of one machine are two curves."""
    kernels = list(dict.fromkeys(summary["kernel"]))
    figure, axes_list = _grid(kernels, title)
    files = list(dict.fromkeys(summary["file"]))
    colours = {file: PALETTE[index % len(PALETTE)] for index, file in enumerate(files)}
    for kernel, axes in zip(kernels, axes_list, strict=True):
        of_kernel = summary[summary["kernel"] == kernel]
        top = max(int(of_kernel["workers"].max()), 2)
        axes.plot([1, top], [1, top], color="black", linewidth=0.8, linestyle="--",
                  label="ideal")
        for file in files:
            for curve in _best_curves(of_kernel[of_kernel["file"] == file]):
                axes.errorbar(curve.points["workers"], curve.points["speedup"],
                              yerr=_error_bars(curve.points, "speedup"), marker="o", capsize=3,
                              color=colours[file], label=f"{labels[file]}: {curve.label}",
                              linestyle=curve.style)
        _worker_axis(axes, list(of_kernel["workers"]))
        axes.set_ylabel("speedup over serial (×)")
        axes.set_title(kernel)
    legend(figure, axes_list, "solid: best process executor, dashed: best thread executor")
    return figure


def _best_curves(summary: pd.DataFrame) -> list[Curve]:
    """The process curve and the thread curve that reach the highest speedup (of fixed work:
    a weak-scaling speedup answers another question)."""
    best: dict[bool, tuple[float, Curve]] = {}
    for curve in _curves(summary[summary["scaling"] == Scaling.STRONG.value]):
        peak = float(curve.points["speedup"].max())
        if curve.threads not in best or peak > best[curve.threads][0]:
            best[curve.threads] = (peak, curve)
    return [curve for _, curve in best.values()]


def _fitted_sigma(fits: pd.DataFrame, kernel: str, points: pd.DataFrame) -> float | None:
    match = fits[same_series(fits, points.iloc[0])]
    if match.empty or not 0 <= match["amdahl_sigma"].iloc[0] <= 1:  # NaN fails too
        return None
    return float(match["amdahl_sigma"].iloc[0])


def _mark_oversubscribed(axes: Axes, summary: pd.DataFrame) -> None:
    """Shade worker counts beyond the CPUs usable or granted: they measure time-sharing."""
    beyond = summary.loc[summary["oversubscribed"], "workers"]
    if not beyond.empty:
        axes.axvspan(beyond.min() - 0.5, beyond.max() + 0.5, color="grey", alpha=0.12,
                     label="more workers than CPUs")


def _kernel_title(kernel: str, summary: pd.DataFrame) -> str:
    """The kernel's name, and a warning when its serial baseline (and so every speedup of it)
    was measured on a busy machine or a slowed CPU."""
    serial = summary[summary["executor"] == SERIAL]
    if (serial["contended"] | serial["slowed"]).any():
        return f"{kernel}\n(serial run disturbed: all its speedups uncertain)"
    return kernel


def _mark_disturbed(axes: Axes, summary: pd.DataFrame, value: str) -> None:
    """Ring the points measured on a busy machine (`!`) or a slowed CPU (`~`): trust them less."""
    disturbed = summary[summary["contended"] | summary["slowed"]]
    disturbed = disturbed[disturbed["executor"] != SERIAL]
    if not disturbed.empty:
        axes.scatter(disturbed["workers"], disturbed[value], s=140, facecolors="none",
                     edgecolors="black", linewidths=1.2, zorder=5,
                     label="machine busy or slow while measured")


def _colours(labels: object) -> dict[str, str]:
    unique = list(dict.fromkeys(labels))  # type: ignore[call-overload]
    return {label: PALETTE[index % len(PALETTE)] for index, label in enumerate(unique)}


LEGEND_CHAR_INCHES = 0.075  # a character of a "small" legend label, about
LEGEND_MARKER_INCHES = 0.6  # a legend entry's line, marker and gap


def legend(figure: Figure, axes_list: Sequence[Axes], note: str = "") -> None:
    handles: dict[str, Artist] = {}
    for axes in axes_list:
        for handle, label in zip(*axes.get_legend_handles_labels(), strict=True):
            handles.setdefault(label, handle)
    # As many columns as fit the figure's width: long labels (`pool_map (fork, weak)`) in
    # four columns would run off a one-kernel figure.
    longest = max((len(label) for label in handles), default=1)
    fitting = int(figure.get_figwidth() // (LEGEND_CHAR_INCHES * longest + LEGEND_MARKER_INCHES))
    figure.legend(list(handles.values()), list(handles), loc="outside lower center",
                  ncols=max(1, min(4, len(handles), fitting)), fontsize="small",
                  title=note or None, title_fontsize="small")
