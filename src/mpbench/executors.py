"""Every way mpbench runs a list of tasks: serially, with threads, with processes, and on Dask.

Each executor is a small class behind one protocol: `open()` creates whatever lives across calls
(pools, a Manager), `run(tasks)` returns the partial results, `close()` releases it all.
Only `run` is timed. Process executors never wait without checking that their workers are still
alive: a Pool whose worker dies would otherwise wait forever.
"""

from __future__ import annotations

import abc
import ctypes
import importlib.util
import itertools
import multiprocessing
import os
import signal
import sys
import threading
import types
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from multiprocessing.context import BaseContext
from multiprocessing.pool import AsyncResult
from multiprocessing.process import BaseProcess
from queue import Empty
from types import TracebackType
from typing import Any, ClassVar, Self

from mpbench import _tasks
from mpbench.kernels import RESULT_MODULUS
from mpbench.model import DASK_CLUSTER, FAILURE_MARKER, KernelFunc, describe_exit

POLL_SECONDS = 0.05  # how often a waiting parent checks that its workers are alive


class WorkerDiedError(RuntimeError):
    """A worker process ended before delivering its results."""


@dataclass(frozen=True)
class Task:
    """One piece of the work: the kernel over `[start, stop)`. Picklable by reference."""

    func: KernelFunc
    start: int
    stop: int

    def __call__(self) -> int:
        if self.start >= self.stop:
            return 0  # an empty piece adds nothing, as the kernel contract says
        result = self.func(self.start, self.stop)
        if not isinstance(result, int):
            raise TypeError(f"kernel {self.func.__name__} returned a {type(result).__name__}, "
                            "not an int")
        return result


def gil_tasks(count: int, func: KernelFunc) -> list[Task]:
    """One task per worker, each loading `func`'s module where it runs; their results add up
    to how many of them ran with the GIL on."""
    return [Task(_tasks.GilProbe(func.__module__), 0, 1)] * count


def trivial_tasks(count: int, func: KernelFunc) -> list[Task]:
    """Tasks of `func` over an empty range: they do no work, but a worker that runs one has
    loaded the kernel (unpickling it imports its module), so start-up costs what it costs and
    the first timed call does not."""
    return [Task(func, 0, 0)] * count


