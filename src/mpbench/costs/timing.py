"""Timing one cost probe (see `probes`) in a pyperf worker, as `mpbench._worker` times one
scenario; started as `python -m mpbench.costs._worker` (see there).

Whatever a probe needs that is not its measure (a pool for dispatch, processes waiting to take
a lock) is set up before the timed region, and each value is pyperf's time per operation. The
sweep times a map of spin tasks paired with the same map run serially, ABBA, as a run's
scenarios are.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading
import time
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

from mpbench._worker import (
    EXIT_GRACE_SECONDS,
    PairedCalls,
    ScenarioProbe,
    _ProbeEntryPoint,
    end_if_held_up,
    time_calls,
)
from mpbench.costs import _tasks
from mpbench.costs.probes import CostProbe, Measure, Pattern
from mpbench.costs.spin import spin
from mpbench.executors import (
    EXECUTORS,
    Executor,
    PoolMap,
    Serial,
    Task,
    Threads,
    trivial_tasks,
)
from mpbench.kernels import combine
from mpbench.model import FAILURE_MARKER, MetadataValue

TimeFunc = Callable[[int], float]  # pyperf's: seconds for `loops` calls
DEADLINE = _tasks.BARRIER_TIMEOUT_SECONDS  # for any one answer from a worker
SetUp = Generator[TimeFunc, None, None]  # yields the time function, then tears down


class DefaultChunkPoolMap(PoolMap):
    """`Pool.map` at its own default chunk size (about tasks / (4 × workers))."""

    chunksize = None


def startup(probe: CostProbe) -> SetUp:
    """Create the executor until each worker has run one task (at a barrier all of them
    reach), then shut it down untimed."""
    context = multiprocessing.get_context(probe.start_method)
    workers = probe.workers

    def time_startup(loops: int) -> float:
        elapsed = 0.0
        for _ in range(loops):
            started = time.perf_counter()
            if probe.pattern == Pattern.POOL.value:
                pool = context.Pool(workers, _tasks.hold, (context.Barrier(workers),))
                try:  # never without a deadline: a Pool whose worker dies waits forever
                    pool.map_async(_tasks.meet, range(workers), chunksize=1).get(DEADLINE)
                    elapsed += time.perf_counter() - started
                finally:
                    pool.terminate()
                    pool.join()
                continue
            executor: ProcessPoolExecutor | ThreadPoolExecutor = (
                ProcessPoolExecutor(workers, context, _tasks.hold, (context.Barrier(workers),))
                if probe.pattern == Pattern.PROCESS_POOL.value else
                ThreadPoolExecutor(workers, initializer=_tasks.hold,
                                   initargs=(threading.Barrier(workers),)))
            try:
                list(executor.map(_tasks.meet, range(workers), timeout=DEADLINE))
                elapsed += time.perf_counter() - started
            finally:
                executor.shutdown(wait=True, cancel_futures=True)
        return elapsed

    yield time_startup


_DISPATCHED: dict[str, type[Executor]] = {
    Pattern.POOL_MAP.value: PoolMap, Pattern.POOL_MAP_CHUNKED.value: DefaultChunkPoolMap,
    Pattern.POOL_ASYNC.value: EXECUTORS["pool_async"],
    Pattern.PROCESS_POOL.value: EXECUTORS["process_pool"],
    Pattern.THREAD_POOL.value: EXECUTORS["thread_pool"], Pattern.THREADS.value: Threads,
}


def dispatch(probe: CostProbe) -> SetUp:
    """Trivial tasks (an empty range of the spin kernel) through mpbench's own executor, as a
    run's tasks go; threads: one thread per worker per call, so an operation is one thread
    started and joined; a per-call Process: one started and joined."""
    if probe.pattern == Pattern.PROCESS.value:
        context = multiprocessing.get_context(probe.start_method)

        def time_processes(loops: int) -> float:
            started = time.perf_counter()
            for _ in range(loops * probe.operations):
                process = context.Process(target=_tasks.nothing)  # type: ignore[attr-defined]
                process.start()
                process.join()
                if process.exitcode != 0:
                    raise RuntimeError(f"a trivial process exited with {process.exitcode}")
            return time.perf_counter() - started

        yield time_processes
        return
    with _DISPATCHED[probe.pattern](probe.workers, probe.start_method) as executor:
        per_call = probe.workers if probe.pattern == Pattern.THREADS.value else probe.operations
        tasks = trivial_tasks(per_call, spin)
        calls = probe.operations // per_call
        executor.run(tasks)  # every worker has the kernel loaded before timing
        yield lambda loops: time_calls(loops * calls, executor, tasks)


def round_trip(probe: CostProbe) -> SetUp:
    """`Pool.apply(echo, payload)` on a started pool of one worker."""
    payload: Any = bytes(probe.payload_bytes)
    if probe.payload_kind == "numpy":
        import numpy as np

        payload = np.ones(probe.payload_bytes, dtype=np.uint8)
    with multiprocessing.get_context(probe.start_method).Pool(1) as pool:
        pool.apply(_tasks.echo, (b"",))

        def time_round_trips(loops: int) -> float:
            started = time.perf_counter()
            for _ in range(loops * probe.operations):
                back = pool.apply_async(_tasks.echo, (payload,)).get(DEADLINE)
            elapsed = time.perf_counter() - started
            if len(back) != probe.payload_bytes:
                raise RuntimeError("the payload came back changed")
            return elapsed

        yield time_round_trips


def shared(probe: CostProbe) -> SetUp:
    """Value + Lock with `workers` processes taking turns; a Manager's list and dict from this
    process; a Queue from this process to another."""
    context = multiprocessing.get_context(probe.start_method)
    if probe.pattern == Pattern.VALUE_LOCK.value:
        yield lambda loops: sum(contended_increments(context, probe) for _ in range(loops))
    elif probe.pattern == Pattern.QUEUE.value:
        items, done = context.Queue(), context.Queue()
        consumer = context.Process(target=_tasks.drain,  # type: ignore[attr-defined]
                                   args=(items, done, probe.operations))
        consumer.start()
        try:
            def time_queue(loops: int) -> float:
                started = time.perf_counter()
                for _ in range(loops):
                    for index in range(probe.operations):
                        items.put(index)
                    done.get(timeout=_tasks.BARRIER_TIMEOUT_SECONDS)
                return time.perf_counter() - started

            yield time_queue
        finally:
            items.put(None)
            consumer.join(_tasks.BARRIER_TIMEOUT_SECONDS)
    else:
        with context.Manager() as manager:
            if probe.pattern == Pattern.MANAGER_LIST.value:
                target = manager.list()

                def use(index: int) -> None:
                    target.append(index)
            else:
                mapping = manager.dict()

                def use(index: int) -> None:
                    mapping[index % 100] = index

            def time_manager(loops: int) -> float:
                started = time.perf_counter()
                for index in range(loops * probe.operations):
                    use(index)
                return time.perf_counter() - started

            yield time_manager


def contended_increments(context: Any, probe: CostProbe) -> float:
    """Seconds from releasing `workers` started processes to all of them having taken the lock
    `operations / workers` times each."""
    total = context.Value("q", 0)
    start, end = context.Barrier(probe.workers + 1), context.Barrier(probe.workers + 1)
    each = probe.operations // probe.workers
    processes = [context.Process(target=_tasks.increment, args=(total, start, end, each))
                 for _ in range(probe.workers)]
    for process in processes:
        process.start()
    try:
        start.wait(_tasks.BARRIER_TIMEOUT_SECONDS)
        began = time.perf_counter()
        end.wait(_tasks.BARRIER_TIMEOUT_SECONDS)
        elapsed = time.perf_counter() - began
    finally:
        for process in processes:
            process.join(_tasks.BARRIER_TIMEOUT_SECONDS)
    if total.value != each * probe.workers:
        raise RuntimeError(f"{total.value} increments counted, not {each * probe.workers}")
    return elapsed


@contextmanager
def sweep(probe: CostProbe) -> Iterator[tuple[Any, Executor, list[Task]]]:
    """The map of spin tasks on the executor, paired call by call with the same map serially;
    a wrong result fails the probe before anything is timed."""
    tasks = [Task(spin, 0, probe.task_iterations)] * probe.operations
    with EXECUTORS[probe.pattern](probe.workers, probe.start_method) as executor:
        expected = probe.task_iterations * probe.operations
        if combine(executor.run(tasks)) != expected:
            raise RuntimeError(f"{probe.pattern} computed a wrong result")
        yield PairedCalls(Serial(1), tasks), executor, tasks


_TIMED: dict[str, Callable[[CostProbe], SetUp]] = {
    Measure.STARTUP.value: startup, Measure.DISPATCH.value: dispatch,
    Measure.ROUND_TRIP.value: round_trip, Measure.SHARED.value: shared,
}


def measure(runner: Any, probe: CostProbe, round_index: int) -> None:
    """In a pyperf worker: set up the probe, let pyperf time it, tear it down."""
    from mpbench.machine import free_threaded_build, gil_enabled

    runner._cpu_affinity()  # as mpbench._worker: pin before any child starts
    metadata: dict[str, MetadataValue] = {
        **probe.to_metadata(), "round": round_index,
        "cpus_granted": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
        else os.cpu_count() or 1,
        "free_threaded": "yes" if free_threaded_build() else "no",
        "gil_enabled": "yes" if gil_enabled() else "no",
    }
    if Measure(probe.measure).paired:
        with sweep(probe) as (paired, executor, tasks):
            runner.bench_time_func(probe.id, paired, executor, tasks, metadata=metadata)
            end_if_held_up(EXIT_GRACE_SECONDS)
        return
    timed = _TIMED[probe.measure](probe)
    try:
        time_func = next(timed)
        runner.bench_time_func(probe.id, time_func, inner_loops=probe.operations,
                               metadata=metadata)
        end_if_held_up(EXIT_GRACE_SECONDS)
    finally:
        timed.close()


def main() -> None:
    import pyperf

    runner = pyperf.Runner(program_args=("-m", "mpbench.costs._worker"),
                           hooks=[_ProbeEntryPoint])
    runner.argparser.add_argument("--probe", required=True, help="the cost probe, as JSON")
    runner.argparser.add_argument("--round", type=int, required=True,
                                  help="the round of the costs run this visit belongs to")
    args = runner.parse_args()
    if not args.worker:
        sys.exit("mpbench.costs._worker times one probe: run it with --worker")
    ScenarioProbe.last_result = None
    try:
        measure(runner, CostProbe.from_json(args.probe), args.round)
    except Exception as exc:
        print(f"{FAILURE_MARKER} {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        end_if_held_up(EXIT_GRACE_SECONDS, code=1)
        sys.exit(1)

