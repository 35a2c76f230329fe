"""BASE against HEAD: which scenarios got slower or scale worse, beyond both threshold and noise.

A change counts only when it is beyond the gate's threshold (HEAD median / BASE median) *and*
statistically significant. The test, and why:

- Times are compared on a log scale (noise is multiplicative), as the difference of mean log times,
  so the ratio has a confidence interval; independent units are pyperf processes (their means)
  when every scenario of a file has at least three, else single values (the quick profile has one
  process: its noise between processes is invisible, and only the threshold guards against it).
- Five values per side leave each scenario's own variance too uncertain: a plain Welch test at the
  level a whole file needs barely ever fires, and Mann-Whitney with 5 against 5 cannot reach it at
  all. So variances are moderated as in limma (Smyth 2004): each is shrunk towards the typical
  variance of the file's scenarios with the same executor, by an amount estimated from how much
  they differ. The test is Welch's t on those variances, with Welch-Satterthwaite degrees of
  freedom, which also handles different sample counts on the two sides (pyperf's own test
  assumes equal counts).
- A speedup is serial time / parallel time of the same file, so its ratio is tested as the contrast
  of the two log-time differences; being free of units, it also compares different machines.
- 68 scenarios make 132 tests (times, and speedups but for the 4 serial runs), so p-values are
  adjusted together with Benjamini-Hochberg: when nothing changed, that keeps the chance of any
  false alarm per file pair under ALPHA (measured: 3 % of pairs with the quick profile, 0.4 %
  with standard), and 20 % slower in one scenario is still caught 97 and 100 times in 100.

A scenario whose slowdown comes with a scaling regression is listed under the speedup gate only:
its time got worse because it scales worse, and each cause is listed once. Everything is
deterministic: no resampling.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import special, stats

from mpbench.errors import UsageError
from mpbench.frame import to_frame
from mpbench.model import Machine
from mpbench.storage import Results, read
from mpbench.tables import Table, format_ratio, format_seconds, visible

ALPHA = 0.05  # false-discovery rate over all tests of a file pair; family-wise when nothing changed
CONFIDENCE = 0.95  # of the intervals shown
DEFAULT_THRESHOLD = 0.10  # for the faster/slower labels of a quantity whose gate is off
MIN_PROCESSES = 3  # per scenario, to test on process means rather than on single values
# Machine facts that must match for times to compare: another CPU or interpreter is another clock.
TIME_FACTS = ("hostname", "cpu_model", "logical_cpus", "usable_cpus", "python_implementation",
              "python_version", "python_build", "gil_enabled")
SCENARIO_FACTS = {"kernel_hash": "kernel source", "size": "size", "tasks": "tasks",
                  "blas_threads": "BLAS threads"}
GATE_KINDS = {"time": "time", "speedup": "speedup", "efficiency": "speedup"}
BASE, HEAD = "BASE", "HEAD"
FloatArray = npt.NDArray[np.float64]


class Status(StrEnum):
    COMPARED = "compared"
    NEW = "new"
    MISSING = "missing"
    NOT_COMPARABLE = "not comparable"


@dataclass(frozen=True)
class Gate:
    """Thresholds that fail the comparison, as fractions (0.10 = 10 %); None turns a gate off."""

    time: float | None = DEFAULT_THRESHOLD
    speedup: float | None = DEFAULT_THRESHOLD

    def describe(self) -> str:
        parts = [f"{kind}:{threshold * 100:g}%" for kind, threshold in
                 (("time", self.time), ("speedup", self.speedup)) if threshold is not None]
        return ", ".join(parts) or "none"


def parse_fail_on(spec: str) -> Gate:
    """`time:10%`, `speedup:15%`, both comma-separated, or `none`; a gate left out is off.

    Without --fail-on the CLI uses `Gate()`: time:10% and speedup:10%."""
    items = [item.strip() for item in spec.split(",")]
    if items == ["none"]:
        return Gate(time=None, speedup=None)
    thresholds: dict[str, float] = {}
    for item in items:
        kind, colon, amount = (part.strip() for part in item.partition(":"))
        if not colon or not amount.endswith("%"):
            raise UsageError(f"--fail-on {spec!r}: write each gate as KIND:PERCENT, e.g. "
                             "--fail-on time:10% or --fail-on time:10%,speedup:15% (or none)")
        if kind not in GATE_KINDS:
            raise UsageError(f"--fail-on {spec!r}: unknown gate {kind!r}; use time:PERCENT "
                             "(same machine only) or speedup:PERCENT (any machines), or none")
        try:
            threshold = float(amount[:-1]) / 100
        except ValueError:
            threshold = math.nan
        if not 0 <= threshold < math.inf:
            raise UsageError(f"--fail-on {spec!r}: the threshold must be a percentage of 0 or "
                             "more, e.g. 10%")
        if GATE_KINDS[kind] in thresholds:
            raise UsageError(f"--fail-on {spec!r}: the {GATE_KINDS[kind]} gate is given twice; "
                             "give each gate once")
        thresholds[GATE_KINDS[kind]] = threshold
    return Gate(time=thresholds.get("time"), speedup=thresholds.get("speedup"))


@dataclass(frozen=True)
class Measurements:
    """One side of a comparison: the tidy frame of one results file and where it came from."""

    label: str
    machine: Machine
    frame: pd.DataFrame
    failures: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_results(cls, results: Results, side: str) -> Measurements:
        label = str(results.path) if results.path is not None else side
        return cls(label, results.machine, to_frame([results]),
                   {failure.scenario.id: failure.reason for failure in results.failures})


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
class ScenarioComparison:
    id: str
    status: Status
    reason: str = ""  # why a scenario is missing, new or not comparable
    time: Change | None = None
    speedup: Change | None = None  # None for serial scenarios and kernels without a serial run
    gates: tuple[str, ...] = ()  # the gates this scenario trips

    @property
    def verdict(self) -> str:
        """`slower`, `faster, scales worse`, `same`, `missing`, … as one label."""
        if self.status is not Status.COMPARED:
            return str(self.status)
        labels = []
        if self.time is not None and (self.time.regressed or self.time.improved):
            labels.append("slower" if self.time.regressed else "faster")
        if self.speedup is not None and (self.speedup.regressed or self.speedup.improved):
            labels.append("scales worse" if self.speedup.regressed else "scales better")
        if labels:
            return ", ".join(labels)
        return "same" if self.time or self.speedup else "not tested"

    @property
    def contended(self) -> tuple[str, ...]:
        sides = {side for change in (self.time, self.speedup) if change for side in
                 change.contended}
        return tuple(side for side in (BASE, HEAD) if side in sides)


@dataclass(frozen=True)
class Comparison:
    """Everything the renderers show; built by `compare`, never printed by it."""

    base: str  # labels: file paths, or BASE/HEAD
    head: str
    base_machine: Machine
    head_machine: Machine
    gate: Gate
    differences: tuple[str, ...]  # machine facts that differ; any makes times incomparable
    scenarios: tuple[ScenarioComparison, ...]  # worst regressions first
    tests: int  # p-values adjusted together
    notes: tuple[str, ...] = ()

    @property
    def same_machine(self) -> bool:
        return not self.differences

    @property
    def trips(self) -> list[ScenarioComparison]:
        return [item for item in self.scenarios if item.gates]

    @property
    def exit_code(self) -> int:
        """1 when a gate trips, else 0: what `mpbench compare` exits with."""
        return 1 if self.trips else 0


def compare_files(base: Path, head: Path, fail_on: Sequence[str] = ()) -> Comparison:
    """What `mpbench compare BASE HEAD --fail-on …` computes (several --fail-on are joined)."""
    gate = parse_fail_on(",".join(fail_on)) if fail_on else Gate()
    return compare(read(base), read(head), gate)


def compare(base: Results, head: Results, gate: Gate | None = None) -> Comparison:
    return compare_measurements(Measurements.from_results(base, BASE),
                                Measurements.from_results(head, HEAD), gate or Gate())


def compare_measurements(base: Measurements, head: Measurements, gate: Gate) -> Comparison:
    """Line scenarios up by id, test every time and speedup, and apply the gates."""
    base_stats, head_stats = scenario_stats(base.frame), scenario_stats(head.frame)
    common = [sid for sid in base_stats if sid in head_stats]
    if not common:
        raise UsageError(f"{base.label} and {head.label} have no measured scenario in common; "
                         "compare two runs made with the same kernels and -k selection")
    differences = machine_differences(base.machine, head.machine)
    reasons = {sid: _incomparable(base_stats[sid], head_stats[sid], base.machine, head.machine)
               for sid in common}
    comparable = [sid for sid in common if not reasons[sid]]
    tests = _Tests(base_stats, head_stats)
    if not differences:
        tests.add_times(comparable)
    tests.add_speedups(comparable)
    changes = tests.changes(gate)

    items = []
    for sid in base_stats:
        if sid not in head_stats:
            items.append(ScenarioComparison(sid, Status.MISSING, _absence(head, HEAD, sid)))
        elif reasons[sid]:
            items.append(ScenarioComparison(sid, Status.NOT_COMPARABLE, reasons[sid]))
        else:
            items.append(_judged(sid, changes.get(("time", sid)), changes.get(("speedup", sid)),
                                 gate))
    items.extend(ScenarioComparison(sid, Status.NEW, _absence(base, BASE, sid))
                 for sid in head_stats if sid not in base_stats)
    return Comparison(
        base=base.label, head=head.label, base_machine=base.machine, head_machine=head.machine,
        gate=gate, differences=differences, scenarios=tuple(sorted(items, key=_rank)),
        tests=len(changes), notes=tuple(_notes(base_stats, head_stats, changes)),
    )


def machine_differences(base: Machine, head: Machine) -> tuple[str, ...]:
    """`cpu_model: A ≠ B`, … for the facts that make times from two runs incomparable."""
    return tuple(f"{name}: {getattr(base, name)} ≠ {getattr(head, name)}"
                 for name in TIME_FACTS if getattr(base, name) != getattr(head, name))


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


@dataclass(frozen=True)
class _Test:
    """A log ratio HEAD/BASE, the variances of the means it is made of, and what is shown."""

    delta: float
    terms: list[tuple[float, float]]  # (variance of a mean, its degrees of freedom)
    base: float  # median seconds or speedup
    head: float
    contended: tuple[str, ...]


class _Tests:
    """Collects the tests of a comparison, then adjusts their p-values together."""

    def __init__(self, base: Mapping[str, ScenarioStats], head: Mapping[str, ScenarioStats]
                 ) -> None:
        self.base, self.head = base, head
        self.serial = (_serial_ids(base), _serial_ids(head))
        self.tests: dict[tuple[str, str], _Test] = {}

    def add_times(self, ids: Sequence[str]) -> None:
        for sid in ids:
            base, head = self.base[sid], self.head[sid]
            self.tests["time", sid] = _Test(
                head.mean - base.mean, [(base.error, base.dof), (head.error, head.dof)],
                base.median, head.median, _busy(base.contended, head.contended))

    def add_speedups(self, ids: Sequence[str]) -> None:
        """log(speedup HEAD/BASE) = the serial's log-time difference minus the scenario's."""
        comparable = set(ids)
        for sid in ids:
            kernel = self.base[sid].kernel
            reference = self.serial[0].get(kernel)
            if reference is None or reference == sid or reference not in comparable \
                    or self.serial[1].get(kernel) != reference:
                continue
            base, head = self.base[sid], self.head[sid]
            base_serial, head_serial = self.base[reference], self.head[reference]
            parts = (base_serial, base, head_serial, head)
            self.tests["speedup", sid] = _Test(
                (head_serial.mean - base_serial.mean) - (head.mean - base.mean),
                [(part.error, part.dof) for part in parts],
                base_serial.median / base.median, head_serial.median / head.median,
                _busy(base_serial.contended or base.contended,
                      head_serial.contended or head.contended))

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


def _serial_ids(side: Mapping[str, ScenarioStats]) -> dict[str, str]:
    """Kernel → the id of its serial scenario in the same file: every speedup's baseline."""
    serials: dict[str, str] = {}
    for sid, item in side.items():
        if item.executor == "serial":
            serials.setdefault(item.kernel, sid)
    return serials


