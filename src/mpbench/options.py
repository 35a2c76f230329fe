"""How a run is asked for: typed options, checked when they are made and when they are read back.

`RunOptions` is what `mpbench.run` takes and what the CLI builds from the command line. The part
that decides what is measured and how (`MatrixOptions`, timeout, seed, precision target, budget)
is stored in every results file and read back field by field, so `--resume` and the views never
trust an unchecked dict.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mpbench.errors import ResultsFileError, UsageError
from mpbench.matrix import PROFILES, MatrixOptions
from mpbench.model import MAX_SECONDS, Profile, Scaling
from mpbench.topology import Placement

DEFAULT_TIMEOUT = 300.0


@dataclass(frozen=True)
class RunOptions:
    """Everything `mpbench.run` needs; None means "the default" (see each field)."""

    matrix: MatrixOptions = field(default_factory=MatrixOptions)
    benchmarks: Path | None = None  # folder of bm_*.py files; None: ./benchmarks or built-ins
    timeout: float = DEFAULT_TIMEOUT  # seconds per visit of a scenario
    seed: int | None = None  # of the shuffled visiting order; None: a fresh one, recorded
    precision: float | None = None  # target half-width of speedup intervals; None: profile's
    max_seconds: float | None = None  # the run's budget; None: the profile's rule (see Budget)
    output: Path | None = None  # results file; None: results/<machine>/<UTC time>.json
    machine_name: str | None = None  # None: the host name

    def __post_init__(self) -> None:
        if self.matrix.profile not in PROFILES:
            raise UsageError(f"unknown profile {self.matrix.profile!r}; choose from: "
                             f"{', '.join(PROFILES)}")
        check_seconds("timeout", self.timeout)
        if self.seed is not None and not 0 <= self.seed < 2**63:
            raise UsageError(f"--seed {self.seed}: give a whole number from 0 to 2**63 - 1")
        if self.max_seconds is not None:
            check_seconds("max-time", self.max_seconds)
        if self.precision is not None and not 0 < self.precision < 1:
            raise UsageError(f"--precision {self.precision:.4g}: give a percentage above 0 and "
                             "below 100, e.g. --precision 5")
        if self.output is not None and not self.output.name.endswith((".json", ".json.gz")):
            raise UsageError(f"--output {self.output}: a results file name must end in .json "
                             "or .json.gz")

    @property
    def profile(self) -> Profile:
        return PROFILES[self.matrix.profile]

    @property
    def target(self) -> float | None:
        """The precision target in force: the option's, else the profile's."""
        return self.precision if self.precision is not None else self.profile.precision



def check_seconds(name: str, seconds: float) -> None:
    if not 0 < seconds <= MAX_SECONDS:
        raise UsageError(f"--{name} {seconds!r}: give a number of seconds above 0 and at most "
                         f"{MAX_SECONDS:g}")


@dataclass(frozen=True)
class StoredOptions:
    """The options a results file was measured with (the `options` of its mpbench section)."""

    matrix: MatrixOptions
    timeout: float
    seed: int
    precision: float | None  # the target in force (the profile's, unless one was given)
    max_seconds: float | None  # the budget given; None: the profile's rule

    @property
    def profile(self) -> Profile:
        return PROFILES[self.matrix.profile]

    def to_dict(self) -> dict[str, Any]:
        return {"matrix": dataclasses.asdict(self.matrix), "timeout": self.timeout,
                "seed": self.seed, "precision": self.precision, "max_seconds": self.max_seconds}

    @classmethod
    def from_dict(cls, data: Any) -> StoredOptions:
        """Checked field by field; ResultsFileError names the first field that is wrong."""
        if not isinstance(data, Mapping):
            raise ResultsFileError("the run's options are missing")
        matrix = _matrix_from(data.get("matrix"))
        timeout = _number(data, "timeout", lambda v: 0 < v <= MAX_SECONDS)
        seed = data.get("seed")
        if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
            raise ResultsFileError("the run's options: 'seed' is not a whole number")
        precision = _optional_number(data, "precision", lambda v: 0 < v < 1)
        budget = _optional_number(data, "max_seconds", lambda v: 0 < v <= MAX_SECONDS)
        return cls(matrix, timeout, seed, precision, budget)


def _number(data: Mapping[str, Any], name: str, valid: Any) -> float:
    value = data.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float) or \
            not math.isfinite(value) or not valid(value):
        raise ResultsFileError(f"the run's options: {name!r} is not a valid number")
    return float(value)


def _optional_number(data: Mapping[str, Any], name: str, valid: Any) -> float | None:
    return None if data.get(name) is None else _number(data, name, valid)


_MATRIX_LISTS: dict[str, type] = {"kernels": str, "executors": str, "workers": int,
                                  "start_methods": str, "scalings": str, "cpus": int}
# Options added since results format 3, and what a file without them was measured with.
_MATRIX_ADDED: dict[str, Any] = {"scalings": None, "cpus": None,
                                 "placement": Placement.COMPACT.value, "dask_scheduler": None}


def _matrix_from(data: Any) -> MatrixOptions:
    if not isinstance(data, Mapping):
        raise ResultsFileError("the run's options: 'matrix' is missing or not an object")
    data = {**{name: value for name, value in _MATRIX_ADDED.items() if name not in data}, **data}
    expected = {item.name for item in dataclasses.fields(MatrixOptions)}
    if set(data) != expected:
        raise ResultsFileError("the run's options: 'matrix' has missing or unknown fields")
    values: dict[str, Any] = {}
    for name, kind in _MATRIX_LISTS.items():
        items = data[name]
        if items is not None and not (isinstance(items, list) and items and all(
                isinstance(item, kind) and not isinstance(item, bool) for item in items)):
            raise ResultsFileError(f"the run's options: {name!r} is not a list of {kind.__name__}")
        values[name] = None if items is None else tuple(items)
    for name in ("size", "tasks_per_worker", "blas_threads"):
        value = data[name]
        if not (value is None and name == "size") and not (
                isinstance(value, int) and not isinstance(value, bool) and value >= 1):
            raise ResultsFileError(f"the run's options: {name!r} is not a whole number")
        values[name] = value
    select = data["select"]
    if not isinstance(select, list) or not all(isinstance(item, str) for item in select):
        raise ResultsFileError("the run's options: 'select' is not a list of patterns")
    if data["profile"] not in PROFILES:
        raise ResultsFileError(f"the run's options: unknown profile {data['profile']!r}")
    pythons = data["pythons"]
    if pythons is not None and not (isinstance(pythons, list) and pythons and all(
            isinstance(item, str) for item in pythons)):
        raise ResultsFileError("the run's options: 'pythons' is not a list of paths")
    if data["gil"] not in (None, 0, 1) or isinstance(data["gil"], bool):
        raise ResultsFileError("the run's options: 'gil' is not 0, 1 or null")
    if values["scalings"] is not None and not set(values["scalings"]) <= {
            mode.value for mode in Scaling}:
        raise ResultsFileError("the run's options: 'scalings' names an unknown scaling")
    if data["placement"] not in {policy.value for policy in Placement}:
        raise ResultsFileError("the run's options: 'placement' is not compact or spread")
    if not isinstance(data["dask_scheduler"], str | None):
        raise ResultsFileError("the run's options: 'dask_scheduler' is not an address")
    return MatrixOptions(**values, select=tuple(select), profile=str(data["profile"]),
                         pythons=None if pythons is None else tuple(pythons), gil=data["gil"],
                         placement=str(data["placement"]), dask_scheduler=data["dask_scheduler"])

