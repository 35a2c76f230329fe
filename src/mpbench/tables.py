"""One table model, rendered by the terminal, Markdown and HTML views alike.

Tables hold strings only: every number is formatted here, once, so all views agree.
"""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyperf

from mpbench.estimates import WIDE
from mpbench.frame import CONTENDED_LOAD, SLOWED, same_series
from mpbench.model import RoundRecord, Scaling
from mpbench.storage import Results

# The marks of a summary point, as the tables show them.
MARK_SYMBOLS = {"contended": "!", "slowed": "~", "oversubscribed": "+", "superlinear": "^",
                "wide": "?"}


@dataclass(frozen=True)
class Table:
    title: str
    columns: list[str]
    rows: list[list[str]]
    notes: list[str] = field(default_factory=list)
    text_columns: int = 2  # the leading columns that hold words; the rest hold figures


def visible(text: str) -> str:
    """`text` with control characters (ANSI escapes, newlines) written out as `\\x1b`, `\\n`:
    strings from results files are shown, never obeyed."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


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


def executor_label(executor: str, start_method: object, scaling: object = None) -> str:
    """`pool_map (fork)`, `threads (weak)`, `pool_map (fork, weak)`: strong scaling unnamed."""
    details = [str(start_method)] if isinstance(start_method, str) else []
    if scaling == Scaling.WEAK.value:
        details.append(Scaling.WEAK.value)
    return f"{executor} ({', '.join(details)})" if details else executor


def speedup_table(summary: pd.DataFrame, title: str = "Median time and speedup over serial"
                  ) -> Table:
    """Rows: kernel × executor; columns: worker counts; cells: `median  speedup`."""
    worker_counts = sorted(summary["workers"].unique())
    several = several_interpreters(summary)
    rows = []
    for (kernel, interpreter, executor, start_method, scaling), group in summary.groupby(
            ["kernel", "interpreter", "executor", "start_method", "scaling"], dropna=False,
            sort=False):
        by_workers = group.set_index("workers")
        cells = []
        for workers in worker_counts:
            if workers in by_workers.index:
                cell = by_workers.loc[workers]
                marks = "".join(symbol for mark, symbol in MARK_SYMBOLS.items()
                                if bool(cell[mark]))
                cells.append(f"{format_seconds(cell['median'])}  "
                             f"{format_ratio(cell['speedup'])}{marks}")
            else:
                cells.append("")
        rows.append([str(kernel), *([str(interpreter)] if several else []),
                     executor_label(str(executor), start_method, scaling), *cells])
    notes = ["speedup: the median over pairs of a serial call / a call of the scenario, timed "
             "back to back in the same process"]
    if (summary["scaling"] == Scaling.WEAK.value).any():
        notes.append("weak: w copies of the kernel's range for w workers; its speedup is "
                     "serial time × w / time (Gustafson), and it is not fitted")
    if summary["speedup"].isna().any():
        notes.append("n/a: no serial baseline was paired with that scenario")
    if summary["contended"].any():
        notes.append("!: measured while other processes kept at least "
                     f"{CONTENDED_LOAD:g} CPU busy; rerun on a quieter machine")
    if summary["slowed"].any():
        notes.append(f"~: the CPU ran at least {SLOWED - 1:.0%} slower than usual in this run "
                     "while measuring (a reference loop timed before each value): other load, "
                     "here or on a shared host")
    if summary["oversubscribed"].any():
        notes.append("+: more workers than the CPUs usable or granted to the run (time-sharing, "
                     "left out of fits)")
    if summary["superlinear"].any():
        notes.append("^: above the worker count, which cores alone cannot give: noise when its "
                     "interval reaches below the count; otherwise real only if caches help "
                     "(each worker's share of the data fits a faster cache), else a disturbed "
                     "baseline, and left out of fits")
    if summary["wide"].any():
        notes.append(f"?: the speedup's interval reaches beyond ±{WIDE:.0%}: too uncertain to "
                     "fit or judge; measure longer (--precision)")
    return Table(title, ["kernel", *(["python"] if several else []), "executor",
                         *(f"{w} worker{'s' if w > 1 else ''}" for w in worker_counts)],
                 rows, notes, text_columns=3 if several else 2)


def several_interpreters(frame: pd.DataFrame) -> bool:
    """Whether a table needs a column saying which interpreter a row ran under."""
    return bool(frame["interpreter"].nunique() > 1)


def file_labels(all_results: Sequence[Results]) -> dict[str, str]:
    """A short, unique label per results file: the machine name, plus the file name on clashes."""
    names = [results.machine.name for results in all_results]
    return {str(results.path): name if names.count(name) == 1
            else f"{name} ({Path(str(results.path)).name})"
            for results, name in zip(all_results, names, strict=True)}


def describe_interpreters(results: Results, paths: bool = False) -> str:
    """`3.13t (cpython 3.13.15, free-threaded); 3.13 (cpython 3.13.15)`, and `--gil` if set."""
    gil = results.options.matrix.gil
    forced = "" if gil is None else f"; PYTHON_GIL={gil} for free-threaded builds"
    return "; ".join(f"{item.tag} ({item.implementation} {item.version}"
                     f"{', free-threaded' if item.free_threaded else ''}"
                     f"{f', {item.path}' if paths else ''})"
                     for item in results.interpreters) + forced


def machines_table(all_results: Sequence[Results]) -> Table:
    """Machines side by side: one column per results file, one row per fact."""
    labels = file_labels(all_results)
    facts: list[tuple[str, Callable[[Results], str]]] = [
        ("CPU model", lambda r: r.machine.cpu_model),
        ("usable CPUs", lambda r: f"{r.machine.usable_cpus} ({r.machine.usable_cpus_source})"),
        ("physical cores", lambda r: str(r.machine.physical_cpus or "unknown")),
        ("Python", lambda r: f"{r.machine.python_implementation} {r.machine.python_version} "
                             f"({r.machine.python_build} build)"),
        ("GIL", lambda r: "enabled" if r.machine.gil_enabled else "disabled"),
        ("interpreters timed", describe_interpreters),
        ("BLAS (default threads)", lambda r: r.machine.blas),
        ("platform", lambda r: r.machine.platform),
        ("measured", lambda r: measured_dates(r.benchmarks)),
        ("commit", lambda r: r.machine.git_commit or "not in a git checkout"),
        ("profile", lambda r: r.options.matrix.profile),
        ("rounds", lambda r: f"{len(r.rounds)} (seed {r.options.seed})"),
        ("machine during the run", lambda r: machine_states(r.rounds)),
        ("mpbench", lambda r: r.machine.mpbench_version),
    ]
    rows = [[fact, *(describe(results) for results in all_results)] for fact, describe in facts]
    columns = ["", *(labels[str(r.path)] for r in all_results)]
    return Table("Facts recorded with each results file", columns, rows,
                 text_columns=len(columns))


def machine_states(rounds: list[RoundRecord]) -> str:
    """The single-core speed and effective cores over the rounds: `median (min–max)`."""
    parts = []
    for label, values, unit in (
            ("single core", [r.single_core_ms for r in rounds if r.single_core_ms], " ms a chunk"),
            ("effective cores", [r.effective_cores for r in rounds if r.effective_cores], "")):
        if values:
            parts.append(f"{label} {statistics.median(values):.2f}{unit} "
                         f"({min(values):.2f}–{max(values):.2f} over {len(values)} rounds)")
        else:
            parts.append(f"{label} not measured")
    return "; ".join(parts)


def measured_dates(benchmarks: Sequence[pyperf.Benchmark]) -> str:
    """`2026-11-01 12:00`, or `… to …` when the visits span more than a minute."""
    dates = sorted(str(run.get_metadata().get("date", ""))[:16] for bench in benchmarks
                   for run in bench.get_runs())
    dates = [date for date in dates if date]
    if not dates:
        return "unknown"
    return dates[0] if dates[0] == dates[-1] else f"{dates[0]} to {dates[-1]}"


def fits_table(fits: pd.DataFrame, summary: pd.DataFrame, title: str = "Scaling fits") -> Table:
    """Per kernel × executor: Amdahl's serial fraction, Karp–Flatt at the most workers, USL."""
    several = several_interpreters(fits)
    rows = []
    for fit in fits.to_dict("records"):
        points = summary[same_series(summary, fit) & ~summary["oversubscribed"]]
        widest = points.sort_values("workers").iloc[-1] if not points.empty else None
        karp_flatt = ("n/a" if widest is None or widest["workers"] < 2
                      else f"{_sigma(widest['karp_flatt'], 0)} at {int(widest['workers'])}")
        usl = fit["usl_note"] or (f"σ {fit['usl_sigma']:.3f}, κ {fit['usl_kappa']:.4f}, "
                                  f"{_peak(fit['usl_peak_workers'])}")
        rows.append([str(fit["kernel"]), *([str(fit["interpreter"])] if several else []),
                     executor_label(str(fit["executor"]), fit["start_method"], fit["scaling"]),
                     _sigma(fit["amdahl_sigma"], int(fit["left_out"])), karp_flatt, str(usl)])
    return Table(title, ["kernel", *(["python"] if several else []), "executor", "Amdahl σ",
                         "Karp–Flatt e", "USL"], rows,
                 text_columns=3 if several else 2,
                 notes=["σ: the serial fraction that best explains the speedups (speedup < 1/σ); "
                        "Karp–Flatt e: the serial fraction measured at one worker count; "
                        "USL: contention σ and crosstalk κ (κ > 0: speedup peaks, then falls)"])


