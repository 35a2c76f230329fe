"""Pure functions on the tidy frame: the figures a report shows. No I/O, no printing, no plots.

- median (`median_low`…`median_high`): a scenario's typical time, with a 95 % bootstrap interval.
- speedup = serial median / median: how many times faster than the kernel run serially.
- efficiency = speedup / workers: the share of each worker's time that does useful work.
- karp_flatt: the serial fraction measured at each worker count; rising with n = growing overhead.
- amdahl_sigma: the serial fraction that best explains the speedups; speedup stays below 1/sigma.
- usl_sigma, usl_kappa: contention and crosstalk (USL); kappa > 0 means speedup peaks, then falls.
- oversubscribed (more workers than usable or granted CPUs), contended (others' load while
  measuring), slowed (a reference loop ran slower than usual just before the values): points
  that do not measure this machine's free cores, so fits skip the first and readers are warned
  about the others.
- GIL verdict: threads scaling like processes means the kernel releases the GIL.
"""

from __future__ import annotations

import math
import zlib
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.optimize import lsq_linear

from mpbench.frame import SLOWED

SCENARIO_KEYS = ["file", "machine", "python", "scenario", "kernel", "executor", "start_method",
                 "workers", "usable_cpus"]
FIT_KEYS = ["file", "machine", "python", "kernel", "executor", "start_method"]
VERDICT_KEYS = ["file", "machine", "python", "kernel"]
SERIAL = "serial"
THREAD_EXECUTORS = frozenset({"threads", "thread_pool"})

CONFIDENCE = 0.95
REPLICATES = 2000  # bootstrap resamples per scenario: percentiles stable to about 1 %
SEED = 0
USL_MIN_POINTS = 4  # two parameters and a curve that can bend need more than three points

# A speedup of at least 1.3× "scales": a kernel that holds the GIL cannot beat 1.0× with threads,
# and run-to-run noise on a quiet machine stays within a few percent, so 1.3× is far from both;
# yet Amdahl's law gives 1.3× at 2 workers even with a serial fraction of 0.5.
SCALES = 1.3
# Threads that gain less than half of what processes gain release the GIL for only part of the work.
PARTLY = 0.5
NOT_ENOUGH_DATA = "not enough data: needs threads and processes at 2+ workers"

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
    """One row per scenario per file: statistics, speedup over serial, efficiency, and CIs.

    Speedup compares medians with the same kernel's `serial` scenario from the same file (so the
    same machine, interpreter and run); it is NaN when that file has no serial run of the kernel.
    Intervals come from a two-level bootstrap (see `bootstrap_medians`); the speedup interval
    resamples the scenario and its serial baseline independently, except that the serial row is
    the reference itself, so its speedup interval is exactly 1…1.
    """
    grouped = frame.groupby(SCENARIO_KEYS, dropna=False, sort=False)
    summary = grouped["value"].agg(
        samples="count", median="median", mean="mean", stdev="std", minimum="min",
    ).reset_index()
    summary["startup_s"] = grouped["startup_s"].median().to_numpy()
    groups = grouped.ngroup().to_numpy(dtype=np.int64)
    medians = _bootstrap_scenarios(frame, groups, summary["scenario"])
    summary["median_low"], summary["median_high"] = _interval(medians)
    baseline = baseline_rows(summary, ["file", "kernel"])
    summary["serial_median"] = _take(summary["median"].to_numpy(dtype=float), baseline)
    # Every executor must compute what serial computed; a difference means lost or doubled work.
    summary["result"] = grouped["result"].first().to_numpy(dtype=object)
    serial_result = pd.Series([summary["result"].iloc[row] if row >= 0 else None
                               for row in baseline], index=summary.index, dtype=object)
    summary["wrong_result"] = (summary["result"].notna() & serial_result.notna()
                               & (summary["result"] != serial_result)).to_numpy(dtype=bool)
    summary["speedup"] = summary["serial_median"] / summary["median"]
    summary["speedup_low"], summary["speedup_high"] = _interval(_take(medians, baseline) / medians)
    for name in ("", "_low", "_high"):
        summary[f"efficiency{name}"] = summary[f"speedup{name}"] / summary["workers"]
    summary["karp_flatt"] = karp_flatt(summary)
    # More workers than CPUs, whether the machine has too few or the timing process was
    # granted too few (pyperf pins workers to isolated CPUs; pool children inherit that).
    summary["cpus_granted"] = grouped["cpus_granted"].min().to_numpy(dtype=np.int64)
    summary["oversubscribed"] = summary["workers"] > np.minimum(summary["usable_cpus"],
                                                                summary["cpus_granted"])
    summary["contended"] = grouped["contended"].any().to_numpy(dtype=bool)
    summary["reference_ms"] = grouped["reference_ms"].median().to_numpy(dtype=float)
    usual = summary.groupby("file")["reference_ms"].transform("median")
    summary["slowed"] = (summary["reference_ms"] > SLOWED * usual).to_numpy(dtype=bool)
    return summary[[*SCENARIO_KEYS, "samples", "median", "median_low", "median_high", "mean",
                    "stdev", "minimum", "startup_s", "serial_median", "speedup", "speedup_low",
                    "speedup_high", "efficiency", "efficiency_low", "efficiency_high",
                    "karp_flatt", "cpus_granted", "oversubscribed", "contended",
                    "reference_ms", "slowed", "result", "wrong_result"]]


