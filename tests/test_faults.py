"""Kernels that raise, die or hang: each scenario fails with a readable reason, in bounded time,
the run goes on, and no process of the run is left alive."""

from __future__ import annotations

import time
from pathlib import Path

import psutil
import pytest

from mpbench.storage import read

from conftest import FAULTY_BENCHMARKS, TAG
from test_cli import run_cli

ALL_EXECUTORS = ("threads,thread_pool,process_queue,process_value,process_manager,pool_map,"
                 "pool_async,process_pool")

# kernel → the reason each executor gives (serial and thread executors fail in the timing
# process itself, process executors in a worker)
EXPECTED = {
    "raises": {"*": "ValueError: bad range"},
    "not_an_int": {"*": "TypeError: kernel not_an_int returned a lock, not an int"},
    "exits": {"serial": "the measuring process exited with code 3",
              "threads": "the measuring process exited with code 3",
              "thread_pool": "the measuring process exited with code 3",
              "process_queue": "WorkerDiedError: a worker process exited with code 3",
              "process_value": "WorkerDiedError: a worker process exited with code 3",
              "process_manager": "WorkerDiedError: a worker process exited with code 3",
              "pool_map": "WorkerDiedError: a pool worker process exited with code 3",
              "pool_async": "WorkerDiedError: a pool worker process exited with code 3",
              "process_pool": "WorkerDiedError: a process pool worker exited with code 3"},
    "killed": {"serial": "the measuring process was killed by SIGKILL",
               "pool_map": "WorkerDiedError: a pool worker process was killed by SIGKILL",
               "process_pool": "WorkerDiedError: a process pool worker was killed by SIGKILL",
               "process_queue": "WorkerDiedError: a worker process was killed by SIGKILL"},
    "segfaults": {"threads": "the measuring process was killed by SIGSEGV",
                  "pool_async": "WorkerDiedError: a pool worker process was killed by SIGSEGV",
                  "process_value": "WorkerDiedError: a worker process was killed by SIGSEGV"},
    "unpicklable": {"process_queue": "WorkerDiedError: a worker process ended without sending "
                                     "its results (could they not be pickled?)",
                    "process_manager": "TypeError: this int refuses to be pickled",
                    "pool_map": "MaybeEncodingError: Error sending result",
                    "process_pool": "TypeError: this int refuses to be pickled"},
}


def live_children() -> set[psutil.Process]:
    """This test process's descendants (other tests may have left a forkserver running)."""
    return {p for p in psutil.Process().children(recursive=True) if p.status() != "zombie"}


def assert_no_process_left(before: set[psutil.Process]) -> None:
    """Nothing new below this process, and no orphan of the run anywhere on the machine
    (an orphan is adopted by init, so it no longer shows as a descendant)."""
    leftovers = live_children() - before
    assert leftovers == set(), [p.cmdline() for p in leftovers]
    ours = {p.pid for p in before} | {psutil.Process().pid}
    strays = []
    for process in psutil.process_iter(["pid", "cmdline", "status"]):
        cmdline = " ".join(process.info["cmdline"] or [])
        if (process.info["pid"] not in ours and process.info["status"] != "zombie"
                and any(mark in cmdline for mark in (
                    "mpbench._worker", "_guard.py", "multiprocessing", "sleep 311"))):
            strays.append(cmdline)
    assert strays == []


def run_faulty(capsys: pytest.CaptureFixture[str], tmp_path: Path, kernel: str,
               executors: str, *extra: str) -> dict[str, tuple[str, float]]:
    output = tmp_path / f"{kernel}.json"
    before = live_children()
    code, out, _ = run_cli(capsys, "run", "--profile", "smoke", "--benchmarks",
                           str(FAULTY_BENCHMARKS), "--kernels", f"{kernel},fine", "--executors",
                           executors, "--workers", "2", "--start-method", "fork",
                           "-o", str(output), *extra)
    assert code == 1, out
    results = read(output)
    measured = {b.get_name() for b in results.benchmarks}
    assert {s.id for s in results.plan if s.kernel == "fine"} <= measured  # the run went on
    assert {f.scenario.kernel for f in results.failures} == {kernel}
    assert_no_process_left(before)
    return {f.scenario.executor: (f.reason, f.seconds or 0.0) for f in results.failures}