def _incomparable(base: ScenarioStats, head: ScenarioStats, base_machine: Machine,
                  head_machine: Machine) -> str:
    """Why a scenario measured on both sides cannot be compared, or ''."""
    for name, what in SCENARIO_FACTS.items():
        before, after = base.facts[name], head.facts[name]
        if before is not None and after is not None and before != after:
            return f"{what} differs: {before} in BASE, {after} in HEAD"
    cpus = (min(base.workers, base_machine.usable_cpus),
            min(base.workers, head_machine.usable_cpus))
    if cpus[0] != cpus[1]:
        return f"{base.workers} workers get {cpus[0]} CPUs in BASE, {cpus[1]} in HEAD"
    return ""


def _absence(side: Measurements, name: str, sid: str) -> str:
    reason = side.failures.get(sid)
    return f"failed in {name}: {reason}" if reason else f"not measured in {name}"


def _judged(sid: str, time: Change | None, speedup: Change | None,
            gate: Gate) -> ScenarioComparison:
    """Apply the gates; a slowdown that comes with worse scaling is listed under speedup only."""
    gates = []
    scaling_trips = gate.speedup is not None and speedup is not None and speedup.regressed
    if scaling_trips:
        gates.append("speedup")
    if gate.time is not None and time is not None and time.regressed and not scaling_trips:
        gates.append("time")
    reason = "" if time or speedup else "across machines only speedups compare, and it has none"
    return ScenarioComparison(sid, Status.COMPARED, reason, time=time, speedup=speedup,
                              gates=tuple(gates))


