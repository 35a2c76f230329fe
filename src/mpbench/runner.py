"""Orchestration: rounds of visits, each visit one pyperf timing process, saved as soon as done.

A run visits every scenario once per round, in a freshly shuffled order each round (see
`schedule`), and every parallel visit pairs its calls with the serial baseline's. After the
profile's rounds, scenarios whose speedup interval is still wider than the precision target get
more rounds, while the budget lasts. Each round starts by noting the machine's state: its
single-core speed and how many cores' worth of work parallel processes get right then.

A visit's subprocess runs in a process group of its own, so a timeout or an interrupt can stop it
together with every worker, pool child and Manager it started. A visit that fails or times out
fails its scenario with a readable reason; the run goes on. After every visit the whole results
file is rewritten atomically, so an interrupted run loses nothing it finished.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Protocol

import numpy as np
import pyperf

from mpbench import estimates
from mpbench.executors import DASK_SCHEDULER_VARIABLE
from mpbench.model import (
    DASK_CLUSTER,
    FAILURE_MARKER,
    WARNING_MARKER,
    Failure,
    RoundRecord,
    Scenario,
    describe_exit,
    paired_baseline,
    work,
)
from mpbench.options import StoredOptions
from mpbench.schedule import SERIAL, baselines, next_round, shuffled
from mpbench.sessions import Session, session
from mpbench.storage import Results, save
from mpbench.topology import format_cpu_list

REASON_LIMIT = 300  # characters of a failure reason kept in the results file
LOG_LIMIT = 1 << 20  # bytes read from each end of a visit's output, to find its failure
PROBE_WINDOW_SECONDS = 0.1  # each of the four windows of the per-round machine probe
PROBE_TIMEOUT_SECONDS = 30.0
PROBE_INTERVAL_SECONDS = 10.0


@dataclass(frozen=True)
class RunSettings:
    """How each visit is measured, and when the run stops."""

    options: StoredOptions
    # Interpreter tag → how to start its timing processes.
    pythons: Mapping[str, TimingPython] = field(default_factory=dict)
    # A pinned run's CPUs in the order its placement fills them; () when not pinned.
    cpu_order: tuple[int, ...] = ()
    probe_machine: bool = True  # the per-round probe; tests of orchestration turn it off

    def timing_python(self, tag: str) -> TimingPython:
        """How to start `tag`'s timing processes; with no `pythons` at all (tests of the
        orchestration), this interpreter."""
        if not self.pythons:
            return TimingPython(sys.executable)
        return self.pythons[tag]


@dataclass(frozen=True)
class TimingPython:
    """An interpreter's executable in its environment, and what it adds to the environment
    variables of its timing processes (PYTHON_GIL, for `--gil`)."""

    executable: str
    environ: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Visit:
    """One timing process of one scenario, in one round; parallel visits pair with `baseline`."""

    scenario: Scenario
    baseline: Scenario | None
    round: int


@dataclass(frozen=True)
class Outcome:
    """What one visit produced: a pyperf benchmark of one run, or a failure."""

    visit: Visit
    benchmark: pyperf.Benchmark | None
    failure: Failure | None
    wall_seconds: float
    warnings: tuple[str, ...] = ()  # what the timing process warned of, measured all the same


class Observer(Protocol):
    """Told about progress; the CLI draws it, tests record it."""

    def round_started(self, record: RoundRecord, precision: bool) -> None: ...

    def visit_started(self, visit: Visit) -> None: ...

    def visit_finished(self, outcome: Outcome, path: Path) -> None: ...


def worker_command(visit: Visit, settings: RunSettings, output: Path) -> list[str]:
    """The pyperf command line that times one visit into `output`."""
    profile = settings.options.profile
    command = [
        settings.timing_python(visit.scenario.interpreter).executable, "-m", "mpbench._worker",
        "--worker",
        "--scenario", visit.scenario.to_json(), "--round", str(visit.round),
        "--hook", "mpbench", "--loops", "1", "--warmups", str(profile.warmups),
        "--values", str(profile.values), "--quiet", "--output", str(output),
    ]
    if visit.baseline is not None:
        command.extend(("--baseline", visit.baseline.to_json()))
    if settings.cpu_order:  # k workers on the first k CPUs; more workers share them all
        cpus = settings.cpu_order[:visit.scenario.workers]
        command.extend(("--affinity", format_cpu_list(cpus)))
    return command


def run_visit(visit: Visit, settings: RunSettings) -> Outcome:
    """Time one visit in a subprocess; never raises for a failing scenario."""
    environ = {**settings.timing_python(visit.scenario.interpreter).environ,
               **_dask_cluster(visit.scenario, settings.options)}
    timed = time_in_subprocess(lambda output: worker_command(visit, settings, output), environ,
                               settings.options.timeout)
    if timed.benchmark is not None:
        return Outcome(visit, timed.benchmark, None, timed.wall_seconds, timed.warnings)
    failure = Failure(visit.scenario, timed.reason, round(timed.wall_seconds, 3))
    return Outcome(visit, None, failure, timed.wall_seconds)


@dataclass(frozen=True)
class TimedProcess:
    """What one pyperf timing process left: its benchmark, or why there is none."""

    benchmark: pyperf.Benchmark | None
    reason: str  # "" when there is a benchmark
    wall_seconds: float
    warnings: tuple[str, ...] = ()


def time_in_subprocess(command_for: Callable[[Path], list[str]], environ: Mapping[str, str],
                       timeout: float) -> TimedProcess:
    """Run the pyperf command `command_for(output)` in a session of its own (see `sessions`),
    stop it after `timeout` seconds, and read what it wrote to `output`; never raises for a
    failing process."""
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="mpbench-") as scratch:
        output = Path(scratch) / "benchmark.json"
        log_path = Path(scratch) / "log.txt"
        with log_path.open("w+b") as log:
            with session(command_for(output), log, subprocess.STDOUT, environ,
                         Path(scratch)) as running:
                # A timer, not wait(timeout=...): Popen polls with sleeps of up to 50 ms.
                timed_out = threading.Event()
                deadline = threading.Timer(timeout, _expire, (running, timed_out))
                try:
                    deadline.start()
                    returncode = running.process.wait()
                finally:
                    deadline.cancel()
            log_text = bounded_text(log)
        wall = time.monotonic() - started
        if timed_out.is_set():
            return TimedProcess(None, f"timed out after {timeout:g} s", wall)
        if returncode != 0 or not output.exists():
            return TimedProcess(None, failure_reason(log_text, returncode), wall)
        benchmark = pyperf.Benchmark.load(str(output))
        warned = warnings(log_text)
        benchmark.update_metadata({"visit_wall_s": round(wall, 3),
                                   **({"warning": " / ".join(warned)} if warned else {})})
        return TimedProcess(benchmark, "", wall, warned)


def _dask_cluster(scenario: Scenario, options: StoredOptions) -> dict[str, str]:
    """Where a dask scenario on an existing cluster finds it (see executors.DASK_CLUSTER)."""
    address = options.matrix.dask_scheduler
    if scenario.start_method != DASK_CLUSTER or address is None:
        return {}
    return {DASK_SCHEDULER_VARIABLE: address}


def _expire(running: Session, timed_out: threading.Event) -> None:
    """The timeout: stop the visit, unless it ended while the timer fired."""
    if running.process.poll() is None:
        timed_out.set()
        running.stop()


def bounded_text(log: IO[bytes], limit: int = LOG_LIMIT) -> str:
    """The start and the end of a visit's output, at most `limit` bytes of each: a kernel that
    prints gigabytes must not fill the orchestrator's memory, and the reason is at an end."""
    size = log.seek(0, os.SEEK_END)
    log.seek(0)
    if size <= 2 * limit:
        return log.read().decode(errors="replace")
    head = log.read(limit)
    log.seek(size - limit)
    tail = log.read(limit)
    return (f"{head.decode(errors='replace')}\n… {size - 2 * limit} bytes of output left out "
            f"…\n{tail.decode(errors='replace')}")


