"""Terminal output with rich: run progress, machine facts, summary tables, failures."""

from __future__ import annotations

import json
import statistics
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

import pandas as pd
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table as RichTable

from mpbench.fleet import Host, HostResult
from mpbench.model import Machine, RoundRecord, paired_baseline
from mpbench.runner import Outcome, Visit
from mpbench.storage import Results
from mpbench.tables import (
    Table,
    describe_interpreters,
    machine_states,
    several_interpreters,
    unsupported_lines,
    visible,
)


def printable(text: str) -> str:
    """`text` safe for a terminal and for rich markup: control characters written out, square
    brackets escaped."""
    return escape(visible(text))


class LiveView:
    """A rich `Progress` drawn while the view is entered, over lines printed above it."""

    progress: Progress

    def __enter__(self) -> Self:
        self.progress.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.progress.stop()


class ProgressView(LiveView):
    """A progress bar over the visits, with the current one and time left; a line per round
    with the machine's state, and one per failure."""

    def __init__(self, console: Console, results: Results) -> None:
        self.console = console
        self.progress = Progress(
            SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
            MofNCompleteColumn(), TimeElapsedColumn(), TextColumn("left"), TimeRemainingColumn(),
            console=console, transient=True,
        )
        rounds = results.options.profile.rounds
        counts = results.visit_counts()
        planned = sum(max(0, rounds - counts.get(scenario.id, 0)) for scenario in results.missing())
        self.task = self.progress.add_task("starting", total=planned)
        self.usable_cpus = results.machine.usable_cpus

    def round_started(self, record: RoundRecord, precision: bool) -> None:
        if precision:
            task = self.progress.tasks[0]
            self.progress.update(self.task, total=(task.total or 0) + record.visits)
        kind = "for precision, " if precision else ""
        self.console.print(f"[bold]round {record.index + 1}[/bold] ({kind}{record.visits} "
                           f"visits): {describe_state(record, self.usable_cpus)}",
                           soft_wrap=True)

    def visit_started(self, visit: Visit) -> None:
        self.progress.update(self.task, description=printable(visit.scenario.id))

    def visit_finished(self, outcome: Outcome, path: Path) -> None:
        self.progress.advance(self.task)
        for warning in outcome.warnings:
            self.console.print(f"[yellow]⚠ {printable(outcome.visit.scenario.id)}[/yellow]: "
                               f"{printable(warning)}", soft_wrap=True)
        if outcome.failure is not None:
            scenario_id = printable(outcome.visit.scenario.id)
            reason = printable(outcome.failure.reason)
            self.console.print(f"[red]✗ {scenario_id}[/red]: {reason}  "
                               f"[dim]{outcome.wall_seconds:.1f} s[/dim]", soft_wrap=True)


