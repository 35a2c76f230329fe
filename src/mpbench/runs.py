"""Measuring from Python: `mpbench.run(RunOptions(...)) -> Results`, and resuming a run.

The CLI is a thin layer over these: it builds the options from the command line, shows progress
through an `Observer`, and prints the results.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mpbench.errors import UsageError
from mpbench.executors import EXECUTORS
from mpbench.kernels import default_benchmarks_dir, discover
from mpbench.machine import collect as collect_machine
from mpbench.matrix import available_start_methods, expand, parse_names, parse_workers
from mpbench.model import Machine, RoundRecord, Scenario
from mpbench.options import RunOptions, StoredOptions
from mpbench.runner import Observer, Outcome, RunSettings, Visit, run_rounds
from mpbench.storage import Results, default_path


class Silent:
    """An observer that shows nothing: the default of `mpbench.run`."""

    def round_started(self, record: RoundRecord, precision: bool) -> None:
        pass

    def visit_started(self, visit: Visit) -> None:
        pass

    def visit_finished(self, outcome: Outcome, path: Path) -> None:
        pass


def plan(options: RunOptions, usable_cpus: int) -> list[Scenario]:
    """The scenarios `options` ask for on a machine with `usable_cpus`, in a stable order;
    UsageError for a name or count that does not exist here (as the CLI says it)."""
    kernels = discover(options.benchmarks or default_benchmarks_dir())
    matrix = options.matrix
    for names, valid, what in ((matrix.kernels, kernels, "kernel"),
                               (matrix.executors, EXECUTORS, "executor"),
                               (matrix.start_methods, available_start_methods(), "start method")):
        if names is not None:
            parse_names(",".join(names), valid, what)
    if matrix.workers is not None:
        parse_workers(",".join(map(str, matrix.workers)), usable_cpus)
    return expand(kernels, matrix, usable_cpus)


def prepare(options: RunOptions, machine: Machine | None = None) -> tuple[Results, Path]:
    """A new run's empty results and the file they will go to; raises UsageError before anything
    is measured if the options or the destination cannot be used."""
    machine = machine or collect_machine(options.machine_name)
    scenarios = plan(options, machine.usable_cpus)
    if options.output is not None and options.output.exists():
        raise UsageError(f"--output {options.output} already exists; results files are never "
                         "overwritten, so choose a new name (or --resume it)")
    destination = options.output or default_path(machine)
    _check_writable(destination.parent)
    seed = options.seed if options.seed is not None else secrets.randbelow(2**31)
    stored = StoredOptions(matrix=options.matrix, timeout=options.timeout, seed=seed,
                           precision=options.target, max_seconds=options.max_seconds)
    return Results(machine=machine, options=stored, plan=scenarios), destination


def prepare_resume(results: Results, given: Mapping[str, Any], settings: Mapping[str, Any],
                   machine: Machine | None = None) -> None:
    """Check that an interrupted run's `results` may be resumed here with the matrix options
    `given` (field → value, only those typed), and apply `settings`, which may change the
    timeout, precision target and budget (StoredOptions field → value)."""
    from mpbench.resume import check_resumable

    check_resumable(results, given, machine or collect_machine(None))
    results.options = dataclasses.replace(results.options, **settings)


def measure(results: Results, destination: Path, observer: Observer | None = None) -> Results:
    """Visit the scenarios of `results` until done (see runner.run_rounds)."""
    return run_rounds(results, RunSettings(results.options), destination, observer or Silent())


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

