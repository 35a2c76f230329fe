"""A costs summary in words and tables of strings, shared by the terminal and the report."""

from __future__ import annotations

import dataclasses
import math

from mpbench.costs.figures import BreakEven, CoresSource, CostSummary, Figure, figure
from mpbench.costs.model import smallest_paying_chunk, workers_worth_it
from mpbench.costs.probes import MAX_TASKS, Measure, Pattern, format_bytes
from mpbench.tables import Table, format_seconds

_WHAT = {
    Pattern.POOL: "Pool", Pattern.POOL_MAP: "Pool.map, chunk size 1",
    Pattern.POOL_MAP_CHUNKED: "Pool.map, default chunk size",
    Pattern.POOL_ASYNC: "Pool.apply_async + get", Pattern.PROCESS_POOL: "ProcessPoolExecutor",
    Pattern.THREAD_POOL: "ThreadPoolExecutor", Pattern.THREADS: "Thread start + join",
    Pattern.PROCESS: "Process start + join", Pattern.VALUE_LOCK: "Value += 1 under its Lock",
    Pattern.MANAGER_LIST: "Manager().list().append",
    Pattern.MANAGER_DICT: "Manager().dict()[k] = v",
    Pattern.QUEUE: "Queue.put + get, between processes",
}
PER = {Measure.STARTUP: "start", Measure.DISPATCH: "task", Measure.ROUND_TRIP: "round trip",
        Measure.SHARED: "operation", Measure.LOADED: "task"}
_NAMES = {Pattern.POOL_MAP: "Pool.map", Pattern.POOL_ASYNC: "Pool.apply_async",
          Pattern.PROCESS_POOL: "ProcessPoolExecutor.map",
          Pattern.THREAD_POOL: "ThreadPoolExecutor.map", Pattern.THREADS: "threads"}
EXAMPLE_TASK_S = 1e-3  # the task length the workers advice is given for


def describe(item: Figure) -> str:
    """What a figure measured, in words: `Pool.map, chunk size 1`, `100 B of numpy`."""
    probe = item.probe
    if probe.measure == Measure.ROUND_TRIP.value:
        return f"{format_bytes(probe.payload_bytes)} of {probe.payload_kind}"
    if probe.pattern == Pattern.VALUE_LOCK.value:
        return f"{_WHAT[Pattern.VALUE_LOCK]}, {probe.workers} contending"
    if probe.measure == Measure.LOADED.value:
        return f"{_WHAT[Pattern(probe.pattern)]}, busy worker"
    return _WHAT[Pattern(probe.pattern)]


def format_rate(per_second: float, bytes_: bool) -> str:
    """`1.2 M/s`, `350 MB/s`: three significant digits."""
    if not math.isfinite(per_second):
        return "n/a"
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3), ("", 1.0)):
        if per_second >= scale or not unit:
            rate = f"{per_second / scale:#.3g}".rstrip(".")
            return f"{rate} {unit}B/s" if bytes_ else f"{rate} {unit}/s" if unit else \
                f"{rate}/s"
    raise AssertionError("unreachable")


_TITLES = {
    Measure.STARTUP: "Start-up: creating the executor until each worker has run a task",
    Measure.DISPATCH: "Dispatch: what one trivial task costs beyond its work",
    Measure.ROUND_TRIP: "Round trip: a payload to a worker and back, pickling included",
    Measure.SHARED: "Shared state: one operation",
    Measure.LOADED: "Hand-over under load: what one task costs beyond its work while its worker "
                    "is busy (one worker, 300 µs tasks, paired with serial)",
}


