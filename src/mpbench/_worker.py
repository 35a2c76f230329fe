"""The pyperf program that times one scenario: the only place a `pyperf.Runner` is created.

The orchestrator runs `python -m mpbench._worker --scenario JSON [pyperf options]`. That process
is pyperf's manager: it re-runs this same command with `--worker` once per timing process, and
each worker imports the one kernel it needs, sets up the executor outside the timed region, and
times `executor.run(tasks)`.

Spawned pool children import this module as `__mp_main__`, so nothing heavy is imported at the
top; pyperf itself is imported inside `main`.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any, ClassVar

from mpbench.executors import EXECUTORS, Executor, Task, split_range, trivial_tasks
from mpbench.kernels import combine, load_kernel
from mpbench.model import FAILURE_MARKER, MetadataValue, Scenario

HOOK_NAME = "mpbench"
# Read by BLAS/OpenMP libraries when they load, so children started later inherit the limit.
BLAS_ENVIRONMENT = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                    "BLIS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")


class ScenarioProbe:
    """A pyperf hook: entered around every timed value, it adds what it saw to the run metadata:
    the others' load while the value was timed, and how fast a reference loop ran just before.

    pyperf makes one probe for the warmups and one for the values; the second one's metadata
    wins, so what is recorded is what surrounded the timed values.
    """

    last_result: ClassVar[int | None] = None

    def __init__(self) -> None:
        import psutil

        from mpbench import busy  # here, not at the top: spawned pool children import this file

        self.busy = busy
        self.meter = busy.OtherLoadMeter(psutil.Process())
        self.reference_seconds: list[float] = []

    def __enter__(self) -> None:
        self.reference_seconds.append(self.busy.reference_loop_seconds())
        self.meter.start()

    def __exit__(self, *exc_info: object) -> None:
        self.meter.stop()

    def teardown(self, metadata: dict[str, MetadataValue]) -> None:
        if ScenarioProbe.last_result is not None:
            metadata["result"] = str(ScenarioProbe.last_result)
        if self.meter.other_load is not None:
            metadata["other_load"] = round(self.meter.other_load, 4)
        pressure = self.busy.cpu_pressure()
        if pressure is not None:
            metadata["cpu_pressure"] = pressure
        if self.reference_seconds:
            metadata["reference_ms"] = round(statistics.median(self.reference_seconds) * 1e3, 4)


class _ProbeEntryPoint:
    """What pyperf expects of a hook's entry point: a name, and `load()` giving the class."""

    name = HOOK_NAME

    @staticmethod
    def load() -> type[ScenarioProbe]:
        return ScenarioProbe


def time_calls(loops: int, executor: Executor, tasks: list[Task]) -> float:
    """pyperf's time function: seconds for `loops` calls of `executor.run(tasks)`."""
    partials: list[int] = []
    started = time.perf_counter()
    for _ in range(loops):
        partials = executor.run(tasks)
    elapsed = time.perf_counter() - started
    ScenarioProbe.last_result = combine(partials)
    return elapsed


def limit_blas_threads(threads: int) -> str:
    """Cap BLAS/OpenMP threads here and in every child; describe the libraries now loaded."""
    for name in BLAS_ENVIRONMENT:
        os.environ[name] = str(threads)
    from threadpoolctl import threadpool_limits

    from mpbench.machine import thread_pools

    threadpool_limits(limits=threads)
    return thread_pools() or "none loaded"


def measure(runner: Any, scenario: Scenario) -> None:
    """In a pyperf worker: set up, measure start-up, then let pyperf time the calls."""
    for name in BLAS_ENVIRONMENT:  # before the kernel imports NumPy
        os.environ[name] = str(scenario.blas_threads)
    spec = load_kernel(Path(scenario.kernel_file), scenario.kernel)
    blas = limit_blas_threads(scenario.blas_threads)
    pieces = split_range(scenario.size, scenario.tasks)
    tasks = [Task(spec.func, start, stop) for start, stop in pieces]
    executor = EXECUTORS[scenario.executor](scenario.workers, scenario.start_method)
    # pyperf pins a worker to isolated CPUs only inside bench_time_func, after our pool would
    # have started: pin first (it is idempotent), so pool children inherit the same CPUs.
    runner._cpu_affinity()

    started = time.perf_counter()
    executor.open()
    try:
        executor.run(trivial_tasks(scenario.workers))
        startup = time.perf_counter() - started
        from mpbench.machine import gil_enabled

        metadata: dict[str, MetadataValue] = {
            **scenario.to_metadata(),
            "startup_s": startup,
            "cpus_granted": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
            else os.cpu_count() or 1,
            "gil_enabled": "yes" if gil_enabled() else "no",
            "blas": blas,
        }
        runner.bench_time_func(scenario.id, time_calls, executor, tasks, metadata=metadata)
    finally:
        executor.close()


def main() -> None:
    import pyperf

    def forward_scenario(cmd: list[str], args: Any) -> None:
        cmd.extend(("--scenario", args.scenario))

    runner = pyperf.Runner(program_args=("-m", "mpbench._worker"),
                           add_cmdline_args=forward_scenario, hooks=[_ProbeEntryPoint])
    runner.argparser.add_argument("--scenario", required=True, help="the scenario, as JSON")
    args = runner.parse_args()
    scenario = Scenario.from_json(args.scenario)
    if not args.worker:
        runner.bench_time_func(scenario.id, time_calls)  # the manager only spawns workers
        return
    try:
        measure(runner, scenario)
    except Exception as exc:
        print(f"{FAILURE_MARKER} {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
