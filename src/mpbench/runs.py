"""Measuring from Python: `mpbench.run(RunOptions(...)) -> Results`, and resuming a run.

The CLI is a thin layer over these: it builds the options from the command line, shows progress
through an `Observer`, and prints the results.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from mpbench.environments import ensure
from mpbench.errors import UsageError
from mpbench.executors import EXECUTORS, Dask, dask_unavailable
from mpbench.interpreters import Interpreter, inspect, parse_pythons, running
from mpbench.kernels import default_benchmarks_dir, discover
from mpbench.machine import allowed_cpus
from mpbench.machine import collect as collect_machine
from mpbench.matrix import (
    MatrixOptions,
    available_start_methods,
    expand,
    parse_cpus,
    parse_names,
    parse_workers,
)
from mpbench.model import Machine, RoundRecord, Scaling, Scenario
from mpbench.options import RunOptions, StoredOptions
from mpbench.runner import Observer, Outcome, RunSettings, TimingPython, Visit, run_rounds
from mpbench.storage import Results, default_path
from mpbench.support import unsupported
from mpbench.topology import Placement, format_cpu_list, read_topology


def _quiet(message: str) -> None:
    pass


class Silent:
    """An observer that shows nothing: the default of `mpbench.run`."""

    def round_started(self, record: RoundRecord, precision: bool) -> None:
        pass

    def visit_started(self, visit: Visit) -> None:
        pass

    def visit_finished(self, outcome: Outcome, path: Path) -> None:
        pass


def interpreters(matrix: MatrixOptions) -> list[Interpreter]:
    """The interpreters the options name (inspected), else the one running mpbench; UsageError
    before anything is measured for one that is missing, not Python, or too old, and for
    `--gil` without a free-threaded build to apply it to."""
    chosen = parse_pythons(matrix.pythons) if matrix.pythons else [running()]
    if matrix.gil is not None and not any(item.free_threaded for item in chosen):
        raise UsageError(f"--gil {matrix.gil} applies to free-threaded builds, and "
                         f"{', '.join(item.tag for item in chosen)} is none; add one with "
                         "--python, e.g. --python ~/.local/bin/python3.14t")
    return chosen


def plan(options: RunOptions, usable_cpus: int,
         tags: Sequence[str] | None = None) -> list[Scenario]:
    """The scenarios `options` ask for on a machine with `usable_cpus` under the interpreters
    `tags` (default: those the options name), in a stable order; UsageError for a name or count
    that does not exist here (as the CLI says it)."""
    kernels = discover(options.benchmarks or default_benchmarks_dir())
    matrix = options.matrix
    for names, valid, what in ((matrix.kernels, kernels, "kernel"),
                               (matrix.executors, EXECUTORS, "executor"),
                               (matrix.start_methods, available_start_methods(), "start method")):
        if names is not None:
            parse_names(",".join(names), valid, what)
    if matrix.workers is not None:
        parse_workers(",".join(map(str, matrix.workers)), usable_cpus)
    if matrix.scalings is not None:
        parse_names(",".join(matrix.scalings), [mode.value for mode in Scaling], "scaling")
    parse_names(matrix.placement, [policy.value for policy in Placement], "placement")
    if matrix.cpus is not None:
        parse_cpus(format_cpu_list(matrix.cpus), allowed_cpus())
    if tags is None:
        tags = [interpreter.tag for interpreter in interpreters(matrix)]
    return expand(kernels, matrix, usable_cpus, tags, _cluster_workers(matrix))


def _cluster_workers(matrix: MatrixOptions) -> int | None:
    """The worker count of the Dask cluster `--dask-scheduler` names; None without one."""
    if matrix.dask_scheduler is None:
        return None
    if Dask.name not in (matrix.executors or ()):
        raise UsageError("--dask-scheduler runs the dask executor there: add --executors dask")
    missing = dask_unavailable()
    if missing is not None:
        raise UsageError(f"--dask-scheduler: {missing}")
    from mpbench.dask_executor import cluster_workers

    try:
        workers = cluster_workers(matrix.dask_scheduler)
    except (OSError, TimeoutError, ValueError) as exc:
        raise UsageError(f"--dask-scheduler: cannot reach a Dask scheduler at "
                         f"{matrix.dask_scheduler}: {exc}") from None
    if workers == 0:
        raise UsageError(f"--dask-scheduler: the cluster at {matrix.dask_scheduler} has no "
                         "workers")
    return workers


def prepare(options: RunOptions, machine: Machine | None = None,
            say: Callable[[str], None] = _quiet) -> tuple[Results, Path]:
    """A new run's empty results and the file they will go to; raises UsageError before anything
    is measured if the options or the destination cannot be used. Makes each interpreter's
    environment on first use (`say` tells why that takes a while) and asks it which scenarios
    it cannot run: those are the results' `unsupported`, not its plan."""
    machine = machine or collect_machine(options.machine_name)
    cpu_order(options.matrix)  # every CPU of --cpus online, before anything is made
    chosen = interpreters(options.matrix)
    scenarios = plan(options, machine.usable_cpus, [item.tag for item in chosen])
    if options.output is not None and options.output.exists():
        raise UsageError(f"--output {options.output} already exists; results files are never "
                         "overwritten, so choose a new name (or --resume it)")
    destination = options.output or default_path(machine)
    _check_writable(destination.parent)
    seed = options.seed if options.seed is not None else secrets.randbelow(2**31)
    stored = StoredOptions(matrix=options.matrix, timeout=options.timeout, seed=seed,
                           precision=options.target, max_seconds=options.max_seconds)
    marked = [item for interpreter in chosen for item in
              unsupported(scenarios, interpreter, ensure(interpreter, say))]
    skipped = {item.scenario.id for item in marked}
    if skipped == {scenario.id for scenario in scenarios}:
        raise UsageError(f"nothing to measure: every scenario is unsupported (the first on "
                         f"{marked[0].scenario.interpreter}: {marked[0].reason})")
    results = Results(machine=machine, options=stored, interpreters=chosen, unsupported=marked,
                      plan=[scenario for scenario in scenarios if scenario.id not in skipped])
    return results, destination


