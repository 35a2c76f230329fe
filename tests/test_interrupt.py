"""Ctrl-C and SIGTERM in the middle of a real run, resuming it, and simultaneous runs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pyperf
import pytest

from mpbench import sessions
from mpbench.storage import read

from conftest import BENCHMARKS, FAULTY_BENCHMARKS
from test_faults import assert_no_process_left, live_children

RUN = [sys.executable, "-m", "mpbench", "run", "--profile", "smoke", "--benchmarks",
       str(BENCHMARKS), "--kernels", "py_square", "--executors", "threads,pool_map,process_pool",
       "--workers", "1,2", "--start-method", "fork"]


def measured(path: Path) -> int:
    try:
        return len(json.loads(path.read_text())["benchmarks"])
    except (OSError, ValueError):
        return 0


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 130),
                                             (signal.SIGHUP, 129)])
def test_interrupted_run_keeps_what_finished_and_resumes(tmp_path: Path, signum: int,
                                                         code: int) -> None:
    """Ctrl-C, SIGTERM, and SIGHUP (a closed terminal) all keep what finished."""
    output = tmp_path / "run.json"
    before = live_children()
    process = subprocess.Popen([*RUN, "-o", str(output)], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while measured(output) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert measured(output) >= 2, "the run never saved two scenarios"
    process.send_signal(signum)
    _, err = process.communicate(timeout=30)
    assert process.returncode == code
    assert f"scenarios have all their rounds in {output}; `mpbench run --resume {output}` runs " \
        "the rest" in err
    assert_no_process_left(before)

    # a valid file, pyperf agrees, nothing half-written beside it
    done = pyperf.BenchmarkSuite.load(str(output)).get_benchmark_names()
    assert [p.name for p in tmp_path.iterdir()] == ["run.json"]
    results = read(output)
    assert len(results.plan) == 7 and 2 <= len(done) < 7
    # the round visits in a shuffled order: what is missing is what was not visited
    assert {s.id for s in results.missing()} == {s.id for s in results.plan} - set(done)

    resumed = subprocess.run([*RUN, "--resume", str(output)], capture_output=True, text=True,
                             timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    final = read(output)
    assert [b.get_name() for b in final.benchmarks] == [s.id for s in final.plan]
    assert final.missing() == []


def test_resume_refuses_different_options(tmp_path: Path) -> None:
    output = tmp_path / "run.json"
    subprocess.run([*RUN, "-k", "serial", "-o", str(output)], check=True, capture_output=True)
    refused = subprocess.run([*RUN[:-2], "--start-method", "spawn", "--resume", str(output)],
                             capture_output=True, text=True)
    assert refused.returncode == 2
    assert refused.stderr == (f"error: {output} was run with start_methods = ['fork'], not "
                              "['spawn']; resume with the same options, or none\n")
    finished = subprocess.run([sys.executable, "-m", "mpbench", "run", "--resume", str(output)],
                              capture_output=True, text=True)
    assert finished.returncode == 2
    assert finished.stderr == f"error: {output} has no scenario left to run\n"


def test_simultaneous_runs_never_overwrite_each_other(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "mpbench", "run", "--profile", "smoke", "--machine", "box",
               "--benchmarks", str(BENCHMARKS), "-k", "py_count/serial"]
    runs = [subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True) for _ in range(3)]
    for run in runs:
        assert run.wait(timeout=120) == 0, run.stderr.read() if run.stderr else ""
    files = sorted((tmp_path / "results" / "box").iterdir())
    assert len(files) == 3
    assert all(len(read(path).benchmarks) == 1 for path in files)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupt_while_a_visit_starts_waits_until_the_child_is_known(signum: int) -> None:
    """A signal that lands inside Popen is held back, so the session knows the child it kills."""
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    reached = []
    try:
        with pytest.raises(KeyboardInterrupt), sessions._interrupts_deferred():
            signal.raise_signal(signum)
            reached.append("end of the block")
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert reached == ["end of the block"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_session_kills_its_child_when_interrupted() -> None:
    started: list[sessions.Session] = []
    sleeper = [sys.executable, "-c", "import time; time.sleep(60)"]
    with pytest.raises(KeyboardInterrupt), \
            sessions.session(sleeper, subprocess.DEVNULL, subprocess.DEVNULL) as running:
        started.append(running)
        while not psutil.Process(running.process.pid).children():
            time.sleep(0.01)
        [child] = psutil.Process(running.process.pid).children()
        raise KeyboardInterrupt
    assert started[0].process.returncode == -signal.SIGKILL  # the guard ends as its child did
    assert not child.is_running()


def test_nothing_outlives_a_run_killed_with_sigkill(tmp_path: Path) -> None:
    """The timing process, its pool, a child that left the process group, and the visit's
    temporary folder all go when the orchestrator is killed and can clean up nothing."""
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    before = live_children()
    process = subprocess.Popen(
        [sys.executable, "-m", "mpbench", "run", "--profile", "smoke", "--benchmarks",
         str(FAULTY_BENCHMARKS), "--kernels", "hides", "--executors", "pool_map", "--workers",
         "2", "--start-method", "fork", "-o", str(tmp_path / "run.json")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ,
                                                                     "TMPDIR": str(scratch)})
    try:
        deadline = time.monotonic() + 60
        while "sleep 3118" not in _strays(tmp_path) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "sleep 3118" in _strays(tmp_path), "the kernel never ran"
    finally:
        process.kill()
        process.wait()
    deadline = time.monotonic() + 10
    while (_strays(tmp_path) or list(scratch.iterdir())) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _strays(tmp_path) == []
    assert list(scratch.iterdir()) == []
    assert_no_process_left(before)


def _strays(tmp_path: Path) -> list[str]:
    """Command lines of live processes of a run under `tmp_path`, or of the kernel's sleeper."""
    found = []
    for process in psutil.process_iter(["cmdline", "status"]):
        line = " ".join(process.info["cmdline"] or [])
        if process.info["status"] != psutil.STATUS_ZOMBIE and process.pid != os.getpid() and (
                str(tmp_path) in line or line == "sleep 3118"):
            found.append(line)
    return found


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGHUP, 129)])
def test_interrupted_costs_keep_every_probe_finished(tmp_path: Path, signum: int,
                                                     code: int) -> None:
    from mpbench.costs import store

    output = tmp_path / "costs.json"
    before = live_children()
    process = subprocess.Popen([sys.executable, "-m", "mpbench", "costs", "--profile", "smoke",
                                "-o", str(output)], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while measured(output) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert measured(output) >= 3, "the costs run never saved three probes"
    process.send_signal(signum)
    _, err = process.communicate(timeout=30)
    assert process.returncode == code
    assert f"interrupted: what was measured is in {output}" in err
    assert_no_process_left(before)
    assert [p.name for p in tmp_path.iterdir()] == ["costs.json"]
    results = store.read(output)
    assert 3 <= len(results.benchmarks) < len(results.plan)
