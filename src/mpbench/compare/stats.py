"""Per scenario of one results file: its median and mean log time, with a moderated variance."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import special

from mpbench.analysis import serial_seconds

MIN_VISITS = 2  # per scenario, to test on visit means rather than on single values
# Scenario facts that must match for a scenario to compare, as messages name them.
SCENARIO_FACTS = {"kernel_hash": "kernel source", "size": "size", "tasks": "tasks",
                  "blas_threads": "BLAS threads"}
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]


@dataclass(frozen=True)
class LogStats:
    """A mean on a log scale over independent units, with the variance of that mean."""

    mean: float
    error: float  # variance of the mean, from the moderated variance
    dof: float  # of that variance: the scenario's own plus the prior's


@dataclass(frozen=True)
class ScenarioStats:
    """One scenario of one file, as the tests need it."""

    kernel: str
    executor: str
    workers: int
    facts: Mapping[str, object]  # the SCENARIO_FACTS that must match; None if not recorded
    cpus: str | None  # the CPUs its timing processes were allowed (`0-1`), when recorded
    median: float
    time: LogStats  # of log times
    speedup: float  # the paired estimate; NaN without paired baselines (serial scenarios)
    log_speedup: LogStats | None  # of the per-pair log ratios; None without pairs
    contended: bool


def scenario_stats(frame: pd.DataFrame) -> dict[str, ScenarioStats]:
    """Per scenario of one file, in file order: axes, median and moderated log statistics of
    its times and of its paired speedups.

    Plain numpy on group codes rather than pandas groupby: the tests run it thousands of times.
    """
    codes, ids = pd.factorize(frame["scenario"].to_numpy(dtype=object))
    groups = len(ids)
    values = frame["value"].to_numpy(dtype=np.float64)
    visits = frame["process"].to_numpy(dtype=np.int64)
    firsts = np.unique(codes, return_index=True)[1]
    families = pd.factorize(frame["executor"].to_numpy(dtype=object)[firsts])[0]
    times = log_stats(codes, visits, np.log(values), families, groups)
    baseline = serial_seconds(frame)  # the serial time of the scenario's work
    paired = np.isfinite(baseline)
    log_ratios = np.log(baseline[paired]) - np.log(values[paired])
    speedups = log_stats(codes[paired], visits[paired], log_ratios, families, groups)
    has_pairs = np.bincount(codes[paired], minlength=groups) > 0
    ratio_medians = _group_medians(codes[paired], log_ratios, groups)
    medians = _group_medians(codes, values, groups)
    busy = np.bincount(codes, weights=frame["contended"].to_numpy(dtype=bool, na_value=False),
                       minlength=groups) > 0
    columns = {name: frame[name].to_numpy(dtype=object)[firsts]
               for name in ("kernel", "executor", "workers", "cpus", *SCENARIO_FACTS)}
    rows = [{name: column[index] for name, column in columns.items()} for index in range(groups)]
    return {
        str(sid): ScenarioStats(
            kernel=str(row["kernel"]), executor=str(row["executor"]),
            workers=int(row["workers"]),
            facts={name: None if pd.isna(row[name]) else row[name] for name in SCENARIO_FACTS},
            cpus=None if pd.isna(row["cpus"]) else str(row["cpus"]),
            median=float(medians[index]), time=times[index],
            speedup=float(np.exp(ratio_medians[index])) if has_pairs[index] else math.nan,
            log_speedup=speedups[index] if has_pairs[index] else None,
            contended=bool(busy[index]),
        )
        for index, (sid, row) in enumerate(zip(ids, rows, strict=True))
    }


def log_stats(codes: IntArray, visits: npt.NDArray[np.int64], logs: FloatArray,
              families: IntArray, groups: int) -> list[LogStats]:
    """Per group, the mean of `logs` and its moderated variance. The independent units are
    visits (their means) when every group that has rows has at least MIN_VISITS of them, else
    single values: values from one process share its state, and a run's drift between visits
    belongs in the variance."""
    span = int(visits.max(initial=0)) + 1
    unit_keys, unit_of_row = np.unique(codes * span + visits, return_inverse=True)
    unit_group = unit_keys // span
    per_group = np.bincount(unit_group, minlength=groups)
    if len(logs) and per_group[per_group > 0].min() >= MIN_VISITS:
        logs = np.bincount(unit_of_row, weights=logs) / np.bincount(unit_of_row)
        codes = unit_group
    counts = np.bincount(codes, minlength=groups).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.bincount(codes, weights=logs, minlength=groups) / counts
    squares = np.bincount(codes, weights=(logs - means[codes]) ** 2, minlength=groups)
    dof = np.maximum(counts - 1, 0)
    variances = np.divide(squares, dof, out=np.zeros(groups), where=dof > 0)
    moderated, total_dof = moderate(variances, dof, families)
    with np.errstate(invalid="ignore", divide="ignore"):
        errors = moderated / counts
    return [LogStats(float(means[index]), float(errors[index]), float(total_dof[index]))
            for index in range(groups)]


def _group_medians(codes: IntArray, values: FloatArray, groups: int) -> FloatArray:
    """The median of each group's values; NaN for a group without any."""
    order = np.lexsort((values, codes))
    ordered = np.append(values[order], np.nan)
    counts = np.bincount(codes, minlength=groups)
    starts = np.cumsum(counts) - counts
    low = np.where(counts > 0, starts + (counts - 1) // 2, len(values))
    high = np.where(counts > 0, starts + counts // 2, len(values))
    return np.asarray((ordered[low] + ordered[high]) / 2, dtype=np.float64)


def moderate(variances: FloatArray, dof: FloatArray, families: npt.NDArray[np.intp]
             ) -> tuple[FloatArray, FloatArray]:
    """Variances shrunk towards the typical one of their family, and their degrees of freedom.

    limma's empirical Bayes (Smyth 2004), with the family (the executor) as covariate, as in
    limma-trend: each family has its own typical variance, since a process pool is noisier than a
    serial loop, and how widely variances spread around it, beyond what sampling explains, gives
    the prior's weight d0 for all. A variance s² with `dof` degrees of freedom becomes
    (d0·s0² + dof·s²)/(d0 + dof), worth dof + d0 degrees of freedom, never more than the whole
    file has. Without two spare degrees of freedom nothing is shrunk; without any, the variance
    is unknown (nan).
    """
    usable = (dof > 0) & (variances > 0) & np.isfinite(variances)
    count = int(families.max(initial=-1)) + 1
    members = np.bincount(families[usable], minlength=count)
    spare = int(usable.sum()) - int((members > 0).sum())
    moderated, total = variances.copy(), dof.copy()
    if spare >= 2:
        half = dof[usable] / 2
        centred = np.log(variances[usable]) - special.digamma(half) + np.log(half)
        with np.errstate(invalid="ignore", divide="ignore"):
            location = (np.bincount(families[usable], weights=centred, minlength=count)
                        / members)[families]
        excess = (float(((centred - location[usable]) ** 2).sum()) / spare
                  - float(special.polygamma(1, half).mean()))
        prior_dof = 2 * _trigamma_inverse(excess) if excess > 0 else math.inf
        known = np.isfinite(location)
        if math.isinf(prior_dof):
            moderated[known] = np.exp(location[known])
        else:
            prior = np.exp(location[known] + special.digamma(prior_dof / 2)
                           - math.log(prior_dof / 2))
            moderated[known] = ((prior_dof * prior + dof[known] * variances[known])
                                / (prior_dof + dof[known]))
        total[known] = np.minimum(dof[known] + prior_dof, dof[usable].sum())
    moderated[total <= 0] = np.nan
    return moderated, total


def _trigamma_inverse(value: float) -> float:
    """x with trigamma(x) = value: Newton's method from Smyth's starting point, as in limma."""
    if value > 1e7:
        return 1 / math.sqrt(value)
    if value < 1e-6:
        return 1 / value
    x = 0.5 + 1 / value
    for _ in range(50):
        trigamma = float(special.polygamma(1, x))
        step = trigamma * (1 - trigamma / value) / float(special.polygamma(2, x))
        x += step
        if -step / x < 1e-8:
            break
    return x

