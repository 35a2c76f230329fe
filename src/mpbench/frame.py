"""Results files → one tidy pandas DataFrame: the only bridge from pyperf to pandas.

One row per timed value (warmups left out). The columns, in order, are `COLUMNS`; the README
documents each.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyperf

from mpbench.costs.probes import Measure
from mpbench.errors import ResultsFileError
from mpbench.model import BASELINE_FIRST, Scaling, paired_baseline, work
from mpbench.storage import Results, is_costs_file, read

if TYPE_CHECKING:
    from mpbench.costs.store import CostResults

COLUMNS: dict[str, str] = {
    "file": "string",
    "machine": "string",
    "python": "string",
    "interpreter": "string",
    "free_threaded": "boolean",
    "scenario": "string",
    "kernel": "string",
    "executor": "string",
    "start_method": "string",
    "workers": "int64",
    "scaling": "string",
    "work": "int64",
    "size": "int64",
    "tasks": "int64",
    "blas_threads": "int64",
    "kernel_hash": "string",
    "usable_cpus": "int64",
    "cpus_granted": "int64",
    "cpus": "string",
    "gil_enabled": "boolean",
    "workers_gil_enabled": "boolean",
    "process": "int64",
    "round": "int64",
    "sample": "int64",
    "value": "float64",
    "baseline_s": "float64",
    "baseline_first": "boolean",
    "startup_s": "float64",
    "other_load": "float64",
    "contended": "boolean",
    "reference_ms": "float64",
    "result": "string",
    "date": "datetime64[ns, UTC]",
    # Set on the rows of a costs file (from `mpbench costs`) only: what was measured, and a
    # round trip's payload.
    "measure": "string",
    "payload_bytes": "Int64",
}

PathArg = str | os.PathLike[str]
# CPUs' worth of other processes' work, on average while values were timed, that marks a
# measurement as taken on a busy machine.
CONTENDED_LOAD = 0.2
# A reference loop this much slower than its median over the file means the CPU itself was
# slower while the scenario was measured: a busy host, throttling. Noise stays under 10 %.
SLOWED = 1.15
# Time zones in use today are whole quarter hours from UTC, from UTC-12:00 to UTC+14:00.
QUARTER_HOUR = dt.timedelta(minutes=15)
CLOCK_SLACK = dt.timedelta(minutes=1)
UTC_OFFSETS = (dt.timedelta(hours=-12), dt.timedelta(hours=14))
# What a datetime64[ns] holds.
NS_DATES = (dt.datetime(1678, 1, 1, tzinfo=dt.UTC), dt.datetime(2262, 1, 1, tzinfo=dt.UTC))


def results_paths(paths: PathArg | Iterable[PathArg]) -> list[Path]:
    """Files named directly, plus every results file inside folders that are named."""
    items = [paths] if isinstance(paths, str | os.PathLike) else list(paths)
    found: list[Path] = []
    for item in map(Path, items):
        if item.is_dir():
            found.extend(sorted(p for p in item.iterdir()
                                if p.name.endswith((".json", ".json.gz"))))
        else:
            found.append(item)
    if not found:
        raise ResultsFileError(f"no results files in {', '.join(map(str, items)) or 'nothing'}")
    return found


def load(paths: PathArg | Iterable[PathArg]) -> pd.DataFrame:
    """Read results files and costs files (or folders of them) into the tidy frame."""
    from mpbench.costs import store

    return to_frame([store.read(path) if is_costs_file(path) else read(path)
                     for path in results_paths(paths)])


def to_frame(results: Sequence[Results | CostResults]) -> pd.DataFrame:
    rows = [row for result in results
            for row in (_rows(result) if isinstance(result, Results) else _cost_rows(result))]
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    return frame.astype(COLUMNS)


def _cost_rows(results: CostResults) -> Iterable[dict[str, Any]]:
    """A costs file's rows: `value` is seconds per operation (the sweep: per map, with the
    serial map in `baseline_s`), `tasks` the operations each value covers."""
    interpreter = results.interpreter
    offsets = utc_offsets(results)
    probes = {probe.id: probe for probe in results.plan}
    for bench in results.benchmarks:
        probe = probes[bench.get_name()]
        spun = Measure(probe.measure).paired  # maps of spin tasks
        axes = {
            "python": interpreter.version, "interpreter": interpreter.tag,
            "scenario": probe.id, "kernel": "spin" if spun else None,
            "executor": probe.pattern, "start_method": probe.start_method,
            "workers": probe.workers, "scaling": Scaling.STRONG.value, "work": 1,
            "size": probe.task_iterations * probe.operations, "tasks": probe.operations,
            "blas_threads": 0, "kernel_hash": None, "measure": probe.measure,
            "payload_bytes": probe.payload_bytes or None,
        }
        for metadata, sample in _samples(results, bench, offsets):
            yield {**axes, **sample, "startup_s": None,
                   "workers_gil_enabled": metadata.get("gil_enabled", "yes") == "yes"}


def _rows(results: Results) -> Iterable[dict[str, Any]]:
    machine = results.machine
    offsets = utc_offsets(results)
    for bench in results.benchmarks:
        tag = str(bench.get_metadata()["interpreter"])
        interpreter = results.interpreter(tag)
        for metadata, sample in _samples(results, bench, offsets):
            scaling = str(metadata.get("scaling", Scaling.STRONG.value))
            yield {
                **sample,
                "python": machine.python_version if interpreter is None
                else interpreter.version,
                "interpreter": tag,
                "scenario": bench.get_name(),
                "kernel": metadata["kernel"],
                "executor": metadata["executor"],
                "start_method": metadata.get("start_method"),
                "workers": metadata["workers"],
                "scaling": scaling,
                "work": work(scaling, metadata["workers"]),
                "size": metadata["size"],
                "tasks": metadata["tasks"],
                "blas_threads": metadata["blas_threads"],
                "kernel_hash": metadata.get("kernel_hash"),
                "workers_gil_enabled": metadata.get("workers_gil_enabled", "yes") != "no",
                "startup_s": _number(metadata, "startup_s", float),
                "measure": None,
                "payload_bytes": None,
            }


def _samples(results: Results | CostResults, bench: pyperf.Benchmark,
             offsets: Mapping[int, dt.timedelta]
             ) -> Iterable[tuple[dict[str, Any], dict[str, Any]]]:
    """Each timed value of a benchmark with its visit's metadata, and the columns every row
    has whatever it measured: the file, the machine, the visit and the value (`offsets`: see
    utc_offsets)."""
    machine = results.machine
    for process, run in enumerate(r for r in bench.get_runs() if r.values):
        metadata = run.get_metadata()
        other_load = _number(metadata, "other_load", float)
        # pyperf's date is local time without an offset: its round's UTC start gives it one
        date = _utc(_date(metadata.get("date")), offsets.get(_number(metadata, "round", int)))
        paired = paired_baseline(metadata, run.values)
        baseline: list[float | None] = [*paired] if paired else [None] * len(run.values)
        first = metadata.get(BASELINE_FIRST)
        for sample, value in enumerate(run.values):
            yield metadata, {
                "file": str(results.path),
                "machine": machine.name,
                "free_threaded": metadata.get("free_threaded") == "yes",
                "usable_cpus": machine.usable_cpus,
                "cpus_granted": _number(metadata, "cpus_granted", int) or machine.usable_cpus,
                "cpus": metadata.get("cpus"),
                "gil_enabled": metadata.get("gil_enabled", "yes") == "yes",
                "process": process,
                "round": _number(metadata, "round", int),
                "sample": sample,
                "value": value,
                "baseline_s": baseline[sample],
                # the first value's baseline ran first when it is 1; the order alternates
                "baseline_first": None if baseline[sample] is None or first not in (0, 1)
                else bool((first + sample) % 2 == 1),
                "other_load": other_load,
                "contended": other_load is not None and other_load >= CONTENDED_LOAD,
                "reference_ms": _number(metadata, "reference_ms", float),
                "result": str(metadata.get("result", "")) or None,
                "date": date,
            }


def utc_offsets(results: Results | CostResults) -> dict[int, dt.timedelta]:
    """Round → the timing machine's UTC offset while it ran.

    pyperf writes `date` as the worker's local time without an offset (`datetime.now()`, and
    it does not pass TZ on to workers), while the round's `started` is UTC, from the same clock
    before its first visit: the round's earliest date minus its start, rounded down to a
    quarter hour, is the offset. A round whose records give no real offset has none."""
    starts = {record.index: _utc(_date(record.started), None) for record in results.rounds}
    gaps: dict[int, dt.timedelta] = {}
    for bench in results.benchmarks:
        for run in bench.get_runs():
            metadata = run.get_metadata()
            index, date = _number(metadata, "round", int), _date(metadata.get("date"))
            start = starts.get(index)
            if date is None or date.tzinfo is not None or start is None:
                continue
            gap = date - start.replace(tzinfo=None)
            gaps[index] = min(gap, gaps.get(index, gap))
    # The gap is the offset plus the time from the round's start to its first visit's date:
    # rounded down (with a minute's slack for clocks), not to the nearest quarter, so a first
    # visit that ends 8 minutes in does not add 15 to the offset.
    offsets = {index: ((gap + CLOCK_SLACK) // QUARTER_HOUR) * QUARTER_HOUR
               for index, gap in gaps.items()}
    return {index: offset for index, offset in offsets.items()
            if UTC_OFFSETS[0] <= offset <= UTC_OFFSETS[1]}


def _date(text: object) -> dt.datetime | None:
    """An ISO 8601 date and time, naive or not; None when it is not one."""
    try:
        return dt.datetime.fromisoformat(text) if isinstance(text, str) else None
    except ValueError:
        return None


def _utc(date: dt.datetime | None, offset: dt.timedelta | None) -> dt.datetime | None:
    """`date` as UTC: a naive one is local time `offset` ahead of UTC, or UTC without one
    (mpbench records UTC everywhere else); None outside what the frame's dtype holds."""
    if date is None:
        return None
    try:
        utc = (date.astimezone(dt.UTC) if date.tzinfo is not None
               else (date - (offset or dt.timedelta())).replace(tzinfo=dt.UTC))
    except OverflowError:
        return None
    return utc if NS_DATES[0] <= utc < NS_DATES[1] else None


def _number(metadata: dict[str, Any], name: str, kind: type[int] | type[float]) -> Any:
    """An optional figure of the run's metadata; None when absent or not a number."""
    value = metadata.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return kind(value) if kind is float or isinstance(value, int) else None


def same_series(frame: pd.DataFrame, series: Mapping[Any, Any] | pd.Series[Any]
                ) -> pd.Series[bool]:
    """Rows of the scaling series `series` (a row of any frame with these columns) belongs
    to: a file's kernel under one interpreter, run by one executor and start method (a missing
    start method, as for threads, matches a missing one), scaled one way."""
    method = series["start_method"] if isinstance(series["start_method"], str) else ""
    rows: pd.Series[bool] = (
        (frame["file"] == series["file"]) & (frame["interpreter"] == series["interpreter"])
        & (frame["kernel"] == series["kernel"]) & (frame["executor"] == series["executor"])
        & (frame["start_method"].fillna("") == method) & (frame["scaling"] == series["scaling"]))
    return rows
