"""The `dask` executor's machinery: a `distributed.LocalCluster` of single-threaded worker
processes, and tasks run on a Dask cluster with `Client.map` + `gather`.

Imported only where the executor runs: Dask is an optional extra (`mpbench[dask]`).

Dask's nanny starts each worker process with multiprocessing (spawn unless Dask is configured
otherwise), so the workers, like spawn pool children, inherit this process's `sys.path` and
environment: kernels reach them by reference, from the same file, and the BLAS thread variables
the timing process set before opening the executor are theirs too (the nanny's defaults of 1
yield to variables already set). What the workers really got is asked of them, to be recorded.
"""

from __future__ import annotations

import importlib
import logging
import sys
import time
from collections.abc import Sequence
from typing import Any

import dask
import distributed
from distributed.diagnostics.plugin import SchedulerUploadFile, UploadFile

from mpbench.executors import POLL_SECONDS, Task, WorkerDiedError, _call
from mpbench.model import describe_exit

CLOSE_TIMEOUT_SECONDS = 10.0
CONNECT_TIMEOUT_SECONDS = 10.0
DEATH_GRACE_SECONDS = 2.0  # for the nanny to learn the exit code of a worker that died


class LocalDask:
    """A `LocalCluster` of `workers` worker processes, one thread each, and a `Client` of it."""

    def __init__(self, workers: int) -> None:
        # Dask runs a task whose worker died again, up to three times by default: a kernel
        # that kills its process would kill four workers (each nanny starts a new one) and
        # take seconds before the call failed. Here the first death fails it.
        with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
            self.cluster = distributed.LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                dashboard_address=None,
                # Without a dashboard the scheduler still serves HTTP (health, metrics), on
                # port 8787 unless told: any free port, on loopback, so clusters never collide.
                scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
                # Every failure reaches the caller as an exception (the kernel's own, or
                # KilledWorker); Dask's log lines would only repeat it, and look like the reason.
                silence_logs=logging.CRITICAL)
        try:  # the cluster is up: each nanny waited for its worker to join the scheduler
            self.client = distributed.Client(self.cluster)
        except BaseException:
            self.cluster.close(timeout=CLOSE_TIMEOUT_SECONDS)
            raise
        # A nanny replaces a dead worker's process and forgets it; keep them to say how it ended.
        self.processes: list[Any] = [nanny.process.process
                                     for nanny in self.cluster.workers.values()]

    def run(self, tasks: Sequence[Task]) -> list[int]:
        return run_tasks(self.client, tasks, self.processes)

    def close(self) -> None:
        """Stop the client, the workers (killed if they do not stop in time), the scheduler."""
        try:
            self.client.close(timeout=CLOSE_TIMEOUT_SECONDS)
        finally:
            self.cluster.close(timeout=CLOSE_TIMEOUT_SECONDS)


class RemoteDask:
    """A `Client` of an existing cluster at `address`, whose workers are not ours to start or
    stop. They may not have this machine's files: the kernel's file is sent to them (and to
    the scheduler, which unpickles the tasks) with `Client.upload_file` before its first task."""

    def __init__(self, address: str, workers: int) -> None:
        self.client = distributed.Client(address, timeout=CONNECT_TIMEOUT_SECONDS)
        # The scenario was planned for the cluster as it was: timed on another, it would mix
        # two clusters' figures in one scenario.
        slots = self.client.nthreads()
        if len(slots) != workers or any(threads != 1 for threads in slots.values()):
            self.client.close(timeout=CLOSE_TIMEOUT_SECONDS)
            raise RuntimeError(f"the cluster at {address} has {len(slots)} workers with "
                                  f"{sorted(set(slots.values()))} threads each, not the "
                                  f"{workers} one-thread workers this scenario was planned "
                                  "for")
        self.uploaded: set[str] = set()

    def run(self, tasks: Sequence[Task]) -> list[int]:
        for module in {task.func.__module__ for task in tasks} - self.uploaded:
            # One plugin per kernel file, replaced at every visit rather than added again:
            # upload_file names its plugins anew each time, and the cluster keeps them all.
            path, name = str(sys.modules[module].__file__), f"mpbench-kernel-{module}"
            self.client.register_plugin(SchedulerUploadFile(path), name=name)
            self.client.register_plugin(UploadFile(path), name=name)
            self.uploaded.add(module)
        return run_tasks(self.client, tasks)

    def close(self) -> None:
        self.client.close(timeout=CLOSE_TIMEOUT_SECONDS)


def cluster_workers(address: str) -> int:
    """How many workers the cluster at `address` has now (all of them: `scheduler_info`
    lists only a few in some releases)."""
    with distributed.Client(address, timeout=CONNECT_TIMEOUT_SECONDS) as client:
        return len(client.nthreads())


def run_tasks(client: distributed.Client, tasks: Sequence[Task],
              processes: Sequence[Any] = ()) -> list[int]:
    """Each task's result, run on the client's cluster; WorkerDiedError, saying how it ended
    when `processes` (the workers') tell, if a worker died running one."""
    # Not pure: equal tasks (start-up's trivial ones) would be one task run by one worker.
    futures = client.map(_call, tasks, pure=False)
    try:
        return list(client.gather(futures))
    except distributed.KilledWorker:
        raise WorkerDiedError(f"a dask worker process {_ending(processes)}") from None


def _ending(processes: Sequence[Any]) -> str:
    """How the workers that died ended, once the nanny knows (it may hear after the scheduler)."""
    deadline = time.monotonic() + DEATH_GRACE_SECONDS
    while True:
        codes = sorted({process.exitcode for process in processes} - {None, 0})
        if codes or not processes or time.monotonic() > deadline:
            return ", ".join(map(describe_exit, codes)) or "died while running a task"
        time.sleep(POLL_SECONDS)


def workers_thread_pools(client: distributed.Client, module: str) -> str:
    """The BLAS/OpenMP thread pools of every worker of the cluster (not only those that ran a
    task) once `module` is loaded there; one description when they all agree."""
    pools = client.run(thread_pools_with, module)
    return "; ".join(sorted(set(pools.values())))


def thread_pools_with(module: str) -> str:
    """In a worker: load `module`, then describe the thread pools loaded, as the timing process
    describes its own (`_worker.limit_blas_threads`)."""
    from mpbench.machine import thread_pools

    importlib.import_module(module)
    return thread_pools() or "none loaded"