def failure_reason(log: str, returncode: int) -> str:
    """The most useful single line of a failed visit's output."""
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


def warnings(log: str) -> tuple[str, ...]:
    """The warnings a visit's timing process left in its output, one line each."""
    found = (line.removeprefix(WARNING_MARKER).strip()[:REASON_LIMIT]
             for line in log.splitlines() if line.startswith(WARNING_MARKER))
    return tuple(warning for warning in found if warning)  # pyperf refuses empty metadata


def _looks_like_exception(line: str) -> bool:
    name, sep, _ = line.partition(":")
    return bool(sep) and name.replace(".", "").isidentifier() and name.endswith(
        ("Error", "Exception", "Exit", "Interrupt", "Warning"))


def speedup_half_width(bench: pyperf.Benchmark) -> float:
    """How precise the paired speedup of a scenario's visits so far is (see estimates)."""
    baseline: list[float] = []
    values: list[float] = []
    visits: list[int] = []
    metadata = bench.get_metadata()
    factor = work(metadata.get("scaling"), int(metadata.get("workers", 1)))  # weak: T1·w/Tw
    for index, run in enumerate(bench.get_runs()):
        paired = paired_baseline(run.get_metadata(), run.values)
        if paired is None:
            continue
        baseline.extend(value * factor for value in paired)
        values.extend(run.values)
        visits.extend([index] * len(run.values))
    speedup = estimates.paired_speedup(np.array(baseline), np.array(values), np.array(visits),
                                       bench.get_name())
    return estimates.half_width(*speedup)


