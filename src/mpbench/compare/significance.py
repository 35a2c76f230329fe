"""The tests of a comparison: moderated Welch t on log times and speedups, adjusted together."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from mpbench.compare.gates import DEFAULT_THRESHOLD, Gate
from mpbench.compare.stats import ScenarioStats

ALPHA = 0.05  # false-discovery rate over all tests of a file pair; family-wise when nothing changed
CONFIDENCE = 0.95  # of the intervals shown
BASE, HEAD = "BASE", "HEAD"


@dataclass(frozen=True)
class Change:
    """One quantity, BASE against HEAD: its ratio, the interval of that ratio, and the verdict."""

    base: float  # median seconds, or speedup
    head: float
    ratio: float  # head / base
    low: float  # CONFIDENCE interval of the ratio (of geometric means, from the t test)
    high: float
    p_value: float  # two-sided, adjusted for all the tests of the comparison
    regressed: bool  # significant and beyond the threshold in the bad direction
    improved: bool
    contended: tuple[str, ...]  # sides whose values were timed while the machine was busy


@dataclass(frozen=True)
class _Test:
    """A log ratio HEAD/BASE, the variances of the means it is made of, and what is shown."""

    delta: float
    terms: list[tuple[float, float]]  # (variance of a mean, its degrees of freedom)
    base: float  # median seconds or speedup
    head: float
    contended: tuple[str, ...]


class SignificanceTests:
    """Collects the tests of a comparison, then adjusts their p-values together."""

    def __init__(self, base: Mapping[str, ScenarioStats], head: Mapping[str, ScenarioStats]
                 ) -> None:
        self.base, self.head = base, head
        self.tests: dict[tuple[str, str], _Test] = {}

    def add_times(self, ids: Sequence[str]) -> None:
        for sid in ids:
            base, head = self.base[sid], self.head[sid]
            self.tests["time", sid] = _Test(
                head.time.mean - base.time.mean,
                [(base.time.error, base.time.dof), (head.time.error, head.time.dof)],
                base.median, head.median, _busy(base.contended, head.contended))

    def add_speedups(self, ids: Sequence[str]) -> None:
        """The paired speedups: their mean log ratios, HEAD against BASE (serial scenarios,
        which have no pairs, are not tested)."""
        for sid in ids:
            base, head = self.base[sid], self.head[sid]
            if base.log_speedup is None or head.log_speedup is None:
                continue
            self.tests["speedup", sid] = _Test(
                head.log_speedup.mean - base.log_speedup.mean,
                [(base.log_speedup.error, base.log_speedup.dof),
                 (head.log_speedup.error, head.log_speedup.dof)],
                base.speedup, head.speedup, _busy(base.contended, head.contended))

    def changes(self, gate: Gate) -> dict[tuple[str, str], Change]:
        """Each test's Change, its p-value adjusted over all tests (Benjamini-Hochberg)."""
        if not self.tests:
            return {}
        tests = list(self.tests.values())
        deltas = np.array([test.delta for test in tests])
        variance = np.array([sum(v for v, _ in test.terms) for test in tests])
        with np.errstate(invalid="ignore", divide="ignore"):
            dof = variance ** 2 / np.array([sum(v * v / d for v, d in test.terms if d > 0)
                                            for test in tests])
            error = np.sqrt(variance)
            raw = np.where(error == 0, np.where(deltas == 0, 1.0, 0.0),
                           2 * stats.t.sf(np.abs(deltas) / error, dof))
        p_values = np.full(len(raw), np.nan)
        testable = np.isfinite(raw)
        if testable.any():
            p_values[testable] = stats.false_discovery_control(raw[testable])
        spread = np.asarray(stats.t.ppf(0.5 + CONFIDENCE / 2, dof) * error, dtype=float)
        return {key: _change(key[0], test, float(p_values[index]), float(spread[index]), gate)
                for index, (key, test) in enumerate(self.tests.items())}


def _change(kind: str, test: _Test, p_value: float, spread: float, gate: Gate) -> Change:
    """Verdict of one test: significant, and beyond the threshold in the same direction."""
    threshold = getattr(gate, kind)
    factor = 1 + (DEFAULT_THRESHOLD if threshold is None else threshold)
    # time is bad when it goes up, speedup when it goes down
    sign = 1 if kind == "time" else -1
    bad_ratio = (test.head / test.base) ** sign
    significant = p_value < ALPHA
    return Change(
        base=test.base, head=test.head, ratio=test.head / test.base,
        low=math.exp(test.delta - spread), high=math.exp(test.delta + spread), p_value=p_value,
        regressed=significant and sign * test.delta > 0 and bad_ratio >= factor,
        improved=significant and sign * test.delta < 0 and bad_ratio <= 1 / factor,
        contended=test.contended,
    )


def _busy(base: bool, head: bool) -> tuple[str, ...]:
    return tuple(side for side, flag in ((BASE, base), (HEAD, head)) if flag)

