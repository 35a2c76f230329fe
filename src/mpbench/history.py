"""One machine's results over time: each scenario's median and speedup per run, and its steps.

Steps are found as asv finds them: the series is fitted with a piecewise-constant function that
pays a penalty for each step (the Potts functional), with least absolute deviations, solved
exactly by dynamic programming. Here the fit is on log values (so a step is a ratio), and:

- the noise is estimated from the differences of consecutive points (a robust median absolute
  deviation), so a step or a slow drift does not inflate it: a drift adds up to steps, rather than
  passing for noise;
- the penalty grows with the critical value of a test at STEP_ALPHA that allows for the n places a
  step could be, with Student's t for a noise level estimated from the series itself: fewer than
  one pure-noise series in 200 shows a step;
- a level must last MIN_RUNS runs, and absolute deviations make one odd run (a busy machine)
  cost the same wherever the level is, so it is never a step.
"""

from __future__ import annotations

import datetime as dt
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display: figures only go to files

import numpy as np
import numpy.typing as npt
import pandas as pd
from matplotlib import colors, ticker
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from numpy.lib.stride_tricks import sliding_window_view
from scipy import stats

from mpbench.analysis import SERIAL, paired_speedups
from mpbench.errors import ResultsFileError, UsageError
from mpbench.frame import results_paths, to_frame
from mpbench.model import Machine
from mpbench.pages import png_data_uri, render_page
from mpbench.storage import Results, read, write_atomically
from mpbench.tables import executor_label, format_ratio, format_seconds, visible

STEP_ALPHA = 0.01  # nominal level of each step; measured false steps are rarer (see below)
MIN_RUNS = 2  # runs a level must last
NOISE_FLOOR = 1e-3  # on the log scale: changes much under 1 % are never steps
MAD_EFFICIENCY = 0.37  # a MAD is worth about 37 % of the degrees of freedom of a standard deviation
# The L1 cost a split saves on Gaussian noise, in units of noise × critical value²: √(2π)/4 ≈ 0.63
# for long series; 0.45, found by simulation, keeps false steps under 0.5 % for 30-400 runs
# and still finds a step of 3 noise levels in a 30-run series nine times in ten.
PENALTY_SCALE = 0.45
FORMATS = (".html", ".png")
LINE_HUES = 10  # tab10's; more executor families than that take hues from a colour map
FINE_SUBS = (1.0, 2.0, 3.0, 5.0, 7.0)  # labelled multiples of a decade on a narrow time axis
LEGEND_ROWS = 20  # legend entries a column holds in one kernel's row of the figure
WORKER_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
EARLIEST = dt.datetime.min.replace(tzinfo=dt.UTC)  # frame dates are UTC: an aware fallback
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Run:
    """One results file of the history."""

    path: str
    date: dt.datetime | None  # when its first process finished timing, in UTC
    commit: str | None

    @property
    def label(self) -> str:
        """Short commit and day, for axes and tables."""
        commit = self.commit[:8] if self.commit else Path(self.path).name
        return f"{commit} {self.date:%Y-%m-%d}" if self.date else commit


@dataclass(frozen=True)
class Step:
    """A lasting change of one scenario's median or speedup, between two runs."""

    scenario: str
    kernel: str
    quantity: str  # "median" or "speedup"
    previous: int  # index of the last run at the old level (the scenario may skip runs)
    run: int  # index of the first run at the new level
    before: float  # the fitted levels on either side: medians of their runs
    after: float

    @property
    def ratio(self) -> float:
        return self.after / self.before

    @property
    def regression(self) -> bool:
        """Slower: a median that rose, or a speedup that fell."""
        return self.ratio > 1 if self.quantity == "median" else self.ratio < 1


@dataclass(frozen=True)
class History:
    machine: Machine  # of the latest run
    runs: tuple[Run, ...]  # oldest first
    points: pd.DataFrame  # one row per run and scenario: run, scenario, kernel, label, median, …
    steps: tuple[Step, ...]


