"""Pure functions on the tidy frame: the figures a report shows. No I/O, no printing, no plots.

- median (`median_low`…`median_high`): a scenario's typical time, with a 95 % interval from a
  bootstrap over its visits, then its values (see `estimates`).
- speedup: how many times faster than the kernel's serial baseline, from the baseline calls
  paired with the scenario's own calls in the same timing processes (median of the per-pair
  ratios), with an interval from the same bootstrap; exactly 1 for the serial scenario itself.
- efficiency = speedup / workers: the share of each worker's time that does useful work.
- karp_flatt: the serial fraction measured at each worker count; rising with n = growing overhead.
- amdahl_sigma: the serial fraction that best explains the speedups; speedup stays below 1/sigma.
- usl_sigma, usl_kappa: contention and crosstalk (USL); kappa > 0 means speedup peaks, then falls.
- marks: oversubscribed (more workers than usable or granted CPUs), contended (others' load
  while measuring), slowed (a reference loop ran slower than usual just before the values),
  superlinear (a speedup above the worker count), wide (an interval wider than ±WIDE). A point
  with any of them but `superlinear`, or whose whole interval lies more than 5 % above its
  worker count, is not `trusted`: fits and GIL verdicts leave it out and say so.
- GIL verdict: threads scaling like processes means the kernel releases the GIL, judged on the
  intervals, so noise cannot decide it.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.optimize import lsq_linear

from mpbench import estimates
from mpbench.estimates import WIDE
from mpbench.frame import SLOWED
from mpbench.kernels import expected_result
from mpbench.model import DASK_CLUSTER, Scaling

SCENARIO_KEYS = ["file", "machine", "python", "interpreter", "scenario", "kernel", "executor",
                 "start_method", "scaling", "workers", "usable_cpus"]
FIT_KEYS = ["file", "machine", "python", "interpreter", "kernel", "executor", "start_method",
            "scaling"]
STRONG = Scaling.STRONG.value
VERDICT_KEYS = ["file", "machine", "python", "interpreter", "kernel"]
SERIAL = "serial"
THREAD_EXECUTORS = frozenset({"threads", "thread_pool"})
# The executors whose workers are processes (executors.Executor.uses_processes; a test keeps
# the two in step): what the GIL verdict sets threads against.
PROCESS_EXECUTORS = frozenset({"process_queue", "process_value", "process_manager", "pool_map",
                               "pool_async", "process_pool"})
USL_MIN_POINTS = 4  # two parameters and a curve that can bend need more than three points

# A speedup of at least 1.3× "scales": a kernel that holds the GIL cannot beat 1.0× with threads,
# and run-to-run noise on a quiet machine stays within a few percent, so 1.3× is far from both;
# yet Amdahl's law gives 1.3× at 2 workers even with a serial fraction of 0.5.
SCALES = 1.3
# Threads that gain less than half of what processes gain release the GIL for only part of the work.
PARTLY = 0.5
NOT_ENOUGH_DATA = "not enough data: needs threads and processes at 2+ workers"
MARKS = ("contended", "slowed", "oversubscribed", "superlinear", "wide")
SUPERLINEAR_MARGIN = 0.05

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.integer[Any]]


def amdahl_speedup(workers: npt.ArrayLike, sigma: float) -> FloatArray:
    """Amdahl's law: S(n) = 1 / (sigma + (1 - sigma) / n)."""
    n = np.asarray(workers, dtype=float)
    speedup: FloatArray = 1 / (sigma + (1 - sigma) / n)
    return speedup


def usl_speedup(workers: npt.ArrayLike, sigma: float, kappa: float) -> FloatArray:
    """Universal Scalability Law: S(n) = n / (1 + sigma(n - 1) + kappa n(n - 1))."""
    n = np.asarray(workers, dtype=float)
    speedup: FloatArray = n / (1 + sigma * (n - 1) + kappa * n * (n - 1))
    return speedup


