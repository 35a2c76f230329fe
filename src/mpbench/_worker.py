"""The pyperf program that times one scenario: the only place a `pyperf.Runner` is created.

The orchestrator runs `python -m mpbench._worker --worker --scenario JSON [--baseline JSON]
[pyperf options]` once per visit of a scenario: one pyperf timing process, which imports the one
kernel it needs, sets up the executor outside the timed region, and times `executor.run(tasks)`.

With `--baseline` (every parallel scenario) each timed call is paired with a call of the kernel's
serial baseline in the same process, in ABBA order (scenario first, then second, then first…),
so a change of machine speed hits both sides of the pair alike; the baseline's times are kept
beside the values, pair by pair, in the run's metadata.

Spawned pool children import this module as `__mp_main__`, so nothing heavy is imported at the
top; pyperf itself is imported inside `main`.
"""

from __future__ import annotations

import os
import statistics
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any, ClassVar

from mpbench.executors import (
    EXECUTORS,
    Executor,
    Task,
    gil_tasks,
    range_tasks,
    trivial_tasks,
)
from mpbench.kernels import combine, load_kernel
from mpbench.model import (
    BASELINE_FIRST,
    BASELINE_VALUES,
    FAILURE_MARKER,
    WARNING_MARKER,
    MetadataValue,
    Scenario,
    encode_series,
)

HOOK_NAME = "mpbench"
EXIT_GRACE_SECONDS = 5.0  # from writing the values to exiting; clean-up took all it needs
EXIT_THREAD = "mpbench-exit"
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
    baseline_seconds: ClassVar[list[float]] = []  # the paired baseline's times, value by value
    baseline_first: ClassVar[bool | None] = None  # did the first value's baseline run first?

    def __init__(self) -> None:
        ScenarioProbe.baseline_seconds = []  # a new probe: pyperf starts a new series
        ScenarioProbe.baseline_first = None
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
        if ScenarioProbe.baseline_seconds:
            metadata[BASELINE_VALUES] = encode_series(ScenarioProbe.baseline_seconds)
            metadata[BASELINE_FIRST] = int(bool(ScenarioProbe.baseline_first))


class _ProbeEntryPoint:
    """What pyperf expects of a hook's entry point: a name, and `load()` giving the class."""

    name = HOOK_NAME

    @staticmethod
    def load() -> type[ScenarioProbe]:
        return ScenarioProbe


def timed(loops: int, executor: Executor, tasks: list[Task]) -> tuple[float, int]:
    """Seconds for `loops` calls of `executor.run(tasks)`, and the combined result."""
    partials: list[int] = []
    started = time.perf_counter()
    for _ in range(loops):
        partials = executor.run(tasks)
    return time.perf_counter() - started, combine(partials)


def time_calls(loops: int, executor: Executor, tasks: list[Task]) -> float:
    """pyperf's time function: seconds for `loops` calls of `executor.run(tasks)`."""
    elapsed, ScenarioProbe.last_result = timed(loops, executor, tasks)
    return elapsed


class PairedCalls:
    """pyperf's time function for a paired visit: times the baseline and the scenario back to
    back, alternating which goes first, keeps the baseline's time and returns the scenario's."""

    def __init__(self, baseline: Executor, baseline_tasks: list[Task]) -> None:
        self.baseline = baseline
        self.baseline_tasks = baseline_tasks
        self.calls = 0

    def __call__(self, loops: int, executor: Executor, tasks: list[Task]) -> float:
        # The scenario goes first in the first call (a warmup, when there is one), so a kernel
        # that crashes its process is caught by the executor, which says how its worker ended.
        baseline_first = self.calls % 2 == 1
        self.calls += 1
        if baseline_first:
            baseline, _ = timed(loops, self.baseline, self.baseline_tasks)
        elapsed, ScenarioProbe.last_result = timed(loops, executor, tasks)
        if not baseline_first:
            baseline, _ = timed(loops, self.baseline, self.baseline_tasks)
        if ScenarioProbe.baseline_first is None:
            ScenarioProbe.baseline_first = baseline_first
        ScenarioProbe.baseline_seconds.append(baseline / loops)
        return elapsed


def limit_blas_threads(threads: int) -> str:
    """Cap BLAS/OpenMP threads here and in every child; describe the libraries now loaded."""
    for name in BLAS_ENVIRONMENT:
        os.environ[name] = str(threads)
    from threadpoolctl import threadpool_limits

    from mpbench.machine import thread_pools

    threadpool_limits(limits=threads)
    return thread_pools() or "none loaded"