def figures_tables(summary: CostSummary) -> list[Table]:
    """One table per measure: median cost per operation, its 95 % interval, and the rate."""
    tables = []
    for measure in _TITLES:
        items = [item for item in summary.figures if item.probe.measure == measure.value]
        if not items:
            continue
        trips = measure == Measure.ROUND_TRIP
        rate = [] if measure in (Measure.STARTUP, Measure.LOADED) else [
            "payload rate" if trips else "per second"]
        rows = [[describe(item), str(item.probe.workers), item.probe.start_method or "",
                 format_seconds(item.seconds),
                 f"{format_seconds(item.low)}–{format_seconds(item.high)}",
                 *([format_rate(item.per_second, trips)] if rate else [])] for item in items]
        tables.append(Table(_TITLES[measure],
                            ["what", "w", "start", f"per {PER[measure]}", "95 % interval",
                             *rate], rows, text_columns=3,
                            notes=["payload rate: payload bytes over the round trip's time "
                                   "(they travel both ways)"] if trips else []))
    return tables


def _break_even_text(seconds: float | None) -> str:
    if seconds is None:
        return "not swept"
    if seconds == math.inf:
        return "never"
    return "below the sweep" if seconds == 0 else format_seconds(seconds)


def measured_text(item: BreakEven, longest: float | None) -> str:
    """`137 µs (110 µs – 170 µs)`, `never (by 100 ms)`."""
    if item.measured_s == math.inf and longest is not None:
        return f"never (by {format_seconds(longest)})"
    text = _break_even_text(item.measured_s)
    if item.measured_s and math.isfinite(item.measured_s) and item.measured_low_s is not None:
        text += (f" ({_break_even_text(item.measured_low_s)}–"
                 f"{_break_even_text(item.measured_high_s)})")
    return text


_SOURCES = {
    CoresSource.SWEEP: "the sweep's longest tasks on processes, paired with serial",
    CoresSource.PROBE: "the rounds' machine probes",
    CoresSource.ASSUMED: "assumed: nothing measured them",
}


def break_even_table(summary: CostSummary) -> Table:
    longest = max((point.task_seconds for point in summary.sweep), default=None)
    rows = []
    for item in summary.break_evens:
        ratio = item.ratio
        rows.append([
            _NAMES[Pattern(item.executor)], item.start_method or "",
            _break_even_text(item.predicted_s), measured_text(item, longest),
            "n/a" if ratio is None else f"{ratio:.2f}",
            _break_even_text(item.predicted_vs_threads_s)
            if item.predicted_vs_threads_s is not None else ""])
    cores = f"{summary.effective_cores:.2f} effective cores ({_SOURCES[summary.cores_source]})"
    return Table(f"Break-even task time, a map of {MAX_TASKS:,} tasks with the pool started",
                 ["executor", "start", "predicted", "measured (95 % interval)", "ratio",
                  "vs GIL threads"], rows,
                 notes=[f"predicted: the model, with the work divided by {cores}; measured: "
                        "where the sweep's paired speedup over serial reaches 1; ratio: "
                        "predicted / measured; vs GIL threads: the model's break-even against "
                        "threads of a GIL build rather than serial"])


def sentences(summary: CostSummary) -> list[str]:
    """Plain advice from the figures and the model."""
    said: list[str] = []
    said += _pool_sentences(summary)
    said += _startup_sentences(summary)
    said += _thread_sentences(summary)
    said += _data_sentences(summary)
    said += _shared_sentences(summary)
    return said


def _pool_sentences(summary: CostSummary) -> list[str]:
    said = []
    workers = summary.results.machine.usable_cpus
    for item in summary.break_evens:
        pattern = Pattern(item.executor)
        if not pattern.uses_processes:
            continue
        name = f"{_NAMES[pattern]} ({item.start_method})" if item.start_method else \
            _NAMES[pattern]
        if not math.isfinite(item.predicted_s):
            said.append(f"{name} never pays off here: {summary.effective_cores:.2f} effective "
                        "cores leave nothing to gain.")
            continue
        text = f"{name} pays off for tasks longer than about {format_seconds(item.predicted_s)}"
        if pattern == Pattern.POOL_MAP:
            shorter = item.predicted_s / 10
            chunk = smallest_paying_chunk(item.costs, shorter)
            text += (f"; for tasks of {format_seconds(shorter)}, use chunks of at least "
                     f"{chunk} tasks" if chunk is not None else
                     f"; below that, chunks do not help: each task still costs "
                     f"{format_seconds(item.costs.per_task_s)}")
        started = Pattern.PROCESS_POOL if pattern == Pattern.PROCESS_POOL else Pattern.POOL
        startup = {count: found.seconds for count in range(1, workers + 1)
                   if (found := figure(summary, Measure.STARTUP, started, count,
                                       item.start_method))}
        by_workers = {count: dataclasses.replace(
            item.costs, cores=min(float(count), summary.effective_cores))
            for count in range(1, workers + 1)}
        best = workers_worth_it(by_workers, MAX_TASKS, EXAMPLE_TASK_S, startup)
        said.append(f"{text}. For {MAX_TASKS:,} tasks of {format_seconds(EXAMPLE_TASK_S)}, "
                    f"start-up included, {best} worker{'s are' if best > 1 else ' is'} worth "
                    f"it{' (serial is as fast)' if best == 1 else ''}.")
    return said