def summarize(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per scenario per file: statistics, paired speedup, efficiency, intervals, marks.

    Speedups come from the serial baseline calls paired with the scenario's calls (the frame's
    `baseline_s`); a parallel scenario without them has a NaN speedup.
    """
    grouped = frame.groupby(SCENARIO_KEYS, dropna=False, sort=False)
    summary = grouped["value"].agg(
        samples="count", median="median", mean="mean", stdev="std", minimum="min",
    ).reset_index()
    summary["visits"] = grouped["process"].nunique().to_numpy(dtype=np.int64)
    summary["startup_s"] = grouped["startup_s"].median().to_numpy()
    medians, speedups = _estimates(frame, grouped.ngroup().to_numpy(dtype=np.int64),
                                   summary["scenario"], summary["executor"])
    summary["median_low"], summary["median_high"] = medians[:, 1], medians[:, 2]
    summary["serial_median"] = frame.assign(serial_s=serial_seconds(frame)).groupby(
        SCENARIO_KEYS, dropna=False, sort=False)["serial_s"].median().to_numpy(dtype=float)
    serial = (summary["executor"] == SERIAL).to_numpy()
    summary.loc[serial, "serial_median"] = summary.loc[serial, "median"]
    for column, index in (("speedup", 0), ("speedup_low", 1), ("speedup_high", 2)):
        summary[column] = speedups[:, index]
    summary["speedup_half_width"] = [estimates.half_width(*row) for row in speedups]
    summary.loc[serial, "speedup_half_width"] = 0.0
    # Every executor must compute what serial computed (w times over, for weak scaling's w
    # copies of the range); a difference means lost or doubled work.
    summary["result"] = grouped["result"].first().to_numpy(dtype=object)
    summary["work"] = copies = grouped["work"].first().to_numpy(dtype=np.int64)
    baseline = baseline_rows(summary, ["file", "interpreter", "kernel"])
    serial_result = pd.Series([
        expected_result(str(summary["result"].iloc[row]), int(work))
        if row >= 0 and isinstance(summary["result"].iloc[row], str) else None
        for row, work in zip(baseline, copies, strict=True)], index=summary.index, dtype=object)
    summary["wrong_result"] = (summary["result"].notna() & serial_result.notna()
                               & (summary["result"] != serial_result)).to_numpy(dtype=bool)
    for name in ("", "_low", "_high"):
        summary[f"efficiency{name}"] = summary[f"speedup{name}"] / summary["workers"]
    summary["karp_flatt"] = karp_flatt(summary)
    # More workers than CPUs, whether the machine has too few or the timing process was
    # granted too few (pyperf pins workers to isolated CPUs; pool children inherit that).
    summary["cpus_granted"] = grouped["cpus_granted"].min().to_numpy(dtype=np.int64)
    summary["oversubscribed"] = ((summary["workers"] > np.minimum(
        summary["usable_cpus"], summary["cpus_granted"]))
        & (summary["start_method"].fillna("") != DASK_CLUSTER)).to_numpy(dtype=bool)
    summary["contended"] = grouped["contended"].any().to_numpy(dtype=bool)
    summary["reference_ms"] = grouped["reference_ms"].median().to_numpy(dtype=float)
    usual = summary.groupby("file")["reference_ms"].transform("median")
    summary["slowed"] = (summary["reference_ms"] > SLOWED * usual).to_numpy(dtype=bool)
    summary["superlinear"] = (summary["speedup"] > summary["workers"]).to_numpy(dtype=bool)
    summary["wide"] = (summary["speedup_half_width"] > WIDE).to_numpy(dtype=bool)
    # Above the worker count within noise is still a measurement; an interval wholly beyond
    # it (by more than a few per cent of timing noise) is not one to fit by.
    doubtful = summary[[mark for mark in MARKS if mark != "superlinear"]].any(axis=1)
    beyond = summary["speedup_low"] > summary["workers"] * (1 + SUPERLINEAR_MARGIN)
    summary["trusted"] = ~doubtful & ~beyond & np.isfinite(summary["speedup"])
    return summary[[*SCENARIO_KEYS, "work", "samples", "visits", "median", "median_low",
                    "median_high",
                    "mean", "stdev", "minimum", "startup_s", "serial_median", "speedup",
                    "speedup_low", "speedup_high", "speedup_half_width", "efficiency",
                    "efficiency_low", "efficiency_high", "karp_flatt", "cpus_granted",
                    *MARKS, "trusted", "reference_ms", "result", "wrong_result"]]


def _estimates(frame: pd.DataFrame, group_of_row: IntArray, scenario_ids: pd.Series[str],
               executors: pd.Series[str]) -> tuple[FloatArray, FloatArray]:
    """Per group: (median, low, high) of its times and of its paired speedup."""
    values = frame["value"].to_numpy(dtype=float)
    baseline = serial_seconds(frame)
    visits = frame["process"].to_numpy(dtype=np.int64)
    medians = np.empty((len(scenario_ids), 3))
    speedups = np.full((len(scenario_ids), 3), np.nan)
    for group, (scenario_id, executor) in enumerate(zip(scenario_ids, executors, strict=True)):
        rows = group_of_row == group
        medians[group] = estimates.median_estimate(values[rows], visits[rows], str(scenario_id))
        if executor == SERIAL:
            speedups[group] = 1.0
            continue
        paired = rows & np.isfinite(baseline)
        speedups[group] = estimates.paired_speedup(baseline[paired], values[paired],
                                                   visits[paired], str(scenario_id))
    return medians, speedups


def serial_seconds(frame: pd.DataFrame) -> FloatArray:
    """Per row, what serial takes for the row's work: the paired baseline call's time, times
    the workers under weak scaling (Gustafson's T1·w)."""
    seconds: FloatArray = frame["baseline_s"].to_numpy(dtype=float) * frame["work"].to_numpy(
        dtype=float)
    return seconds


def paired_speedups(frame: pd.DataFrame, keys: list[str]) -> pd.Series[float]:
    """The paired speedup estimate (no interval) per group of `keys`; 1 for serial rows."""
    ratios = np.log(serial_seconds(frame)) - np.log(
        frame["value"].to_numpy(dtype=float))
    speedup: pd.Series[float] = np.exp(
        frame.assign(log_ratio=ratios).groupby(keys, sort=False)["log_ratio"].median())
    serial = frame.groupby(keys, sort=False)["executor"].first() == SERIAL
    return speedup.where(~serial, 1.0)


def baseline_rows(points: pd.DataFrame, keys: list[str]) -> IntArray:
    """Position of each row's serial scenario (the row with the same `keys`, e.g. file and
    kernel); -1 when there is none. `points` has one row per scenario and a RangeIndex."""
    serial = points.index[points["executor"] == SERIAL]
    lookup = pd.Series(serial, index=pd.MultiIndex.from_frame(points.loc[serial, keys]))
    found = lookup.reindex(pd.MultiIndex.from_frame(points[keys]))
    return found.fillna(-1).to_numpy(dtype=np.int64)


def karp_flatt(summary: pd.DataFrame) -> pd.Series[float]:
    """Karp-Flatt serial fraction e(n) = (1/S - 1/n) / (1 - 1/n); NaN at n = 1.

    Unlike a single Amdahl fit it is measured at each n: flat means a fixed serial part, rising
    means overhead that grows with the workers (communication, contention).
    """
    inverse_workers = 1 / summary["workers"].astype(float)
    fraction = (1 / summary["speedup"] - inverse_workers) / (1 - inverse_workers)
    return fraction.where(summary["workers"] > 1)


def fit_amdahl(workers: npt.ArrayLike, speedup: npt.ArrayLike) -> float:
    """Amdahl serial fraction: least squares on 1/S - 1/n = sigma(1 - 1/n), over points n > 1.

    Linear in sigma, so the fit has a closed form; NaN without such points; below 0 means the
    speedups are superlinear (caches), above 1 that the parallel runs are slower than serial.
    """
    n = np.asarray(workers, dtype=float)
    s = np.asarray(speedup, dtype=float)
    x = (1 - 1 / n)[n > 1]
    if not x.size:
        return math.nan
    y = (1 / s - 1 / n)[n > 1]
    return float(x @ y / (x @ x))


def fit_usl(workers: npt.ArrayLike, speedup: npt.ArrayLike) -> tuple[float, float]:
    """USL (sigma, kappa), with 0 ≤ sigma ≤ 1 and kappa ≥ 0, by bounded linear least squares.

    n/S - 1 = sigma(n - 1) + kappa n(n - 1) is linear in both (Gunther's own method). Each row
    is divided by n/S, so a residual is the relative miss 1 - S/S_fit: timing noise is
    multiplicative, and a 2 % miss at 32 workers should weigh what it weighs at 2. The bounded
    solver lands exactly on kappa = 0 when the data show no crosstalk.
    """
    n = np.asarray(workers, dtype=float)
    denominator = n / np.asarray(speedup, dtype=float)
    design = np.column_stack([n - 1, n * (n - 1)]) / denominator[:, np.newaxis]
    fit = lsq_linear(design, 1 - 1 / denominator, bounds=([0, 0], [1, np.inf]), method="bvls")
    return float(fit.x[0]), float(fit.x[1])


def usl_peak_workers(sigma: float, kappa: float) -> float:
    """Where the USL speedup peaks: √((1 - sigma)/kappa), at least 1; inf when kappa = 0."""
    return math.inf if kappa == 0 else max(1.0, math.sqrt((1 - sigma) / kappa))


def scaling_fits(summary: pd.DataFrame) -> pd.DataFrame:
    """One row per file × kernel × executor × start method: Amdahl and USL fits of its speedups.

    Only trusted points count (see `MARKS`). Speedups are over the kernel's serial baseline, not
    the executor's own 1-worker run, so an executor's fixed overhead (task dispatch, pickling,
    result transfer) shows up in sigma. Both laws model fixed work, so weak-scaling series are
    not fitted. Columns: `points` (distinct worker counts used),
    `left_out` (points with a speedup that were marked, oversubscribed ones aside),
    `amdahl_sigma`, `usl_sigma`, `usl_kappa`, `usl_peak_workers` and `usl_note` (why there is no
    USL fit; empty when there is one).
    """
    parallel = summary[(summary["executor"] != SERIAL) & (summary["scaling"] == STRONG)]
    rows = [{**dict(zip(FIT_KEYS, key, strict=True)), **_fit_scenarios(group)}
            for key, group in parallel.groupby(FIT_KEYS, dropna=False, sort=False)]
    fits = pd.DataFrame(rows, columns=[*FIT_KEYS, "points", "left_out", "amdahl_sigma",
                                       "usl_sigma", "usl_kappa", "usl_peak_workers", "usl_note"])
    return fits.astype({**summary.dtypes[FIT_KEYS].to_dict(), "points": "int64",
                        "left_out": "int64", "amdahl_sigma": "float64", "usl_sigma": "float64",
                        "usl_kappa": "float64", "usl_peak_workers": "float64",
                        "usl_note": "string"})


def _fit_scenarios(group: pd.DataFrame) -> dict[str, Any]:
    usable = group[group["trusted"].astype(bool)]
    left_out = int((~group["trusted"].astype(bool) & ~group["oversubscribed"].astype(bool)
                    & np.isfinite(group["speedup"])).sum())
    workers, speedup = usable["workers"].to_numpy(dtype=float), usable["speedup"].to_numpy()
    points = int(usable["workers"].nunique())
    fit: dict[str, Any] = {"points": points, "left_out": left_out,
                           "amdahl_sigma": fit_amdahl(workers, speedup)}
    if points < USL_MIN_POINTS:
        counts = f"{points} worker count{'' if points == 1 else 's'}"
        return {**fit, "usl_sigma": math.nan, "usl_kappa": math.nan,
                "usl_peak_workers": math.nan,
                "usl_note": f"not enough points ({counts}; the USL needs {USL_MIN_POINTS})"}
    sigma, kappa = fit_usl(workers, speedup)
    return {**fit, "usl_sigma": sigma, "usl_kappa": kappa,
            "usl_peak_workers": usl_peak_workers(sigma, kappa), "usl_note": ""}


def gil_verdicts(summary: pd.DataFrame) -> pd.DataFrame:
    """One row per file × kernel: does this kernel hold the GIL? Threads against processes.

    Compared at the largest worker count above 1 with trusted points of both a thread executor
    and a process executor, the best speedup of each, judged on their intervals. Columns:
    `workers` (that count, NA when there is none), `thread_speedup`, `process_speedup`,
    `holds_gil` (True, False or NA when the data cannot tell) and `verdict` (one sentence).
    """
    rows = [{**dict(zip(VERDICT_KEYS, key, strict=True)), **_verdict(group)}
            for key, group in summary.groupby(VERDICT_KEYS, dropna=False, sort=False)]
    verdicts = pd.DataFrame(rows, columns=[*VERDICT_KEYS, "workers", "thread_speedup",
                                           "process_speedup", "holds_gil", "verdict"])
    return verdicts.astype({**summary.dtypes[VERDICT_KEYS].to_dict(), "workers": "Int64",
                            "thread_speedup": "float64", "process_speedup": "float64",
                            "holds_gil": "boolean", "verdict": "string"})


def _best(points: pd.DataFrame, workers: int) -> pd.Series[Any]:
    """The point with the highest speedup at `workers`."""
    at = points[points["workers"] == workers]
    best: pd.Series[Any] = at.iloc[int(np.argmax(at["speedup"].to_numpy(dtype=float)))]
    return best


def _verdict(group: pd.DataFrame) -> dict[str, Any]:
    candidates = group[(group["workers"] > 1) & (group["executor"] != SERIAL)
                       & (group["scaling"] == STRONG)
                       & ~group["oversubscribed"].astype(bool) & group["speedup"].notna()]
    usable = candidates[candidates["trusted"].astype(bool)]
    threads = usable[usable["executor"].isin(THREAD_EXECUTORS)]
    processes = usable[usable["executor"].isin(PROCESS_EXECUTORS)]
    common = sorted(set(threads["workers"]) & set(processes["workers"]))
    if not common:
        if candidates["executor"].isin(THREAD_EXECUTORS).any() and \
                candidates["executor"].isin(PROCESS_EXECUTORS).any():
            return {"workers": pd.NA, "thread_speedup": math.nan, "process_speedup": math.nan,
                    "holds_gil": pd.NA,
                    "verdict": "not judged: the points at 2+ workers are marked (busy or slowed "
                               "machine, too wide an interval, or above the worker count)"}
        return {"workers": pd.NA, "thread_speedup": math.nan, "process_speedup": math.nan,
                "holds_gil": pd.NA, "verdict": NOT_ENOUGH_DATA}
    workers = int(common[-1])
    thread, process = _best(threads, workers), _best(processes, workers)
    holds_gil, reason = _judge(thread, process)
    return {"workers": workers, "thread_speedup": float(thread["speedup"]),
            "process_speedup": float(process["speedup"]), "holds_gil": holds_gil,
            "verdict": f"threads {thread['speedup']:.1f}× vs processes {process['speedup']:.1f}× "
                       f"at {workers} workers: {reason}"}


def _judge(thread: pd.Series[Any], process: pd.Series[Any]) -> tuple[bool | None, str]:
    """Whether the kernel holds the GIL (None: cannot tell), and why, from the intervals of the
    best thread and process speedups against the SCALES line."""
    if thread["speedup_low"] >= SCALES:
        if thread["speedup"] - 1 < PARTLY * (process["speedup"] - 1):
            return False, ("threads scale far less than processes, so this kernel releases the "
                           "GIL for only part of its work")
        return False, "threads scale, so this kernel releases the GIL"
    if thread["speedup_high"] < SCALES:
        if process["speedup_low"] >= SCALES:
            return True, "this kernel holds the GIL"
        if process["speedup_high"] < SCALES:
            return None, "neither scales here; the machine or the task size limits it"
    return None, (f"cannot tell: an interval straddles the {SCALES:g}× line; measure longer "
                  "(--precision) or on a quieter machine")