class FleetView(LiveView):
    """A line per host as it starts and ends, with a spinner for those still running."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.progress = Progress(SpinnerColumn(), TextColumn("{task.description}"),
                                 TimeElapsedColumn(), console=console, transient=True)
        self.tasks: dict[Host, object] = {}
        self.finished: list[HostResult] = []

    def host_started(self, host: Host) -> None:
        self.tasks[host] = self.progress.add_task(
            printable(f"{host.name}: running on {host.worker}"), total=None)

    def host_finished(self, result: HostResult) -> None:
        self.finished.append(result)
        task = self.tasks.pop(result.host, None)
        if task is not None:
            self.progress.remove_task(task)  # type: ignore[arg-type]
        name, seconds = printable(result.host.name), f"{result.seconds:.1f} s"
        if result.path is None:
            self.console.print(f"[red]✗ {name}[/red]: {printable(result.reason or '')}  "
                               f"[dim]{seconds}[/dim]", soft_wrap=True)
            return
        failed = " (some scenarios failed)" if result.code == 1 else ""
        self.console.print(f"[green]✓ {name}[/green]{failed}: {printable(str(result.path))}  "
                           f"[dim]{seconds}[/dim]", soft_wrap=True)


def fleet_manifest(results: Sequence[HostResult]) -> str:
    """The fleet run's record, as JSON: per host, its worker, file or reason, exit code and
    wall time."""
    return json.dumps([{"machine": result.host.name, "worker": result.host.worker,
                        "results": None if result.path is None else str(result.path.resolve()),
                        "reason": result.reason, "code": result.code,
                        "seconds": round(result.seconds, 3)} for result in results],
                      indent=2) + "\n"


def describe_state(record: RoundRecord, usable_cpus: int) -> str:
    """`single core 9.31 ms a chunk, 1.82 effective cores` (a chunk: 100,000 iterations of a
    pure-Python loop), or that the machine was not probed this round."""
    if record.single_core_ms is None or record.effective_cores is None:
        return "machine not probed this round (at most every 10 s, or the probe failed)"
    above = (" (more than the CPUs: the host's speed changed during the probe)"
             if record.effective_cores > 1.05 * usable_cpus else "")  # beyond timing noise
    return (f"single core {record.single_core_ms:.2f} ms a chunk, "
            f"{record.effective_cores:.2f} effective cores{above}")


def print_run_header(console: Console, results: Results) -> None:
    options = results.options
    profile = options.profile
    target = "no precision target" if options.precision is None else \
        f"precision target ±{options.precision:.0%}"
    budget = (f"at most {options.max_seconds:g} s in all" if options.max_seconds is not None
              else f"as long again as the first rounds, at most {profile.max_seconds:g} s in all")
    calls = (f"{profile.warmups} warmup + {profile.values} timed calls" if profile.warmups
             else f"{profile.values} timed calls")
    console.print(f"profile {profile.name}: {len(results.plan)} scenarios × {profile.rounds} "
                  f"rounds of {calls}; {target} ({budget}); timeout {options.timeout:g} s a "
                  f"visit; seed {options.seed}", soft_wrap=True)


def print_interpreters(console: Console, results: Results) -> None:
    """The interpreters the run timed, when they are not just the one that ran mpbench."""
    interpreters = results.interpreters
    machine = results.machine
    if len(interpreters) == 1 and interpreters[0].version == machine.python_version and \
            interpreters[0].free_threaded == ("free-threaded" in machine.python_build):
        return  # the one that ran mpbench, which the machine line describes
    console.print(f"interpreters: {printable(describe_interpreters(results, paths=True))}",
                  soft_wrap=True)


def print_unsupported(console: Console, results: Results) -> None:
    """Scenarios an interpreter cannot run, one line per interpreter, executor and reason."""
    for line in unsupported_lines(results):
        label, _, rest = line.partition(": ")
        console.print(f"[yellow]{printable(label)}[/yellow]: {printable(rest)}", soft_wrap=True)


def print_machine(console: Console, machine: Machine) -> None:
    gil = "GIL enabled" if machine.gil_enabled else "GIL disabled"
    physical = machine.physical_cpus if machine.physical_cpus is not None else "?"
    console.print(
        f"[bold]{printable(machine.name)}[/bold]: {printable(machine.cpu_model)}, "
        f"{machine.usable_cpus} usable CPUs ({printable(machine.usable_cpus_source)}; "
        f"{physical} physical), {printable(machine.python_implementation)} "
        f"{printable(machine.python_version)} {printable(machine.python_build)} build, {gil}, "
        f"BLAS: {printable(machine.blas)}"
    )


def render_table(console: Console, table: Table) -> None:
    rich_table = RichTable(title=printable(table.title), title_justify="left")
    for index, column in enumerate(table.columns):
        rich_table.add_column(printable(column),
                              justify="left" if index < table.text_columns else "right")
    for row in table.rows:
        rich_table.add_row(*map(printable, row))
    console.print(rich_table)
    for note in table.notes:
        console.print(f"[dim]{printable(note)}[/dim]")


def visit_overheads(results: Results) -> list[float]:
    """Seconds each visit took beyond the timed calls (and their paired baselines)."""
    overheads = []
    for bench in results.benchmarks:
        for run in bench.get_runs():
            metadata = run.get_metadata()
            wall = metadata.get("visit_wall_s")
            if isinstance(wall, int | float):
                timed = sum(run.values) + sum(value for _, value in run.warmups) + sum(
                    paired_baseline(metadata, run.values) or [])
                overheads.append(float(wall) - timed)
    return overheads


MISSES_SHOWN = 5


def print_precision(console: Console, summary: pd.DataFrame, target: float) -> None:
    """Whether the speedups met the precision target; the widest misses by name."""
    misses = summary[summary["speedup_half_width"] > target].sort_values(
        "speedup_half_width", ascending=False)
    if misses.empty:
        console.print(f"every speedup is within its ±{target:.0%} precision target")
        return
    shown = ", ".join(f"{printable(str(scenario))} (±{_percent(float(width))})" for scenario, width
                      in zip(misses["scenario"][:MISSES_SHOWN],
                             misses["speedup_half_width"][:MISSES_SHOWN], strict=True))
    more = (f"; {len(misses) - MISSES_SHOWN} more in `show --format csv`"
            if len(misses) > MISSES_SHOWN else "")
    console.print(f"[yellow]{len(misses)} of {len(summary)} scenarios missed the ±{target:.0%} "
                  f"precision target, the widest: {shown}{more}[/yellow]", soft_wrap=True)


def _percent(fraction: float) -> str:
    return "∞" if fraction == float("inf") else f"{fraction:.1%}"


def pinned_cpus(frame: pd.DataFrame) -> str:
    """`1 worker on CPU 0, 2 workers on CPUs 0-1`: the CPUs each worker count's timing
    processes were really allowed, as they recorded it ("" when they did not)."""
    recorded = frame.dropna(subset=["cpus"]).groupby("workers", sort=True)["cpus"].unique()
    described = []
    for workers, sets in recorded.items():
        names = sorted(str(cpus) for cpus in sets)
        one = len(names) == 1 and names[0].isdigit()
        described.append(f"{workers} worker{'' if workers == 1 else 's'} on "
                         f"{'CPU' if one else 'CPUs'} {' or '.join(names)}")
    return ", ".join(described)


def print_results(console: Console, results: Results,
                  analysed: tuple[pd.DataFrame, pd.DataFrame] | None) -> None:
    """A results file's machine, speedup table (from `analysed`, the frame and its summary;
    None when nothing was measured), the GIL three ways, wrong results, failures, unsupported
    and unfinished scenarios."""
    from mpbench import gil
    from mpbench.analysis import gil_verdicts, scaling_fits
    from mpbench.tables import fits_table, gil_table, serial_cost_sentences, speedup_table

    console.print(f"[bold]{printable(str(results.path))}[/bold]")
    print_machine(console, results.machine)
    print_interpreters(console, results)
    if results.rounds:
        console.print(f"machine during the run: {machine_states(results.rounds)}",
                      soft_wrap=True)
    summary = None if analysed is None else analysed[1]
    if analysed is not None and summary is not None:
        frame = analysed[0]
        several = several_interpreters(summary)
        render_table(console, speedup_table(summary))
        pinned = pinned_cpus(frame)
        if results.options.matrix.cpus and pinned:
            console.print(f"pinned ({results.options.matrix.placement}): {pinned}",
                          soft_wrap=True)
        render_table(console, fits_table(scaling_fits(summary), summary))
        for verdict in gil_verdicts(summary).itertuples():
            under = f" on {verdict.interpreter}" if several else ""
            console.print(f"[bold]{printable(str(verdict.kernel))}[/bold]{printable(under)}: "
                          f"{printable(str(verdict.verdict))}")
        answers = gil.answers(frame, summary)
        table = gil_table(answers)
        if table is not None:
            render_table(console, table)
            for kernel, rows in answers.groupby("kernel", sort=False):
                console.print(f"[bold]{printable(str(kernel))}[/bold]: "
                              f"{printable(gil.verdict(rows))}")
        for sentence in serial_cost_sentences(gil.serial_costs(frame)):
            console.print(f"free-threaded serial cost, {printable(sentence)}")
        target = results.options.precision
        if target is not None:
            print_precision(console, summary, target)
        for wrong in summary[summary["wrong_result"]].itertuples():
            console.print(f"[red]wrong result[/red] {printable(str(wrong.scenario))}: computed "
                          f"{printable(str(wrong.result))}, unlike the serial run")
    else:
        console.print("no scenario was measured")
    for failure in results.failures:
        console.print(f"[red]failed[/red] {printable(failure.scenario.id)}: "
                      f"{printable(failure.reason)}")
    print_unsupported(console, results)
    overheads = visit_overheads(results)
    if overheads:
        console.print(f"[dim]harness overhead per visit (processes, imports, executor "
                      f"start-up, warmups; not measured time): median "
                      f"{statistics.median(overheads):.2f} s, at most {max(overheads):.2f} s[/dim]")
    missing = results.missing()
    if missing:
        console.print(f"[yellow]{len(missing)} planned scenarios have not run yet; "
                      f"`mpbench run --resume {printable(str(results.path))}` runs them[/yellow]")
