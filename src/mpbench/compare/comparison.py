"""BASE against HEAD, scenario by scenario: line them up, test them, apply the gates, rank them.

A scenario whose slowdown comes with a scaling regression is listed under the speedup gate only:
its time got worse because it scales worse, and each cause is listed once.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import pandas as pd

from mpbench.analysis import SERIAL
from mpbench.compare.gates import Gate, parse_fail_on
from mpbench.compare.significance import BASE, HEAD, Change, SignificanceTests
from mpbench.compare.stats import SCENARIO_FACTS, ScenarioStats, scenario_stats
from mpbench.errors import UsageError
from mpbench.frame import to_frame
from mpbench.interpreters import Interpreter
from mpbench.kernels import expected_result
from mpbench.model import Machine, RoundRecord
from mpbench.storage import Results, read

# Single-core speed or effective cores this much apart: not the same machine for measuring.
STATE_CHANGE = 0.15
# Machine facts that must match for times to compare: another CPU or interpreter is another clock.
TIME_FACTS = ("hostname", "cpu_model", "logical_cpus", "usable_cpus", "python_implementation",
              "python_version", "python_build", "gil_enabled")


class Status(StrEnum):
    COMPARED = "compared"
    NEW = "new"
    MISSING = "missing"
    FAILED = "failed"  # measured in BASE, failed in HEAD: a broken kernel or executor
    WRONG_RESULT = "wrong result"  # HEAD computed something else: broken, however fast
    NOT_COMPARABLE = "not comparable"


@dataclass(frozen=True)
class Measurements:
    """One side of a comparison: the tidy frame of one results file and where it came from."""

    label: str
    machine: Machine
    frame: pd.DataFrame
    failures: Mapping[str, str] = field(default_factory=dict)
    rounds: tuple[RoundRecord, ...] = ()
    interpreters: tuple[Interpreter, ...] = ()
    gil: int | None = None  # the run's --gil

    @classmethod
    def from_results(cls, results: Results, side: str) -> Measurements:
        label = str(results.path) if results.path is not None else side
        return cls(label, results.machine, to_frame([results]),
                   {failure.scenario.id: failure.reason for failure in results.failures},
                   tuple(results.rounds), tuple(results.interpreters),
                   results.options.matrix.gil)


@dataclass(frozen=True)
class ScenarioComparison:
    id: str
    status: Status
    reason: str = ""  # why a scenario is missing, new or not comparable
    time: Change | None = None
    speedup: Change | None = None  # None for serial scenarios and kernels without a serial run
    gates: tuple[str, ...] = ()  # the gates this scenario trips

    @property
    def regressed(self) -> bool:
        """Slower or scaling worse, significantly and beyond the threshold."""
        return any(change is not None and change.regressed for change in (self.time,
                                                                          self.speedup))

    @property
    def improved(self) -> bool:
        return not self.regressed and any(change is not None and change.improved
                                          for change in (self.time, self.speedup))

    @property
    def tested(self) -> bool:
        return self.time is not None or self.speedup is not None

    @property
    def unchanged(self) -> bool:
        """Compared and tested, and neither better nor worse: the verdict `same`."""
        return (self.status is Status.COMPARED and self.tested and not self.regressed
                and not self.improved)

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
    def compared(self) -> list[ScenarioComparison]:
        """The scenarios that were compared and tested on both sides."""
        return [item for item in self.scenarios
                if item.status is Status.COMPARED and item.tested]

    @property
    def base_scenarios(self) -> int:
        return sum(item.status is not Status.NEW for item in self.scenarios)

    @property
    def failed(self) -> bool:
        """A gate tripped, or nothing could be compared at all (which proves nothing)."""
        return bool(self.trips) or not self.compared

    @property
    def exit_code(self) -> int:
        """1 when a gate trips or nothing was compared, else 0: what `mpbench compare` exits
        with."""
        return 1 if self.failed else 0


def compare_files(base: Path, head: Path, fail_on: Sequence[str] = ()) -> Comparison:
    """What `mpbench compare BASE HEAD --fail-on …` computes (several --fail-on are joined)."""
    gate = parse_fail_on(",".join(fail_on)) if fail_on else Gate()
    return compare(read(base), read(head), gate)


def compare(base: Results, head: Results, gate: Gate | None = None) -> Comparison:
    return compare_measurements(Measurements.from_results(base, BASE),
                                Measurements.from_results(head, HEAD), gate or Gate())


def compare_measurements(base: Measurements, head: Measurements, gate: Gate) -> Comparison:
    """Line scenarios up by id, test every time and speedup, and apply the gates."""
    base, head, interpreters = across_interpreters(base, head)
    base_stats, head_stats = scenario_stats(base.frame), scenario_stats(head.frame)
    common = [sid for sid in base_stats if sid in head_stats]
    if not common:
        raise UsageError(f"{base.label} and {head.label} have no measured scenario in common; "
                         "compare two runs made with the same kernels and -k selection")
    differences = machine_differences(base.machine, head.machine) + interpreters
    reasons = {sid: _incomparable(base_stats[sid], head_stats[sid], base.machine, head.machine)
               for sid in common}
    comparable = [sid for sid in common if not reasons[sid]]
    tests = SignificanceTests(base_stats, head_stats)
    if not differences:
        tests.add_times(comparable)
    tests.add_speedups(comparable)
    changes = tests.changes(gate)

    wrong = wrong_results(base.frame, head.frame)
    items = [ScenarioComparison(sid, Status.WRONG_RESULT, reason, gates=("result",))
             for sid, reason in wrong.items()]
    for sid in base_stats:
        if sid in wrong:
            continue
        if sid in head.failures:  # a change that breaks a scenario must not pass as "missing"
            items.append(ScenarioComparison(sid, Status.FAILED, _absence(head, HEAD, sid),
                                            gates=("failure",)))
        elif sid not in head_stats:
            items.append(ScenarioComparison(sid, Status.MISSING, _absence(head, HEAD, sid)))
        elif reasons[sid]:
            items.append(ScenarioComparison(sid, Status.NOT_COMPARABLE, reasons[sid]))
        else:
            items.append(_judged(sid, changes.get(("time", sid)), changes.get(("speedup", sid)),
                                 gate))
    items.extend(ScenarioComparison(sid, Status.NEW, _absence(base, BASE, sid))
                 for sid in head_stats if sid not in base_stats and sid not in wrong)
    return Comparison(
        base=base.label, head=head.label, base_machine=base.machine, head_machine=head.machine,
        gate=gate, differences=differences, scenarios=tuple(sorted(items, key=_rank)),
        tests=len(changes),
        notes=tuple(_notes(base_stats, head_stats, changes)) + state_notes(base.rounds,
                                                                          head.rounds),
    )


def across_interpreters(base: Measurements, head: Measurements
                        ) -> tuple[Measurements, Measurements, tuple[str, ...]]:
    """How the two runs' interpreters differ, as differences that make times incomparable (so
    only speedups are gated): another patch release or build behind the same tag, another
    `--gil`. Two runs each under one interpreter, and not the same one (3.11 before, 3.13
    after), line their scenarios up by id without the `@interpreter`, the way runs of two
    machines do."""
    tags = [list(dict.fromkeys(side.frame["interpreter"])) for side in (base, head)]
    if any(len(side) != 1 for side in tags) or tags[0] == tags[1]:
        before = {item.tag: item for item in base.interpreters}
        differences = tuple(
            f"{item.tag}: {before[item.tag].version} ≠ {item.version}"
            for item in head.interpreters if item.tag in before
            and dataclasses.replace(before[item.tag], path=item.path) != item)
        if base.gil != head.gil:
            differences += (f"--gil: {base.gil} ≠ {head.gil}",)
        return base, head, differences

    def bare(side: Measurements) -> Measurements:
        frame = side.frame.assign(scenario=side.frame["scenario"].str.rsplit("@", n=1).str[0])
        failures = {sid.rsplit("@", 1)[0]: reason for sid, reason in side.failures.items()}
        return dataclasses.replace(side, frame=frame, failures=failures)

    return bare(base), bare(head), (f"interpreter: {tags[0][0]} ≠ {tags[1][0]}",)


def wrong_results(base: pd.DataFrame, head: pd.DataFrame) -> dict[str, str]:
    """HEAD's scenarios whose result differs from HEAD's serial run of the same kernel under
    the same interpreter, or from BASE's result for the same scenario and kernel source, with
    both values: a kernel that is right serially but wrong when split passes no gate."""
    mine, theirs = _results(head), _results(base)
    serial = {(row["kernel"], row["interpreter"]): row["result"]
              for row in mine.values() if row["executor"] == SERIAL}
    wrong = {}
    for sid, row in mine.items():
        own = serial.get((row["kernel"], row["interpreter"]))
        copies = int(row["work"])  # weak scaling: w copies of serial's range
        before = theirs.get(sid)
        if row["executor"] != SERIAL and own is not None and \
                row["result"] != expected_result(own, copies):
            times = f"{copies} × " if copies > 1 else ""
            wrong[sid] = f"computed {row['result']}, {times}HEAD's serial run {own}"
        elif before is not None and before["kernel_hash"] == row["kernel_hash"] and \
                before["size"] == row["size"] and before["result"] != row["result"]:
            wrong[sid] = f"computed {row['result']}, BASE computed {before['result']}"
    return wrong


def _results(frame: pd.DataFrame) -> dict[str, dict[Any, Any]]:
    """Per scenario with a recorded result: that result and what it depends on."""
    columns = ["kernel", "interpreter", "executor", "kernel_hash", "size", "work", "result"]
    firsts = frame.groupby("scenario", sort=False)[columns].first()
    return {str(sid): row for sid, row in firsts.to_dict("index").items()
            if isinstance(row["result"], str)}


def machine_differences(base: Machine, head: Machine) -> tuple[str, ...]:
    """`cpu_model: A ≠ B`, … for the facts that make times from two runs incomparable."""
    return tuple(f"{name}: {getattr(base, name)} ≠ {getattr(head, name)}"
                 for name in TIME_FACTS if getattr(base, name) != getattr(head, name))


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
    # On one machine, other CPUs (one pinned, one not; another --cpus set) are other work.
    if base_machine.hostname == head_machine.hostname and None not in (base.cpus, head.cpus) \
            and base.cpus != head.cpus:
        return f"run on CPUs {base.cpus} in BASE, {head.cpus} in HEAD"
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
    reason = "" if time or speedup else \
        "across machines or interpreters only speedups compare, and it has none"
    return ScenarioComparison(sid, Status.COMPARED, reason, time=time, speedup=speedup,
                              gates=tuple(gates))


def _badness(item: ScenarioComparison) -> float:
    """How far the scenario moved in the bad direction, on a log scale."""
    moves = [math.log(item.time.ratio)] if item.time else []
    moves += [-math.log(item.speedup.ratio)] if item.speedup else []
    return max(moves, default=0.0)


def _rank(item: ScenarioComparison) -> tuple[int, float]:
    """Gate trips first, then other regressions, incomparable ones, same, improvements."""
    if item.gates:
        group = 0
    elif item.regressed:
        group = 1
    elif item.status is not Status.COMPARED or not item.tested:
        group = 2
    else:
        group = 4 if item.improved else 3
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
            notes.append(f"⚠ {label}: {plural(busy, 'scenario')} timed while other processes "
                         "loaded the machine")
    return notes


def state_notes(base: Sequence[RoundRecord], head: Sequence[RoundRecord]) -> tuple[str, ...]:
    """A note when the two runs saw the machine in different states: single-core speed or
    effective cores (medians over their rounds) more than STATE_CHANGE apart."""
    differences = []
    for name, what, unit in (("effective_cores", "effective cores", ""),
                             ("single_core_ms", "single core", " ms a chunk")):
        sides = [[getattr(r, name) for r in rounds if getattr(r, name)] for rounds in (base,
                                                                                      head)]
        if not all(sides):
            continue
        before, after = (statistics.median(values) for values in sides)
        if max(before, after) > (1 + STATE_CHANGE) * min(before, after):
            differences.append(f"{what} {before:.2f}{unit} in BASE, {after:.2f}{unit} in HEAD")
    if not differences:
        return ()
    return (f"⚠ BASE and HEAD saw different machines in all but name ({'; '.join(differences)}):"
            " speedups and times can differ for that reason alone",)


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"
