"""The `mpbench` command: a thin layer that parses options, calls the library and prints.

Exit codes: 0 success; 1 the work ran but something failed; 2 bad usage or bad input (one line
`error: …` on stderr); 130 interrupted.
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, NoReturn

from rich.console import Console

from mpbench import __version__
from mpbench.costs.probes import EXECUTORS as COST_EXECUTORS
from mpbench.errors import MpbenchError, UsageError
from mpbench.executors import EXECUTORS, default_start_method
from mpbench.kernels import default_benchmarks_dir, discover
from mpbench.machine import allowed_cpus, machine_name, usable_cpus
from mpbench.matrix import (
    DEFAULT_BLAS_THREADS,
    DEFAULT_TASKS_PER_WORKER,
    PROFILES,
    MatrixOptions,
    available_start_methods,
    is_whole_number,
    parse_cpus,
    parse_names,
    parse_workers,
)
from mpbench.model import MAX_SECONDS, MAX_SIZE, Scaling
from mpbench.options import DEFAULT_TIMEOUT, RunOptions
from mpbench.topology import Placement

if TYPE_CHECKING:
    import pandas as pd

    from mpbench.costs.store import CostResults
    from mpbench.storage import Results


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        """One line, not argparse's usage block: `error: … (see mpbench run --help)`."""
        self.exit(2, f"error: {message} (see `{self.prog} --help`)\n")


def _positive_int(text: str) -> int:
    if not is_whole_number(text.strip()) or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return int(text)


def _size(text: str) -> int:
    size = _positive_int(text)
    if size > MAX_SIZE:
        raise argparse.ArgumentTypeError(f"expected at most 2**62 (a range every figure of the "
                                         f"run can hold), got {text!r}")
    return size


def _positive_seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        seconds = float("nan")
    if not 0 < seconds <= MAX_SECONDS:
        raise argparse.ArgumentTypeError(
            f"expected a number of seconds above 0 and at most {MAX_SECONDS:g}, got {text!r}")
    return seconds


def _percentage(text: str) -> float:
    try:
        percent = float(text.strip().removesuffix("%"))
    except ValueError:
        percent = float("nan")
    if not 0 < percent < 100:
        raise argparse.ArgumentTypeError(f"expected a percentage above 0 and below 100, e.g. 5, "
                                         f"got {text!r}")
    return percent / 100


def _seed(text: str) -> int:
    if not is_whole_number(text.strip()) or int(text) >= 2**63:
        raise argparse.ArgumentTypeError(f"expected a whole number of 0 or more, got {text!r}")
    return int(text)


def _machine_name(text: str) -> str:
    if machine_name(text) != text.lower():  # no '/', no '..': it becomes a folder name
        raise argparse.ArgumentTypeError(
            f"{text!r} is not usable as a folder name; use letters, digits, '.', '_' and '-', "
            f"e.g. {machine_name(text)!r}")
    return text