def range_tasks(func: KernelFunc, size: int, tasks: int, copies: int = 1) -> list[Task]:
    """`copies` times `[0, size)`, each cut into `tasks // copies` pieces: weak scaling's w
    copies of the kernel's range give every worker the work one serial call does."""
    return [Task(func, start, stop) for _ in range(copies)
            for start, stop in split_range(size, tasks // copies)]


def split_range(size: int, pieces: int) -> list[tuple[int, int]]:
    """`[0, size)` cut into `pieces` contiguous ranges whose lengths differ by at most one."""
    bounds = [size * index // pieces for index in range(pieces + 1)]
    return list(itertools.pairwise(bounds))


def _call(task: Task) -> int:
    return task()


def _shares(tasks: Sequence[Task], workers: int) -> list[Sequence[Task]]:
    """Deal tasks round-robin, so each worker gets pieces from all over the range."""
    return [tasks[index::workers] for index in range(workers)]


class Executor(abc.ABC):
    """Runs tasks with a fixed number of workers; use as a context manager."""

    name: ClassVar[str]
    uses_processes: ClassVar[bool] = False
    in_default: ClassVar[bool] = True  # part of a run that names no --executors

    def __init__(self, workers: int, start_method: str | None = None) -> None:
        self.workers = workers
        self.start_method = start_method

    def open(self) -> None:  # noqa: B027 (most executors have nothing to set up)
        """Create what is reused across calls of `run` (outside the timed region)."""

    def close(self) -> None:  # noqa: B027
        """Release everything `open` created; no worker outlives this."""

    @abc.abstractmethod
    def run(self, tasks: Sequence[Task]) -> list[int]:
        """Partial results that `kernels.combine` adds up: one per task, or fewer if the
        executor already added some together (as `process_value` must)."""

    def workers_thread_pools(self, module: str) -> str | None:
        """The BLAS/OpenMP thread pools each worker has once `module` is loaded there, for an
        executor whose workers may not simply inherit this process's limits; else None."""
        return None

    def __enter__(self) -> Self:
        self.open()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()


class Serial(Executor):
    """The baseline: every task in turn, in the calling thread."""

    name = "serial"

    def run(self, tasks: Sequence[Task]) -> list[int]:
        return [task() for task in tasks]


class Threads(Executor):
    """One `threading.Thread` per worker, started for each call."""

    name = "threads"

    def run(self, tasks: Sequence[Task]) -> list[int]:
        results: list[list[int]] = [[] for _ in range(self.workers)]
        errors: list[BaseException] = []

        def work(index: int, share: Sequence[Task]) -> None:
            try:
                results[index] = [task() for task in share]
            except BaseException as exc:  # re-raised in the caller below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(index, share))
                   for index, share in enumerate(_shares(tasks, self.workers))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            raise errors[0]
        return [value for share in results for value in share]


class ThreadPool(Executor):
    """A `concurrent.futures.ThreadPoolExecutor`, created once."""

    name = "thread_pool"

    def open(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=self.workers)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def run(self, tasks: Sequence[Task]) -> list[int]:
        return list(self._pool.map(_call, tasks))


class ProcessExecutor(Executor):
    """Base of the executors that run tasks in other processes, under a chosen start method."""

    uses_processes = True

    def __init__(self, workers: int, start_method: str | None = None) -> None:
        super().__init__(workers, start_method)
        self.context: BaseContext = multiprocessing.get_context(start_method)


class _ProcessPerWorker(ProcessExecutor):
    """Starts one `multiprocessing.Process` per worker for each call, each given its share."""

    def run(self, tasks: Sequence[Task]) -> list[int]:
        return self._run(_shares(tasks, self.workers))

    @abc.abstractmethod
    def _run(self, shares: list[Sequence[Task]]) -> list[int]: ...

    def _start(self, body: Callable[..., None], shares: list[Sequence[Task]],
               *args: Any) -> list[BaseProcess]:
        start = self.context.Process  # type: ignore[attr-defined]  # on every concrete context
        processes: list[BaseProcess] = [start(target=_child, args=(body, share, *args))
                                        for share in shares]
        for process in processes:
            process.start()
        return processes


def _child(body: Callable[..., None], *args: Any) -> None:
    """Entry point of a per-call child: on failure, leave one readable line and exit 1."""
    try:
        body(*args)
    except BaseException as exc:
        print(f"{FAILURE_MARKER} {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        sys.exit(1)


def _join_all(processes: Sequence[BaseProcess]) -> None:
    """Wait for every process; raise as soon as one has failed."""
    for process in processes:
        while process.exitcode is None:
            process.join(POLL_SECONDS)
            _check_alive(processes)
        _check_alive(processes)


def _check_alive(processes: Sequence[BaseProcess]) -> None:
    for process in processes:
        if process.exitcode not in (None, 0):
            for other in processes:
                if other.exitcode is None:
                    other.kill()
                    other.join()
            raise WorkerDiedError(f"a worker process {describe_exit(process.exitcode)}")


def _last_results(queue: Any, expected: int) -> list[int]:
    """What finished workers left in the queue; raise if some never sent their results."""
    results: list[int] = []
    for _ in range(expected):
        try:
            results.extend(queue.get(timeout=POLL_SECONDS))
        except Empty:
            raise WorkerDiedError("a worker process ended without sending its results "
                                  "(could they not be pickled?)") from None
    return results


def _send_to_queue(share: Sequence[Task], queue: Any) -> None:
    queue.put([task() for task in share])


def _add_to_value(share: Sequence[Task], total: Any) -> None:
    for task in share:
        partial = task()
        with total.get_lock():
            total.value = (total.value + partial) % RESULT_MODULUS


def _append_to_list(share: Sequence[Task], results: Any) -> None:
    for task in share:
        results.append(task())


class ProcessQueue(_ProcessPerWorker):
    """Processes send their results back through a `Queue`, read with a blocking `get`."""

    name = "process_queue"

    def _run(self, shares: list[Sequence[Task]]) -> list[int]:
        queue = self.context.Queue()
        processes = self._start(_send_to_queue, shares, queue)
        results: list[int] = []
        received = 0
        while received < len(shares):
            try:
                results.extend(queue.get(timeout=POLL_SECONDS))
                received += 1
            except Empty:
                _check_alive(processes)
                if all(process.exitcode is not None for process in processes):
                    # A result that cannot be pickled fails in the Queue's feeder thread, and
                    # the worker still exits 0: all gone, nothing left to read.
                    results.extend(_last_results(queue, len(shares) - received))
                    received = len(shares)
        _join_all(processes)
        return results


class ProcessValue(_ProcessPerWorker):
    """Processes add their results into one shared `Value` under its `Lock`."""

    name = "process_value"

    def _run(self, shares: list[Sequence[Task]]) -> list[int]:
        total = self.context.Value(ctypes.c_uint64, 0)
        _join_all(self._start(_add_to_value, shares, total))
        return [int(total.value)]


class ProcessManager(_ProcessPerWorker):
    """Processes append their results to a `Manager().list()`; the Manager lives across calls."""

    name = "process_manager"

    def open(self) -> None:
        self._manager = self.context.Manager()

    def close(self) -> None:
        self._manager.shutdown()

    def _run(self, shares: list[Sequence[Task]]) -> list[int]:
        results = self._manager.list()
        _join_all(self._start(_append_to_list, shares, results))
        return list(results)


class _Pool(ProcessExecutor):
    """A `multiprocessing.Pool`, created once; its workers never exit unless killed."""

    def open(self) -> None:
        self._pool = self.context.Pool(self.workers)
        # Pool silently replaces a dead worker and leaves its task unfinished forever; keeping
        # the original Process objects (Pool has no public list) lets us notice the death.
        self._processes: list[BaseProcess] = list(self._pool._pool)  # type: ignore[attr-defined]

    def close(self) -> None:
        self._pool.terminate()
        self._pool.join()

    def _await(self, result: AsyncResult[Any]) -> Any:
        while not result.ready():
            result.wait(POLL_SECONDS)
            for process in self._processes:
                if process.exitcode is not None:
                    ending = describe_exit(process.exitcode)
                    raise WorkerDiedError(f"a pool worker process {ending}")
        return result.get()


class PoolMap(_Pool):
    """`Pool.map` with one task per chunk."""

    name = "pool_map"
    chunksize: ClassVar[int | None] = 1  # None: Pool's own default

    def run(self, tasks: Sequence[Task]) -> list[int]:
        return list(self._await(self._pool.map_async(_call, tasks, chunksize=self.chunksize)))


class PoolAsync(_Pool):
    """`Pool.apply_async` for each task, then `get` on each result."""

    name = "pool_async"

    def run(self, tasks: Sequence[Task]) -> list[int]:
        pending = [self._pool.apply_async(_call, (task,)) for task in tasks]
        return [self._await(result) for result in pending]


class ProcessPool(ProcessExecutor):
    """A `concurrent.futures.ProcessPoolExecutor`, created once."""

    name = "process_pool"

    def open(self) -> None:
        self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=self.context)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def run(self, tasks: Sequence[Task]) -> list[int]:
        # The exception says nothing of how the worker ended, and the pool forgets its
        # processes once broken: keep them (private, but the only place they are).
        processes = list(getattr(self._pool, "_processes", {}).values())
        try:
            return list(self._pool.map(_call, tasks))
        except BrokenProcessPool:
            # Let the pool finish its clean-up (it reaps its workers and SIGTERMs the
            # survivors) so every exit code is known; the cause is the one it did not send.
            self._pool.shutdown(wait=True, cancel_futures=True)
            codes = {p.exitcode for p in processes} - {None, 0}
            causes = (codes - {-signal.SIGTERM}) or codes
            how = ", ".join(sorted(map(describe_exit, causes))) or "ended abruptly"
            raise WorkerDiedError(f"a process pool worker {how}") from None


class InterpreterPool(Executor):
    """A `concurrent.futures.InterpreterPoolExecutor`, created once: one subinterpreter per
    worker, each with a GIL of its own, all in this process."""

    name = "interpreter_pool"

    def open(self) -> None:
        pool_class = interpreter_pool_class()
        if isinstance(pool_class, str):
            raise UnsupportedError(pool_class)
        self._pool = pool_class(max_workers=self.workers, initializer=_tasks.extend_path,
                                initargs=(tuple(sys.path),))

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def run(self, tasks: Sequence[Task]) -> list[int]:
        # Not Task itself: its module imports more than a subinterpreter may load.
        starts, stops = [task.start for task in tasks], [task.stop for task in tasks]
        if all(isinstance(task.func, types.FunctionType) for task in tasks):
            results = list(self._pool.map(_tasks.call, [task.func.__module__ for task in tasks],
                                          [task.func.__name__ for task in tasks], starts, stops))
        else:  # a probe of _tasks itself, which every interpreter can unpickle
            results = list(self._pool.map(_tasks.call_object, [task.func for task in tasks],
                                          starts, stops))
        for task, result in zip(tasks, results, strict=True):
            if not isinstance(result, int):
                raise TypeError(f"kernel {task.func.__name__} returned a "
                                f"{type(result).__name__}, not an int")
        return results


class UnsupportedError(RuntimeError):
    """This interpreter cannot run the executor at all (the message says why)."""


def interpreter_pool_class() -> Any:
    """`InterpreterPoolExecutor` from the standard library (3.14+) or the 3.13 backport, or
    why there is none, in words."""
    try:
        from concurrent.futures import InterpreterPoolExecutor  # type: ignore[attr-defined]

        return InterpreterPoolExecutor
    except ImportError:
        pass
    try:
        from interpreters_backport.concurrent.futures.interpreter import (  # type: ignore
            InterpreterPoolExecutor,
        )

        return InterpreterPoolExecutor
    except ImportError:
        version = ".".join(map(str, sys.version_info[:2]))
        return (f"no subinterpreters on Python {version}: InterpreterPoolExecutor needs 3.14 or "
                "later, or 3.13 with the interpreters-pep-734 backport")


class Dask(Executor):
    """`distributed.Client.map` + `gather` on a `LocalCluster` of one single-threaded worker
    process per worker, or on an existing cluster (see `dask_executor`)."""

    name = "dask"
    # Its workers are processes, but Dask's nanny starts them with Dask's own start method
    # (spawn unless configured otherwise): no start-method axis here.
    uses_processes = False
    # An engine of its own, seconds to start: measured when asked for (`--executors dask`).
    in_default = False

    def __init__(self, workers: int, start_method: str | None = None) -> None:
        super().__init__(workers, start_method)
        missing = dask_unavailable()
        if missing is not None:
            raise UnsupportedError(missing)
        # Imported here, not in `open`: start-up does not count importing Dask in this process,
        # as it does not count importing multiprocessing for the pools.
        from mpbench import dask_executor

        self._backend = dask_executor

    def open(self) -> None:
        # On an existing cluster (`--dask-scheduler`) the run says where it is.
        self._cluster = (self._backend.RemoteDask(os.environ[DASK_SCHEDULER_VARIABLE],
                                                  self.workers)
                         if self.start_method == DASK_CLUSTER
                         else self._backend.LocalDask(self.workers))

    def close(self) -> None:
        self._cluster.close()

    def run(self, tasks: Sequence[Task]) -> list[int]:
        return self._cluster.run(tasks)

    def workers_thread_pools(self, module: str) -> str | None:
        return self._backend.workers_thread_pools(self._cluster.client, module)


DASK_INSTALL = "pip install 'mpbench[dask]'"
# A dask scenario on an existing cluster (`--dask-scheduler`) has the start method
# model.DASK_CLUSTER; the cluster's address reaches the timing process in this variable.
DASK_SCHEDULER_VARIABLE = "MPBENCH_DASK_SCHEDULER"


def dask_unavailable() -> str | None:
    """Why the `dask` executor cannot run under this interpreter, in words; None if it can.
    Asks without importing Dask, which takes half a second."""
    if importlib.util.find_spec("distributed") is None:
        version = ".".join(map(str, sys.version_info[:2]))
        return f"Dask is not installed for Python {version}: {DASK_INSTALL}"
    return None


EXECUTORS: dict[str, type[Executor]] = {
    cls.name: cls
    for cls in (Serial, Threads, ThreadPool, ProcessQueue, ProcessValue, ProcessManager,
                PoolMap, PoolAsync, ProcessPool, InterpreterPool, Dask)
}


def default_start_method() -> str:
    """The start method multiprocessing uses here when none is asked for."""
    return multiprocessing.get_context().get_start_method()
