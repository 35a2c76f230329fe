"""From options to the ordered list of scenarios a run will time.

The matrix is kernel × executor × start method × workers. `serial` runs once per kernel, with one
worker, over the whole range in one call: it is the baseline every speedup is measured against.
"""

from __future__ import annotations

import fnmatch
import itertools
import multiprocessing
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

from mpbench.errors import UsageError
from mpbench.executors import EXECUTORS, Dask, Serial, default_start_method
from mpbench.model import DASK_CLUSTER, KernelSpec, Profile, Scaling, Scenario
from mpbench.topology import Placement, format_cpu_list, parse_cpu_list

DEFAULT_TASKS_PER_WORKER = 4
DEFAULT_BLAS_THREADS = 1


PROFILES: dict[str, Profile] = {
    profile.name: profile
    for profile in (
        Profile("smoke", rounds=1, values=1, warmups=0, size_scale=0.1, precision=None,
                max_seconds=30.0,
                summary="1 round × 1 value at a tenth of each size: checks that everything runs"),
        Profile("quick", rounds=2, values=2, warmups=0, size_scale=1.0, precision=0.05,
                max_seconds=150.0,
                summary="2 rounds × 2 values, then rounds for speedups wider than ±5 %, at most "
                        "150 s in all: a first look (the default)"),
        Profile("standard", rounds=6, values=3, warmups=1, size_scale=1.0, precision=0.03,
                max_seconds=900.0,
                summary="6 rounds × 3 values, more until ±3 % or 15 minutes: numbers to "
                        "compare"),
        Profile("rigorous", rounds=20, values=3, warmups=1, size_scale=1.0, precision=0.02,
                max_seconds=3600.0,
                summary="20 rounds × 3 values, more until ±2 % or an hour"),
    )
}
DEFAULT_PROFILE = "quick"


@dataclass(frozen=True)
class MatrixOptions:
    """What to run; None means "the default for this machine"."""

    kernels: tuple[str, ...] | None = None
    executors: tuple[str, ...] | None = None
    workers: tuple[int, ...] | None = None
    start_methods: tuple[str, ...] | None = None
    size: int | None = None
    tasks_per_worker: int = DEFAULT_TASKS_PER_WORKER
    blas_threads: int = DEFAULT_BLAS_THREADS
    select: tuple[str, ...] = ()
    profile: str = DEFAULT_PROFILE
    pythons: tuple[str, ...] | None = None  # interpreter paths; None: the one running mpbench
    gil: int | None = None  # PYTHON_GIL for free-threaded builds: 0 off, 1 on; None: as built
    scalings: tuple[str, ...] | None = None  # `Scaling` values; None: strong only
    cpus: tuple[int, ...] | None = None  # the CPUs to pin to, k of them for k workers; None: not
    placement: str = Placement.COMPACT.value  # which k of `cpus`, a `Placement` value
    dask_scheduler: str | None = None  # `dask` on this existing cluster, not a LocalCluster


def auto_workers(usable_cpus: int) -> list[int]:
    """1, 2, 4, … up to the usable CPUs, ending on the usable count itself."""
    counts = [1]
    while counts[-1] * 2 <= usable_cpus:
        counts.append(counts[-1] * 2)
    if counts[-1] != usable_cpus:
        counts.append(usable_cpus)
    return counts


def max_workers(usable_cpus: int) -> int:
    """The most workers mpbench will start: enough to study oversubscription, not a fork bomb."""
    return max(64, 4 * usable_cpus)


def is_whole_number(text: str) -> bool:
    """ASCII digits only: `str.isdigit` also accepts `²`, which `int` refuses."""
    return text.isascii() and text.isdigit()


def parse_workers(text: str, usable_cpus: int) -> list[int]:
    """`auto` or a comma-separated list such as `1,2,4`, sorted and deduplicated."""
    if text.strip() == "auto":
        return auto_workers(usable_cpus)
    limit = max_workers(usable_cpus)
    counts: set[int] = set()
    for item in text.split(","):
        item = item.strip()
        if not is_whole_number(item) or not 1 <= int(item) <= limit:
            raise UsageError(
                f"--workers {text!r}: each count must be a whole number from 1 to {limit} "
                "(this machine's limit), e.g. --workers 1,2,4 or --workers auto"
            )
        counts.add(int(item))
    return sorted(counts)


def parse_cpus(text: str, allowed: Collection[int] | None) -> tuple[int, ...]:
    """`auto` (every CPU this process may use) or a list such as `0-3,8` of allowed CPUs."""
    if allowed is None:
        raise UsageError("--cpus: this platform cannot pin processes to CPUs "
                         "(no sched_setaffinity); run without --cpus")
    if text.strip() == "auto":
        return tuple(sorted(allowed))
    try:
        cpus = parse_cpu_list(text)
    except ValueError as exc:
        raise UsageError(f"--cpus {text!r}: {exc}; e.g. --cpus 0-3,8 or --cpus auto") from None
    if refused := [cpu for cpu in cpus if cpu not in allowed]:
        raise UsageError(f"--cpus {text!r}: CPU {format_cpu_list(refused)} is not available to "
                         f"this process, which may use {format_cpu_list(allowed)}")
    return cpus