def _matrix_arguments() -> _Parser:
    """Options shared by `run` and `list`. Defaults are None here, so that `run --resume` can
    tell the options a user typed from the ones the file was run with."""
    parent = _Parser(add_help=False)
    group = parent.add_argument_group("what to run")
    group.add_argument("--benchmarks", metavar="DIR", type=Path,
                       help="folder of bm_*.py kernel files (default: ./benchmarks, else the "
                            "built-in kernels)")
    group.add_argument("--kernels", metavar="LIST", help="comma-separated kernel names")
    group.add_argument("--executors", metavar="LIST",
                       help=f"comma-separated, from: {', '.join(EXECUTORS)} "
                            "(serial is always added as the baseline)")
    group.add_argument("--workers", metavar="LIST|auto",
                       help="worker counts, e.g. 1,2,4; auto (default): 1, 2, 4, … up to the "
                            "usable CPUs")
    group.add_argument("--start-method", metavar="LIST",
                       help="process start methods, comma-separated "
                            f"(here: {', '.join(available_start_methods())}; default: the "
                            "platform's)")
    group.add_argument("-k", "--select", metavar="PATTERN", action="append",
                       help="keep scenarios whose id contains PATTERN or matches it as a glob; "
                            "repeatable")
    group.add_argument("--profile", choices=list(PROFILES),
                       help="how long to measure: "
                            + "; ".join(f"{p.name}: {p.summary}" for p in PROFILES.values()))
    group.add_argument("--size", type=_size, metavar="N",
                       help="range size for every kernel (default: each kernel's own)")
    group.add_argument("--tasks-per-worker", type=_positive_int, metavar="N",
                       help=f"pieces of work per worker (default: {DEFAULT_TASKS_PER_WORKER})")
    group.add_argument("--blas-threads", type=_positive_int, metavar="N",
                       help=f"BLAS/OpenMP threads per process (default: {DEFAULT_BLAS_THREADS})")
    group.add_argument("--python", metavar="PATH", action="append",
                       help="time the matrix under this interpreter (repeatable, or a comma "
                            "list; default: the one running mpbench); each runs in an "
                            "environment of its own, made on first use")
    group.add_argument("--gil", type=int, choices=[0, 1],
                       help="run free-threaded builds with the GIL forced off (0) or on (1), "
                            "through PYTHON_GIL")
    group.add_argument("--scaling", metavar="LIST",
                       help="strong (default: the same work for every worker count, speedup "
                            "T1/Tw), weak (w copies of the range for w workers, speedup "
                            "T1·w/Tw), or strong,weak")
    group.add_argument("--cpus", metavar="LIST|auto",
                       help="pin each scenario with k workers, its whole process tree, to k of "
                            "these CPUs, e.g. 0-3,8; auto: every CPU this process may use")
    group.add_argument("--dask-scheduler", metavar="ADDRESS",
                       help="run the dask executor on this existing cluster, with all its "
                            "workers (e.g. tcp://10.0.0.5:8786), instead of a LocalCluster")
    group.add_argument("--placement", choices=[policy.value for policy in Placement],
                       help="which k CPUs: compact (default) fills physical cores first, "
                            "fastest first, one NUMA node before the next; spread alternates "
                            "nodes (implies --cpus auto when --cpus is not given)")
    return parent


