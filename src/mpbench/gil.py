"""The GIL, three ways round it, side by side: pure functions on the tidy frame and its summary.

Per kernel, at the largest worker count every interpreter of the file has, four speedups over
one common yardstick, the serial time of the GIL build (the one of the free-threaded build's
version, when the run has both):

- GIL threads: threads on that GIL build, which a kernel that holds the GIL keeps at 1×;
- free-threaded threads: threads on a free-threaded build;
- subinterpreters: `interpreter_pool`, one GIL per interpreter;
- processes: the best process executor;

each (but GIL threads) the best over the interpreters of the file.

Each scenario's own speedup is paired (over its own interpreter's serial calls, timed back to
back with it); a scenario of another interpreter is carried over to the yardstick by the ratio
of the two interpreters' serial times. That ratio is bootstrapped from every serial call of
each interpreter (serial visits and the baselines paired into parallel visits), and the two
intervals are combined in log space as independent errors. The free-threaded build's serial
cost is that ratio the other way up: its serial time over the GIL build's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum
from typing import Any

import numpy as np
import pandas as pd

from mpbench import estimates
from mpbench.analysis import PROCESS_EXECUTORS, SERIAL, THREAD_EXECUTORS
from mpbench.model import Scaling

SUBINTERPRETERS = "interpreter_pool"  # executors.InterpreterPool.name


class Way(Enum):
    """A way to run Python on several cores, in the order the table shows them."""

    FREE_THREADED_THREADS = "free-threaded threads"
    PROCESSES = "processes"
    SUBINTERPRETERS = "subinterpreters"
    GIL_THREADS = "GIL threads"


@dataclass(frozen=True)
class Ratio:
    """An estimate with its interval."""

    value: float
    low: float
    high: float

    @classmethod
    def one(cls) -> Ratio:
        return cls(1.0, 1.0, 1.0)

    def times(self, other: Ratio) -> Ratio:
        """The product, its interval combined in log space as independent errors."""
        value = self.value * other.value
        down = math.hypot(math.log(self.value / self.low), math.log(other.value / other.low))
        up = math.hypot(math.log(self.high / self.value), math.log(other.high / other.value))
        return Ratio(value, value * math.exp(-down), value * math.exp(up))

    def inverse(self) -> Ratio:
        if not self.finite:
            return Ratio(math.nan, math.nan, math.nan)
        return Ratio(1 / self.value, 1 / self.high, 1 / self.low)

    @property
    def finite(self) -> bool:
        return all(math.isfinite(x) and x > 0 for x in (self.value, self.low, self.high))


ANSWER_COLUMNS = ["file", "machine", "kernel", "workers", "yardstick", "way", "scenario",
                  "interpreter", "executor", "start_method", "speedup", "speedup_low",
                  "speedup_high", "trusted", "gil_was_on"]
COST_COLUMNS = ["file", "machine", "kernel", "free_threaded", "gil_build", "serial_cost",
                "serial_cost_low", "serial_cost_high"]


def answers(frame: pd.DataFrame, summary: pd.DataFrame) -> pd.DataFrame:
    """One row per file × kernel × way that was measured (columns ANSWER_COLUMNS): its best
    scenario at the common worker count, as a speedup over the yardstick's serial time."""
    rows: list[dict[str, Any]] = []
    strong = summary[summary["scaling"] == Scaling.STRONG.value]  # the three ways, same work
    for (file, machine, kernel), points in strong.groupby(["file", "machine", "kernel"],
                                                            sort=False):
        builds = _builds(frame, file)
        workers = _common_workers(points)
        if workers is None:
            continue
        yardstick = _yardstick(builds)
        of_kernel = frame[(frame["file"] == file) & (frame["kernel"] == kernel)]
        carry = {tag: _serial_ratio(of_kernel, yardstick, tag) for tag in builds}
        at = points[(points["workers"] == workers) & points["speedup"].notna()]
        for way in Way:
            # GIL threads are the yardstick's own; the other ways take the best interpreter.
            chosen = at[[_way(row, builds) is way and (
                way is not Way.GIL_THREADS or row.interpreter == yardstick)
                for row in at.itertuples()]]
            best = _best(chosen, carry)
            if best is None:
                continue
            point, speedup = best
            rows.append({"file": file, "machine": machine, "kernel": kernel,
                         "workers": workers, "yardstick": yardstick, "way": way,
                         "scenario": point["scenario"], "interpreter": point["interpreter"],
                         "executor": point["executor"], "start_method": point["start_method"],
                         "speedup": speedup.value, "speedup_low": speedup.low,
                         "speedup_high": speedup.high, "trusted": bool(point["trusted"]),
                         "gil_was_on": builds[str(point["interpreter"])].free_threaded
                         and _gil_was_on(frame, str(point["scenario"]), file)})
    return pd.DataFrame(rows, columns=ANSWER_COLUMNS)


def serial_costs(frame: pd.DataFrame) -> pd.DataFrame:
    """Per file × kernel × free-threaded build that has a GIL build of its version in the file:
    its serial time over the GIL build's (columns COST_COLUMNS)."""
    rows = []
    for (file, machine, kernel), of_kernel in frame.groupby(["file", "machine", "kernel"],
                                                              sort=False):
        builds = _builds(frame, file)
        for tag, build in builds.items():
            gil_build = _gil_build_of(build, builds) if build.free_threaded else None
            if gil_build is None:
                continue
            cost = _serial_ratio(of_kernel, gil_build, tag).inverse()
            if not cost.finite:  # the kernel did not run serially under one of them
                continue
            rows.append({"file": file, "machine": machine, "kernel": kernel,
                         "free_threaded": tag, "gil_build": gil_build, "serial_cost": cost.value,
                         "serial_cost_low": cost.low, "serial_cost_high": cost.high})
    return pd.DataFrame(rows, columns=COST_COLUMNS)