def precision_misses(results: Results, target: float | None) -> dict[str, float]:
    """Parallel scenarios whose speedup interval is wider than ±target: id → its half-width."""
    if target is None:
        return {}
    widths = {bench.get_name(): speedup_half_width(bench) for bench in results.benchmarks
              if bench.get_metadata().get("executor") != SERIAL}
    return {sid: width for sid, width in widths.items() if width > target}


def machine_state(index: int, visits: int, usable_cpus: int, probe: bool) -> RoundRecord:
    """The round's record: now, and what the probe measured (None where it could not, or was
    not run)."""
    started = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    state: dict[str, object] = {}
    if probe:
        command = [sys.executable, "-m", "mpbench._probe", str(usable_cpus),
                   str(PROBE_WINDOW_SECONDS)]
        # A session of its own, like a visit: on a timeout or an interrupt the probe's pool
        # goes with it.
        with session(command, subprocess.PIPE, subprocess.DEVNULL) as running:
            try:
                out, _ = running.process.communicate(timeout=PROBE_TIMEOUT_SECONDS)
                state = json.loads(out) if running.process.returncode == 0 else {}
            except (subprocess.TimeoutExpired, ValueError):
                state = {}  # recorded as not measured; the round goes on
    return RoundRecord(index=index, started=started, visits=visits,
                       single_core_ms=_rounded(state.get("single_core_ms")),
                       effective_cores=_rounded(state.get("effective_cores")))


def _rounded(value: object) -> float | None:
    return round(value, 4) if isinstance(value, int | float) and value > 0 else None


class Budget:
    """When the rounds for precision stop: a visit is planned only if it should end in time.

    The time is `seconds` from the start of the run when given (`--max-time`); otherwise the
    rounds for precision may take as long again as the first rounds took, and the run no longer
    than the profile's `cap`: a small selection stays quick, a large one stays bounded.
    """

    def __init__(self, seconds: float | None, cap: float) -> None:
        self.seconds, self.cap = seconds, cap
        self.started = time.monotonic()
        self.limit = seconds if seconds is not None else cap

    def first_rounds_done(self) -> None:
        if self.seconds is None:
            self.limit = min(self.cap, 2 * (time.monotonic() - self.started))

    def fitting(self, scenarios: list[Scenario], expected: Callable[[str], float]
                ) -> list[Scenario]:
        """The scenarios, in order, whose visits (each taking about `expected(id)`) should all
        end in time."""
        elapsed = time.monotonic() - self.started
        kept = []
        for scenario in scenarios:
            seconds = expected(scenario.id)
            if elapsed + seconds <= self.limit:
                kept.append(scenario)
                elapsed += seconds
        return kept


def run_rounds(results: Results, settings: RunSettings, path: Path, observer: Observer
               ) -> Results:
    """Visit `results.plan` round by round until every scenario has its rounds and meets the
    precision target, or the budget is spent; save after each visit.

    Continues where `results` left off (so it also resumes). Returns `results` with `path` set
    to the file actually written (it may gain a suffix if the name was taken). On
    KeyboardInterrupt, everything finished is already saved.
    """
    options = settings.options
    machine_metadata = results.machine.to_metadata()
    pairs_with = baselines(results.plan)
    budget = Budget(options.max_seconds, options.profile.max_seconds)
    last_probe = -math.inf
    precision_started = False
    while True:
        failed = {failure.scenario.id for failure in results.failures}
        misses = list(precision_misses(results, options.precision))
        todo, first_rounds = next_round(results.plan, results.visit_counts(), failed,
                                        options.profile.rounds, misses)
        if not first_rounds and not precision_started:
            budget.first_rounds_done()
            precision_started = True
        index = len(results.rounds)
        order = shuffled(todo, options.seed, index)
        if not first_rounds:
            order = budget.fitting(order, results.visit_seconds)
        if not order:
            break
        # Rounds for precision can be a few seconds long: probe at most every PROBE_INTERVAL.
        probe = first_rounds or time.monotonic() - last_probe >= PROBE_INTERVAL_SECONDS
        last_probe = time.monotonic() if probe else last_probe
        record = machine_state(index, len(order), results.machine.usable_cpus,
                               settings.probe_machine and probe)
        results.rounds.append(record)
        observer.round_started(record, precision=not first_rounds)
        for scenario in order:
            baseline = None if scenario.executor == SERIAL else \
                pairs_with.get((scenario.kernel, scenario.interpreter))
            visit = Visit(scenario, baseline, index)
            observer.visit_started(visit)
            outcome = run_visit(visit, settings)
            if outcome.benchmark is not None:
                outcome.benchmark.update_metadata(machine_metadata)
                results.add_visit(outcome.benchmark)
            if outcome.failure is not None:
                results.fail(outcome.failure)
            results.path = save(results, results.path or path, replace=results.path is not None)
            observer.visit_finished(outcome, results.path)
    return results
