"""Running a costs plan: rounds of probes in a shuffled order, each probe one pyperf timing
process in a session of its own (as `run` visits scenarios), the file saved after each."""

from __future__ import annotations

import secrets
import statistics
import sys
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Protocol

from mpbench.costs.figures import precision_probes, summarize
from mpbench.costs.probes import (
    EXECUTORS,
    PROFILES,
    CostProbe,
    Measure,
    plan,
)
from mpbench.costs.spin import spin
from mpbench.costs.store import CostFailure, CostOptions, CostResults, default_path, save
from mpbench.errors import UsageError
from mpbench.interpreters import running
from mpbench.model import Machine, RoundRecord
from mpbench.runner import machine_state, time_in_subprocess
from mpbench.schedule import shuffled

DEFAULT_TIMEOUT = 120.0  # seconds per probe: the slowest, 64 MiB round trips, take a few
CALIBRATION_TURNS = 200_000


@dataclass(frozen=True)
class CostsRequest:
    """What `mpbench costs` is asked to measure; None: the default."""

    profile: str = "default"
    executors: tuple[str, ...] | None = None
    start_methods: tuple[str, ...] | None = None
    payload_bytes: tuple[int, ...] | None = None
    timeout: float = DEFAULT_TIMEOUT
    seed: int | None = None
    output: Path | None = None


class CostsObserver(Protocol):
    """Told about progress; the CLI draws it."""

    def round_started(self, record: RoundRecord, precision: bool) -> None: ...

    def probe_started(self, probe: CostProbe) -> None: ...

    def probe_finished(self, probe: CostProbe, failure: str | None, path: Path) -> None: ...


def spin_per_second() -> float:
    """Turns of the spin kernel per second in this process now: where the sweep's task
    lengths are aimed (each point's real length is measured with it)."""
    times = []
    for _ in range(5):
        started = time.perf_counter()
        spin(0, CALIBRATION_TURNS)
        times.append(time.perf_counter() - started)
    return CALIBRATION_TURNS / statistics.median(times)


def prepare(request: CostsRequest, machine: Machine, start_methods: tuple[str, ...]
            ) -> tuple[CostResults, Path]:
    """The plan and the file it goes to, before anything is measured."""
    if request.profile not in PROFILES:
        raise UsageError(f"unknown costs profile {request.profile!r}; choose from: "
                         f"{', '.join(PROFILES)}")
    profile = PROFILES[request.profile]
    options = CostOptions(
        profile=profile.name, executors=request.executors or tuple(EXECUTORS),
        start_methods=request.start_methods or start_methods,
        payload_bytes=request.payload_bytes or profile.payload_bytes,
        timeout=request.timeout, seed=secrets.randbelow(2**63) if request.seed is None
        else request.seed, spin_per_second=round(spin_per_second(), 1))
    probes = plan(profile, machine.usable_cpus, options.executors, options.start_methods,
                  options.payload_bytes, options.spin_per_second)
    results = CostResults(machine=machine, interpreter=running(), options=options, plan=probes)
    return results, request.output or default_path(machine)


def worker_command(probe: CostProbe, round_index: int, options: CostOptions, output: Path
                   ) -> list[str]:
    profile = options.cost_profile
    # A sweep's pool has run its map once already, to check the result: no warmup needed.
    measure = Measure(probe.measure)
    warmups, values = (
        (0, profile.loaded_values) if measure == Measure.LOADED else
        (0, profile.sweep_values) if measure == Measure.SWEEP else
        (profile.warmups, profile.values))
    return [sys.executable, "-m", "mpbench.costs._worker", "--worker",
            "--probe", probe.to_json(), "--round", str(round_index), "--hook", "mpbench",
            "--loops", "1", "--warmups", str(warmups), "--values", str(values),
            "--quiet", "--output", str(output)]


def measure(results: CostResults, destination: Path, observer: CostsObserver,
            probe_machine: bool = True) -> CostResults:
    """Every round of the plan, then rounds for precision at each break-even not yet settled
    (see figures.precision_probes), while the profile's time lasts; the file is saved after
    each probe, so on KeyboardInterrupt everything finished is kept."""
    options = results.options
    profile = options.cost_profile
    ends = time.monotonic() + profile.max_seconds
    while True:
        index = len(results.rounds)
        failed = {failure.probe.id for failure in results.failures}
        first_rounds = index < profile.rounds
        if first_rounds:
            todo = [probe for probe in results.plan if probe.id not in failed
                    and results.visits(probe.id) <= index]
        else:
            todo, ending = [], time.monotonic()
            for probe in precision_probes(summarize(results)):
                expected = _expected_seconds(results, probe)
                if probe.id not in failed and ending + expected < ends:
                    todo.append(probe)
                    ending += expected
            planned = {probe.id for probe in results.plan}
            results.plan += [probe for probe in todo if probe.id not in planned]
        if not todo:
            return results
        order = shuffled(todo, options.seed, index)
        record = machine_state(index, len(order), results.machine.usable_cpus,
                               probe_machine and first_rounds)
        results.rounds.append(record)
        observer.round_started(record, precision=not first_rounds)
        for probe in order:
            _visit(results, probe, index, destination, observer)


def _expected_seconds(results: CostResults, probe: CostProbe) -> float:
    """How long a visit of `probe` should take: its last visit's, or for a new sweep point,
    a sweep visit's with its maps scaled to its work."""
    if results.visits(probe.id):
        return results.visit_seconds(probe.id)
    swept = [other for other in results.plan if other.measure == probe.measure
             and other.pattern == probe.pattern and results.visits(other.id)]
    work = probe.operations * probe.task_seconds
    like = min(swept, key=lambda other: abs(other.operations * other.task_seconds - work))
    return results.visit_seconds(like.id) * max(1.0, work / (like.operations * like.task_seconds))


def _visit(results: CostResults, probe: CostProbe, round_index: int, destination: Path,
           observer: CostsObserver) -> None:
    """Time one probe in a process of its own and save the file."""
    observer.probe_started(probe)
    timed = time_in_subprocess(partial(worker_command, probe, round_index, results.options), {},
                               results.options.timeout)
    if timed.benchmark is not None:
        timed.benchmark.update_metadata(results.machine.to_metadata())
        results.add_visit(timed.benchmark)
    else:
        results.fail(CostFailure(probe, timed.reason))
    results.path = save(results, results.path or destination, replace=results.path is not None)
    observer.probe_finished(probe, timed.reason or None, results.path)
