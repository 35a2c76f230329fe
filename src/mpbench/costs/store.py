"""Costs files: pyperf BenchmarkSuite JSON, one benchmark per probe, like a run's results file,
with an `mpbench` section of `kind` costs that keeps the plan, the failures, the options and the
machine's state at each round. Written whole and atomically, as results files are."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyperf

from mpbench.costs.probes import PROFILES, CostProbe, CostProfile, Pattern
from mpbench.errors import ResultsFileError
from mpbench.interpreters import Interpreter
from mpbench.model import MAX_SECONDS, Machine, RoundRecord
from mpbench.storage import (
    COSTS_KIND,
    FORMAT_VERSION,
    RESULTS_DIR,
    SECTION,
    add_run,
    last_visit_seconds,
    read_json,
    save_json,
    suite_json,
    utc_stamp,
)


@dataclass(frozen=True)
class CostOptions:
    """How a costs run was asked for: stored in its file and read back field by field."""

    profile: str
    executors: tuple[str, ...]
    start_methods: tuple[str, ...]  # start-up under each; everything else under the first
    payload_bytes: tuple[int, ...]
    timeout: float
    seed: int
    spin_per_second: float  # the spin kernel's turns per second here, when the run began

    @property
    def cost_profile(self) -> CostProfile:
        return PROFILES[self.profile]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> CostOptions:
        """Checked field by field; ResultsFileError names the first that is wrong."""
        names = [item.name for item in dataclasses.fields(cls)]
        if not isinstance(data, Mapping) or set(data) != set(names):
            raise ResultsFileError("the costs run's options: missing or unknown fields")
        for name, kind in _LISTS.items():
            items = data[name]
            if not isinstance(items, list) or not items or not all(
                    isinstance(item, kind) and not isinstance(item, bool) for item in items):
                raise ResultsFileError(f"the costs run's options: {name!r} is not a list of "
                                       f"{kind.__name__}")
        if data["profile"] not in PROFILES:
            raise ResultsFileError(f"the costs run's options: unknown profile "
                                   f"{data['profile']!r}")
        for name, valid in (("timeout", lambda v: 0 < v <= MAX_SECONDS),
                            ("seed", lambda v: isinstance(v, int) and v >= 0),
                            ("spin_per_second", lambda v: 0 < v < math.inf)):
            value = data[name]
            if isinstance(value, bool) or not isinstance(value, int | float) or not valid(value):
                raise ResultsFileError(f"the costs run's options: {name!r} is out of range")
        fields: dict[str, Any] = {name: tuple(data[name]) if name in _LISTS else data[name]
                                  for name in names}
        return cls(**fields)


_LISTS: dict[str, type] = {"executors": str, "start_methods": str, "payload_bytes": int}


@dataclass(frozen=True)
class CostFailure:
    """A probe that produced no figure, and why."""

    probe: CostProbe
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"probe": dataclasses.asdict(self.probe), "id": self.probe.id,
                "reason": self.reason}

    @classmethod
    def from_dict(cls, data: Any) -> CostFailure:
        if not isinstance(data, Mapping) or not isinstance(data.get("reason"), str):
            raise ResultsFileError("a stored probe failure has no reason")
        return cls(CostProbe.from_dict(data.get("probe", {})), data["reason"])


@dataclass
class CostResults:
    """Everything one costs run measured."""

    machine: Machine
    interpreter: Interpreter
    options: CostOptions
    plan: list[CostProbe]
    benchmarks: list[pyperf.Benchmark] = field(default_factory=list)
    failures: list[CostFailure] = field(default_factory=list)
    rounds: list[RoundRecord] = field(default_factory=list)
    path: Path | None = None

    def add_visit(self, visit: pyperf.Benchmark) -> None:
        """A visit's run joins its probe's benchmark; benchmarks stay in plan order."""
        add_run(self.benchmarks, visit, [probe.id for probe in self.plan])

    def fail(self, failure: CostFailure) -> None:
        """Record a probe that failed. Unlike a run's scenario (whose failure may mean its
        kernel is wrong), a probe's earlier visits stay: a precision visit that times out on
        a busy host does not unmeasure the sweep point it revisited."""
        self.failures.append(failure)

    def visit_seconds(self, probe_id: str) -> float:
        """How long the probe's latest visit took, its process included."""
        return last_visit_seconds(self.benchmarks, probe_id)

    def visits(self, probe_id: str) -> int:
        return next((bench.get_nrun() for bench in self.benchmarks
                     if bench.get_name() == probe_id), 0)