def _startup_sentences(summary: CostSummary) -> list[str]:
    workers = summary.results.machine.usable_cpus
    starts = [(method, item) for method in summary.results.options.start_methods
              if (item := figure(summary, Measure.STARTUP, Pattern.POOL, workers, method))]
    if not starts:
        return []
    listed = ", ".join(f"{format_seconds(item.seconds)} with {method}" for method, item in starts)
    cheapest = min(starts, key=lambda pair: pair[1].seconds)[0]
    return [f"Starting a Pool of {workers} costs {listed}: for runs under a second, prefer "
            f"{cheapest} or keep the pool."]


def _thread_sentences(summary: CostSummary) -> list[str]:
    item = next((item for item in summary.break_evens
                 if item.executor == Pattern.THREADS.value), None)
    if item is None:
        return []
    if summary.gil_enabled:
        if item.measured_s is not None and item.measured_s < math.inf:
            # Above physics: one thread runs at a time, so the host itself changed speed.
            fastest = max(point.speedup for point in summary.sweep
                          if point.probe.pattern == Pattern.THREADS.value)
            return [f"Threads measured faster than serial here (up to {fastest:.2f}×), which "
                    "the GIL does not allow for pure-Python work: the host ran one busy thread "
                    "slower than two, so this file's sweep measured the host as much as the "
                    "executors; measure again. The model says threads never pay off on this GIL "
                    "build; use processes, or a free-threaded Python."]
        agreed = "and the sweep agrees" if item.measured_s == math.inf else \
            "though threads were not swept"
        return [f"Threads never pay off for pure-Python work on this GIL build: the model says "
                f"so, {agreed}; use processes, or a free-threaded Python."]
    return [f"Threads pay off for tasks longer than about {format_seconds(item.predicted_s)} "
            "on this free-threaded build."]


def _data_sentences(summary: CostSummary) -> list[str]:
    trips = [item for item in summary.figures if item.probe.measure == Measure.ROUND_TRIP.value
             and item.probe.payload_kind == "bytes"]
    if not trips:
        return []
    largest = max(trips, key=lambda item: item.probe.payload_bytes)
    return [f"Sending {format_bytes(largest.probe.payload_bytes)} to a worker and back takes "
            f"{format_seconds(largest.seconds)} "
            f"({format_rate(largest.per_second, True)}): send a task what it needs, not "
            "everything."]


def _shared_sentences(summary: CostSummary) -> list[str]:
    locked = figure(summary, Measure.SHARED, Pattern.VALUE_LOCK, 1)
    appended = figure(summary, Measure.SHARED, Pattern.MANAGER_LIST)
    queued = figure(summary, Measure.SHARED, Pattern.QUEUE)
    said = []
    if locked and appended:
        said.append(f"A Manager list append costs {format_seconds(appended.seconds)}: "
                    f"{appended.seconds / locked.seconds:.0f}× a locked Value "
                    f"({format_seconds(locked.seconds)}).")
    if queued:
        said.append(f"A Queue put + get between processes costs "
                    f"{format_seconds(queued.seconds)}.")
    return said