def _timing_arguments() -> _Parser:
    """How long a run measures: options shared by `run` and `fleet`."""
    parent = _Parser(add_help=False)
    group = parent.add_argument_group("how long to measure")
    group.add_argument("--timeout", type=_positive_seconds, metavar="SECONDS",
                       help=f"per visit of a scenario (default: {DEFAULT_TIMEOUT:g})")
    group.add_argument("--precision", type=_percentage, metavar="PCT",
                       help="after the profile's rounds, measure a scenario again while its "
                            "speedup interval is wider than ±PCT %% (default: the profile's, "
                            "e.g. 5 for quick)")
    group.add_argument("--max-time", type=_positive_seconds, metavar="SECONDS",
                       help="the run's budget from its start: no visit for precision starts if "
                            "it would end later (default: as long again as the first rounds "
                            "took, and at most the profile's cap, e.g. 150 s in all for quick)")
    group.add_argument("--seed", type=_seed, metavar="N",
                       help="of the shuffled order of visits (default: a fresh one; recorded)")
    return parent


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="mpbench",
                     description="Measure how CPU-heavy Python work scales on this machine: "
                                 "serially, with threads and with each multiprocessing pattern, "
                                 "timed by pyperf.")
    parser.add_argument("--version", action="version", version=f"mpbench {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                     parser_class=_Parser)
    matrix = _matrix_arguments()

    timing = _timing_arguments()
    run = commands.add_parser("run", parents=[matrix, timing],
                              help="time the scenarios and save them",
                              description="Time every scenario, each in its own pyperf "
                                          "subprocess, and save the results file.")
    destination = run.add_mutually_exclusive_group()
    destination.add_argument("-o", "--output", type=Path, metavar="PATH",
                             help="results file, .json or .json.gz "
                                  "(default: results/<machine>/<UTC time>.json)")
    destination.add_argument("--resume", type=Path, metavar="FILE",
                             help="run the scenarios an interrupted run did not finish, into "
                                  "its file (with the same options, or none)")
    run.add_argument("--machine", metavar="NAME", type=_machine_name,
                     help="machine name for the results folder (default: the host name)")

    commands.add_parser("list", parents=[matrix], help="print the scenario ids a run would time",
                        description="Print the scenario ids that `run` with the same options "
                                    "would time.")

    show = commands.add_parser("show", help="print the summary of results files",
                               description="Print the machine, the summary table and any "
                                           "failures of results files.")
    show.add_argument("files", nargs="+", type=Path, metavar="FILE")
    show.add_argument("--format", choices=["text", "json", "csv"], default="text",
                      help="text (default); json or csv: one record per scenario, for scripts")

    report = commands.add_parser("report", help="write an HTML or Markdown report",
                                 description="Write a report of one or more results files: "
                                             "machines side by side, plots, tables, GIL "
                                             "verdicts and failures; a costs file from "
                                             "`mpbench costs` gets a section of its own.")
    report.add_argument("files", nargs="+", type=Path, metavar="FILE")
    report.add_argument("-o", "--output", type=Path, required=True, metavar="PATH",
                        help="report.html (one self-contained file) or report.md (with a "
                             "folder of images beside it)")

    export = commands.add_parser("export", help="write the tidy samples as CSV or Parquet",
                                 description="Write the tidy frame (one row per timed value; "
                                             "columns in the README) of results files.")
    export.add_argument("files", nargs="+", type=Path, metavar="FILE")
    export.add_argument("-o", "--output", type=Path, required=True, metavar="PATH",
                        help="data.csv or data.parquet")

    compare = commands.add_parser(
        "compare", help="compare two results files; exit 1 when a gate trips",
        description="Line up the scenarios of BASE and HEAD, say which got slower or scale "
                    "worse beyond both a threshold and the noise, and exit 1 when a gate trips.")
    compare.add_argument("base", type=Path, metavar="BASE")
    compare.add_argument("head", type=Path, metavar="HEAD")
    compare.add_argument("--fail-on", action="append", metavar="SPEC",
                         help="gates: time:PERCENT (same machine only) and speedup:PERCENT, "
                              "comma-separated or repeated, or none (default: "
                              "time:10%%,speedup:10%%)")
    compare.add_argument("--format", choices=["text", "md", "json"], default="text",
                         help="text (default), md (for $GITHUB_STEP_SUMMARY or a pull request "
                              "comment) or json")

    history = commands.add_parser(
        "history", help="plot one machine's results over time and mark their steps",
        description="Read every results file of one machine in time order, plot each "
                    "scenario's median and speedup per run, and mark the step changes.")
    history.add_argument("folders", nargs="+", type=Path, metavar="DIR",
                         help="a folder of one machine's results files, e.g. results/<machine>")
    history.add_argument("-o", "--output", type=Path, required=True, metavar="PATH",
                         help="history.html (one self-contained page) or history.png")

    fleet = commands.add_parser(
        "fleet", parents=[matrix, timing], allow_abbrev=False,  # options go on as typed
        help="run on every machine of a Dask cluster",
        description="Run the same `mpbench run` on each host of a Dask cluster (one Dask task "
                    "per host, with that worker's Python), collect every results file into "
                    "results/<machine>/ here, and write a report comparing them.")
    fleet.add_argument("address", metavar="ADDRESS", help="the Dask scheduler, e.g. "
                                                          "tcp://10.0.0.5:8786")
    fleet.add_argument("--per-worker", action="store_true",
                       help="every worker is a machine of its own, named by the worker's name "
                            "(containers on one host)")
    fleet.add_argument("--parallel", action="store_true",
                       help="run every host at once (default: one host at a time)")
    fleet.add_argument("--report", type=Path, metavar="PATH",
                       help="the report comparing the hosts, .html or .md (default: "
                            "results/fleet/<UTC time>/report.html)")

    costs = commands.add_parser(
        "costs", help="measure what parallelism costs here, and where it pays off",
        description="Measure what starting executors, handing over tasks, moving data and "
                    "sharing state cost on this machine, each in its own pyperf subprocess; "
                    "model where each executor pays off, check the model against a sweep of "
                    "real tasks, and give advice. With FILE, show a saved costs file.")
    costs.add_argument("file", nargs="?", type=Path, metavar="FILE",
                       help="a costs file to show, without measuring")
    costs.add_argument("--format", choices=["text", "json"], default="text",
                       help="text (default), or json on stdout for scripts (progress goes to "
                            "stderr)")
    measuring = costs.add_argument_group("what to measure (not with FILE)")
    measuring.add_argument("--profile", metavar="NAME",
                           help="default (about 87 s on 2 cores) or smoke (about 16 s)")
    measuring.add_argument("--executors", metavar="LIST",
                           help="comma-separated, from: " + ", ".join(COST_EXECUTORS))
    measuring.add_argument("--start-method", metavar="LIST",
                           help="start-up is measured under each, the rest under the first "
                                f"(default: all of {', '.join(available_start_methods())}, "
                                f"the platform's first)")
    measuring.add_argument("--payload-sizes", metavar="LIST",
                           help="round-trip payloads, e.g. 100,10KiB,1MiB,64MiB (the default)")
    measuring.add_argument("--timeout", type=_positive_seconds, metavar="SECONDS",
                           help="per probe (default: 120)")
    measuring.add_argument("--seed", type=_seed, metavar="N",
                           help="of the shuffled order of probes (default: a fresh one)")
    measuring.add_argument("-o", "--output", type=Path, metavar="PATH",
                           help="costs file, .json (default: results/<machine>/costs/<UTC "
                                "time>.json)")
    measuring.add_argument("--machine", metavar="NAME", type=_machine_name,
                           help="machine name for the results folder (default: the host name)")

    doctor = commands.add_parser(
        "doctor", help="check whether this machine is fit to benchmark right now",
        description="Measure background load and how many cores' worth of work processes "
                    "really get here, right now (about SECONDS + 1 s), and say whether to "
                    "benchmark.")
    doctor.add_argument("--seconds", type=_positive_seconds, default=8.0, metavar="SECONDS",
                        help="measuring time (default: %(default)g)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.argv = argv  # `fleet` passes the run options on as they were typed
    console = Console(highlight=False)
    try:
        return {"run": _run, "list": _list, "show": _show, "report": _report,
                "export": _export, "compare": _compare, "history": _history,
                "fleet": _fleet, "costs": _costs, "doctor": _doctor}[args.command](args, console)
    except MpbenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a path given that cannot be written: disk full, no such folder
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"error: {where}{exc.strerror or exc}; choose another path", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


# Command-line option → MatrixOptions field, for the options a user may type.
_MATRIX_FIELDS = {"kernels": "kernels", "executors": "executors", "workers": "workers",
                  "start_method": "start_methods", "select": "select", "profile": "profile",
                  "size": "size", "tasks_per_worker": "tasks_per_worker",
                  "blas_threads": "blas_threads", "python": "pythons", "gil": "gil",
                  "scaling": "scalings", "cpus": "cpus", "placement": "placement",
                  "dask_scheduler": "dask_scheduler"}


def _given_options(args: argparse.Namespace, kernel_names: Iterable[str],
                   usable_cpus: int) -> dict[str, Any]:
    """The matrix options typed on the command line, parsed and checked, by field name.

    `--workers auto` is the default spelled out, so it counts as not given."""
    parse: dict[str, Callable[[Any], Any]] = {
        "kernels": lambda text: tuple(parse_names(text, kernel_names, "kernel")),
        "executors": lambda text: tuple(parse_names(text, EXECUTORS, "executor")),
        "workers": lambda text: None if text.strip() == "auto" else tuple(
            parse_workers(text, usable_cpus)),
        "start_method": lambda text: tuple(parse_names(text, available_start_methods(),
                                                       "start method")),
        "select": tuple,
        "python": tuple,
        "scaling": lambda text: tuple(parse_names(text, [mode.value for mode in Scaling],
                                                  "scaling")),
        "cpus": lambda text: parse_cpus(text, allowed_cpus()),
    }
    given = {field: parse.get(name, _unchanged)(getattr(args, name))
             for name, field in _MATRIX_FIELDS.items() if getattr(args, name) is not None}
    if "placement" in given and "cpus" not in given:
        given["cpus"] = parse_cpus("auto", allowed_cpus())
    return {field: value for field, value in given.items() if value is not None}


def _unchanged(value: Any) -> Any:
    return value


def _run_options(args: argparse.Namespace, usable_cpus: int) -> RunOptions:
    """The command line of `run` or `list` as typed, checked options."""
    kernels = discover(args.benchmarks or default_benchmarks_dir())
    matrix = MatrixOptions(**_given_options(args, list(kernels), usable_cpus))
    if args.command != "run":
        return RunOptions(matrix=matrix, benchmarks=args.benchmarks)
    return RunOptions(matrix=matrix, benchmarks=args.benchmarks,
                      timeout=args.timeout or DEFAULT_TIMEOUT, seed=args.seed,
                      precision=args.precision, max_seconds=args.max_time, output=args.output,
                      machine_name=args.machine)


def _list(args: argparse.Namespace, console: Console) -> int:
    from mpbench.runs import plan

    cpus = usable_cpus()
    for scenario in plan(_run_options(args, cpus), cpus):
        console.print(scenario.id, markup=False)
    return 0


def _run(args: argparse.Namespace, console: Console) -> int:
    from mpbench import runs
    from mpbench.machine import collect as collect_machine
    from mpbench.views import ProgressView, print_machine, print_results, print_run_header

    def say(text: str) -> None:
        console.print(text, style="dim", markup=False)

    machine = collect_machine(args.machine)
    # SIGTERM and SIGHUP stop a run the way Ctrl-C does: finished visits are already saved,
    # and an environment being made is left unfinished, to be made again.
    with _signals_stop_like_ctrl_c():
        if args.resume:
            from mpbench.storage import read

            results = read(args.resume)
            _check_resume_keeps(args, results)
            planned = {scenario.kernel: None for scenario in results.plan}
            runs.prepare_resume(results, _given_options(args, planned, machine.usable_cpus),
                                _resume_settings(args), machine)
            destination = args.resume
        else:
            results, destination = runs.prepare(_run_options(args, machine.usable_cpus),
                                                machine, say=say)
        pythons = runs.timing_pythons(results, say)  # made here, not behind the progress bar
        print_machine(console, machine)
        print_run_header(console, results)
        try:
            with ProgressView(console, results) as view:
                runs.measure(results, destination, view, pythons)
        except KeyboardInterrupt as stop:
            _report_interrupt(results)
            return _interrupted_code(stop)
    analysed = _analysed(results)
    print_results(console, results, analysed)
    wrong = 0 if analysed is None else int(analysed[1]["wrong_result"].sum())
    if results.failures or wrong:
        console.print(f"[red]{len(results.failures)} of {len(results.plan)} scenarios failed, "
                      f"{wrong} computed a wrong result[/red]")
    console.print(f"results saved to {results.path}", markup=False, soft_wrap=True)
    return 1 if results.failures or wrong else 0


def _check_resume_keeps(args: argparse.Namespace, results: Results) -> None:
    """--benchmarks and --machine may be repeated on --resume, not changed: the file goes on
    with its own kernels and its machine's name."""
    folders = {str(Path(scenario.kernel_file).parent) for scenario in results.plan}
    if args.benchmarks is not None and {str(args.benchmarks.resolve())} != folders:
        raise UsageError(f"{args.resume} was run with the kernels in "
                         f"{', '.join(sorted(folders))}; --resume goes on with them, so drop "
                         "--benchmarks")
    if args.machine is not None and args.machine != results.machine.name:
        raise UsageError(f"{args.resume} was run as machine {results.machine.name!r}; --resume "
                         "keeps that name, so drop --machine")


def _resume_settings(args: argparse.Namespace) -> dict[str, Any]:
    """What a resumption may change: the timeout, the precision target and the budget."""
    settings = {"timeout": args.timeout, "precision": args.precision,
                "max_seconds": args.max_time}
    if args.seed is not None:
        raise UsageError("--seed cannot change when resuming: the run keeps its own")
    return {name: value for name, value in settings.items() if value is not None}


def _analysed(results: Results) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """One results file's frame and per-scenario summary, None when nothing was measured."""
    from mpbench.analysis import summarize
    from mpbench.frame import to_frame

    if not results.benchmarks:
        return None
    frame = to_frame([results])
    return frame, summarize(frame)


class Stopped(KeyboardInterrupt):
    """SIGTERM or SIGHUP (a closed terminal, a dropped ssh): stop the way Ctrl-C does."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _raise_stopped(signum: int, frame: FrameType | None) -> None:
    raise Stopped(signum)


# How a stopped run exits: 130 for Ctrl-C and SIGTERM (as before), 129 for SIGHUP (128 + 1).
STOPPED_BY: dict[int, int] = {signal.SIGTERM: 130, signal.SIGHUP: 129}


@contextmanager
def _signals_stop_like_ctrl_c() -> Iterator[None]:
    """Inside, SIGTERM and SIGHUP raise Stopped, so a run, a fleet or a costs run stops the way
    Ctrl-C does (what finished is saved); the handlers from before are back on the way out."""
    previous = {signum: signal.signal(signum, _raise_stopped) for signum in STOPPED_BY}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _interrupted_code(stop: KeyboardInterrupt) -> int:
    """The exit code of a command that `stop` interrupted (see STOPPED_BY)."""
    return STOPPED_BY.get(stop.signum, 130) if isinstance(stop, Stopped) else 130


def _report_interrupt(results: Results) -> None:
    if results.path is None:
        print(f"interrupted before any of the {len(results.plan)} scenarios was visited; "
              "nothing was saved", file=sys.stderr)
        return
    missing = results.missing()
    if not missing:
        print(f"interrupted during the rounds for precision; every scenario has its rounds in "
              f"{results.path}", file=sys.stderr)
        return
    print(f"interrupted: {len(results.plan) - len(missing)} of {len(results.plan)} scenarios "
          f"have all their rounds in {results.path}; `mpbench run --resume {results.path}` "
          "runs the rest", file=sys.stderr)


def _show(args: argparse.Namespace, console: Console) -> int:
    from mpbench.storage import read_many
    from mpbench.views import print_results

    all_results = read_many(args.files)
    if args.format == "text":
        for results in all_results:
            print_results(console, results, _analysed(results))
        return 0
    import pandas as pd

    from mpbench import records

    summaries = [analysed[1] for results in all_results
                 if (analysed := _analysed(results)) is not None]
    targets = {str(results.path): results.options.precision for results in all_results}
    rows = records.records(pd.concat(summaries, ignore_index=True), targets) if summaries else []
    sys.stdout.write(records.to_json(rows) if args.format == "json" else records.to_csv(rows))
    return 0


def _report(args: argparse.Namespace, console: Console) -> int:
    from mpbench import report
    from mpbench.costs import store
    from mpbench.storage import is_costs_file, read

    if args.output.suffix not in (".html", ".md"):
        raise UsageError(f"-o {args.output}: a report is .html or .md")
    all_results = [store.read(path) if is_costs_file(path) else read(path)
                   for path in args.files]
    if not any(results.benchmarks for results in all_results):
        raise UsageError("none of the files has a measured scenario to report on")
    written = report.write(report.build(all_results), args.output)
    console.print(f"wrote {written[0]}" + (f" and {len(written) - 1} images beside it"
                                           if len(written) > 1 else ""), markup=False)
    return 0


def _export(args: argparse.Namespace, console: Console) -> int:
    from mpbench.frame import to_frame
    from mpbench.storage import read_many, write_atomically

    frame = to_frame(read_many(args.files))
    suffix = args.output.suffix
    if suffix not in (".csv", ".parquet"):
        raise UsageError(f"-o {args.output}: export writes .csv or .parquet")
    data = frame.to_csv(index=False).encode() if suffix == ".csv" else frame.to_parquet(index=False)
    write_atomically(args.output, data)  # an unwritable path: main's OSError branch says so
    console.print(f"wrote {len(frame)} rows to {args.output}", markup=False)
    return 0


def _compare(args: argparse.Namespace, console: Console) -> int:
    from mpbench.compare import compare_files, render

    comparison = compare_files(args.base, args.head, args.fail_on or ())
    sys.stdout.write(render(comparison, args.format))  # raw, not through rich: md must stay as is
    return comparison.exit_code


def _history(args: argparse.Namespace, console: Console) -> int:
    from mpbench.history import load_history, write_history

    history = load_history(args.folders)
    path = write_history(history, args.output)
    console.print(f"{len(history.runs)} runs, {len(history.steps)} steps; written to {path}",
                  markup=False, soft_wrap=True)
    return 0


# Options of `fleet` that are its own, with whether each takes a value: the others go to `run`.
_FLEET_OWN = {"--per-worker": False, "--parallel": False, "--report": True, "--benchmarks": True}


def _fleet(args: argparse.Namespace, console: Console) -> int:
    from mpbench import report
    from mpbench.fleet import run_fleet
    from mpbench.storage import RESULTS_DIR, read_many, utc_stamp, write_atomically
    from mpbench.views import FleetView, fleet_manifest

    output = args.report or RESULTS_DIR / "fleet" / utc_stamp() / "report.html"
    if output.suffix not in (".html", ".md"):
        raise UsageError(f"--report {output}: a report is .html or .md")
    if args.argv[1:2] != [args.address]:
        raise UsageError("give the scheduler's address first: mpbench fleet ADDRESS [options]")
    kernels = discover(args.benchmarks or default_benchmarks_dir())
    # Names are checked here; counts, CPUs and start methods by each host, against its own.
    for text, valid, what in ((args.kernels, kernels, "kernel"),
                              (args.executors, EXECUTORS, "executor")):
        if text is not None:
            parse_names(text, valid, what)
    benchmarks = Path(next(iter(kernels.values())).source_file).parent
    stopped_by = None
    # As for `run`: SIGTERM and SIGHUP stop the fleet the way Ctrl-C does, and every host
    # that was running saves what it finished and sends it back.
    view = FleetView(console)
    try:
        with _signals_stop_like_ctrl_c(), view:
            run_fleet(args.address, _run_argv(args.argv[2:]), benchmarks,
                      per_worker=args.per_worker, parallel=args.parallel, observer=view)
    except KeyboardInterrupt as stop:
        stopped_by = _interrupted_code(stop)
    finally:
        if view.finished:  # what came back is recorded, whatever ended the fleet
            manifest = write_atomically(output.with_name(f"{output.stem}.hosts.json"),
                                        fleet_manifest(view.finished).encode(), replace=False)
            console.print(f"hosts recorded in {manifest}", markup=False)
    saved = [result.path for result in view.finished if result.path is not None]
    if saved:
        written = report.write(report.build(read_many(saved)), output)
        console.print(f"report of {len(saved)} host{'' if len(saved) == 1 else 's'}: "
                      f"{written[0]}", markup=False)
    if stopped_by is not None:
        print(f"interrupted: {len(saved)} hosts' results collected", file=sys.stderr)
        return stopped_by
    return 0 if all(result.reason is None and result.code == 0
                    for result in view.finished) else 1


def _run_argv(tokens: Sequence[str]) -> list[str]:
    """The options typed after `fleet ADDRESS`, without the fleet's own."""
    kept, skip = [], False
    for token in tokens:
        name = token.partition("=")[0]
        if skip:
            skip = False
        elif name in _FLEET_OWN:
            skip = _FLEET_OWN[name] and "=" not in token
        else:
            kept.append(token)
    return kept


_MEASURING = ("profile", "executors", "start_method", "payload_sizes", "timeout", "seed",
              "output", "machine")


def _costs(args: argparse.Namespace, console: Console) -> int:
    from mpbench.costs import store
    from mpbench.costs.figures import summarize
    from mpbench.costs.render import print_summary, to_json

    if args.file is not None:
        given = [f"--{name.replace('_', '-')}" for name in _MEASURING
                 if getattr(args, name) is not None]
        if given:
            raise UsageError(f"{' '.join(given)}: FILE shows a saved costs file, which measures "
                             "nothing; drop FILE to measure")
        results = store.read(args.file)
    else:
        try:
            results = _measure_costs(args, Console(stderr=True, highlight=False)
                                     if args.format == "json" else console)
        except KeyboardInterrupt as stop:
            return _interrupted_code(stop)
    summary = summarize(results)
    if args.format == "json":
        sys.stdout.write(to_json(summary))
    else:
        print_summary(console, summary)
        if args.file is None:
            console.print(f"costs saved to {results.path}", markup=False, soft_wrap=True)
    return 1 if results.failures else 0


def _measure_costs(args: argparse.Namespace, console: Console) -> CostResults:
    """Measure as the options say, with progress on `console`; on an interrupt, say what was
    kept."""
    from mpbench.costs import measure
    from mpbench.costs.probes import parse_payload_sizes
    from mpbench.costs.render import CostsView
    from mpbench.machine import collect as collect_machine
    from mpbench.views import print_machine

    try:
        sizes = None if args.payload_sizes is None else parse_payload_sizes(args.payload_sizes)
    except ValueError as exc:
        raise UsageError(f"--payload-sizes: {exc}") from None
    if args.output is not None and not args.output.name.endswith(".json"):
        raise UsageError(f"--output {args.output}: a costs file name must end in .json")
    if args.output is not None and args.output.exists():
        raise UsageError(f"--output {args.output} already exists; costs files are never "
                         "overwritten, so choose a new name")
    request = measure.CostsRequest(
        profile=args.profile or "default",
        executors=None if args.executors is None else tuple(
            parse_names(args.executors, COST_EXECUTORS, "executor")),
        start_methods=None if args.start_method is None else tuple(
            parse_names(args.start_method, available_start_methods(), "start method")),
        payload_bytes=sizes, timeout=args.timeout or measure.DEFAULT_TIMEOUT, seed=args.seed,
        output=args.output)
    machine = collect_machine(args.machine)
    methods = tuple(available_start_methods())
    default = default_start_method()
    results, destination = measure.prepare(
        request, machine, (default, *(method for method in methods if method != default)))
    print_machine(console, machine)
    try:
        with _signals_stop_like_ctrl_c(), CostsView(console, results) as view:
            measure.measure(results, destination, view)
    except KeyboardInterrupt:
        kept = f"what was measured is in {results.path}" if results.path else "nothing was saved"
        print(f"interrupted: {kept}", file=sys.stderr)
        raise
    return results


def _doctor(args: argparse.Namespace, console: Console) -> int:
    from mpbench.doctor import diagnose, render

    with console.status("checking the machine") as status:
        diagnosis = diagnose(args.seconds, progress=status.update)
    console.print(render(diagnosis))
    return 0 if diagnosis.verdict.fit else 1
