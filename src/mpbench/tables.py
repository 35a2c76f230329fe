"""One table model, rendered by the terminal, Markdown and HTML views alike.

Tables hold strings only: every number is formatted here, once, so all views agree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd


@dataclass(frozen=True)
class Table:
    title: str
    columns: list[str]
    rows: list[list[str]]
    notes: list[str] = field(default_factory=list)


def format_seconds(seconds: float) -> str:
    """Three significant digits in the unit that suits: `812 µs`, `95.1 ms`, `1.25 s`."""
    if seconds is None or not math.isfinite(seconds):
        return "n/a"
    seconds = float(f"{seconds:.3g}")  # round first, so 999.95 µs becomes 1.00 ms
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6), ("ns", 1e-9)):
        if abs(seconds) >= scale or unit == "ns":
            return f"{seconds / scale:#.3g} {unit}".replace(". ", " ")
    raise AssertionError("unreachable")


def format_ratio(ratio: float) -> str:
    return "n/a" if ratio is None or not math.isfinite(ratio) else f"{ratio:.2f}×"


def executor_label(executor: str, start_method: object) -> str:
    return f"{executor} ({start_method})" if isinstance(start_method, str) else executor


def speedup_table(summary: pd.DataFrame, title: str = "Median time and speedup over serial"
                  ) -> Table:
    """Rows: kernel × executor; columns: worker counts; cells: `median  speedup`."""
    worker_counts = sorted(summary["workers"].unique())
    rows = []
    for (kernel, executor, start_method), group in summary.groupby(
            ["kernel", "executor", "start_method"], dropna=False, sort=False):
        by_workers = group.set_index("workers")
        cells = []
        for workers in worker_counts:
            if workers in by_workers.index:
                cell = by_workers.loc[workers]
                cells.append(f"{format_seconds(cell['median'])}  {format_ratio(cell['speedup'])}")
            else:
                cells.append("")
        rows.append([str(kernel), executor_label(str(executor), start_method), *cells])
    notes = ["speedup = serial median / median, from the same results file"]
    if summary["speedup"].isna().any():
        notes.append("n/a: the file has no serial run of that kernel to compare with")
    return Table(title, ["kernel", "executor", *(f"{w} worker{'s' if w > 1 else ''}"
                                               for w in worker_counts)], rows, notes)
