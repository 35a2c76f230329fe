"""What `mpbench costs` measures: one `CostProbe` per figure, and the plan of a costs run.

Every probe is timed by pyperf in a process of its own, like a scenario of `run`; its values are
seconds per operation (pyperf's inner loops), where an operation is what the probe's `measure`
says: starting an executor, handing over one task, one round trip of a payload, one use of
shared state, or, for a busy worker's hand-over and for the sweep, one map of `operations` spin
tasks paired with the same map run serially.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mpbench.errors import ResultsFileError
from mpbench.model import MetadataValue, checked_fields


class Measure(enum.Enum):
    STARTUP = "startup"  # creating the executor until each worker has run a trivial task
    DISPATCH = "dispatch"  # one trivial task handed over and its result returned
    ROUND_TRIP = "round_trip"  # a payload sent to a worker and back, pickling included
    SHARED = "shared"  # one use of shared state between processes
    # one task's cost beyond its work while its worker is busy: a map of spin tasks on one
    # worker, paired with the same map run serially (trivial tasks flow through a pipeline
    # that busy workers never see, see README)
    LOADED = "loaded"
    SWEEP = "sweep"  # a map of spin tasks of one length, paired with the same map run serially

    @property
    def paired(self) -> bool:
        """Timed as maps of spin tasks paired with the same maps run serially."""
        return self in (Measure.LOADED, Measure.SWEEP)


class Pattern(enum.Enum):
    """The executors and shared-state patterns a probe measures."""

    POOL = "pool"  # multiprocessing.Pool, started (for start-up and round trips)
    POOL_MAP = "pool_map"  # Pool.map at chunk size 1, as the run's executor
    POOL_MAP_CHUNKED = "pool_map_chunked"  # Pool.map at its default chunk size
    POOL_ASYNC = "pool_async"  # Pool.apply_async + get per task
    PROCESS_POOL = "process_pool"  # concurrent.futures.ProcessPoolExecutor
    THREAD_POOL = "thread_pool"  # concurrent.futures.ThreadPoolExecutor
    THREADS = "threads"  # a threading.Thread started and joined
    PROCESS = "process"  # a multiprocessing.Process started and joined
    VALUE_LOCK = "value_lock"  # a shared Value incremented under its Lock
    MANAGER_LIST = "manager_list"  # Manager().list().append
    MANAGER_DICT = "manager_dict"  # Manager().dict() item update
    QUEUE = "queue"  # Queue.put in one process + get in another

    @property
    def uses_processes(self) -> bool:
        return self not in (Pattern.THREAD_POOL, Pattern.THREADS)


# The executors a person chooses between (`--executors`), and what each brings to the plan.
EXECUTORS: dict[str, tuple[Pattern, ...]] = {
    "pool_map": (Pattern.POOL, Pattern.POOL_MAP, Pattern.POOL_MAP_CHUNKED),
    "pool_async": (Pattern.POOL, Pattern.POOL_ASYNC),
    "process_pool": (Pattern.PROCESS_POOL,),
    "thread_pool": (Pattern.THREAD_POOL,),
    "threads": (Pattern.THREADS,),
    "process": (Pattern.PROCESS,),
}
STARTED = (Pattern.POOL, Pattern.PROCESS_POOL, Pattern.THREAD_POOL)  # executors with a start-up
SWEPT = (Pattern.POOL_MAP, Pattern.POOL_ASYNC, Pattern.PROCESS_POOL, Pattern.THREADS)
LOADED_TASK_S = 3e-4  # long enough to keep a worker busy, short enough for many hand-overs
LOADED_TASKS = 200
PAYLOAD_KINDS = ("bytes", "numpy")


@dataclass(frozen=True)
class CostProfile:
    """How long a costs run measures."""

    name: str
    rounds: int
    values: int
    warmups: int
    sweep_values: int  # pairs per sweep visit (no warmup: the pool has run its map already)
    loaded_values: int  # pairs per visit of a busy worker's hand-over: a small difference
    startup_each_count: bool  # start-up for w = 1 … usable CPUs; False: with all of them only
    task_seconds: tuple[float, ...]  # the sweep's task lengths (aimed at; measured as run)
    payload_bytes: tuple[int, ...]
    sweep_map_seconds: float  # a sweep map's serial time aimed at, within its task counts
    max_seconds: float  # the rounds for precision end before this, from the first probe
    summary: str


PROFILES: dict[str, CostProfile] = {
    profile.name: profile for profile in (
        CostProfile("smoke", rounds=1, values=2, warmups=0, sweep_values=2, loaded_values=2,
                    startup_each_count=False, task_seconds=(1e-4, 1e-2),
                    payload_bytes=(100, 1 << 20), sweep_map_seconds=0.01, max_seconds=15.0,
                    summary="every measurement once, briefly, start-up with all the workers only, "
                            "and a 2-point sweep: checks that everything runs (about 16 s on 2 "
                            "cores)"),
        CostProfile("default", rounds=2, values=2, warmups=1, sweep_values=2, loaded_values=6,
                    startup_each_count=True,
                    task_seconds=(1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-1),
                    payload_bytes=(100, 10 << 10, 1 << 20, 64 << 20), sweep_map_seconds=0.04,
                    max_seconds=85.0,
                    summary="2 rounds, a sweep from 10 µs to 100 ms, then more pairs where "
                            "break-even is unsettled, 85 s from the first probe (about 87 s in "
                            "all on 2 cores)"),
    )
}
DEFAULT_PROFILE = "default"
MAX_TASKS = 1000  # the map whose break-even the model predicts, and the sweep's longest
MIN_TASKS_PER_WORKER = 1


@dataclass(frozen=True)
class CostProbe:
    """One figure to measure."""

    measure: str  # a Measure value
    pattern: str  # a Pattern value
    workers: int
    start_method: str | None
    operations: int  # per timed value: pyperf's inner loops (the sweep: tasks per map)
    payload_bytes: int = 0  # a round trip's payload
    payload_kind: str = ""  # bytes or numpy, for a round trip
    task_iterations: int = 0  # spin turns per task, for the sweep
    task_seconds: float = 0.0  # the task length the sweep point aims at

    @property
    def id(self) -> str:
        """`costs/dispatch/pool_map/w2/fork`, `costs/round_trip/pool/numpy/1MiB/w1/fork`,
        `costs/sweep/threads/w2/100us`: stable, like a scenario id."""
        parts = ["costs", self.measure, self.pattern]
        if self.payload_kind:
            parts += [self.payload_kind, format_bytes(self.payload_bytes).replace(" ", "")]
        parts.append(f"w{self.workers}")
        if self.start_method:
            parts.append(self.start_method)
        if self.measure == Measure.SWEEP.value:
            parts.append(format_task_seconds(self.task_seconds))
        return "/".join(parts)

    def to_metadata(self) -> dict[str, MetadataValue]:
        metadata: dict[str, MetadataValue] = {
            "measure": self.measure, "pattern": self.pattern, "workers": self.workers,
            "operations": self.operations, "payload_bytes": self.payload_bytes,
            "task_iterations": self.task_iterations, "task_seconds": self.task_seconds}
        if self.start_method:
            metadata["start_method"] = self.start_method
        if self.payload_kind:
            metadata["payload_kind"] = self.payload_kind
        return metadata

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> CostProbe:
        return cls.from_dict(json.loads(text))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CostProbe:
        fields = checked_fields(cls, data, "a stored cost probe")
        probe = cls(**fields)
        if probe.measure not in {item.value for item in Measure} or \
                probe.pattern not in {item.value for item in Pattern}:
            raise ResultsFileError(f"a stored cost probe: unknown {probe.measure!r} of "
                                   f"{probe.pattern!r}")
        if min(probe.workers, probe.operations) < 1 or probe.payload_bytes < 0 or \
                probe.task_iterations < 0 or not math.isfinite(probe.task_seconds):
            raise ResultsFileError(f"a stored cost probe {probe.id!r} has a count out of range")
        return probe


def format_bytes(size: int) -> str:
    """`100 B`, `10 KiB`, `1 MiB`, `64 MiB`, `1.5 MiB`."""
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= scale:
            return f"{size / scale:g} {unit}"
    return f"{size} B"


def format_task_seconds(seconds: float) -> str:
    """`10us`, `300us`, `1ms`, `100ms`: a sweep point's name."""
    if seconds >= 1e-3:
        return f"{seconds * 1e3:g}ms"
    return f"{seconds * 1e6:g}us"