def _badness(item: ScenarioComparison) -> float:
    """How far the scenario moved in the bad direction, on a log scale."""
    moves = [math.log(item.time.ratio)] if item.time else []
    moves += [-math.log(item.speedup.ratio)] if item.speedup else []
    return max(moves, default=0.0)


def _rank(item: ScenarioComparison) -> tuple[int, float]:
    """Gate trips first, then other regressions, incomparable ones, same, improvements."""
    verdict = item.verdict
    if item.gates:
        group = 0
    elif "slower" in verdict or "worse" in verdict:
        group = 1
    elif item.status is not Status.COMPARED or verdict == "not tested":
        group = 2
    else:
        group = 3 if verdict == "same" else 4
    return group, -_badness(item)


def _notes(base: Mapping[str, ScenarioStats], head: Mapping[str, ScenarioStats],
           changes: Mapping[tuple[str, str], Change]) -> list[str]:
    notes = []
    if changes and all(math.isnan(change.p_value) for change in changes.values()):
        notes.append("too few values to test anything (one value per scenario?): every "
                     "verdict is `same`; measure with --profile quick or longer")
    for label, side in ((BASE, base), (HEAD, head)):
        busy = sum(item.contended for item in side.values())
        if busy:
            notes.append(f"⚠ {label}: {_plural(busy, 'scenario')} timed while other processes "
                         "loaded the machine")
    return notes


