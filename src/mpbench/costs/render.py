"""A costs summary on the terminal, as JSON for scripts, and its progress while it runs."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from mpbench.costs.advice import PER, break_even_table, figures_tables, sentences
from mpbench.costs.figures import BreakEven, CostSummary
from mpbench.costs.model import best_chunk
from mpbench.costs.probes import MAX_TASKS, CostProbe, Measure, Pattern
from mpbench.costs.store import CostResults
from mpbench.model import RoundRecord
from mpbench.views import LiveView, describe_state, printable, render_table


def _number(value: float | None) -> float | None:
    """JSON has no infinity: None for what is not a finite number (a note says why)."""
    return value if value is not None and math.isfinite(value) else None


def _note(value: float | None, longest: float | None) -> str | None:
    if value is None:
        return "not swept"
    if value == math.inf:
        return "never" if longest is None else f"not reached by tasks of {longest:.2g} s"
    return "at or below the shortest tasks swept" if value == 0 else None


def to_records(summary: CostSummary) -> dict[str, Any]:
    results = summary.results
    longest = max((point.task_seconds for point in summary.sweep), default=None)
    return {
        "file": str(results.path), "machine": results.machine.name,
        "python": results.interpreter.version, "gil_enabled": summary.gil_enabled,
        "usable_cpus": results.machine.usable_cpus,
        "effective_cores": round(summary.effective_cores, 4),
        "effective_cores_source": summary.cores_source.value,
        "figures": [{
            "id": item.probe.id, "measure": item.probe.measure, "executor": item.probe.pattern,
            "start_method": item.probe.start_method, "workers": item.probe.workers,
            "payload_bytes": item.probe.payload_bytes or None,
            "payload_kind": item.probe.payload_kind or None,
            "value": _number(item.seconds), "low": _number(item.low),
            "high": _number(item.high), "unit": "s",
            "per": PER[Measure(item.probe.measure)],
            "rate": _number(item.per_second),
            "rate_unit": "B/s" if item.probe.measure == Measure.ROUND_TRIP.value else "1/s",
        } for item in summary.figures],
        "sweep": [{
            "id": point.probe.id, "executor": point.probe.pattern,
            "start_method": point.probe.start_method, "workers": point.probe.workers,
            "tasks": point.probe.operations, "task_s": point.task_seconds,
            "speedup": point.speedup, "low": _number(point.low), "high": _number(point.high),
        } for point in summary.sweep],
        "break_even": [{
            "executor": item.executor, "start_method": item.start_method,
            "tasks": MAX_TASKS,
            "break_even_s_predicted": _number(item.predicted_s),
            "predicted_note": _note(item.predicted_s, None),
            "break_even_s_measured": _number(item.measured_s) or None,
            "break_even_s_measured_low": _number(item.measured_low_s) or None,
            "break_even_s_measured_high": _number(item.measured_high_s),
            "measured_note": _note(item.measured_s, longest),
            "predicted_over_measured": item.ratio,
            "break_even_s_predicted_vs_gil_threads": _number(item.predicted_vs_threads_s),
            "model": {**dataclasses.asdict(item.costs), "chunk": item.chunk},
            **_best_chunk(item, summary.results.machine.usable_cpus),
        } for item in summary.break_evens],
        "advice": sentences(summary),
        "failures": [{"id": failure.probe.id, "reason": failure.reason}
                     for failure in results.failures],
    }


def _best_chunk(item: BreakEven, workers: int) -> dict[str, Any]:
    """The model's best chunk size for tasks ten times shorter than its break-even, where
    one-task hand-overs do not pay: for the executors that take a chunk size."""
    if item.executor != Pattern.POOL_MAP.value or not math.isfinite(item.predicted_s):
        return {}
    task_s = item.predicted_s / 10
    return {"best_chunk": {"task_s": task_s,
                           "chunk": best_chunk(item.costs, MAX_TASKS, task_s, workers)}}


def to_json(summary: CostSummary) -> str:
    return json.dumps(to_records(summary), indent=2, allow_nan=False) + "\n"


def print_summary(console: Console, summary: CostSummary) -> None:
    for table in figures_tables(summary):
        render_table(console, table)
    render_table(console, break_even_table(summary))
    for sentence in sentences(summary):
        console.print(f"• {printable(sentence)}", soft_wrap=True)
    for failure in summary.results.failures:
        console.print(f"[red]✗ {printable(failure.probe.id)}: {printable(failure.reason)}"
                      "[/red]")


class CostsView(LiveView):
    """A progress bar of probes, a line per round, and one per failure."""

    def __init__(self, console: Console, results: CostResults) -> None:
        self.console = console
        self.usable_cpus = results.machine.usable_cpus
        rounds = results.options.cost_profile.rounds
        total = len(results.plan) * rounds
        self.progress = Progress(TextColumn("{task.description}"), BarColumn(),
                                 MofNCompleteColumn(), TimeElapsedColumn(), console=console,
                                 transient=True)
        self.task = self.progress.add_task("costs", total=total)

    def round_started(self, record: RoundRecord, precision: bool) -> None:
        if precision:  # not planned at the start: the bar grows
            total = self.progress.tasks[0].total or 0
            self.progress.update(self.task, total=total + record.visits)
            self.console.print(f"round {record.index + 1}, for precision: {record.visits} "
                               "sweep points at a break-even", style="dim",
                               soft_wrap=True)
            return
        self.console.print(f"round {record.index + 1}: {record.visits} probes; "
                           f"{describe_state(record, self.usable_cpus)}", style="dim",
                           soft_wrap=True)

    def probe_started(self, probe: CostProbe) -> None:
        self.progress.update(self.task, description=printable(probe.id))

    def probe_finished(self, probe: CostProbe, failure: str | None, path: Path) -> None:
        self.progress.advance(self.task)
        if failure is not None:
            self.console.print(f"✗ {printable(probe.id)}: {printable(failure)}", style="red",
                               soft_wrap=True)
