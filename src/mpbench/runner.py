"""Orchestration: each scenario in its own pyperf subprocess, saved as soon as it is done.

A scenario's subprocess runs in a process group of its own, so a timeout or an interrupt can
stop it together with every worker, pool child and Manager it started. A scenario that fails
or times out becomes a `Failure` with a readable reason; the run goes on. After every scenario
the whole results file is rewritten atomically, so an interrupted run loses nothing it finished.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import pyperf

from mpbench.model import FAILURE_MARKER, Failure, Profile, Scenario, describe_exit
from mpbench.storage import Results, save

REASON_LIMIT = 300  # characters of a failure reason kept in the results file


@dataclass(frozen=True)
class RunSettings:
    """How each scenario is measured."""

    profile: Profile
    timeout: float
    python: str = sys.executable


@dataclass(frozen=True)
class Outcome:
    """What one scenario produced: a pyperf benchmark, or a failure."""

    scenario: Scenario
    benchmark: pyperf.Benchmark | None
    failure: Failure | None
    wall_seconds: float


class Observer(Protocol):
    """Told about progress; the CLI draws it, tests record it."""

    def scenario_started(self, index: int, scenario: Scenario) -> None: ...

    def scenario_finished(self, index: int, outcome: Outcome, path: Path) -> None: ...


def worker_command(scenario: Scenario, settings: RunSettings, output: Path) -> list[str]:
    """The pyperf command line that times one scenario into `output`."""
    profile = settings.profile
    command = [
        settings.python, "-m", "mpbench._worker", "--scenario", scenario.to_json(),
        "--hook", "mpbench", "--loops", "1", "--warmups", str(profile.warmups),
        "--values", str(profile.values), "--quiet", "--output", str(output),
    ]
    # With one process, pyperf's manager would only start the single worker: be that worker.
    if profile.processes == 1:
        command.append("--worker")
    else:
        command.extend(("--processes", str(profile.processes)))
    return command


def run_scenario(scenario: Scenario, settings: RunSettings) -> Outcome:
    """Time one scenario in a subprocess; never raises for a failing scenario."""
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="mpbench-") as scratch:
        output = Path(scratch) / "benchmark.json"
        log_path = Path(scratch) / "log.txt"
        with log_path.open("w+b") as log:
            process = subprocess.Popen(
                worker_command(scenario, settings, output), stdin=subprocess.DEVNULL,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
            # A timer, not wait(timeout=...): Popen polls with sleeps of up to 50 ms.
            timed_out = threading.Event()

            def expire() -> None:
                if process.poll() is None:  # not if it ended while the timer fired
                    timed_out.set()
                    _kill_group(process)

            deadline = threading.Timer(settings.timeout, expire)
            deadline.start()
            try:
                returncode = process.wait()
            finally:  # also on KeyboardInterrupt: nothing of the scenario outlives it
                deadline.cancel()
                _kill_group(process)
            log.seek(0)
            log_text = log.read().decode(errors="replace")
        wall = time.monotonic() - started
        if timed_out.is_set():
            reason = f"timed out after {settings.timeout:g} s"
        elif returncode != 0 or not output.exists():
            reason = failure_reason(log_text, returncode)
        else:
            benchmark = pyperf.Benchmark.load(str(output))
            benchmark.update_metadata({"scenario_wall_s": round(wall, 3)})
            return Outcome(scenario, benchmark, None, wall)
    return Outcome(scenario, None, Failure(scenario, reason, round(wall, 3)), wall)


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    """Kill the scenario's whole process group, including children that outlived the leader."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


def failure_reason(log: str, returncode: int) -> str:
    """The most useful single line of a failed scenario's output."""
    lines = [line.strip() for line in log.splitlines() if line.strip()]
    marked = [line.removeprefix(FAILURE_MARKER).strip() for line in lines
              if line.startswith(FAILURE_MARKER)]
    pyperf_errors = [line.removeprefix("ERROR:").strip() for line in lines
                     if line.startswith("ERROR:")]
    exceptions = [line for line in lines if _looks_like_exception(line)]
    for candidates in (marked, pyperf_errors, exceptions):
        if candidates:
            return candidates[0][:REASON_LIMIT]
    return f"the measuring process {describe_exit(returncode)}"


def _looks_like_exception(line: str) -> bool:
    name, sep, _ = line.partition(":")
    return bool(sep) and name.replace(".", "").isidentifier() and name.endswith(
        ("Error", "Exception", "Exit", "Interrupt", "Warning"))


def run_all(results: Results, scenarios: Sequence[Scenario], settings: RunSettings,
            path: Path, observer: Observer) -> Results:
    """Run `scenarios` in order, adding each outcome to `results` and saving after each.

    Returns `results` with `path` set to the file actually written (it may gain a suffix if
    the name was taken). On KeyboardInterrupt, everything finished is already saved.
    """
    machine_metadata = results.machine.to_metadata()
    for index, scenario in enumerate(scenarios):
        observer.scenario_started(index, scenario)
        outcome = run_scenario(scenario, settings)
        if outcome.benchmark is not None:
            outcome.benchmark.update_metadata(machine_metadata)
            results.benchmarks.append(outcome.benchmark)
        if outcome.failure is not None:
            results.failures.append(outcome.failure)
        results.path = save(results, results.path or path, replace=results.path is not None)
        observer.scenario_finished(index, outcome, results.path)
    return results