def default_path(machine: Machine, now: dt.datetime | None = None) -> Path:
    """`results/<machine>/costs/<UTC timestamp>.json`: beside the machine's runs, in a folder
    of their own, so a folder of runs (for `history`, `load`) holds runs only."""
    return RESULTS_DIR / machine.name / "costs" / f"{utc_stamp(now)}.json"


def to_json(results: CostResults) -> dict[str, Any]:
    return suite_json(results.benchmarks, {
        "format": FORMAT_VERSION, "kind": COSTS_KIND,
        "machine": dataclasses.asdict(results.machine),
        "interpreter": results.interpreter.to_dict(),
        "options": results.options.to_dict(),
        "plan": [dataclasses.asdict(probe) for probe in results.plan],
        "failures": [failure.to_dict() for failure in results.failures],
        "rounds": [record.to_dict() for record in results.rounds],
    })


def save(results: CostResults, path: Path, *, replace: bool) -> Path:
    return save_json(to_json(results), path, replace=replace)


def read(path: Path) -> CostResults:
    """A costs file, or ResultsFileError saying what is wrong with it."""
    data = read_json(path)
    section = data.get(SECTION) if isinstance(data, dict) else None
    if not isinstance(section, dict) or section.get("kind") != COSTS_KIND or \
            "benchmarks" not in data:
        raise ResultsFileError(f"{path} is not a costs file; make one with `mpbench costs`")
    if section.get("format") != FORMAT_VERSION:
        raise ResultsFileError(f"{path} has costs format {section.get('format')!r}; this "
                               f"mpbench reads format {FORMAT_VERSION}")
    try:
        plan = [CostProbe.from_dict(item) for item in section["plan"]]
        results = CostResults(
            machine=Machine.from_dict(section["machine"]),
            interpreter=Interpreter.from_dict(section["interpreter"]),
            options=CostOptions.from_dict(section["options"]), plan=plan,
            failures=[CostFailure.from_dict(item) for item in section["failures"]],
            rounds=[RoundRecord.from_dict(item) for item in section["rounds"]], path=path)
        if data["benchmarks"]:
            results.benchmarks = pyperf.BenchmarkSuite.loads(json.dumps(data)).get_benchmarks()
        _check(results)
    except ResultsFileError as exc:
        raise ResultsFileError(f"{path} is damaged: {exc}") from None
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:
        raise ResultsFileError(f"{path} is damaged: {type(exc).__name__}: {exc}") from None
    return results


def _check(results: CostResults) -> None:
    """Every benchmark is a planned probe with times in range and its round."""
    planned = {probe.id: probe for probe in results.plan}
    for bench in results.benchmarks:
        if bench.get_name() not in planned:
            raise ResultsFileError(f"benchmark {bench.get_name()!r} is not a planned probe")
        for run in bench.get_runs():
            if not all(0 < value <= MAX_SECONDS for value in run.values):
                raise ResultsFileError(f"benchmark {bench.get_name()!r} has a time out of range")
            visit_round = run.get_metadata().get("round")
            if not isinstance(visit_round, int) or isinstance(visit_round, bool):
                raise ResultsFileError(f"benchmark {bench.get_name()!r} has a run without its "
                                       "round")
    if not {probe.pattern for probe in results.plan} <= {item.value for item in Pattern}:
        raise ResultsFileError("a probe of an unknown pattern")
