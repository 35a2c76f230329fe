"""Synthetic results files with known answers, for tests and for the golden files in data/.

Timings follow Amdahl's law (or the Universal Scalability Law) with multiplicative noise from a
seeded generator, so every file is reproducible and every fitted figure has a true value.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import random
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyperf

from mpbench.costs.probes import CostProbe
from mpbench.costs.store import CostResults
from mpbench.interpreters import Interpreter
from mpbench.matrix import MatrixOptions
from mpbench.model import (
    BASELINE_FIRST,
    BASELINE_VALUES,
    Machine,
    RoundRecord,
    Scenario,
    encode_series,
)
from mpbench.options import StoredOptions
from mpbench.storage import Results, save

Model = Callable[[str, str, int], float]  # (kernel, executor, workers) -> seconds


def machine(name: str = "golden-2cpu", usable: int = 2, **changes: object) -> Machine:
    base = Machine(
        name=name, hostname=name, platform="Linux-6.1-x86_64", cpu_model="Example CPU @ 3.0GHz",
        logical_cpus=usable, physical_cpus=usable, usable_cpus=usable,
        usable_cpus_source=f"logical {usable}, affinity {usable}, cgroup quota none",
        python_version="3.11.7", python_implementation="CPython", python_build="default",
        gil_enabled=True, blas="openblas 2 threads", mpbench_version="0.1.0",
        git_commit="0123456789abcdef0123456789abcdef01234567",
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def amdahl(serial_seconds: float, serial_fraction: float) -> Model:
    """Processes follow Amdahl's law; threads hold the GIL and do not scale at all."""
    def model(kernel: str, executor: str, workers: int) -> float:
        if executor in ("serial", "threads", "thread_pool"):
            return serial_seconds
        return serial_seconds * (serial_fraction + (1 - serial_fraction) / workers)
    return model


def scenario(kernel: str, executor: str, workers: int, start_method: str | None = "fork",
             size: int = 1000, interpreter: str = "3.11") -> Scenario:
    uses_processes = executor not in ("serial", "threads", "thread_pool", "interpreter_pool")
    return Scenario(
        kernel=kernel, executor=executor, workers=workers, size=size,
        tasks=1 if executor == "serial" else 4 * workers,
        start_method=start_method if uses_processes else None, blas_threads=1,
        kernel_file=f"/benchmarks/bm_{kernel}.py", kernel_hash=f"hash-{kernel}",
        interpreter=interpreter,
    )


def interpreter(tag: str = "3.11") -> Interpreter:
    """A made-up interpreter for the tag: `3.13t` is a free-threaded CPython 3.13."""
    version = tag.removesuffix("t")
    return Interpreter(tag=tag, path=f"/opt/python{tag}/bin/python3",
                       version="3.11.7" if version == "3.11" else f"{version}.15",
                       implementation="cpython", free_threaded=tag.endswith("t"))


def plan(kernels: Sequence[str], executors: Sequence[str], workers: Sequence[int],
         interpreters: Sequence[str] = ("3.11",)) -> list[Scenario]:
    scenarios = []
    for kernel in kernels:
        for tag in interpreters:
            scenarios.append(scenario(kernel, "serial", 1, interpreter=tag))
            for executor in executors:
                scenarios.extend(scenario(kernel, executor, count, interpreter=tag)
                                 for count in workers)
    return scenarios


def options(profile: str = "quick", seed: int = 7, precision: float | None = 0.05
            ) -> StoredOptions:
    return StoredOptions(MatrixOptions(profile=profile), timeout=300.0, seed=seed,
                         precision=precision, max_seconds=150.0)


