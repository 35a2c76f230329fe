"""The values that flow through mpbench: kernels, profiles, scenarios, machines and failures,
and the words for how a worker process ended.

Everything here is a frozen dataclass. Scenarios and machines know how to turn themselves into
pyperf metadata (flat str/int/float values) and back, which is how they survive in results files.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import math
import signal
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mpbench.errors import ResultsFileError

KernelFunc = Callable[[int, int], int]
MetadataValue = str | int | float
# The largest range a kernel may cover: every figure of a run must fit the frame's 64-bit
# integers, with room to spare.
MAX_SIZE = 2**62
MAX_SECONDS = 7 * 24 * 3600.0  # a week: the longest time or timeout mpbench takes as real
FAILURE_MARKER = "mpbench-failure:"  # prefix of the one line a failing worker leaves on stderr
WARNING_MARKER = "mpbench-warning:"  # prefix of a line a worker that measured leaves on stderr
# The start method of a dask scenario on an existing cluster, whose workers someone else
# started, on machines of their own: not this machine's CPUs, so never oversubscribed here.
DASK_CLUSTER = "cluster"
# Run metadata of a paired visit: the serial baseline's time before or after each timed value.
BASELINE_VALUES = "baseline_values"
BASELINE_FIRST = "baseline_first"  # 1 when the first value's baseline ran first; then it alternates


class Scaling(enum.Enum):
    """How a scenario's work relates to its workers."""

    STRONG = "strong"  # the same work whatever the workers: speedup T1/Tw (Amdahl)
    # w copies of the kernel's range for w workers, each what one serial call does, as
    # ftscalingbench gives each thread the same work: speedup T1·w/Tw (Gustafson)
    WEAK = "weak"


def encode_series(numbers: Sequence[float]) -> str:
    """Numbers as one pyperf metadata string (pyperf's metadata values are flat)."""
    return " ".join(repr(float(number)) for number in numbers)


def paired_baseline(metadata: Mapping[str, object], values: Sequence[float]) -> list[float] | None:
    """The baseline seconds paired with a run's `values`, one each; None when the run has no
    such series (a serial visit) or a damaged one."""
    text = metadata.get(BASELINE_VALUES)
    if not isinstance(text, str):
        return None
    try:
        numbers = [float(item) for item in text.split()]
    except ValueError:
        return None
    if len(numbers) != len(values) or not all(
            math.isfinite(number) and 0 < number <= MAX_SECONDS for number in numbers):
        return None
    return numbers


def describe_exit(exitcode: int | None) -> str:
    """A process exit code in words: `exited with code 3`, `killed by SIGKILL`."""
    if exitcode is None:
        return "is still running"
    if exitcode < 0:
        try:
            return f"was killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"was killed by signal {-exitcode}"
    return f"exited with code {exitcode}"


@dataclass(frozen=True)
class Profile:
    """How long each scenario is measured.

    A run visits every scenario `rounds` times, in a new shuffled order each round; each visit is
    one pyperf timing process with `warmups` + `values` calls. While a speedup's interval is
    wider than ±`precision`, its scenario gets more rounds, for as long again as the first rounds
    took, and never past `max_seconds` from the start of the run.
    """

    name: str
    rounds: int
    values: int
    warmups: int
    size_scale: float
    precision: float | None  # relative half-width of a speedup's interval; None: no target
    max_seconds: float  # the cap of the run's default budget
    summary: str


@dataclass(frozen=True)
class KernelSpec:
    """A kernel found in a benchmarks folder: `func(start, stop) -> int` over `[start, stop)`."""

    name: str
    func: KernelFunc
    size: int
    source_file: str
    source_hash: str


@dataclass(frozen=True)
class Scenario:
    """One cell of the matrix: a kernel run by one executor with a number of workers, under
    one interpreter (named by its tag, see `interpreters`)."""

    kernel: str
    executor: str
    workers: int
    size: int
    tasks: int
    start_method: str | None
    blas_threads: int
    kernel_file: str
    kernel_hash: str
    interpreter: str
    scaling: str = Scaling.STRONG.value  # a `Scaling` value (a string, as stored)

    @property
    def id(self) -> str:
        """Stable name, the same on every machine: `kernel/executor/wN[/start_method][/weak]@tag`
        (strong scaling, the default, is not named, so older files line up)."""
        parts = [self.kernel, self.executor, f"w{self.workers}"]
        if self.start_method:
            parts.append(self.start_method)
        if self.scaling == Scaling.WEAK.value:
            parts.append(Scaling.WEAK.value)
        return "/".join(parts) + f"@{self.interpreter}"

    @property
    def work(self) -> int:
        """The scenario's work in serial calls' worth: w copies of the range under weak
        scaling, else 1."""
        return work(self.scaling, self.workers)

    def to_metadata(self) -> dict[str, MetadataValue]:
        """The axes, as pyperf benchmark metadata (the kernel's file path stays local)."""
        metadata: dict[str, MetadataValue] = {
            "kernel": self.kernel,
            "executor": self.executor,
            "workers": self.workers,
            "size": self.size,
            "tasks": self.tasks,
            "blas_threads": self.blas_threads,
            "kernel_hash": self.kernel_hash,
            "interpreter": self.interpreter,
            "scaling": self.scaling,
        }
        if self.start_method:
            metadata["start_method"] = self.start_method
        return metadata

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Scenario:
        return cls.from_dict(json.loads(text))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Scenario:
        if isinstance(data, Mapping) and "scaling" not in data:  # stored before weak scaling
            data = {**data, "scaling": Scaling.STRONG.value}
        fields = checked_fields(cls, data, "a stored scenario")
        if fields["scaling"] not in {mode.value for mode in Scaling}:
            raise ResultsFileError(f"a stored scenario: unknown scaling {fields['scaling']!r}")
        return cls(**fields)