@pytest.mark.parametrize("kernel", sorted(EXPECTED))
def test_each_fault_is_a_readable_failure(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                          kernel: str) -> None:
    executors = ",".join(e for e in EXPECTED[kernel] if e not in ("*", "serial")) or ALL_EXECUTORS
    failures = run_faulty(capsys, tmp_path, kernel, executors)
    for executor, (reason, seconds) in failures.items():
        expected = EXPECTED[kernel].get(executor, EXPECTED[kernel].get("*"))
        if expected is not None:
            assert reason.startswith(expected), (executor, reason)
        assert seconds < 10, (executor, seconds)


def test_a_kernel_that_never_returns_times_out(capsys: pytest.CaptureFixture[str],
                                               tmp_path: Path) -> None:
    started = time.monotonic()
    failures = run_faulty(capsys, tmp_path, "hangs", "threads,pool_map,process_queue",
                          "--timeout", "2")
    assert {reason for reason, _ in failures.values()} == {"timed out after 2 s"}
    assert set(failures) == {"serial", "threads", "pool_map", "process_queue"}
    assert all(2 <= seconds < 4 for _, seconds in failures.values())
    assert time.monotonic() - started < 40


def test_a_pool_worker_killed_under_spawn_is_noticed(capsys: pytest.CaptureFixture[str],
                                                     tmp_path: Path) -> None:
    output = tmp_path / "spawn.json"
    before = live_children()
    code, _, _ = run_cli(capsys, "run", "--profile", "smoke", "--benchmarks",
                         str(FAULTY_BENCHMARKS), "--kernels", "killed", "--executors",
                         "pool_map,process_pool", "--workers", "1", "--start-method", "spawn",
                         "-o", str(output), "--timeout", "60")
    assert code == 1
    reasons = {f.scenario.executor: f.reason for f in read(output).failures}
    assert reasons["pool_map"] == "WorkerDiedError: a pool worker process was killed by SIGKILL"
    assert reasons["process_pool"].startswith("WorkerDiedError: a process pool worker")
    assert_no_process_left(before)


def test_an_executor_that_computes_another_result_is_flagged(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    output = tmp_path / "impure.json"
    code, out, _ = run_cli(capsys, "run", "--profile", "smoke", "--benchmarks",
                           str(FAULTY_BENCHMARKS), "--kernels", "impure", "--executors",
                           "threads,pool_map", "--workers", "1", "--start-method", "fork",
                           "-o", str(output))
    assert code == 1
    # 4 tasks over [0, 100): each pool worker adds one per task
    assert f"wrong result impure/pool_map/w1/fork@{TAG}: computed 104, unlike the serial run" \
        in out
    assert "wrong result impure/threads" not in out
    assert "0 of 3 scenarios failed, 1 computed a wrong result" in out


def test_a_visit_s_output_is_read_from_both_ends_only(tmp_path: Path) -> None:
    """A kernel that prints without end must not fill the orchestrator's memory; the failure
    line at the end is still found."""
    from mpbench.runner import bounded_text, failure_reason

    with (tmp_path / "log.txt").open("w+b") as log:
        log.write(b"start\n" + b"x" * 5000 + b"\nmpbench-failure: ValueError: at the end\n")
        text = bounded_text(log, limit=100)
    assert text.startswith("start\n") and len(text) < 300
    assert "bytes of output left out" in text
    assert failure_reason(text, 1) == "ValueError: at the end"


def test_values_are_kept_from_a_process_a_thread_keeps_from_exiting(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    output = tmp_path / "thread.json"
    before = live_children()
    code, out, _ = run_cli(capsys, "run", "--profile", "smoke", "--benchmarks",
                           str(FAULTY_BENCHMARKS), "--kernels", "leaves_a_thread", "--executors",
                           "threads", "--workers", "1", "-o", str(output), "--timeout", "60")
    assert code == 0, out
    for executor in ("serial/w1", "threads/w1"):
        assert (f"⚠ leaves_a_thread/{executor}@{TAG}: the timing process had not exited 5 s "
                "after writing its values (threads left running: forgotten") in out
    assert "forgotten ×" in out  # one thread a call on threads, counted once
    results = read(output)
    assert results.failures == []
    assert [b.get_metadata()["warning"].startswith("the timing process had not exited")
            for b in results.benchmarks] == [True, True]
    assert_no_process_left(before)


def test_a_process_that_leaves_the_process_group_is_ended(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    before = live_children()
    code, out, _ = run_cli(capsys, "run", "--profile", "smoke", "--benchmarks",
                           str(FAULTY_BENCHMARKS), "--kernels", "escapes", "--executors",
                           "pool_map", "--workers", "2", "--start-method", "fork",
                           "-o", str(tmp_path / "escapes.json"))
    assert code == 0, out
    assert_no_process_left(before)  # no `sleep 3117` left, adopted or not
