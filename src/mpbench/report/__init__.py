"""Reports: the same content as self-contained HTML or as Markdown with image files beside it.

`build` turns results files and costs files into a `Report` (tables of strings, verdict and
advice sentences, and figures); the renderers only lay it out, so both formats always say the
same thing.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from matplotlib.figure import Figure

from mpbench import __version__, gil
from mpbench.analysis import gil_verdicts, scaling_fits, summarize
from mpbench.costs import plots as cost_plots
from mpbench.costs.advice import break_even_table, figures_tables, sentences
from mpbench.costs.figures import CostSummary
from mpbench.costs.figures import summarize as summarize_costs
from mpbench.costs.probes import Measure
from mpbench.costs.store import CostResults
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
    machine_states,
    machines_table,
    measured_dates,
    serial_cost_sentences,
    several_interpreters,
    side_by_side_table,
    speedup_table,
    unsupported_lines,
    visible,
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
class CostsSection:
    """What one costs file shows: the machine it measured, its figures and break-evens as
    tables, the advice they give, and their plots."""

    label: str
    machine: Table
    tables: list[Table]
    sentences: list[str]
    plots: list[Plot]


@dataclass(frozen=True)
class Report:
    title: str
    generated: str
    machines: Table | None  # the runs' machines side by side; None when there is no run
    sections: list[MachineSection]
    comparison: Table | None
    comparison_plot: Plot | None
    costs: list[CostsSection]
    failures: Table
    unfinished: list[str]


def build(all_inputs: Sequence[Results | CostResults], generated: str | None = None) -> Report:
    """The report of results files and costs files, in any mix; `generated` overrides the time
    stamp (for snapshots)."""
    all_results = [item for item in all_inputs if isinstance(item, Results)]
    all_costs = [item for item in all_inputs if isinstance(item, CostResults)]
    labels = file_labels(all_results)
    cost_names = _costs_names(all_costs)
    cost_labels = {file: f"costs on {name}" for file, name in cost_names.items()}
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
        title="mpbench report: " + ", ".join([*labels.values(), *cost_labels.values()]),
        generated=generated or f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC by mpbench "
                               f"{__version__}",
        machines=machines_table(all_results) if all_results else None,
        sections=sections,
        comparison=side_by_side_table(summary, labels) if several else None,
        comparison_plot=Plot("machines", "speedup of each machine's best process and thread "
                             "executors, overlaid", machines_figure(summary, labels))
        if several else None,
        costs=[_costs_section(results, cost_labels[str(results.path)],
                              machine_name(cost_names[str(results.path)]))
               for results in all_costs],
        failures=_with_probe_failures(failures_table(all_results, summary), all_costs,
                                      cost_labels),
        unfinished=[f"{labels[str(r.path)]}: {len(r.missing())} planned scenarios never ran "
                    "(interrupted run)" for r in all_results if r.missing()]
        + [f"{cost_labels[str(r.path)]}: {count} planned probes never ran (interrupted run)"
           for r in all_costs if (count := _never_ran(r))],
    )


def _costs_names(all_costs: Sequence[CostResults]) -> dict[str, str]:
    """Each costs file's machine name, plus the file name where two share it (as file_labels
    does for runs)."""
    names = [results.machine.name for results in all_costs]
    return {str(results.path): name if names.count(name) == 1
            else f"{name} ({Path(str(results.path)).name})"
            for results, name in zip(all_costs, names, strict=True)}


def _costs_section(results: CostResults, label: str, slug: str) -> CostsSection:
    """`slug`, file-name safe, names the plots: `costs-startup-<slug>.png`."""
    summary = summarize_costs(results)
    break_evens = break_even_table(summary)
    return CostsSection(
        label=label,
        machine=_costs_machine_table(results, label),
        tables=[*figures_tables(summary), *([break_evens] if break_evens.rows else [])],
        sentences=sentences(summary),
        plots=_costs_plots(summary, label, slug),
    )


def _costs_plots(summary: CostSummary, label: str, slug: str) -> list[Plot]:
    """The plots the costs file has data for: a run of some executors lacks some measures."""
    probes = [item.probe for item in summary.figures] + [point.probe for point in summary.sweep]
    measured = {Measure(probe.measure) for probe in probes}
    return [Plot(f"costs-{stem}-{slug}", f"{label}: {caption}",
                 draw(summary, f"{visible(label)}: {title}"))  # no control character drawn
            for stem, title, caption, measure, draw in _COSTS_PLOTS if measure in measured]


# Each costs plot: its file-name stem, title, caption, the measure it shows, how it is drawn.
_COSTS_PLOTS: list[tuple[str, str, str, Measure, Callable[[CostSummary, str], Figure]]] = [
    ("startup", "start-up", "start-up against workers, by executor and start method, with 95 % "
     "intervals", Measure.STARTUP, cost_plots.startup_figure),
    ("dispatch", "dispatch", "dispatch cost per task, with 95 % intervals", Measure.DISPATCH,
     cost_plots.dispatch_figure),
    ("round-trip", "round trips", "round-trip throughput against payload size, with 95 % "
     "intervals", Measure.ROUND_TRIP, cost_plots.round_trip_figure),
    ("break-even", "break-even", "the sweep's speedup over serial against task length, with "
     "95 % intervals, and each executor's break-even as predicted (dashed) and measured (solid)",
     Measure.SWEEP, cost_plots.break_even_figure),
]


def _costs_machine_table(results: CostResults, label: str) -> Table:
    """The facts recorded with a costs file, as the machines table gives a run's."""
    machine, interpreter, options = results.machine, results.interpreter, results.options
    facts = [
        ("CPU model", machine.cpu_model),
        ("usable CPUs", f"{machine.usable_cpus} ({machine.usable_cpus_source})"),
        ("physical cores", str(machine.physical_cpus or "unknown")),
        ("Python", f"{machine.python_implementation} {machine.python_version} "
                   f"({machine.python_build} build)"),
        ("interpreter timed", f"{interpreter.tag} ({interpreter.implementation} "
                              f"{interpreter.version}"
                              f"{', free-threaded' if interpreter.free_threaded else ''})"),
        ("GIL", "enabled" if machine.gil_enabled else "disabled"),
        ("BLAS (default threads)", machine.blas),
        ("platform", machine.platform),
        ("measured", measured_dates(results.benchmarks)),
        ("commit", machine.git_commit or "not in a git checkout"),
        ("profile", options.profile),
        ("executors", ", ".join(options.executors)),
        ("start methods", ", ".join(options.start_methods)),
        ("rounds", f"{len(results.rounds)} (seed {options.seed})"),
        ("machine during the run", machine_states(results.rounds)),
        ("mpbench", machine.mpbench_version),
    ]
    return Table("Facts recorded with the costs file", ["", label],
                 [[fact, value] for fact, value in facts], text_columns=2)


def _with_probe_failures(failures: Table, all_costs: Sequence[CostResults],
                         labels: dict[str, str]) -> Table:
    """The runs' failures table with the costs files' failed probes below."""
    probes = [[labels[str(results.path)], failure.probe.id, failure.reason, ""]
              for results in all_costs for failure in results.failures]
    return dataclasses.replace(failures, rows=[*failures.rows, *probes])


def _never_ran(results: CostResults) -> int:
    """Planned probes with neither a figure nor a failure: the run was interrupted first."""
    done = {bench.get_name() for bench in results.benchmarks} | {
        failure.probe.id for failure in results.failures}
    return sum(probe.id not in done for probe in results.plan)


def write(report: Report, path: Path) -> list[Path]:
    """Write `report` as HTML or Markdown, by the suffix of `path`; return every file written."""
    from mpbench.report import html, markdown

    if path.suffix == ".html":
        return html.write(report, path)
    if path.suffix == ".md":
        return markdown.write(report, path)
    raise UsageError(f"-o {path}: a report is .html or .md")