def work(scaling: object, workers: int) -> int:
    """How many serial baselines' worth of work a scenario does (`scaling` as stored)."""
    return workers if scaling == Scaling.WEAK.value else 1


@dataclass(frozen=True)
class Machine:
    """Facts about the machine and interpreter a run was measured on."""

    name: str
    hostname: str
    platform: str
    cpu_model: str
    logical_cpus: int
    physical_cpus: int | None
    usable_cpus: int
    usable_cpus_source: str
    python_version: str
    python_implementation: str
    python_build: str
    gil_enabled: bool
    blas: str
    mpbench_version: str
    git_commit: str | None

    def to_metadata(self) -> dict[str, MetadataValue]:
        """Suite-level pyperf metadata; keys are prefixed so they never clash with pyperf's own."""
        metadata: dict[str, MetadataValue] = {}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if value is None or value == "":
                continue
            if isinstance(value, bool):
                value = "yes" if value else "no"
            metadata[f"machine_{field.name}"] = value
        return metadata

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Machine:
        return cls(**checked_fields(cls, data, "the machine facts"))


_TYPES: dict[str, tuple[type, ...]] = {
    "str": (str,), "int": (int,), "bool": (bool,), "float": (int, float),
    "int | None": (int, type(None)), "str | None": (str, type(None)),
    "float | None": (int, float, type(None)),
}


def checked_fields(cls: type, data: Any, what: str) -> dict[str, Any]:
    """`data` if it has exactly the dataclass's fields, each of the declared type; else raise."""
    expected = {field.name: str(field.type) for field in dataclasses.fields(cls)}
    if not isinstance(data, Mapping) or set(data) != set(expected):
        raise ResultsFileError(f"{what}: missing or unknown fields")
    for name, annotation in expected.items():
        kinds = _TYPES[annotation]
        value = data[name]
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            raise ResultsFileError(f"{what}: {name!r} should not be a {type(value).__name__}")
    return dict(data)


@dataclass(frozen=True)
class Unsupported:
    """A scenario the interpreter cannot run (no NumPy wheel, no subinterpreters), and why:
    planned, shown, never measured, and not a failure."""

    scenario: Scenario
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"scenario": dataclasses.asdict(self.scenario), "id": self.scenario.id,
                "reason": self.reason}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Unsupported:
        try:
            return cls(Scenario.from_dict(data["scenario"]), str(data["reason"]))
        except (KeyError, TypeError) as exc:
            raise ResultsFileError(f"a stored unsupported scenario: missing {exc}") from None


@dataclass(frozen=True)
class RoundRecord:
    """The state of the machine when a round of visits began: its single-core speed and how many
    cores' worth of work parallel processes got, from a perfectly parallel probe."""

    index: int
    started: str  # ISO 8601, UTC
    visits: int
    single_core_ms: float | None  # one process's time for a fixed pure-Python loop
    effective_cores: float | None  # N processes' throughput over one process's, N = usable CPUs

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RoundRecord:
        return cls(**checked_fields(cls, data, "a stored round"))


@dataclass(frozen=True)
class Failure:
    """A scenario that produced no measurement, and why, in words a person understands."""

    scenario: Scenario
    reason: str
    seconds: float | None = None  # how long it took to fail (or to be stopped)

    def to_dict(self) -> dict[str, Any]:
        return {"scenario": dataclasses.asdict(self.scenario), "id": self.scenario.id,
                "reason": self.reason, "seconds": self.seconds}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Failure:
        try:
            seconds = data.get("seconds")
            return cls(Scenario.from_dict(data["scenario"]), str(data["reason"]),
                       float(seconds) if isinstance(seconds, int | float) else None)
        except (KeyError, TypeError) as exc:
            raise ResultsFileError(f"a stored failure: missing {exc}") from None