# Rendering ------------------------------------------------------------------------------------

def headline(comparison: Comparison) -> str:
    """The one-line verdict."""
    trips = comparison.trips
    skipped = ("; time gate skipped: different machines"
               if comparison.differences and comparison.gate.time is not None else "")
    compared = sum(item.status is Status.COMPARED for item in comparison.scenarios)
    if trips:
        shown = ", ".join(_trip_phrase(item) for item in trips[:3])
        more = f" and {len(trips) - 3} more" if len(trips) > 3 else ""
        return (f"{_plural(len(trips), 'regression')} beyond {comparison.gate.describe()}: "
                f"{shown}{more}{skipped}")
    improved = sum(item.verdict in ("faster", "faster, scales better", "scales better")
                   for item in comparison.scenarios)
    better = f" ({improved} improved)" if improved else ""
    if comparison.gate.time is None and comparison.gate.speedup is None:
        return f"no gate set; {_plural(compared, 'scenario')} compared{better}"
    return (f"no regression beyond {comparison.gate.describe()} in "
            f"{_plural(compared, 'scenario')}{better}{skipped}")


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _trip_phrase(item: ScenarioComparison) -> str:
    busy = f" (⚠ timed on a busy machine: {' and '.join(item.contended)})" \
        if item.contended else ""
    if "speedup" in item.gates and item.speedup is not None:
        return (f"{item.id} scales worse ({format_ratio(item.speedup.base)} → "
                f"{format_ratio(item.speedup.head)}){busy}")
    assert item.time is not None
    return f"{item.id} {format_ratio(item.time.ratio)} slower{busy}"


def comparison_table(items: Sequence[ScenarioComparison]) -> Table:
    """The rows the text and Markdown views share: one per scenario, numbers formatted once."""
    rows = []
    for item in items:
        time, speedup = item.time, item.speedup
        rows.append([
            "✗ " + "+".join(item.gates) if item.gates else "", item.id,
            format_seconds(time.base) if time else "", format_seconds(time.head) if time else "",
            _ratio_cell(time), _speedup_cell(speedup),
            item.verdict + (f" ({item.reason})" if item.reason else "")
            + (f" ⚠ {'+'.join(item.contended)}" if item.contended else ""),
        ])
    return Table("", ["gate", "scenario", BASE, HEAD, f"HEAD/BASE [{CONFIDENCE:.0%} CI]",
                      "speedup BASE → HEAD", "verdict"], rows)


def _ratio_cell(change: Change | None) -> str:
    if change is None:
        return ""
    return f"{change.ratio:.2f}× [{change.low:.2f}, {change.high:.2f}]"


def _speedup_cell(change: Change | None) -> str:
    if change is None:
        return ""
    return f"{format_ratio(change.base)} → {format_ratio(change.head)} ({change.ratio:.2f}×)"