def benchmark(item: Scenario, seconds: float, rng: random.Random, *, noise: float = 0.02,
              processes: int = 2, values: int = 3, startup: float = 0.01, cpus_granted: int = 2,
              date: str = "2026-11-01 12:00:00", baseline_seconds: float | None = None
              ) -> pyperf.Benchmark:
    """`processes` visits of `item` with `values` values around `seconds` each; with
    `baseline_seconds`, each value is paired with a baseline call around that."""
    runs = []
    for visit in range(processes):
        metadata: dict[str, object] = {
            **item.to_metadata(), "name": item.id, "unit": "second", "loops": 1,
            "startup_s": startup, "cpus_granted": cpus_granted,
            "free_threaded": "yes" if item.interpreter.endswith("t") else "no",
            "gil_enabled": "no" if item.interpreter.endswith("t") else "yes",
            "workers_gil_enabled": "no" if item.interpreter.endswith("t") else "yes",
            "blas": "none loaded", "result": "12345", "date": date, "round": visit,
        }
        samples = [seconds * rng.lognormvariate(0, noise) for _ in range(values)]
        if baseline_seconds is not None:
            paired = [baseline_seconds * rng.lognormvariate(0, noise) for _ in range(values)]
            metadata[BASELINE_VALUES] = encode_series(paired)
            metadata[BASELINE_FIRST] = 1
        runs.append(pyperf.Run(samples, warmups=[(1, seconds)], metadata=metadata,
                               collect_metadata=False))
    return pyperf.Benchmark(runs)


def results(scenarios: Sequence[Scenario], model: Model, *, seed: int = 1,
            the_machine: Machine | None = None, failures: Sequence[tuple[Scenario, str]] = (),
            by_interpreter: Mapping[str, Model] | None = None,
            **benchmark_options: object) -> Results:
    """Results of `scenarios` timed as `model` says (or, for an interpreter's scenarios, as
    `by_interpreter[tag]` says), with seeded noise."""
    from mpbench.model import Failure

    rng = random.Random(seed)
    the_machine = the_machine or machine()
    failed = {item.id for item, _ in failures}
    benchmark_options.setdefault("cpus_granted", the_machine.usable_cpus)
    def model_of(item: Scenario) -> Model:
        return (by_interpreter or {}).get(item.interpreter, model)

    benchmarks = [
        benchmark(item, model_of(item)(item.kernel, item.executor, item.workers), rng,
                  baseline_seconds=None if item.executor == "serial"
                  else model_of(item)(item.kernel, "serial", 1),
                  **benchmark_options)  # type: ignore[arg-type]
        for item in scenarios if item.id not in failed
    ]
    metadata = the_machine.to_metadata()
    for bench in benchmarks:
        bench.update_metadata(metadata)
    visits = int(benchmark_options.get("processes", 2))  # type: ignore[call-overload]
    rounds = [RoundRecord(index, f"2026-11-01T12:00:{index:02d}+00:00", len(scenarios),
                          single_core_ms=9.0 + 0.1 * index, effective_cores=1.9)
              for index in range(visits)]
    tags = dict.fromkeys(item.interpreter for item in scenarios) or {"3.11": None}
    return Results(machine=the_machine, options=options(), benchmarks=benchmarks,
                   plan=list(scenarios), rounds=rounds,
                   interpreters=[interpreter(tag) for tag in tags],
                   failures=[Failure(item, reason) for item, reason in failures])


def write(result: Results, path: Path) -> Path:
    if path.exists():
        path.unlink()
    return save(result, path, replace=False)


def suite_plan(workers: Sequence[int] = (1, 2)) -> list[Scenario]:
    """The built-in suite on a 2-CPU machine: 4 kernels × (serial + 8 executors × 2) = 68."""
    return plan(["py_square", "py_count", "np_square", "np_count"],
                ["threads", "thread_pool", "process_queue", "process_value", "process_manager",
                 "pool_map", "pool_async", "process_pool"], workers)


def scaled(model: Model, factors: Mapping[tuple[str, str, int], float]) -> Model:
    """`model` with some (kernel, executor, workers) cells' times multiplied by a factor."""
    def changed(kernel: str, executor: str, workers: int) -> float:
        return model(kernel, executor, workers) * factors.get((kernel, executor, workers), 1.0)
    return changed


def true_seconds(frame: pd.DataFrame, model: Model) -> np.ndarray:
    """The noiseless time of each row of a tidy frame."""
    return np.array([model(kernel, executor, int(workers)) for kernel, executor, workers in
                     zip(frame["kernel"], frame["executor"], frame["workers"], strict=True)])