def prepare_resume(results: Results, given: Mapping[str, Any], settings: Mapping[str, Any],
                   machine: Machine | None = None) -> None:
    """Check that an interrupted run's `results` may be resumed here with the matrix options
    `given` (field → value, only those typed), and apply `settings`, which may change the
    timeout, precision target and budget (StoredOptions field → value)."""
    from mpbench.resume import check_resumable

    check_resumable(results, given, machine or collect_machine(None))
    for stored in results.interpreters:
        found = dataclasses.replace(inspect(stored.path), path=stored.path)
        if found != stored:
            raise UsageError(f"{stored.path} is now {found.implementation} {found.version} "
                             f"({found.tag}), and the run measured {stored.implementation} "
                             f"{stored.version} ({stored.tag}); start a new run")
    results.options = dataclasses.replace(results.options, **settings)


def measure(results: Results, destination: Path, observer: Observer | None = None,
            pythons: Mapping[str, TimingPython] | None = None) -> Results:
    """Visit the scenarios of `results` until done (see runner.run_rounds), starting each
    interpreter's timing processes as `pythons` says (default: `timing_pythons`)."""
    if pythons is None:
        pythons = timing_pythons(results, _quiet)
    settings = RunSettings(results.options, pythons=pythons,
                           cpu_order=cpu_order(results.options.matrix))
    return run_rounds(results, settings, destination, observer or Silent())


def cpu_order(matrix: MatrixOptions) -> tuple[int, ...]:
    """A pinned run's CPUs in the order its placement fills them (k workers take the first
    k); () when the run is not pinned."""
    if not matrix.cpus:
        return ()
    try:
        return read_topology().ordered(matrix.cpus, Placement(matrix.placement))
    except ValueError as exc:  # a CPU gone offline since the run was planned
        raise UsageError(f"--cpus: {exc}") from None


def timing_pythons(results: Results, say: Callable[[str], None]) -> dict[str, TimingPython]:
    """Each interpreter's executable in its environment, with PYTHON_GIL for `--gil` on the
    free-threaded builds (pyperf forwards it; it does not forward `-X gil`)."""
    gil = results.options.matrix.gil
    pythons = {}
    for interpreter in results.interpreters:
        environment = ensure(interpreter, say)
        forced = {"PYTHON_GIL": str(gil)} if gil is not None and interpreter.free_threaded \
            else {}
        pythons[interpreter.tag] = TimingPython(environment.python,
                                                {**environment.environ, **forced})
    return pythons


def run(options: RunOptions | None = None, observer: Observer | None = None) -> Results:
    """Measure what `options` ask for and save the results file; return its results.

    `mpbench.run(RunOptions(MatrixOptions(kernels=("py_square",), profile="smoke")))`
    """
    results, destination = prepare(options or RunOptions())
    return measure(results, destination, observer)


def _check_writable(folder: Path) -> None:
    """Fail before measuring anything, not after the first visit, if results cannot be saved."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create {folder} for the results ({exc.strerror or exc}); "
                         "pass --output to save them elsewhere") from None
    if not os.access(folder, os.W_OK):
        raise UsageError(f"cannot write results into {folder}; pass --output to save them "
                         "elsewhere")