def bootstrap_medians(values: FloatArray, processes: IntArray,
                      rng: np.random.Generator) -> FloatArray:
    """Medians of `REPLICATES` two-level resamples: processes, then values within each process.

    Values from one pyperf process share its state (memory layout, CPU placement), so they are
    correlated; resampling whole processes first keeps that spread in the interval. With a
    single process this is the plain bootstrap of values. NaN when there are fewer than 2 values.
    """
    if len(values) < 2:
        return np.full(REPLICATES, np.nan)
    order = np.argsort(processes, kind="stable")
    _, counts = np.unique(processes, return_counts=True)
    starts = np.cumsum(counts) - counts
    chosen = rng.integers(0, len(counts), size=(REPLICATES, len(counts)))
    chosen_counts = counts[chosen][..., np.newaxis]
    offsets = rng.integers(0, chosen_counts, size=(REPLICATES, len(counts), counts.max()))
    drawn = values[order][starts[chosen][..., np.newaxis] + offsets]
    if counts.min() == counts.max():
        medians: FloatArray = np.median(drawn.reshape(REPLICATES, -1), axis=1)
        return medians
    drawn[np.arange(counts.max()) >= chosen_counts] = np.nan  # beyond a short process's count
    medians = np.nanmedian(drawn.reshape(REPLICATES, -1), axis=1)
    return medians


def _bootstrap_scenarios(frame: pd.DataFrame, group_of_row: IntArray,
                         scenario_ids: pd.Series[str]) -> FloatArray:
    """Bootstrap medians, one row per group; seeded by scenario id, so a scenario's interval
    does not depend on which other scenarios are summarized with it."""
    values = frame["value"].to_numpy(dtype=float)
    processes = frame["process"].to_numpy(dtype=np.int64)
    medians = np.empty((len(scenario_ids), REPLICATES))
    for group, scenario_id in enumerate(scenario_ids):
        rows = group_of_row == group
        rng = np.random.default_rng([SEED, zlib.crc32(str(scenario_id).encode())])
        medians[group] = bootstrap_medians(values[rows], processes[rows], rng)
    return medians