def load_history(paths: Path | Sequence[Path]) -> History:
    """Every results file in the folder(s) given, which must all come from one machine."""
    results = [read(path) for path in results_paths(paths)]
    names = sorted({item.machine.name for item in results})
    if len(names) > 1:
        raise UsageError(f"the files are from {len(names)} machines ({', '.join(names)}); a "
                         "history needs one machine's files, e.g. results/<machine>/")
    return build_history(results)


def build_history(results: Sequence[Results]) -> History:
    """Order the runs by date, take each scenario's median and speedup per run, find the steps."""
    if not results:
        raise ResultsFileError("no results files to make a history of")
    frames = [to_frame([item]) for item in results]
    starts = [_first_date(frame) for frame in frames]
    order = sorted(range(len(results)), key=lambda index: (
        starts[index] is None, starts[index] or EARLIEST, str(results[index].path)))
    runs = tuple(Run(str(results[index].path), starts[index], results[index].machine.git_commit)
                 for index in order)
    frame = pd.concat([frames[index].assign(run=position) for position, index in enumerate(order)],
                      ignore_index=True)
    points = _points(frame)
    steps = tuple(step for (scenario, kernel), group in points.groupby(
        ["scenario", "kernel"], sort=False) for step in _series_steps(str(scenario), str(kernel),
                                                                      group))
    return History(results[order[-1]].machine, runs, points, steps)


def _first_date(frame: pd.DataFrame) -> dt.datetime | None:
    dates = frame["date"].dropna()
    return None if dates.empty else pd.Timestamp(dates.min()).to_pydatetime()


def _points(frame: pd.DataFrame) -> pd.DataFrame:
    """Median and paired speedup (as `summarize` defines it; none for serial scenarios)."""
    points = frame.groupby(["run", "scenario"], sort=False).agg(
        kernel=("kernel", "first"), executor=("executor", "first"),
        start_method=("start_method", "first"), scaling=("scaling", "first"),
        interpreter=("interpreter", "first"), workers=("workers", "first"),
        median=("value", "median"),
    ).reset_index()
    speedups = paired_speedups(frame, ["run", "scenario"]).to_numpy(dtype=float)
    points["speedup"] = np.where(points["executor"] == SERIAL, np.nan, speedups)
    several = points["interpreter"].nunique() > 1
    points["label"] = [f"{executor_label(str(executor), method, scaling)} w{workers}"
                       + (f" @{tag}" if several else "") for executor, method, scaling, workers, tag
                       in zip(points["executor"], points["start_method"], points["scaling"],
                              points["workers"], points["interpreter"], strict=True)]
    return points


def _series_steps(scenario: str, kernel: str, group: pd.DataFrame) -> list[Step]:
    steps = []
    for quantity in ("median", "speedup"):
        series = group.set_index("run")[quantity].dropna()
        runs = series.index.to_numpy()
        logs = np.log(series.to_numpy(dtype=np.float64))
        bounds = step_bounds(logs)
        for left, middle, right in zip(bounds, bounds[1:], bounds[2:], strict=False):
            steps.append(Step(scenario, kernel, quantity, int(runs[middle - 1]), int(runs[middle]),
                              math.exp(float(np.median(logs[left:middle]))),
                              math.exp(float(np.median(logs[middle:right])))))
    return steps


def step_bounds(values: FloatArray) -> list[int]:
    """Where the fitted levels of `values` begin, and its length: [0, …, len(values)]."""
    count = len(values)
    if count < 2 * MIN_RUNS:
        return [0, count]
    differences = np.diff(values)
    noise = 1.4826 * float(np.median(np.abs(differences - np.median(differences)))) / math.sqrt(2)
    critical = float(stats.t.isf(STEP_ALPHA / (2 * count),
                                 max(1.0, MAD_EFFICIENCY * (count - 2))))
    return _potts(values, PENALTY_SCALE * max(noise, NOISE_FLOOR) * critical ** 2)


