"""Terminal output with rich: run progress, machine facts, summary tables, failures."""

from __future__ import annotations

import statistics
from pathlib import Path
from types import TracebackType

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

from mpbench.model import Machine, Scenario
from mpbench.runner import Outcome
from mpbench.storage import Results
from mpbench.tables import Table, format_seconds, visible


def printable(text: str) -> str:
    """`text` safe for a terminal and for rich markup: control characters written out, square
    brackets escaped."""
    return escape(visible(text))


class ProgressView:
    """A progress bar with the current scenario, done/total and time left; one line per result."""

    def __init__(self, console: Console, total: int) -> None:
        self.console = console
        self.progress = Progress(
            SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
            MofNCompleteColumn(), TimeElapsedColumn(), TextColumn("left"), TimeRemainingColumn(),
            console=console, transient=True,
        )
        self.task = self.progress.add_task("starting", total=total)

    def __enter__(self) -> ProgressView:
        self.progress.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.progress.stop()

    def scenario_started(self, index: int, scenario: Scenario) -> None:
        self.progress.update(self.task, description=printable(scenario.id))

    def scenario_finished(self, index: int, outcome: Outcome, path: Path) -> None:
        self.progress.advance(self.task)
        scenario_id = printable(outcome.scenario.id)
        took = f"[dim]{outcome.wall_seconds:.1f} s[/dim]"
        if outcome.benchmark is not None:
            median = format_seconds(outcome.benchmark.median())
            self.console.print(f"[green]✓[/green] {scenario_id:<36} median {median:>9}   {took}",
                               soft_wrap=True)
        elif outcome.failure is not None:
            reason = printable(outcome.failure.reason)
            self.console.print(f"[red]✗ {scenario_id}[/red]: {reason}  {took}", soft_wrap=True)


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


def scenario_overheads(results: Results) -> list[float]:
    """Seconds each scenario took beyond pyperf's own timed loops (warmups included)."""
    overheads = []
    for bench in results.benchmarks:
        wall = bench.get_metadata().get("scenario_wall_s")
        if isinstance(wall, int | float):
            overheads.append(float(wall) - float(bench.get_total_duration()))
    return overheads


def print_results(console: Console, results: Results, summary: pd.DataFrame | None) -> None:
    """A results file's machine, speedup table (from `summary`, None when nothing was measured),
    wrong results, failures and unfinished scenarios."""
    from mpbench.analysis import gil_verdicts, scaling_fits
    from mpbench.tables import fits_table, speedup_table

    console.print(f"[bold]{printable(str(results.path))}[/bold]")
    print_machine(console, results.machine)
    if summary is not None:
        render_table(console, speedup_table(summary))
        render_table(console, fits_table(scaling_fits(summary), summary))
        for verdict in gil_verdicts(summary).itertuples():
            console.print(f"[bold]{printable(str(verdict.kernel))}[/bold]: "
                          f"{printable(str(verdict.verdict))}")
        for wrong in summary[summary["wrong_result"]].itertuples():
            console.print(f"[red]wrong result[/red] {printable(str(wrong.scenario))}: computed "
                          f"{printable(str(wrong.result))}, unlike the serial run")
    else:
        console.print("no scenario was measured")
    for failure in results.failures:
        console.print(f"[red]failed[/red] {printable(failure.scenario.id)}: "
                      f"{printable(failure.reason)}")
    overheads = scenario_overheads(results)
    if overheads:
        console.print(f"[dim]harness overhead per scenario (processes, imports, executor "
                      f"start-up; not measured time): median {statistics.median(overheads):.2f} s, "
                      f"at most {max(overheads):.2f} s[/dim]")
    missing = results.missing()
    if missing:
        console.print(f"[yellow]{len(missing)} planned scenarios have not run yet; "
                      f"`mpbench run --resume {printable(str(results.path))}` runs them[/yellow]")
