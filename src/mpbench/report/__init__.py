"""Reports: the same content as self-contained HTML or as Markdown with image files beside it.

`build` turns results into a `Report` (tables of strings, verdict sentences and figures); the
renderers only lay it out, so both formats always say the same thing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from matplotlib.figure import Figure

from mpbench import __version__, gil
from mpbench.analysis import gil_verdicts, scaling_fits, summarize
from mpbench.errors import UsageError
from mpbench.frame import to_frame
from mpbench.machine import machine_name
from mpbench.plots import efficiency_figure, machines_figure, speedup_figure, startup_figure
from mpbench.storage import Results
from mpbench.tables import (
    Table,
    failures_table,
    file_labels,
    fits_table,
    gil_table,
    machines_table,
    serial_cost_sentences,
    several_interpreters,
    side_by_side_table,
    speedup_table,
    unsupported_lines,
)


@dataclass(frozen=True)
class Plot:
    name: str  # file-name stem, e.g. `speedup-vm`
    caption: str
    figure: Figure


@dataclass(frozen=True)
class MachineSection:
    """What one results file shows: its tables, its GIL verdicts and its plots."""

    label: str
    speedups: Table
    fits: Table
    verdicts: list[str]
    gil_ways: Table | None  # the three ways round the GIL, when the file has more than one
    unsupported: list[str]  # scenarios its interpreters cannot run, and why
    plots: list[Plot]


@dataclass(frozen=True)
class Report:
    title: str
    generated: str
    machines: Table
    sections: list[MachineSection]
    comparison: Table | None
    comparison_plot: Plot | None
    failures: Table
    unfinished: list[str]


def build(all_results: Sequence[Results], generated: str | None = None) -> Report:
    """The report of results files; `generated` overrides the time stamp (for snapshots)."""
    labels = file_labels(all_results)
    measured = [results for results in all_results if results.benchmarks]
    frame = to_frame(measured)
    summary = summarize(frame)
    fits = scaling_fits(summary)
    verdicts = gil_verdicts(summary)
    sections = []
    for results in measured:
        file = str(results.path)
        label = labels[file]
        mine = summary[summary["file"] == file]
        my_fits = fits[fits["file"] == file]
        slug = machine_name(label)  # a file-name-safe form of the label
        several = several_interpreters(mine)
        my_frame = frame[frame["file"] == file]
        answers = gil.answers(my_frame, mine)
        ways_table = gil_table(answers, f"{label}: the GIL, three ways round it")
        ways = [] if ways_table is None else [
            f"{kernel}: {gil.verdict(rows)}"
            for kernel, rows in answers.groupby("kernel", sort=False)]
        costs = [f"free-threaded serial cost, {sentence}"
                 for sentence in serial_cost_sentences(gil.serial_costs(my_frame))]
        sections.append(MachineSection(
            label=label,
            speedups=speedup_table(mine, f"{label}: median time and speedup over serial"),
            fits=fits_table(my_fits, mine, f"{label}: scaling fits"),
            verdicts=[f"{row.kernel}{f' on {row.interpreter}' if several else ''}: "
                      f"{row.verdict}"
                      for row in verdicts[verdicts["file"] == file].itertuples()]
            + ways + costs,
            gil_ways=ways_table,
            unsupported=unsupported_lines(results),
            plots=[
                Plot(f"speedup-{slug}", f"{label}: speedup against workers, with 95 % intervals "
                     "and fitted Amdahl curves",
                     speedup_figure(mine, my_fits, f"{label}: speedup")),
                Plot(f"efficiency-{slug}", f"{label}: parallel efficiency",
                     efficiency_figure(mine, f"{label}: efficiency")),
                Plot(f"startup-{slug}", f"{label}: executor start-up by start method",
                     startup_figure(mine, f"{label}: start-up")),
            ],
        ))
    several = len(measured) > 1
    return Report(
        title="mpbench report: " + ", ".join(labels.values()),
        generated=generated or f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC by mpbench "
                               f"{__version__}",
        machines=machines_table(all_results),
        sections=sections,
        comparison=side_by_side_table(summary, labels) if several else None,
        comparison_plot=Plot("machines", "speedup of each machine's best process and thread "
                             "executors, overlaid", machines_figure(summary, labels))
        if several else None,
        failures=failures_table(all_results, summary),
        unfinished=[f"{labels[str(r.path)]}: {len(r.missing())} planned scenarios never ran "
                    "(interrupted run)" for r in all_results if r.missing()],
    )


def write(report: Report, path: Path) -> list[Path]:
    """Write `report` as HTML or Markdown, by the suffix of `path`; return every file written."""
    from mpbench.report import html, markdown

    if path.suffix == ".html":
        return html.write(report, path)
    if path.suffix == ".md":
        return markdown.write(report, path)
    raise UsageError(f"-o {path}: a report is .html or .md")