def _potts(values: FloatArray, penalty: float) -> list[int]:
    """Least-absolute-deviation piecewise-constant fit with `penalty` per step, exact by dynamic
    programming over all segments (optimal partitioning): O(n³) numpy work, fine for hundreds
    of runs."""
    count = len(values)
    cost = np.zeros((count + 1, count + 1))
    for length in range(1, count + 1):
        windows = sliding_window_view(values, length)
        medians = np.median(windows, axis=1, keepdims=True)
        cost[np.arange(count - length + 1), np.arange(length, count + 1)] = \
            np.abs(windows - medians).sum(axis=1)
    best = np.full(count + 1, np.inf)
    best[0] = -penalty  # the first level pays no step
    previous = np.zeros(count + 1, dtype=np.intp)
    for end in range(MIN_RUNS, count + 1):
        starts = np.arange(0, end - MIN_RUNS + 1)
        totals = best[starts] + cost[starts, end] + penalty
        choice = int(np.argmin(totals))
        best[end], previous[end] = totals[choice], starts[choice]
    bounds = [count]
    while bounds[-1] > 0:
        bounds.append(int(previous[bounds[-1]]))
    return bounds[::-1]


# Rendering ------------------------------------------------------------------------------------

def plot_history(history: History, kernels: Sequence[str] | None = None) -> Figure:
    """Per kernel, a row: median time and speedup per run; a triangle marks each step, pointing
    the way the level moved, red when slower and green when faster."""
    kernels = list(kernels or dict.fromkeys(history.points["kernel"]))
    figure = Figure(figsize=(13, 3.6 * len(kernels) + 0.6), layout="constrained")
    axes = figure.subplots(len(kernels), 2, squeeze=False)
    figure.suptitle(visible(f"{history.machine.name}: {len(history.runs)} runs"))
    for row, kernel in zip(axes, kernels, strict=True):
        points = history.points[history.points["kernel"] == kernel]
        styles = line_styles(points)
        for quantity, ax in zip(("median", "speedup"), row, strict=True):
            _plot_quantity(ax, history, points, quantity, styles)
        handles, labels = row[0].get_legend_handles_labels()
        row[1].legend(handles, labels, fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5),
                      ncols=math.ceil(len(labels) / LEGEND_ROWS))
        row[0].set_title(visible(f"{kernel}: median time"))
        row[1].set_title(visible(f"{kernel}: speedup over serial"))
    return figure