def true_baseline_seconds(frame: pd.DataFrame, model: Model) -> np.ndarray:
    """The noiseless time of each row's paired baseline call (NaN for unpaired rows)."""
    serial = np.array([model(kernel, "serial", 1) for kernel in frame["kernel"]])
    return np.where(frame["baseline_s"].notna(), serial, np.nan)


def renoised(frame: pd.DataFrame, seconds: np.ndarray, baseline: np.ndarray,
             rng: np.random.Generator, *, noise: float) -> pd.DataFrame:
    """`frame` with fresh values and paired baselines around `seconds` and `baseline`, times
    lognormal noise: many trials without pyperf files."""
    return frame.assign(value=seconds * rng.lognormal(0.0, noise, len(frame)),
                        baseline_s=baseline * rng.lognormal(0.0, noise, len(frame)))


def contended(result: Results, scenario_ids: Sequence[str], other_load: float = 1.5) -> Results:
    """`result` with the given scenarios timed while others' processes loaded the machine."""
    for bench in result.benchmarks:
        if bench.get_name() in scenario_ids:
            bench.update_metadata({"other_load": other_load})
    return result


def history(directory: Path, runs: int, model_at: Callable[[int], Model],
            scenarios: Sequence[Scenario], *, seed: int = 1, noise: float = 0.05) -> list[Path]:
    """`runs` quick-profile results files of one machine, a day apart, each at its own commit.

    File names follow the commit, not the date, so only the dates give the order.
    """
    paths = []
    for index in range(runs):
        commit = hashlib.sha1(f"commit {index}".encode()).hexdigest()
        date = dt.datetime(2026, 10, 1, 12) + dt.timedelta(days=index)
        result = results(scenarios, model_at(index), seed=seed * 1000 + index,
                         the_machine=machine(git_commit=commit), noise=noise, processes=1,
                         values=5, date=date.strftime("%Y-%m-%d %H:%M:%S"))
        paths.append(write(result, directory / f"{commit[:12]}.json"))
    return paths


# The true costs of a synthetic costs file: seconds per operation by (measure, pattern), and
# the cores the sweep's work gets; the sweep follows the cost model exactly, so its break-even
# is known.
TRUE_COSTS = {("startup", "pool"): 0.006, ("startup", "process_pool"): 0.008,
              ("startup", "thread_pool"): 0.0002, ("dispatch", "pool_map"): 40e-6,
              ("dispatch", "pool_map_chunked"): 4e-6, ("dispatch", "pool_async"): 50e-6,
              ("dispatch", "process_pool"): 150e-6, ("dispatch", "thread_pool"): 12e-6,
              ("dispatch", "threads"): 80e-6, ("dispatch", "process"): 0.002,
              ("shared", "value_lock"): 0.6e-6, ("shared", "manager_list"): 30e-6,
              ("shared", "manager_dict"): 35e-6, ("shared", "queue"): 8e-6,
              # busy workers see more per task than trivial tasks show, for Pool
              ("loaded", "pool_map"): 60e-6, ("loaded", "pool_async"): 45e-6,
              ("loaded", "process_pool"): 100e-6}
SPAWN_FACTOR = 10.0  # start-up and per-call processes under spawn or forkserver
TRUE_CORES = 1.8
ROUND_TRIP_LATENCY = 80e-6
ROUND_TRIP_BYTES_PER_SECOND = 500e6


def true_cost(probe: CostProbe) -> float:
    """What one operation of `probe` truly costs in the synthetic costs file."""
    if probe.measure == "round_trip":
        return ROUND_TRIP_LATENCY + probe.payload_bytes / ROUND_TRIP_BYTES_PER_SECOND
    seconds = TRUE_COSTS[(probe.measure, probe.pattern)]
    if probe.start_method in ("spawn", "forkserver") and probe.measure in ("startup",
                                                                           "dispatch"):
        seconds *= SPAWN_FACTOR
    return seconds * (probe.workers if probe.measure == "startup" else 1)


