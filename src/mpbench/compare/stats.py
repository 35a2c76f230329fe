"""Per scenario of one results file: its median and mean log time, with a moderated variance."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import special

MIN_PROCESSES = 3  # per scenario, to test on process means rather than on single values
# Scenario facts that must match for a scenario to compare, as messages name them.
SCENARIO_FACTS = {"kernel_hash": "kernel source", "size": "size", "tasks": "tasks",
                  "blas_threads": "BLAS threads"}
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class ScenarioStats:
    """One scenario of one file, as the tests need it."""

    kernel: str
    executor: str
    workers: int
    facts: Mapping[str, object]  # the SCENARIO_FACTS that must match; None if not recorded
    median: float
    mean: float  # mean log time over independent units (processes, or values)
    error: float  # variance of that mean, from the moderated variance
    dof: float  # of that variance: the scenario's own plus the prior's
    contended: bool


def scenario_stats(frame: pd.DataFrame) -> dict[str, ScenarioStats]:
    """Per scenario of one file, in file order: axes, median and moderated log-time statistics.

    Plain numpy on group codes rather than pandas groupby: the tests run it thousands of times.
    """
    codes, ids = pd.factorize(frame["scenario"].to_numpy(dtype=object))
    groups = len(ids)
    values = frame["value"].to_numpy(dtype=np.float64)
    processes = frame["process"].to_numpy(dtype=np.int64)
    pairs = codes * (int(processes.max(initial=0)) + 1) + processes
    unit_pairs, unit_of_row = np.unique(pairs, return_inverse=True)
    unit_scenario = unit_pairs // (int(processes.max(initial=0)) + 1)
    logs = np.log(values)
    if groups and np.bincount(unit_scenario, minlength=groups).min() >= MIN_PROCESSES:
        logs = np.bincount(unit_of_row, weights=logs) / np.bincount(unit_of_row)
        codes_of_unit = unit_scenario
    else:
        codes_of_unit = codes
    counts = np.bincount(codes_of_unit, minlength=groups).astype(np.float64)
    means = np.bincount(codes_of_unit, weights=logs, minlength=groups) / counts
    squares = np.bincount(codes_of_unit, weights=(logs - means[codes_of_unit]) ** 2,
                          minlength=groups)
    dof = counts - 1
    variances = np.divide(squares, dof, out=np.zeros(groups), where=dof > 0)
    firsts = np.unique(codes, return_index=True)[1]
    families = pd.factorize(frame["executor"].to_numpy(dtype=object)[firsts])[0]
    moderated, total_dof = moderate(variances, dof, families)
    medians = _group_medians(codes, values, groups)
    busy = np.bincount(codes, weights=frame["contended"].to_numpy(dtype=bool, na_value=False),
                       minlength=groups) > 0
    columns = {name: frame[name].to_numpy(dtype=object)[firsts]
               for name in ("kernel", "executor", "workers", *SCENARIO_FACTS)}
    rows = [{name: column[index] for name, column in columns.items()} for index in range(groups)]
    return {
        str(sid): ScenarioStats(
            kernel=str(row["kernel"]), executor=str(row["executor"]),
            workers=int(row["workers"]),
            facts={name: None if pd.isna(row[name]) else row[name] for name in SCENARIO_FACTS},
            median=float(medians[index]), mean=float(means[index]),
            error=float(moderated[index] / counts[index]), dof=float(total_dof[index]),
            contended=bool(busy[index]),
        )
        for index, (sid, row) in enumerate(zip(ids, rows, strict=True))
    }


def _group_medians(codes: npt.NDArray[np.intp], values: FloatArray, groups: int) -> FloatArray:
    order = np.lexsort((values, codes))
    ordered = values[order]
    counts = np.bincount(codes, minlength=groups)
    starts = np.cumsum(counts) - counts
    return np.asarray((ordered[starts + (counts - 1) // 2] + ordered[starts + counts // 2]) / 2,
                      dtype=np.float64)


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