def line_styles(points: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """Label → colour and marker of its line, distinct for any number of lines.

    A hue per way of running (executor, start method, scaling, interpreter), so each reads as
    one family with its worker counts side by side; within it, a shade from light to dark and a
    marker per worker count (the same marker for the same count everywhere). A 17-line kernel
    (serial and eight executors at 1 and 2 workers) needs 9 hues, which tab10 has; more
    families than that sample a colour map evenly instead.
    """
    lines = points.drop_duplicates("label")
    methods = lines["start_method"].fillna("")
    # a way of running: executor, start method, scaling and interpreter
    ways = list(zip(lines["executor"], methods, lines["scaling"], lines["interpreter"],
                    strict=True))
    families = list(dict.fromkeys(ways))
    hues = (matplotlib.colormaps["tab10"](np.arange(len(families))) if len(families) <= LINE_HUES
            else matplotlib.colormaps["turbo"](np.linspace(0.05, 0.95, len(families))))
    counts = sorted(set(lines["workers"]))
    styles = {}
    for label, way, workers in zip(lines["label"], ways, lines["workers"], strict=True):
        hue = np.asarray(colors.to_rgb(hues[families.index(way)]))
        ranks = sorted(workers_of for way_of, workers_of in zip(ways, lines["workers"],
                                                                  strict=True) if way_of == way)
        darkness = ranks.index(workers) / (len(ranks) - 1) - 0.5 if len(ranks) > 1 else 0.0
        shaded = hue * (1 - 0.6 * darkness) if darkness > 0 else hue - (1 - hue) * 0.6 * darkness
        styles[str(label)] = {"color": tuple(float(part) for part in shaded),
                              "marker": WORKER_MARKERS[counts.index(workers) % len(WORKER_MARKERS)]}
    return styles


def _plot_quantity(ax: Axes, history: History, points: pd.DataFrame, quantity: str,
                   styles: dict[str, dict[str, Any]]) -> None:
    for (scenario, label), series in points.groupby(["scenario", "label"], sort=False):
        series = series.dropna(subset=[quantity])
        if series.empty:
            continue
        ax.plot(series["run"], series[quantity], linewidth=1, markersize=4,
                label=visible(str(label)), **styles[str(label)])
        for step in history.steps:
            if (step.scenario, step.quantity) == (scenario, quantity):
                ax.plot([step.run], [step.after], linestyle="none", markersize=11,
                        marker="^" if step.ratio > 1 else "v",
                        color="#d62728" if step.regression else "#2ca02c")
    if quantity == "median":
        ax.set_yscale("log")
        _label_seconds(ax)
    else:
        ax.yaxis.set_major_formatter(ticker.FuncFormatter(lambda value, _: f"{value:g}×"))
    ticks = np.unique(np.linspace(0, len(history.runs) - 1, min(len(history.runs), 8)).round())
    ax.set_xticks(ticks, [history.runs[int(tick)].label for tick in ticks], rotation=30,
                  ha="right", fontsize=7)
    ax.grid(True, alpha=0.3)


def _label_seconds(ax: Axes) -> None:
    """Labels over the whole of a log time axis, none overlapping, the other ticks unlabelled.

    Labelling every minor tick piled each decade's 6 to 9 into one smudge, so the top of each
    decade could not be read. Now 1, 2 and 5 of each decade are labelled (only the decades
    over more than 4 decades; 1, 2, 3, 5 and 7 over less than 1.5), or round numbers where
    that leaves fewer than 3 labels."""
    low, high = ax.get_ylim()
    decades = math.log10(high / low) if 0 < low < high else 0.0
    subs = (1.0,) if decades > 4 else (1.0, 2.0, 5.0) if decades > 1.5 else FINE_SUBS
    major: ticker.Locator = ticker.LogLocator(subs=subs)
    if sum(low <= tick <= high for tick in major.tick_values(low, high)) < 3:
        major = ticker.MaxNLocator(nbins=4, steps=[1, 2, 2.5, 5, 10])
    ax.yaxis.set_major_locator(major)
    ax.yaxis.set_minor_locator(ticker.LogLocator(subs="auto"))
    ax.yaxis.set_major_formatter(ticker.FuncFormatter(lambda value, _: format_seconds(value)))
    ax.yaxis.set_minor_formatter(ticker.NullFormatter())


def steps_rows(history: History) -> list[tuple[bool, list[str]]]:
    """(regression?, cells) per step, regressions first: what changed, between which runs,
    from which level to which."""
    rows = []
    for step in sorted(history.steps, key=lambda item: (not item.regression, item.run)):
        show = format_seconds if step.quantity == "median" else format_ratio
        verdict = {("median", True): "slower", ("median", False): "faster",
                   ("speedup", True): "scales worse", ("speedup", False): "scales better"}
        rows.append((step.regression, [
            verdict[step.quantity, step.regression], step.scenario, step.quantity,
            f"{history.runs[step.previous].label} → {history.runs[step.run].label}",
            f"{show(step.before)} → {show(step.after)}", f"{step.ratio:.2f}×",
        ]))
    return rows


def render_html(history: History) -> str:
    """A self-contained page: images inline as base64 PNG, no script, no network."""
    kernels = list(dict.fromkeys(history.points["kernel"]))
    images = {kernel: png_data_uri(plot_history(history, [kernel])) for kernel in kernels}
    return render_page("history.html.j2", history=history, images=images,
                       steps=steps_rows(history), min_runs=MIN_RUNS)


def write_history(history: History, output: Path) -> Path:
    """`.html` (the page) or `.png` (all kernels in one image), written atomically."""
    suffix = output.suffix.lower()
    if suffix not in FORMATS:
        raise UsageError(f"-o {output}: the history is written as .html or .png; "
                         "e.g. -o history.html")
    if suffix == ".html":
        return write_atomically(output, render_html(history).encode())
    image = io.BytesIO()
    plot_history(history).savefig(image, format="png", dpi=100)
    return write_atomically(output, image.getvalue())
