"""The estimators behind every figure with an interval: medians and paired speedups, bootstrapped
over visits and then over values within each visit. numpy only: the orchestrator uses them to
decide which scenarios need more rounds, and the analysis to summarize a frame.

A visit is one timing process of one scenario. Values from one visit share its state (memory
layout, CPU placement, the machine's speed at that moment), so resampling whole visits first keeps
that spread in the interval: a machine that drifts between rounds widens an interval instead of
moving the number.

A paired speedup is the median over pairs of baseline time / scenario time, each pair timed back
to back in one process, alternating which ran first (ABBA), so drift slower than a pair cancels.
"""

from __future__ import annotations

import math
import zlib
from typing import Any

import numpy as np
import numpy.typing as npt

CONFIDENCE = 0.95
REPLICATES = 2000  # bootstrap resamples per scenario: percentiles stable to about 1 %
SEED = 0
# A speedup interval reaching further than ±25 % from its estimate says too little to fit or
# judge by.
WIDE = 0.25

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.integer[Any]]


def rng_for(scenario_id: str) -> np.random.Generator:
    """A generator seeded by scenario id: an interval does not depend on which other scenarios
    are summarized with it, nor on when it is computed."""
    return np.random.default_rng([SEED, zlib.crc32(scenario_id.encode())])


def bootstrap_medians(values: FloatArray, visits: IntArray, rng: np.random.Generator
                      ) -> FloatArray:
    """Medians of `REPLICATES` two-level resamples: visits, then values within each visit.

    With a single visit this is the plain bootstrap of values; NaN with fewer than 2 values.
    """
    if len(values) < 2:
        return np.full(REPLICATES, np.nan)
    order = np.argsort(visits, kind="stable")
    _, counts = np.unique(visits, return_counts=True)
    starts = np.cumsum(counts) - counts
    chosen = rng.integers(0, len(counts), size=(REPLICATES, len(counts)))
    chosen_counts = counts[chosen][..., np.newaxis]
    offsets = rng.integers(0, chosen_counts, size=(REPLICATES, len(counts), counts.max()))
    drawn = values[order][starts[chosen][..., np.newaxis] + offsets]
    if counts.min() == counts.max():
        medians: FloatArray = np.median(drawn.reshape(REPLICATES, -1), axis=1)
        return medians
    drawn[np.arange(counts.max()) >= chosen_counts] = np.nan  # beyond a short visit's count
    medians = np.nanmedian(drawn.reshape(REPLICATES, -1), axis=1)
    return medians


def interval(replicates: FloatArray) -> tuple[float, float]:
    """The CONFIDENCE percentile interval of bootstrap replicates (NaN when there are none)."""
    if np.isnan(replicates).all():
        return math.nan, math.nan
    tail = (1 - CONFIDENCE) / 2 * 100
    low, high = np.percentile(replicates, [tail, 100 - tail])
    return float(low), float(high)


def median_estimate(values: FloatArray, visits: IntArray, scenario_id: str
                    ) -> tuple[float, float, float]:
    """A scenario's median time and its interval."""
    replicates = bootstrap_medians(values, visits, rng_for(scenario_id))
    return (float(np.median(values)) if len(values) else math.nan), *interval(replicates)


def paired_speedup(baseline: FloatArray, values: FloatArray, visits: IntArray,
                   scenario_id: str) -> tuple[float, float, float]:
    """Speedup over the paired baseline, and its interval: from the per-pair log ratios."""
    estimate, low, high, _ = replicated_speedup(baseline, values, visits, scenario_id)
    return estimate, low, high


def replicated_speedup(baseline: FloatArray, values: FloatArray, visits: IntArray,
                       scenario_id: str) -> tuple[float, float, float, FloatArray]:
    """`paired_speedup` and its bootstrap replicates, for an estimate derived from several
    speedups (where a sweep crosses 1)."""
    if not len(values):
        return math.nan, math.nan, math.nan, np.full(REPLICATES, np.nan)
    log_ratios = np.log(baseline) - np.log(values)
    replicates = bootstrap_medians(log_ratios, visits, rng_for(scenario_id))
    low, high = interval(replicates)
    return (math.exp(float(np.median(log_ratios))), math.exp(low), math.exp(high),
            np.exp(replicates))


def half_width(estimate: float, low: float, high: float) -> float:
    """How far the interval reaches from the estimate, relative to it, on the wider side:
    0.05 means the interval lies within ±5 %. Infinite when there is no interval."""
    if not all(map(math.isfinite, (estimate, low, high))) or estimate <= 0:
        return math.inf
    return max(high / estimate - 1, 1 - low / estimate)