def _interval(replicates: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Percentile interval per row of bootstrap replicates (NaN rows stay NaN)."""
    tail = (1 - CONFIDENCE) / 2 * 100
    low, high = np.percentile(replicates, [tail, 100 - tail], axis=1)
    return low, high


def baseline_rows(points: pd.DataFrame, keys: list[str]) -> IntArray:
    """Position of each row's serial scenario (the row with the same `keys`, e.g. file and
    kernel); -1 when there is none. `points` has one row per scenario and a RangeIndex."""
    serial = points.index[points["executor"] == SERIAL]
    lookup = pd.Series(serial, index=pd.MultiIndex.from_frame(points.loc[serial, keys]))
    found = lookup.reindex(pd.MultiIndex.from_frame(points[keys]))
    return found.fillna(-1).to_numpy(dtype=np.int64)


def serial_medians(points: pd.DataFrame, keys: list[str]) -> FloatArray:
    """Each row's serial median (same `keys`), NaN when there is none: a speedup's numerator."""
    return _take(points["median"].to_numpy(dtype=float), baseline_rows(points, keys))


def _take(array: FloatArray, rows: IntArray) -> FloatArray:
    """`array[rows]`, with NaN where the row is -1."""
    taken = array[rows]
    taken[rows < 0] = np.nan
    return taken


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

    Only points that are not oversubscribed (workers ≤ usable CPUs) and have a speedup count.
    Speedups are over the kernel's serial run, not the executor's own 1-worker run, so an
    executor's fixed overhead (task dispatch, pickling, result transfer) shows up in sigma.
    Columns: `points` (distinct worker counts used), `amdahl_sigma`, `usl_sigma`, `usl_kappa`,
    `usl_peak_workers` and `usl_note` (why there is no USL fit; empty when there is one).
    """
    parallel = summary[summary["executor"] != SERIAL]
    rows = [{**dict(zip(FIT_KEYS, key, strict=True)), **_fit_scenarios(group)}
            for key, group in parallel.groupby(FIT_KEYS, dropna=False, sort=False)]
    fits = pd.DataFrame(rows, columns=[*FIT_KEYS, "points", "amdahl_sigma", "usl_sigma",
                                       "usl_kappa", "usl_peak_workers", "usl_note"])
    return fits.astype({**summary.dtypes[FIT_KEYS].to_dict(), "points": "int64",
                        "amdahl_sigma": "float64", "usl_sigma": "float64", "usl_kappa": "float64",
                        "usl_peak_workers": "float64", "usl_note": "string"})


def _fit_scenarios(group: pd.DataFrame) -> dict[str, Any]:
    usable = group[~group["oversubscribed"].astype(bool) & np.isfinite(group["speedup"])]
    workers, speedup = usable["workers"].to_numpy(dtype=float), usable["speedup"].to_numpy()
    points = int(usable["workers"].nunique())
    fit: dict[str, Any] = {"points": points, "amdahl_sigma": fit_amdahl(workers, speedup)}
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

    Compared at the largest worker count above 1 that is not oversubscribed and has both a thread
    executor and a process executor, best speedup of each. Columns: `workers` (that count, NA
    when there is none), `thread_speedup`, `process_speedup`, `holds_gil` (True, False or NA when
    the data cannot tell) and `verdict` (one sentence for people).
    """
    rows = [{**dict(zip(VERDICT_KEYS, key, strict=True)), **_verdict(group)}
            for key, group in summary.groupby(VERDICT_KEYS, dropna=False, sort=False)]
    verdicts = pd.DataFrame(rows, columns=[*VERDICT_KEYS, "workers", "thread_speedup",
                                           "process_speedup", "holds_gil", "verdict"])
    return verdicts.astype({**summary.dtypes[VERDICT_KEYS].to_dict(), "workers": "Int64",
                            "thread_speedup": "float64", "process_speedup": "float64",
                            "holds_gil": "boolean", "verdict": "string"})


def _verdict(group: pd.DataFrame) -> dict[str, Any]:
    usable = group[(group["workers"] > 1) & ~group["oversubscribed"].astype(bool)
                   & group["speedup"].notna()]
    is_thread = usable["executor"].isin(THREAD_EXECUTORS)
    threads = usable[is_thread].groupby("workers")["speedup"].max()
    processes = usable[~is_thread & (usable["executor"] != SERIAL)].groupby("workers")[
        "speedup"].max()
    common = threads.index.intersection(processes.index)
    if common.empty:
        return {"workers": pd.NA, "thread_speedup": math.nan, "process_speedup": math.nan,
                "holds_gil": pd.NA, "verdict": NOT_ENOUGH_DATA}
    workers = int(common.max())
    thread, process = float(threads[workers]), float(processes[workers])
    holds_gil, reason = _judge(thread, process)
    return {"workers": workers, "thread_speedup": thread, "process_speedup": process,
            "holds_gil": holds_gil,
            "verdict": f"threads {thread:.1f}× vs processes {process:.1f}× at {workers} workers: "
                       f"{reason}"}


def _judge(thread: float, process: float) -> tuple[bool | None, str]:
    """Whether the kernel holds the GIL (None: cannot tell), and why, from the two speedups."""
    if thread >= SCALES:
        if thread - 1 < PARTLY * (process - 1):
            return False, ("threads scale far less than processes, so this kernel releases the "
                           "GIL for only part of its work")
        return False, "threads scale, so this kernel releases the GIL"
    if process >= SCALES:
        return True, "this kernel holds the GIL"
    return None, "neither scales here; the machine or the task size limits it"
