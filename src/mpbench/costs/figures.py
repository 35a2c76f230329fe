"""From a costs file to figures: each probe's cost per operation with its interval, the sweep's
paired speedups, and, per executor, the break-even task time the model predicts beside the one
the sweep shows. Pure functions of the file; nothing is measured here."""

from __future__ import annotations

import dataclasses
import enum
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mpbench import estimates
from mpbench.costs.model import ExecutorCosts, break_even, chunk_costs
from mpbench.costs.probes import MAX_TASKS, CostProbe, Measure, Pattern, sweep_tasks
from mpbench.costs.store import CostResults
from mpbench.estimates import FloatArray
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
        return scale / self.seconds if self.seconds > 0 else math.inf


@dataclass(frozen=True, eq=False)
class SweepPoint:
    """A sweep map: its real task length (the serial map's median / tasks) and the paired
    speedup of the executor over serial, with its interval and bootstrap replicates."""

    probe: CostProbe
    task_seconds: float
    speedup: float
    low: float
    high: float
    replicates: FloatArray


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


class CoresSource(enum.Enum):
    """Where the model's effective cores come from, best first."""

    # The paired speedup of the sweep's longest tasks on processes, whose hand-overs cost
    # under 0.1 % of the work: doctor's measure (N processes' throughput over one's), taken
    # in ABBA pairs beside the sweep rather than in a snapshot of a tenth of a second.
    SWEEP = "sweep"
    PROBE = "probe"  # the median of the rounds' machine probes (doctor's snapshot)
    ASSUMED = "assumed"  # neither: every usable CPU


LONG_TASK_S = 0.01  # tasks this long make hand-over costs negligible, for the effective cores


@dataclass(frozen=True)
class CostSummary:
    results: CostResults
    figures: list[Figure]
    sweep: list[SweepPoint]
    break_evens: list[BreakEven]
    effective_cores: float
    cores_source: CoresSource
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
        if Measure(probe.measure).paired:
            baseline = [paired_baseline(run.get_metadata(), run.values) for run in runs]
            if any(item is None for item in baseline) or not len(values):
                continue
            serial = np.array([value for item in baseline for value in item or ()])
            if probe.measure == Measure.LOADED.value:  # beyond the work, pair by pair
                beyond = (values - serial) / probe.operations
                figures.append(Figure(probe, *estimates.median_estimate(beyond, visits,
                                                                        probe.id)))
                continue
            sweep.append(SweepPoint(probe, float(np.median(serial)) / probe.operations,
                                    *estimates.replicated_speedup(serial, values, visits,
                                                                  probe.id)))
        elif len(values):
            figures.append(Figure(probe, *estimates.median_estimate(values, visits, probe.id)))
    cores, source = effective_cores(results, sweep)
    summary = CostSummary(results, figures, sweep, [], cores, source, gil)
    return dataclasses.replace(summary, break_evens=break_evens(summary))


def effective_cores(results: CostResults, sweep: Sequence[SweepPoint]
                    ) -> tuple[float, CoresSource]:
    """How many cores' worth of work processes get here (see CoresSource), at most the usable
    CPUs: a paired speedup above them is the noise of a drifting host."""
    usable = float(results.machine.usable_cpus)
    processes = [point for point in sweep if Pattern(point.probe.pattern).uses_processes]
    longest = max((point.probe.task_seconds for point in processes), default=0.0)
    if longest >= LONG_TASK_S:
        speedups = [point.speedup for point in processes
                    if point.probe.task_seconds == longest and math.isfinite(point.speedup)]
        if speedups:
            return min(usable, statistics.median(speedups)), CoresSource.SWEEP
    probed = [record.effective_cores for record in results.rounds
              if record.effective_cores is not None]
    if probed:
        return min(usable, statistics.median(probed)), CoresSource.PROBE
    return usable, CoresSource.ASSUMED


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
    # A task costs at least what the pipeline of trivial tasks shows, and at least what a
    # busy worker sees.
    loaded = figure(summary, Measure.LOADED, pattern)
    per_task = max(dispatched.seconds, loaded.seconds if loaded else 0.0)
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
            per_chunk, per_item = chunk_costs(per_task, chunked.seconds, chunk)
            return ExecutorCosts(0.0, per_chunk, per_item, process_cores), chunk
    return ExecutorCosts(0.0, per_task, 0.0, process_cores), 1


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
        # a point of one value has no interval, and no place in a crossing's
        points = [point for point in points if math.isfinite(point.low)
                  and math.isfinite(point.high) and np.isfinite(point.replicates).all()]
        measured, low, high = measured_break_even(points) if points else (None, None, None)
        dispatched = figure(summary, Measure.DISPATCH, pattern,
                            summary.results.machine.usable_cpus)
        versus_threads = None
        if pattern.uses_processes and gil_threads is not None:
            versus_threads = break_even(costs, MAX_TASKS, rival=gil_threads)
        found.append(BreakEven(
            pattern.value, dispatched.probe.start_method if dispatched else None,
            break_even(costs, MAX_TASKS), versus_threads, measured, low, high, costs, chunk))
    return found