def true_per_task(pattern: str) -> float:
    """What a task truly costs beyond its work on a pool: the dearer of its two figures."""
    return max(TRUE_COSTS[("dispatch", pattern)], TRUE_COSTS.get(("loaded", pattern), 0.0))


def true_sweep(probe: CostProbe) -> tuple[float, float]:
    """(serial map, executor map) seconds of a sweep or loaded probe, as the cost model has
    them."""
    from mpbench.costs.model import ExecutorCosts

    tasks, task_s = probe.operations, probe.task_seconds
    if probe.measure == "loaded":
        return tasks * task_s, tasks * (task_s + TRUE_COSTS[("loaded", probe.pattern)])
    costs = (ExecutorCosts(probe.workers * TRUE_COSTS[("dispatch", "threads")], 0, 0, 1.0)
             if probe.pattern == "threads"
             else ExecutorCosts(0, true_per_task(probe.pattern), 0, TRUE_CORES))
    return tasks * task_s, costs.map_seconds(tasks, task_s)


def costs_results(seed: int = 5, noise: float = 0.02, the_machine: Machine | None = None,
                  failures: Sequence[str] = ()) -> CostResults:
    """A costs file of the default plan on a 2-CPU GIL machine, timed as `true_cost` and
    `true_sweep` say with seeded lognormal noise; probes whose id is in `failures` failed."""
    from mpbench.costs.probes import EXECUTORS, PROFILES
    from mpbench.costs.probes import plan as cost_plan
    from mpbench.costs.store import CostFailure, CostOptions

    rng = random.Random(seed)
    the_machine = the_machine or machine("golden-costs")
    profile = PROFILES["default"]
    options = CostOptions(profile.name, tuple(EXECUTORS), ("fork", "spawn", "forkserver"),
                          profile.payload_bytes, 120.0, seed, 2e7)
    probes = cost_plan(profile, the_machine.usable_cpus, options.executors,
                       options.start_methods, options.payload_bytes, options.spin_per_second)
    benchmarks = []
    for probe in probes:
        if probe.id in failures:
            continue
        runs = []
        for visit in range(profile.rounds):
            metadata: dict[str, object] = {
                **probe.to_metadata(), "name": probe.id, "unit": "second", "loops": 1,
                "cpus_granted": the_machine.usable_cpus, "free_threaded": "no",
                "gil_enabled": "yes", "date": f"2026-11-01 12:0{visit}:00", "round": visit,
                "inner_loops": probe.operations}
            if probe.measure in ("sweep", "loaded"):
                serial, parallel = true_sweep(probe)
                # a loaded figure is the small difference of two maps: less noise, or none
                # of its truth would be left
                spread = noise / 10 if probe.measure == "loaded" else noise
                samples = [parallel * rng.lognormvariate(0, spread) for _ in range(3)]
                metadata[BASELINE_VALUES] = encode_series(
                    [serial * rng.lognormvariate(0, spread) for _ in range(3)])
                metadata[BASELINE_FIRST] = 1
                del metadata["inner_loops"]
            else:
                samples = [true_cost(probe) * rng.lognormvariate(0, noise) for _ in range(3)]
            runs.append(pyperf.Run(samples, metadata=metadata, collect_metadata=False))
        benchmarks.append(pyperf.Benchmark(runs))
    for bench in benchmarks:
        bench.update_metadata(the_machine.to_metadata())
    rounds = [RoundRecord(index, f"2026-11-01T12:0{index}:00+00:00", len(probes),
                          single_core_ms=9.0, effective_cores=TRUE_CORES)
              for index in range(profile.rounds)]
    by_id = {probe.id: probe for probe in probes}
    return CostResults(machine=the_machine, interpreter=interpreter(), options=options,
                       plan=probes, benchmarks=benchmarks, rounds=rounds,
                       failures=[CostFailure(by_id[item], "RuntimeError: synthetic failure")
                                 for item in failures])


def write_costs(result: CostResults, path: Path) -> Path:
    from mpbench.costs.store import save as save_costs

    if path.exists():
        path.unlink()
    return save_costs(result, path, replace=False)
