"""From a costs file to figures: each probe's cost per operation with its interval, the sweep's
paired speedups, and, per executor, the break-even task time the model predicts beside the one
the sweep shows. Pure functions of the file; nothing is measured here."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mpbench import estimates
from mpbench.costs.model import ExecutorCosts, break_even, chunk_costs
from mpbench.costs.probes import MAX_TASKS, CostProbe, Measure, Pattern
from mpbench.costs.store import CostResults
from mpbench.model import paired_baseline


@dataclass(frozen=True)
class Figure:
    """One measured cost: seconds per operation, median and 95 % interval."""

    probe: CostProbe
    seconds: float
    low: float
    high: float

    @property
    def per_second(self) -> float:
        """Operations per second (for a round trip: payload bytes per second)."""
        scale = self.probe.payload_bytes if self.probe.measure == Measure.ROUND_TRIP.value else 1
        return scale / self.seconds


@dataclass(frozen=True)
class SweepPoint:
    """A sweep map: its real task length (the serial map's median / tasks) and the paired
    speedup of the executor over serial, with its interval."""

    probe: CostProbe
    task_seconds: float
    speedup: float
    low: float
    high: float


@dataclass(frozen=True)
class BreakEven:
    """Where an executor starts to pay off, for a map of MAX_TASKS tasks with its pool
    started: the model's task time beside the sweep's (None: not swept; inf: never in the
    sweep's range; 0: already at its shortest tasks)."""

    executor: str
    start_method: str | None
    predicted_s: float
    predicted_vs_threads_s: float | None  # against threads of a GIL build (process executors)
    measured_s: float | None
    measured_low_s: float | None
    measured_high_s: float | None
    costs: ExecutorCosts
    chunk: int  # the chunk size of the default-chunk dispatch figure (pool_map), else 1

    @property
    def ratio(self) -> float | None:
        """Predicted over measured, when both are finite."""
        if self.measured_s is None or not 0 < self.measured_s < math.inf or \
                not math.isfinite(self.predicted_s):
            return None
        return self.predicted_s / self.measured_s


@dataclass(frozen=True)
class CostSummary:
    results: CostResults
    figures: list[Figure]
    sweep: list[SweepPoint]
    break_evens: list[BreakEven]
    effective_cores: float
    effective_cores_measured: bool  # False: no round probe worked; usable CPUs assumed
    gil_enabled: bool


def summarize(results: CostResults) -> CostSummary:
    probes = {probe.id: probe for probe in results.plan}
    figures, sweep = [], []
    gil = True
    for bench in results.benchmarks:
        probe = probes[bench.get_name()]
        runs = [run for run in bench.get_runs() if run.values]
        gil = gil and all(run.get_metadata().get("gil_enabled", "yes") == "yes" for run in runs)
        values = np.array([value for run in runs for value in run.values])
        visits = np.array([index for index, run in enumerate(runs) for _ in run.values])
        if probe.measure == Measure.SWEEP.value:
            baseline = [paired_baseline(run.get_metadata(), run.values) for run in runs]
            if any(item is None for item in baseline) or not len(values):
                continue
            serial = np.array([value for item in baseline for value in item or ()])
            speedup = estimates.paired_speedup(serial, values, visits, probe.id)
            sweep.append(SweepPoint(probe, float(np.median(serial)) / probe.operations,
                                    *speedup))
        elif len(values):
            figures.append(Figure(probe, *estimates.median_estimate(values, visits, probe.id)))
    measured = [record.effective_cores for record in results.rounds
                if record.effective_cores is not None]
    cores = statistics.median(measured) if measured else float(results.machine.usable_cpus)
    summary = CostSummary(results, figures, sweep, [], cores, bool(measured), gil)
    return CostSummary(results, figures, sweep, break_evens(summary), cores, bool(measured),
                       gil)


def figure(summary: CostSummary, measure: Measure, pattern: Pattern, workers: int | None = None,
           start_method: str | None = None) -> Figure | None:
    """The figure of one probe, if it was measured."""
    for item in summary.figures:
        probe = item.probe
        if probe.measure == measure.value and probe.pattern == pattern.value and \
                (workers is None or probe.workers == workers) and \
                (start_method is None or probe.start_method == start_method):
            return item
    return None


def executor_costs(summary: CostSummary, pattern: Pattern) -> tuple[ExecutorCosts, int] | None:
    """The model's costs of a swept executor, and the chunk size they were fitted at."""
    workers = summary.results.machine.usable_cpus
    dispatched = figure(summary, Measure.DISPATCH, pattern, workers)
    if dispatched is None:
        return None
    process_cores = min(float(workers), summary.effective_cores)
    if pattern == Pattern.THREADS:  # one thread per worker per call, then plain calls
        cores = 1.0 if summary.gil_enabled else process_cores
        return ExecutorCosts(workers * dispatched.seconds, 0.0, 0.0, cores), 1
    if pattern == Pattern.THREAD_POOL:
        cores = 1.0 if summary.gil_enabled else process_cores
        return ExecutorCosts(0.0, dispatched.seconds, 0.0, cores), 1
    if pattern == Pattern.POOL_MAP:
        chunked = figure(summary, Measure.DISPATCH, Pattern.POOL_MAP_CHUNKED, workers)
        if chunked is not None:
            chunk = default_chunk(chunked.probe.operations, workers)
            per_chunk, per_task = chunk_costs(dispatched.seconds, chunked.seconds, chunk)
            return ExecutorCosts(0.0, per_chunk, per_task, process_cores), chunk
    return ExecutorCosts(0.0, dispatched.seconds, 0.0, process_cores), 1


def default_chunk(tasks: int, workers: int) -> int:
    """The chunk size `Pool.map` chooses: ceil(tasks / (4 × workers))."""
    return math.ceil(tasks / (4 * workers))


def break_evens(summary: CostSummary) -> list[BreakEven]:
    """Per executor with a dispatch figure: predicted and (if swept) measured break-even."""
    found = []
    threads = executor_costs(summary, Pattern.THREADS)
    gil_threads = None if threads is None else ExecutorCosts(
        threads[0].per_call_s, 0.0, 0.0, 1.0)
    for pattern in (Pattern.POOL_MAP, Pattern.POOL_ASYNC, Pattern.PROCESS_POOL,
                    Pattern.THREAD_POOL, Pattern.THREADS):
        fitted = executor_costs(summary, pattern)
        if fitted is None:
            continue
        costs, chunk = fitted
        points = sorted((point for point in summary.sweep if point.probe.pattern == pattern.value),
                        key=lambda point: point.task_seconds)
        measured = crossing(points, "speedup") if points else None
        dispatched = figure(summary, Measure.DISPATCH, pattern)
        versus_threads = None
        if pattern.uses_processes and gil_threads is not None:
            versus_threads = break_even(costs, MAX_TASKS, rival=gil_threads)
        found.append(BreakEven(
            pattern.value, dispatched.probe.start_method if dispatched else None,
            break_even(costs, MAX_TASKS), versus_threads, measured,
            crossing(points, "high") if points else None,
            crossing(points, "low") if points else None, costs, chunk))
    return found


def crossing(points: Sequence[SweepPoint], which: str) -> float:
    """The task length where the sweep's speedup (or an end of its interval) reaches 1, read
    between the two points either side on a log scale: the shortest length above which every
    point is at least 1. 0 when all are; inf when the longest is still below 1.

    The upper end of the speedup interval crosses first, so it gives the earliest break-even,
    and the lower end the latest."""
    speedups = [getattr(point, which) for point in points]
    if speedups[-1] < 1:
        return math.inf
    last_below = max((index for index, value in enumerate(speedups) if value < 1), default=None)
    if last_below is None:
        return 0.0
    below, above = points[last_below], points[last_below + 1]
    low, high = speedups[last_below], speedups[last_below + 1]
    fraction = (1 - low) / (high - low)
    return math.exp(math.log(below.task_seconds) + fraction *
                    (math.log(above.task_seconds) - math.log(below.task_seconds)))