def measured_break_even(points: Sequence[SweepPoint]
                        ) -> tuple[float, float | None, float | None]:
    """Where an executor's sweep crosses 1, and the 95 % interval of that crossing over the
    points' bootstrap replicates, drawn point by point. Where the longest tasks do not pay off
    beyond doubt (threads under the GIL sit at 1 within the noise) it never breaks even: a
    crossing of the medians there is noise."""
    lengths = [point.task_seconds for point in points]
    crossings = [crossing(lengths, draw) for draw in
                 zip(*(point.replicates for point in points), strict=True)]
    # No interpolation between draws: some crossings are infinite (never).
    low, high = (float(bound) for bound in
                 np.quantile(crossings, [0.025, 0.975], method="inverted_cdf"))
    if not points[-1].low > 1:
        return math.inf, None, None
    return crossing(lengths, [point.speedup for point in points]), low, high


def crossing(lengths: Sequence[float], speedups: Sequence[float]) -> float:
    """The task length (of `lengths`, ascending) where the speedups reach 1, read between the
    two points either side on a log scale: the shortest length above which every point is at
    least 1. 0 when all are; inf when the longest is still below 1."""
    if speedups[-1] < 1:
        return math.inf
    last_below = max((index for index, value in enumerate(speedups) if value < 1), default=None)
    if last_below is None:
        return 0.0
    low, high = speedups[last_below], speedups[last_below + 1]
    fraction = (1 - low) / (high - low)
    shorter, longer = math.log(lengths[last_below]), math.log(lengths[last_below + 1])
    return math.exp(shorter + fraction * (longer - shorter))


PRECISE = 1.5  # a measured break-even whose interval spans less than this factor is settled
NEAR = 1.2  # a sweep point this close to a crossing is measured again rather than another added
REFINED_MAP_SECONDS = 0.1  # a point added at a crossing maps up to 1,000 tasks, as the model


def precision_probes(summary: CostSummary) -> list[CostProbe]:
    """Where more pairs settle an unsettled break-even best: at each measured crossing whose
    interval spans more than PRECISE, the sweep point there, or a new point at the crossing
    (its spin turns scaled from the nearest point's measured length, its id rounded to two
    digits, so repeated asks land on the same point)."""
    wanted = []
    for item in summary.break_evens:
        if item.measured_s is None or not 0 < item.measured_s < math.inf or (
                item.measured_high_s is not None and item.measured_low_s
                and item.measured_high_s / item.measured_low_s <= PRECISE):
            continue
        crossed = item.measured_s
        points = [point for point in summary.sweep if point.probe.pattern == item.executor]
        nearest = min(points, key=lambda point: abs(math.log(point.task_seconds / crossed)))
        target = float(f"{crossed:.2g}")
        existing = {point.probe.task_seconds: point.probe for point in points}
        if abs(math.log(nearest.task_seconds / crossed)) < math.log(NEAR):
            wanted.append(nearest.probe)
        elif target in existing:
            wanted.append(existing[target])
        else:
            turns = round(nearest.probe.task_iterations * crossed / nearest.task_seconds)
            wanted.append(dataclasses.replace(
                nearest.probe, task_seconds=target, task_iterations=max(1, turns),
                operations=sweep_tasks(crossed, nearest.probe.workers, REFINED_MAP_SECONDS)))
    return wanted