def _sigma(value: float, left_out: int) -> str:
    """A fitted serial fraction, which only means one between 0 and 1."""
    if not math.isfinite(value):
        return f"not drawn: {left_out} marked" if left_out else "n/a"
    if value < 0:
        return "none (superlinear)"
    if value > 1:
        return "none (slower than serial)"
    return f"{value:.3f}" + (f" ({left_out} marked left out)" if left_out else "")


def _peak(workers: float) -> str:
    if math.isinf(workers):
        return "no peak"
    return f"peaks at {workers:.0f} worker{'s' if round(workers) != 1 else ''}"


def failures_table(all_results: Sequence[Results], summary: pd.DataFrame) -> Table:
    """Scenarios that failed, and scenarios whose result differs from their serial run's."""
    labels = file_labels(all_results)
    rows = [[labels[str(results.path)], failure.scenario.id, failure.reason,
             "" if failure.seconds is None else f"{failure.seconds:.1f} s"]
            for results in all_results for failure in results.failures]
    rows += [[labels[str(wrong["file"])], str(wrong["scenario"]),
              f"wrong result: computed {wrong['result']}, unlike the serial run", ""]
             for wrong in summary[summary["wrong_result"]].to_dict("records")]
    return Table("Failed scenarios", ["machine", "scenario", "reason", "after"], rows,
                 text_columns=3)