def _context(comparison: Comparison) -> list[str]:
    """Who was compared with whom, the gates, and what was skipped, one sentence each."""
    machine = comparison.head_machine
    lines = [f"{_side(BASE, comparison.base, comparison.base_machine)} against "
             f"{_side(HEAD, comparison.head, machine)}"]
    if comparison.same_machine:
        lines.append(f"same machine: {machine.name}, {machine.cpu_model}, {machine.usable_cpus} "
                     f"usable CPUs, {machine.python_implementation} {machine.python_version}")
    else:
        lines.append("different machines (" + "; ".join(comparison.differences) + "): times do "
                     "not compare, so the time gate is skipped and only the speedup gate applies")
    lines.append(f"gates: {comparison.gate.describe()}; a regression must be beyond the threshold "
                 f"and significant (moderated Welch t, Benjamini-Hochberg at {ALPHA:.0%} over "
                 f"{_plural(comparison.tests, 'test')})")
    return lines + list(comparison.notes)


def _side(name: str, label: str, machine: Machine) -> str:
    commit = f"commit {machine.git_commit[:10]}" if machine.git_commit else "commit unknown"
    return f"{name} ({commit})" if label == name else f"{name} {label} ({commit})"


def render_text(comparison: Comparison) -> str:
    table = comparison_table(comparison.scenarios)
    rows = [table.columns, *table.rows]
    widths = [max(len(visible(row[index])) for row in rows) for index in range(len(rows[0]))]
    lines = [("FAIL: " if comparison.trips else "OK: ") + headline(comparison),
             *_context(comparison), ""]
    lines += ["  ".join(visible(cell).ljust(width) for cell, width in
                        zip(row, widths, strict=True)).rstrip() for row in rows]
    return "\n".join(visible(line) for line in lines) + "\n"


def render_markdown(comparison: Comparison) -> str:
    """For $GITHUB_STEP_SUMMARY or a PR comment: verdict, changed rows, the rest folded away."""
    changed = [item for item in comparison.scenarios if item.verdict != "same"]
    same = [item for item in comparison.scenarios if item.verdict == "same"]
    lines = [f"### {'❌' if comparison.trips else '✅'} mpbench: {_md(headline(comparison))}", ""]
    lines += [f"- {_md(line)}" for line in _context(comparison)] + [""]
    if changed:
        lines += [*_md_table(comparison_table(changed)), ""]
    if same:
        lines += [f"<details><summary>{_plural(len(same), 'scenario')} unchanged</summary>", ""]
        lines += [*_md_table(comparison_table(same)), "", "</details>", ""]
    return "\n".join(lines)


def _md(text: str) -> str:
    """Text shown as it is in Markdown and its HTML: no tags, table breaks or emphasis."""
    text = visible(text)
    for char, escaped in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ("|", "\\|"),
                          ("*", "\\*"), ("_", "\\_"), ("`", "\\`"), ("[", "\\[")):
        text = text.replace(char, escaped)
    return text


def _md_table(table: Table) -> list[str]:
    lines = ["| " + " | ".join(table.columns) + " |",
             "|" + "|".join("---:" if column in (BASE, HEAD) else "---"
                            for column in table.columns) + "|"]
    for row in table.rows:
        cells = [_md(cell) for cell in row]
        if re.fullmatch(r"[\w./-]+", row[1]):
            cells[1] = f"`{row[1]}`"
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def render_json(comparison: Comparison) -> str:
    def change(item: Change | None) -> dict[str, Any] | None:
        if item is None:
            return None
        return {name: (None if isinstance(value, float) and not math.isfinite(value) else value)
                for name, value in vars(item).items()} | {"contended": list(item.contended)}

    data = {
        "verdict": headline(comparison), "failed": bool(comparison.trips),
        "base": comparison.base, "head": comparison.head,
        "gate": {"time": comparison.gate.time, "speedup": comparison.gate.speedup},
        "same_machine": comparison.same_machine, "differences": list(comparison.differences),
        "tests": comparison.tests, "alpha": ALPHA, "notes": list(comparison.notes),
        "scenarios": [{"id": item.id, "status": str(item.status), "verdict": item.verdict,
                       "reason": item.reason, "gates": list(item.gates),
                       "time": change(item.time), "speedup": change(item.speedup)}
                      for item in comparison.scenarios],
    }
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def render(comparison: Comparison, output_format: str) -> str:
    """`text`, `md` or `json`."""
    renderers = {"text": render_text, "md": render_markdown, "json": render_json}
    if output_format not in renderers:
        raise UsageError(f"--format {output_format!r}: choose from {', '.join(renderers)}")
    return renderers[output_format](comparison)