def verdict(rows: pd.DataFrame) -> str:
    """`free-threaded threads 1.9×, processes 1.9×, …, GIL threads 1.0× at 2 workers` for one
    file × kernel of `answers`."""
    shown = [f"{row['way'].value} {row['speedup']:.1f}×{'' if row['trusted'] else '?'}"
             for row in rows.to_dict("records")]
    workers = int(rows["workers"].iloc[0])
    return f"{', '.join(shown)} at {workers} worker{'s' if workers > 1 else ''}"


@dataclass(frozen=True)
class Build:
    """What the frame says of one interpreter of a file."""

    version: str
    free_threaded: bool


def _builds(frame: pd.DataFrame, file: object) -> dict[str, Build]:
    """Interpreter tag → its build, in the file's order."""
    rows = frame[frame["file"] == file].groupby("interpreter", sort=False)[
        ["python", "free_threaded"]].first()
    return {str(tag): Build(str(row["python"]), bool(row["free_threaded"]))
            for tag, row in rows.iterrows()}


def _gil_build_of(build: Build, builds: dict[str, Build]) -> str | None:
    """The GIL build of the same version as `build`, if the file has one."""
    return next((tag for tag, other in builds.items()
                 if not other.free_threaded and other.version == build.version), None)


def _yardstick(builds: dict[str, Build]) -> str:
    """The build whose serial time every speedup is over: the GIL build of a free-threaded
    build's version if the run has it, else the first GIL build, else the first interpreter."""
    for build in builds.values():
        same = _gil_build_of(build, builds) if build.free_threaded else None
        if same is not None:
            return same
    gil_builds = [tag for tag, build in builds.items() if not build.free_threaded]
    return (gil_builds or list(builds))[0]


def _common_workers(points: pd.DataFrame) -> int | None:
    """The largest worker count, within the CPUs, that every interpreter measured."""
    parallel = points[(points["executor"] != SERIAL) & ~points["oversubscribed"].astype(bool)]
    counts = [set(group["workers"]) for _, group in parallel.groupby("interpreter")]
    common = set.intersection(*counts) if counts else set()
    return int(max(common)) if common else None


def _way(point: Any, builds: dict[str, Build]) -> Way | None:
    free_threaded = builds[str(point.interpreter)].free_threaded
    if point.executor in THREAD_EXECUTORS:
        return Way.FREE_THREADED_THREADS if free_threaded else Way.GIL_THREADS
    if point.executor == SUBINTERPRETERS:
        return Way.SUBINTERPRETERS
    if point.executor in PROCESS_EXECUTORS:
        return Way.PROCESSES
    return None


def _best(points: pd.DataFrame, carry: dict[str, Ratio]) -> tuple[pd.Series[Any], Ratio] | None:
    """The point with the highest speedup over the yardstick, and that speedup: among the
    trusted points when there are any, so a disturbed outlier does not win."""
    trusted = points[points["trusted"].astype(bool)]
    found: tuple[pd.Series[Any], Ratio] | None = None
    for _, point in (trusted if not trusted.empty else points).iterrows():
        own = Ratio(float(point["speedup"]), float(point["speedup_low"]),
                    float(point["speedup_high"]))
        factor = carry[str(point["interpreter"])]
        speedup = own.times(factor) if own.finite and factor.finite else Ratio(
            own.value * factor.value, math.nan, math.nan)
        if math.isfinite(speedup.value) and (found is None or speedup.value > found[1].value):
            found = (point, speedup)
    return found


def _serial_ratio(of_kernel: pd.DataFrame, yardstick: str, tag: str) -> Ratio:
    """The yardstick's serial time over interpreter `tag`'s: what carries `tag`'s speedups
    over its own serial time to speedups over the yardstick's."""
    if tag == yardstick:
        return Ratio.one()
    theirs, mine = _serial_calls(of_kernel, yardstick), _serial_calls(of_kernel, tag)
    if not len(theirs[0]) or not len(mine[0]):
        return Ratio(math.nan, math.nan, math.nan)
    key = f"{of_kernel['file'].iloc[0]}/{of_kernel['kernel'].iloc[0]}"
    replicates = (estimates.bootstrap_medians(*theirs, estimates.rng_for(f"{key}@{yardstick}"))
                  / estimates.bootstrap_medians(*mine, estimates.rng_for(f"{key}@{tag}")))
    low, high = estimates.interval(replicates)
    return Ratio(float(np.median(theirs[0]) / np.median(mine[0])), low, high)


def _serial_calls(of_kernel: pd.DataFrame, tag: str) -> tuple[Any, Any]:
    """Every serial call of the kernel under `tag`, and the visit each was timed in."""
    rows = of_kernel[of_kernel["interpreter"] == tag]
    serial = rows["executor"] == SERIAL
    seconds = np.where(serial, rows["value"].to_numpy(dtype=float),
                       rows["baseline_s"].to_numpy(dtype=float))
    visits = rows.groupby(["scenario", "process"], sort=False).ngroup().to_numpy(dtype=np.int64)
    keep = np.isfinite(seconds)
    return seconds[keep], visits[keep]


def _gil_was_on(frame: pd.DataFrame, scenario: str, file: object) -> bool:
    rows = frame[(frame["file"] == file) & (frame["scenario"] == scenario)]
    return bool(rows["gil_enabled"].any() or rows["workers_gil_enabled"].any())