_UNITS = {"": 1, "b": 1, "kb": 1000, "mb": 1000**2, "gb": 1000**3,
          "kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30}
MAX_PAYLOAD = 1 << 30


def parse_payload_sizes(text: str) -> tuple[int, ...]:
    """`100,10KiB,1MiB,64MiB` → bytes, sorted; ValueError saying what is wrong."""
    sizes = set()
    for item in text.split(","):
        token = item.strip().replace(" ", "").lower()
        number = token.rstrip("kmgib")
        unit = token[len(number):]
        try:
            size = float(number) * _UNITS[unit] if number else math.nan
        except (KeyError, ValueError):
            size = math.nan
        if not 1 <= size <= MAX_PAYLOAD or not math.isfinite(size):
            raise ValueError(f"{item.strip()!r} is not a payload size from 1 B to 1 GiB "
                             "(e.g. 100, 10KiB, 1MiB, 64MiB)")
        sizes.add(round(size))
    return tuple(sorted(sizes))


def sweep_tasks(task_seconds: float, workers: int, map_seconds: float) -> int:
    """Tasks per sweep map: about `map_seconds` of serial work, at most MAX_TASKS, and enough
    that every worker has a few."""
    return max(MIN_TASKS_PER_WORKER * workers,
               min(MAX_TASKS, round(map_seconds / task_seconds)))


# Operations per timed value, for a value of some milliseconds at the costs seen here.
_OPERATIONS = {Pattern.POOL_MAP: 1000, Pattern.POOL_MAP_CHUNKED: 1000, Pattern.POOL_ASYNC: 1000,
               Pattern.PROCESS_POOL: 400, Pattern.THREAD_POOL: 1000, Pattern.THREADS: 100,
               Pattern.VALUE_LOCK: 20_000, Pattern.MANAGER_LIST: 500,
               Pattern.MANAGER_DICT: 500, Pattern.QUEUE: 2000}
ROUND_TRIP_BYTES_PER_VALUE = 4 << 20
MAX_ROUND_TRIPS = 100


def plan(profile: CostProfile, usable_cpus: int, executors: Sequence[str],
         start_methods: Sequence[str], payload_bytes: Sequence[int], spin_per_second: float
         ) -> list[CostProbe]:
    """Every probe of a costs run, in a stable order: start-up for w = 1 … usable CPUs under
    each start method; dispatch, round trips, shared state and the sweep with as many workers
    as usable CPUs under the first start method."""
    patterns = list(dict.fromkeys(p for name in executors for p in EXECUTORS[name]))
    method = start_methods[0]
    probes: list[CostProbe] = []
    counts = range(1, usable_cpus + 1) if profile.startup_each_count else [usable_cpus]
    for pattern in (p for p in STARTED if p in patterns):
        methods: Sequence[str | None] = start_methods if pattern.uses_processes else [None]
        probes += [CostProbe(Measure.STARTUP.value, pattern.value, workers, start, 1)
                   for start in methods for workers in counts]
    for pattern in (p for p in Pattern if p in patterns and p in _OPERATIONS):
        operations = _OPERATIONS[pattern]
        if pattern == Pattern.THREADS:  # whole calls of one thread per worker
            operations = usable_cpus * max(1, operations // usable_cpus)
        probes.append(CostProbe(Measure.DISPATCH.value, pattern.value, usable_cpus,
                                method if pattern.uses_processes else None, operations))
    if Pattern.PROCESS in patterns:
        probes += [CostProbe(Measure.DISPATCH.value, Pattern.PROCESS.value, 1, start,
                             20 if start == "fork" else 1) for start in start_methods]
    for kind in PAYLOAD_KINDS:
        probes += [CostProbe(Measure.ROUND_TRIP.value, Pattern.POOL.value, 1, method,
                             max(1, min(MAX_ROUND_TRIPS, ROUND_TRIP_BYTES_PER_VALUE // size)),
                             size, kind)
                   for size in payload_bytes]
    probes += [CostProbe(Measure.SHARED.value, Pattern.VALUE_LOCK.value, workers, method,
                         _OPERATIONS[Pattern.VALUE_LOCK]) for workers in range(1, usable_cpus + 1)]
    probes += [CostProbe(Measure.SHARED.value, pattern.value, 1, method, _OPERATIONS[pattern])
               for pattern in (Pattern.MANAGER_LIST, Pattern.MANAGER_DICT, Pattern.QUEUE)]
    probes += [CostProbe(Measure.LOADED.value, pattern.value, 1, method, LOADED_TASKS, 0, "",
                         max(1, round(LOADED_TASK_S * spin_per_second)), LOADED_TASK_S)
               for pattern in SWEPT if pattern in patterns and pattern.uses_processes]
    for pattern in (p for p in SWEPT if p in patterns):
        for seconds in profile.task_seconds:
            probes.append(CostProbe(
                Measure.SWEEP.value, pattern.value, usable_cpus,
                method if pattern.uses_processes else None,
                sweep_tasks(seconds, usable_cpus, profile.sweep_map_seconds), 0, "",
                max(1, round(seconds * spin_per_second)), seconds))
    return probes