def side_by_side_table(summary: pd.DataFrame, labels: Mapping[str, str]) -> Table:
    """The same scenario ids lined up across files: median, speedup and throughput per worker."""
    files = list(dict.fromkeys(summary["file"]))
    rows = []
    for scenario_id, group in summary.groupby("scenario", sort=False):
        by_file = group.set_index("file")
        cells = []
        for file in files:
            if file not in by_file.index:
                cells.append("not run")
                continue
            point = by_file.loc[file]
            per_worker = point["work"] / (point["median"] * point["workers"])
            cells.append(f"{format_seconds(point['median'])} · {format_ratio(point['speedup'])} "
                         f"· {per_worker:.3g}/s")
        rows.append([str(scenario_id), *cells])
    return Table("Scenarios side by side", ["scenario", *(labels[file] for file in files)], rows,
                 text_columns=1,
                 notes=["each cell: median time · speedup over that machine's serial run · "
                        "runs of the kernel per second per worker (throughput per core)"])


_IDENTIFIER = re.compile(r"[\w./@-]+")  # safe as inline code: no backtick, pipe or space


def markdown_table(table: Table, right: Collection[str] = (), code: Collection[str] = ()
                   ) -> list[str]:
    """`table` as a pipe table, without its title and notes, every string inert: `right` names
    the columns aligned right, `code` those whose identifiers (`py_square/serial/w1`) show as code.
    """
    lines = ["| " + " | ".join(markdown_escape(column) for column in table.columns) + " |",
             "|" + "|".join("---:" if column in right else "---" for column in table.columns)
             + "|"]
    as_code = {index for index, column in enumerate(table.columns) if column in code}
    for row in table.rows:
        cells = [f"`{cell}`" if index in as_code and _IDENTIFIER.fullmatch(cell)
                 else markdown_escape(cell) for index, cell in enumerate(row)]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def markdown_escape(text: str) -> str:
    """Make a string from a results file inert in Markdown: no markup, HTML or entity; one line.

    Underscores inside words (`py_square`) are left alone: they never start emphasis.
    """
    text = visible(" ".join(text.split()))
    text = re.sub(r"([\\`*~\[\]<>|&])", r"\\\1", text)
    return re.sub(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])", r"\\_", text)