def parse_names(text: str, valid: Iterable[str], what: str) -> list[str]:
    """A comma-separated list of names, each checked against `valid`."""
    valid = list(valid)
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in valid]
    if unknown or not names:
        shown = ", ".join(unknown) if unknown else repr(text)
        raise UsageError(f"unknown {what} {shown}; choose from: {', '.join(valid)}")
    return list(dict.fromkeys(names))


def is_selected(scenario_id: str, patterns: Sequence[str]) -> bool:
    """True when any pattern matches: a glob if it has `*?[` (matching the whole id, or the id
    without its `@interpreter`), else a substring."""
    if not patterns:
        return True
    bare = scenario_id.rpartition("@")[0] or scenario_id
    return any(
        fnmatch.fnmatchcase(scenario_id, pattern) or fnmatch.fnmatchcase(bare, pattern)
        if any(c in pattern for c in "*?[") else pattern in scenario_id
        for pattern in patterns
    )


def expand(kernels: Mapping[str, KernelSpec], options: MatrixOptions, usable_cpus: int,
           interpreters: Sequence[str], cluster_workers: int | None = None) -> list[Scenario]:
    """Every scenario the options ask for under each interpreter (by tag), in a stable order:
    kernel, interpreter, executor, start method, workers. A kernel's serial scenario under each
    interpreter is always kept, as the baseline of its speedups there. On an existing Dask
    cluster (`options.dask_scheduler`) `dask` runs with its `cluster_workers`, and says so."""
    profile = PROFILES[options.profile]
    kernel_names = options.kernels or list(kernels)
    executor_names = list(options.executors or [name for name, executor in EXECUTORS.items()
                                                if executor.in_default])
    if Serial.name not in executor_names:
        executor_names.insert(0, Serial.name)  # every speedup needs its baseline
    start_methods = options.start_methods or [default_start_method()]
    # Pinned, a run has the CPUs of its set and no more.
    worker_counts = options.workers or auto_workers(
        min(usable_cpus, len(options.cpus)) if options.cpus else usable_cpus)
    scalings = options.scalings or [Scaling.STRONG.value]

    scenarios = []
    for kernel_name in kernel_names:
        spec = kernels[kernel_name]
        size = options.size or max(1, round(spec.size * profile.size_scale))
        for interpreter, executor_name in itertools.product(interpreters, executor_names):
            executor = EXECUTORS[executor_name]
            if executor is Serial:  # one worker: strong and weak scaling are the same
                layouts: list[tuple[str | None, int, int, str]] = [
                    (None, 1, 1, Scaling.STRONG.value)]
            elif executor is Dask and options.dask_scheduler and cluster_workers:
                layouts = [(DASK_CLUSTER, cluster_workers,
                            cluster_workers * options.tasks_per_worker, scaling)
                           for scaling in scalings]
            else:
                methods: list[str | None] = (
                    list(start_methods) if executor.uses_processes else [None])
                layouts = [(method, workers, workers * options.tasks_per_worker, scaling)
                           for scaling in scalings for method in methods
                           for workers in worker_counts]
            for start_method, workers, tasks, scaling in layouts:
                scenario = Scenario(
                    kernel=kernel_name, executor=executor_name, workers=workers, size=size,
                    tasks=tasks, start_method=start_method, blas_threads=options.blas_threads,
                    kernel_file=spec.source_file, kernel_hash=spec.source_hash,
                    interpreter=interpreter, scaling=scaling,
                )
                scenarios.append(scenario)
    scenarios = _selected(scenarios, options.select)
    if not scenarios:
        raise UsageError(
            f"no scenario matches -k {' -k '.join(options.select)}; "
            "`mpbench list` shows the scenario ids"
        )
    return scenarios


def _selected(scenarios: list[Scenario], patterns: Sequence[str]) -> list[Scenario]:
    """The scenarios `-k` picks, plus the serial baseline of every kernel it picks from."""
    picked = {scenario.id for scenario in scenarios if is_selected(scenario.id, patterns)}
    kernels = {(scenario.kernel, scenario.interpreter) for scenario in scenarios
               if scenario.id in picked}
    return [scenario for scenario in scenarios if scenario.id in picked
            or (scenario.executor == Serial.name
                and (scenario.kernel, scenario.interpreter) in kernels)]


def available_start_methods() -> list[str]:
    return multiprocessing.get_all_start_methods()