def measure(runner: Any, scenario: Scenario, baseline: Scenario | None, round_index: int
            ) -> None:
    """In a pyperf worker: set up, measure start-up, then let pyperf time the calls (paired
    with calls of `baseline`, when given)."""
    for name in BLAS_ENVIRONMENT:  # before the kernel imports NumPy
        os.environ[name] = str(scenario.blas_threads)
    spec = load_kernel(Path(scenario.kernel_file), scenario.kernel)
    blas = limit_blas_threads(scenario.blas_threads)
    tasks = range_tasks(spec.func, scenario.size, scenario.tasks, scenario.work)
    executor = EXECUTORS[scenario.executor](scenario.workers, scenario.start_method)
    time_func: Any = time_calls
    if baseline is not None:
        baseline_tasks = range_tasks(spec.func, baseline.size, baseline.tasks)
        time_func = PairedCalls(EXECUTORS[baseline.executor](1), baseline_tasks)
    # pyperf pins a worker to isolated CPUs only inside bench_time_func, after our pool would
    # have started: pin first (it is idempotent), so pool children inherit the same CPUs.
    runner._cpu_affinity()

    started = time.perf_counter()
    executor.open()
    try:
        executor.run(trivial_tasks(scenario.workers, spec.func))
        startup = time.perf_counter() - started
        from mpbench.machine import free_threaded_build, gil_enabled
        from mpbench.topology import format_cpu_list

        # Asked once everything is loaded, here and by one task per worker (a pool may hand
        # them all to one worker): an extension without free-threading support turns the GIL
        # back on, here or in a worker.
        with_gil = combine(executor.run(gil_tasks(scenario.workers, spec.func)))
        workers_blas = executor.workers_thread_pools(spec.func.__module__)
        metadata: dict[str, MetadataValue] = {
            **scenario.to_metadata(),
            "startup_s": startup,
            "cpus_granted": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
            else os.cpu_count() or 1,
            **({"cpus": format_cpu_list(os.sched_getaffinity(0))}
               if hasattr(os, "sched_getaffinity") else {}),
            "free_threaded": "yes" if free_threaded_build() else "no",
            "gil_enabled": "yes" if gil_enabled() else "no",
            "workers_gil_enabled": "yes" if with_gil else "no",
            "blas": blas,
            # Where workers may not inherit this process's limit (Dask's nanny sets its own).
            **({"workers_blas": workers_blas} if workers_blas is not None else {}),
            "round": round_index,
        }
        runner.bench_time_func(scenario.id, time_func, executor, tasks, metadata=metadata)
        # The values are written: from here, a clean-up that never ends must not lose them
        # (a pool worker that a kernel's thread keeps alive makes close() wait forever).
        end_if_held_up(EXIT_GRACE_SECONDS)
    finally:
        executor.close()


def main() -> None:
    import pyperf

    runner = pyperf.Runner(program_args=("-m", "mpbench._worker"), hooks=[_ProbeEntryPoint])
    runner.argparser.add_argument("--scenario", required=True, help="the scenario, as JSON")
    runner.argparser.add_argument("--baseline", help="the serial scenario to pair calls with")
    runner.argparser.add_argument("--round", type=int, required=True,
                                  help="the round of the run this visit belongs to")
    args = runner.parse_args()
    if not args.worker:
        sys.exit("mpbench._worker times one visit: run it with --worker")
    scenario = Scenario.from_json(args.scenario)
    baseline = Scenario.from_json(args.baseline) if args.baseline else None
    try:
        measure(runner, scenario, baseline, args.round)
    except Exception as exc:
        print(f"{FAILURE_MARKER} {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        end_if_held_up(EXIT_GRACE_SECONDS, code=1)  # the reason is given: exit with it
        sys.exit(1)


def end_if_held_up(grace: float, code: int = 0) -> None:
    """The visit's outcome is written. If this process has not exited `grace` seconds from
    now (a thread or a child process the kernel left running holds it up), say so and end it
    with `code`, so the values (or the reason it failed) are kept rather than lost to the
    visit's timeout. Armed once; later calls do nothing."""
    if any(thread.name == EXIT_THREAD for thread in threading.enumerate()):
        return

    def end() -> None:
        time.sleep(grace)
        if code:
            os._exit(code)
        threads = Counter(thread.name for thread in threading.enumerate()
                          if not thread.daemon and thread is not threading.main_thread())
        import psutil

        children = [str(child.pid) for child in psutil.Process().children()]
        names = ", ".join(name if count == 1 else f"{name} ×{count}"
                          for name, count in threads.items())
        cause = (f"threads left running: {names}" if threads else
                 f"child processes left running: {', '.join(children)}" if children else
                 "its clean-up at exit did not finish")
        print(f"{WARNING_MARKER} the timing process had not exited {grace:g} s after writing "
              f"its values ({cause}); it was ended and its values kept",
              file=sys.stderr, flush=True)
        os._exit(0)

    threading.Thread(target=end, name=EXIT_THREAD, daemon=True).start()


if __name__ == "__main__":
    main()