def gil_table(answers: pd.DataFrame, title: str = "The GIL, three ways round it"
              ) -> Table | None:
    """Per kernel and way round the GIL: its best speedup over the GIL build's serial time, at
    the most workers every interpreter has; None when the file has neither free-threaded
    threads nor subinterpreters to set beside processes (the GIL verdict says it all then)."""
    from mpbench.gil import Way

    if not any(way in (Way.FREE_THREADED_THREADS, Way.SUBINTERPRETERS)
               for way in answers["way"]):
        return None
    rows = []
    for row in answers.to_dict("records"):
        flags = ("" if row["trusted"] else "?") + (" GIL on" if row["gil_was_on"] else "")
        low, high = float(row["speedup_low"]), float(row["speedup_high"])
        interval = f"{low:.2f}–{high:.2f}" if math.isfinite(low) else "n/a"
        rows.append([str(row["kernel"]), row["way"].value,
                     f"{executor_label(str(row['executor']), row['start_method'])} "
                     f"@{row['interpreter']}", str(row["workers"]),
                     f"{format_ratio(float(row['speedup']))}{flags}", interval])
    yardsticks = ", ".join(dict.fromkeys(answers["yardstick"]))
    notes = [f"speedup over the serial time of {yardsticks}, at the most workers every "
             "interpreter has; a scenario of another interpreter is carried over by the ratio "
             "of the two serial times (intervals combined as independent)",
             "?: a point the speedup table marks (not trusted); GIL on: a free-threaded build "
             "that ran with the GIL (PYTHON_GIL=1, or an extension that needs it)"]
    return Table(title, ["kernel", "way", "best", "workers", "speedup", "95 % interval"],
                 rows, notes, text_columns=3)


def serial_cost_sentences(costs: pd.DataFrame) -> list[str]:
    """`py_square: 3.13t takes 1.07× (1.03–1.11) the serial time of 3.13`."""
    return [f"{row['kernel']}: {row['free_threaded']} takes "
            f"{format_ratio(float(row['serial_cost']))} ({row['serial_cost_low']:.2f}–"
            f"{row['serial_cost_high']:.2f}) the serial time of {row['gil_build']}"
            for row in costs.to_dict("records")]


def unsupported_lines(results: Results) -> list[str]:
    """`unsupported on 3.13: interpreter_pool for np_count: …`, one per interpreter, executor
    and reason."""
    groups: dict[tuple[str, str, str], list[str]] = {}
    for item in results.unsupported:
        scenario = item.scenario
        kernels = groups.setdefault((scenario.interpreter, scenario.executor, item.reason), [])
        if scenario.kernel not in kernels:
            kernels.append(scenario.kernel)
    return [f"unsupported on {tag}: {executor} for {', '.join(kernels)}: {reason}"
            for (tag, executor, reason), kernels in groups.items()]
