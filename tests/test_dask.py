"""The `dask` executor for real: a LocalCluster through the executor, a scheduler and workers
started with Dask's own command line, an end-to-end run, and the reason given without Dask.

Dask is an optional extra: the tests that need it skip without it, unless
MPBENCH_REQUIRE_DASK=1 (CI sets it, so there they cannot skip).
"""

from __future__ import annotations

import multiprocessing.resource_tracker
import os
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psutil
import pytest

from mpbench._capabilities import capabilities
from mpbench.executors import (
    EXECUTORS,
    Dask,
    Task,
    UnsupportedError,
    WorkerDiedError,
    split_range,
    trivial_tasks,
)
from mpbench.kernels import combine, discover, load_kernel
from mpbench.runner import failure_reason
from mpbench.storage import read

from conftest import BENCHMARKS, FAULTY_BENCHMARKS, ids, needs_dask
from test_cli import run_cli
from test_faults import live_children

KERNELS = discover(BENCHMARKS)
CHECKED = ("py_square", "np_square", "py_count")
START_SECONDS = 60.0
MARK = "MPBENCH_DASK_TEST"  # in the environment of every process a test starts


def tasks_for(kernel_name: str, pieces: int) -> tuple[list[Task], int]:
    spec = KERNELS[kernel_name]
    size = max(1000, spec.size // 1000)
    return [Task(spec.func, a, b) for a, b in split_range(size, pieces)], spec.func(0, size)


def nothing_looks_like_a_failure(log: str) -> bool:
    """The runner would find no reason in `log` (it falls back on the exit code)."""
    return failure_reason(log, 1) == "the measuring process exited with code 1"


@pytest.fixture
def before(monkeypatch: pytest.MonkeyPatch) -> set[psutil.Process]:
    """This process's children now, and a mark in the environment of every process the test
    starts from here on, however deep. Multiprocessing's resource tracker, which spawn starts
    once per process and keeps for its life, is started first: it counts as before."""
    multiprocessing.resource_tracker.ensure_running()
    monkeypatch.setenv(MARK, uuid.uuid4().hex)
    return live_children()


def assert_no_process_left(before: set[psutil.Process]) -> None:
    """Nothing new below this process, and nothing the test started anywhere on the machine
    (an orphan is adopted by init). By the mark, not by command line: other runs of mpbench on
    the same machine are not this test's."""
    leftovers = live_children() - before
    assert leftovers == set(), [p.cmdline() for p in leftovers]
    strays = []
    for process in psutil.process_iter():
        try:
            if (process.pid != os.getpid() and process.status() != psutil.STATUS_ZOMBIE
                    and process.environ().get(MARK) == os.environ[MARK]):
                strays.append(process.cmdline())
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    assert strays == []


def test_dask_is_an_executor_without_a_start_method_axis() -> None:
    assert EXECUTORS["dask"] is Dask and not Dask.uses_processes


@needs_dask
def test_a_local_cluster_gives_the_serial_results_and_leaves_no_process(
        before: set[psutil.Process], monkeypatch: pytest.MonkeyPatch,
        capfd: pytest.CaptureFixture[str]) -> None:
    # Not Dask's default of 1, which its nanny would set: the workers must get this process's.
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.setenv(name, "2")
    executor = Dask(2)
    started = time.perf_counter()
    executor.open()
    try:
        assert combine(executor.run(trivial_tasks(2, KERNELS["py_square"].func))) == 0
        startup = time.perf_counter() - started
        workers = live_children() - before
        for kernel_name in CHECKED:
            tasks, expected = tasks_for(kernel_name, 9)
            assert combine(executor.run(tasks)) == expected, kernel_name
        pools = executor.workers_thread_pools(KERNELS["np_square"].func.__module__)
    finally:
        executor.close()
    assert 0 < startup < START_SECONDS
    assert len(workers) == 2  # the worker processes, gone now:
    assert pools is not None and "; " not in pools  # every worker got the same
    assert set(re.findall(r"(\d+) threads", pools)) == {"2"}, pools
    assert_no_process_left(before)
    assert nothing_looks_like_a_failure(capfd.readouterr().err)


@needs_dask
def test_a_worker_that_dies_fails_the_call_saying_how(
        before: set[psutil.Process], capfd: pytest.CaptureFixture[str]) -> None:
    # Loaded first, as the timing process does: the workers inherit sys.path when they start.
    raises, exits = (load_kernel(FAULTY_BENCHMARKS / "bm_faults.py", name).func
                     for name in ("raises", "exits"))
    with Dask(1) as executor:
        with pytest.raises(ValueError, match="bad range 0-10"):
            executor.run([Task(raises, 0, 10)])
        started = time.monotonic()
        with pytest.raises(WorkerDiedError, match=r"^a dask worker process exited with code 3$"):
            executor.run([Task(exits, 0, 10)])
        assert time.monotonic() - started < 10  # at once: not retried on other workers
    assert_no_process_left(before)
    assert nothing_looks_like_a_failure(capfd.readouterr().err)


@needs_dask
def test_a_scheduler_and_workers_started_by_dask_s_command_line(
        before: set[psutil.Process], tmp_path: Path) -> None:
    import distributed

    from mpbench.dask_executor import run_tasks, workers_thread_pools

    scheduler_file = tmp_path / "scheduler.json"
    dask = [sys.executable, "-m", "dask"]
    on_loopback = ["--host", "127.0.0.1", "--dashboard-address", "127.0.0.1:0", "--no-dashboard"]
    commands = {
        "scheduler": [*dask, "scheduler", "--port", "0", *on_loopback],
        **{f"worker-{name}": [*dask, "worker", "--name", name, "--nthreads", "1",
                              "--local-directory", str(tmp_path / name), *on_loopback]
           for name in ("a", "b")},
    }
    logs = {name: (tmp_path / f"{name}.log").open("w") for name in commands}
    processes = {name: subprocess.Popen([*command, "--scheduler-file", str(scheduler_file)],
                                        stdin=subprocess.DEVNULL, stdout=logs[name],
                                        stderr=subprocess.STDOUT, cwd=tmp_path)
                 for name, command in commands.items()}
    try:
        with distributed.Client(scheduler_file=str(scheduler_file),
                                timeout=START_SECONDS) as client:
            client.wait_for_workers(2, timeout=START_SECONDS)
            names = {worker["name"] for worker in client.scheduler_info()["workers"].values()}
            for kernel_name in CHECKED:
                # As a user sends their own module; the scheduler, too, unpickles the tasks.
                client.upload_file(KERNELS[kernel_name].source_file)
                tasks, expected = tasks_for(kernel_name, 6)
                assert combine(run_tasks(client, tasks)) == expected, kernel_name
            pools = workers_thread_pools(client, KERNELS["np_square"].func.__module__)
        # Workers first: a nanny whose scheduler has gone waits before it kills its worker.
        for name in ("worker-a", "worker-b", "scheduler"):
            processes[name].terminate()
            assert processes[name].wait(timeout=30) == 0, (tmp_path / f"{name}.log").read_text()
    finally:
        for process in processes.values():
            process.kill()
            process.wait()
        for log in logs.values():
            log.close()
    assert names == {"a", "b"}
    assert "threads" in pools  # Dask's nanny set the BLAS variables of these workers
    assert_no_process_left(before)


@needs_dask
def test_a_run_measures_the_dask_scenarios(capsys: pytest.CaptureFixture[str],
                                           before: set[psutil.Process], tmp_path: Path) -> None:
    output = tmp_path / "dask.json"
    code, out, _ = run_cli(capsys, "run", "--profile", "smoke", "--executors", "dask",
                           "--workers", "1,2", "-k", "py_square", "-o", str(output))
    assert code == 0, out
    results = read(output)
    measured = {bench.get_name(): bench.get_metadata() for bench in results.benchmarks}
    assert sorted(measured) == ids("py_square/dask/w1", "py_square/dask/w2",
                                   "py_square/serial/w1")
    assert len({metadata["result"] for metadata in measured.values()}) == 1
    for name in ids("py_square/dask/w1", "py_square/dask/w2"):
        assert 0 < measured[name]["startup_s"] < START_SECONDS
        # --blas-threads 1, as the timing process itself has it
        assert set(re.findall(r"(\d+) threads", measured[name]["workers_blas"])) <= {"1"}
    assert "workers_blas" not in measured[ids("py_square/serial/w1")[0]]
    assert results.failures == [] and results.unsupported == []
    assert_no_process_left(before)


def test_without_dask_its_scenarios_are_unsupported_with_the_install_command(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if it were not installed
    version = ".".join(map(str, sys.version_info[:2]))
    reason = f"Dask is not installed for Python {version}: pip install 'mpbench[dask]'"
    assert capabilities({"kernels": [], "interpreter_pool": False, "dask": True})["dask"] == \
        reason
    output = tmp_path / "without.json"
    code, out, _ = run_cli(capsys, "run", "--profile", "smoke", "--executors", "dask",
                           "--workers", "1", "-k", "py_square", "-o", str(output))
    assert code == 0, out
    results = read(output)
    assert [bench.get_name() for bench in results.benchmarks] == ids("py_square/serial/w1")
    assert {item.scenario.id: item.reason for item in results.unsupported} == {
        ids("py_square/dask/w1")[0]: reason}
    with pytest.raises(UnsupportedError, match=re.escape(reason)):
        Dask(1)
