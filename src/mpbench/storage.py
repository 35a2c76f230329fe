"""Results files: pyperf BenchmarkSuite JSON with one extra top-level `mpbench` section.

pyperf reads the file as it is (it ignores keys it does not know), so `python -m pyperf stats`
and `compare_to` work on it. Each benchmark is one scenario, named by its id, with the axes as
its metadata; the machine facts are added to every benchmark, so pyperf shows them as suite
metadata. Every visit of a scenario (one timing process) is one pyperf run of its benchmark. The
`mpbench` section keeps what pyperf has no place for: the planned scenarios, the ones that failed
and why, the run's options, and the state of the machine at the start of each round.

Files are only ever written whole, to a temporary file that then takes the final name, so a
crash or an interrupt leaves either the previous complete file or the new complete file.
Results are JSON: never unpickled, never executed.
"""

from __future__ import annotations

import datetime as dt
import gzip
import io
import json
import os
import secrets
import sys
import zlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import pyperf

from mpbench.errors import ResultsFileError
from mpbench.interpreters import Interpreter
from mpbench.model import (
    MAX_SECONDS,
    MAX_SIZE,
    Failure,
    Machine,
    RoundRecord,
    Scaling,
    Scenario,
    Unsupported,
)
from mpbench.options import StoredOptions
from mpbench.schedule import unfinished

# Bytes of JSON read at most (after decompression): a default run makes about 0.1 MiB and a
# long rigorous run of a big matrix a few MiB, so this is far beyond any results file, and a
# gzip bomb stops here. Parsed, JSON takes up to some 10 times its size in memory.
MAX_RESULTS_BYTES = 64 << 20
# A results file has about one array or object per 100 bytes; one per few bytes (`[[],[],…]`)
# would take far more memory than its size, so it is refused before it is parsed.
MIN_BYTES_PER_CONTAINER = 10
# 2: rounds of visits, paired baselines, typed options; 3: interpreters; 4: CPU sets and
# scaling (a format-3 file reads as unpinned, strong scaling)
FORMAT_VERSION = 4
READABLE_FORMATS = (3, 4)
SECTION = "mpbench"
COSTS_KIND = "costs"  # the section's `kind` in a file of `mpbench costs` (see costs.store)
RESULTS_DIR = Path("results")


@dataclass
class Results:
    """Everything one run produced: pyperf benchmarks, failures, and how the run was asked for."""

    machine: Machine
    options: StoredOptions
    benchmarks: list[pyperf.Benchmark] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    plan: list[Scenario] = field(default_factory=list)
    rounds: list[RoundRecord] = field(default_factory=list)
    interpreters: list[Interpreter] = field(default_factory=list)  # in the order given
    unsupported: list[Unsupported] = field(default_factory=list)  # planned, never measured
    path: Path | None = None

    def interpreter(self, tag: str) -> Interpreter | None:
        return next((item for item in self.interpreters if item.tag == tag), None)

    def visit_counts(self) -> dict[str, int]:
        """Scenario id → how many visits (pyperf runs) it has."""
        return {bench.get_name(): bench.get_nrun() for bench in self.benchmarks}

    def visit_seconds(self, scenario_id: str) -> float:
        """How long the scenario's latest visit took, processes and imports included."""
        return last_visit_seconds(self.benchmarks, scenario_id)

    def add_visit(self, visit: pyperf.Benchmark) -> None:
        """Add a visit's run to its scenario's benchmark, in plan order (see add_run)."""
        add_run(self.benchmarks, visit, [scenario.id for scenario in self.plan])

    def fail(self, failure: Failure) -> None:
        """Record a failed scenario; what its earlier visits measured no longer counts."""
        self.benchmarks = [bench for bench in self.benchmarks
                           if bench.get_name() != failure.scenario.id]
        self.failures.append(failure)

    def missing(self) -> list[Scenario]:
        """Planned scenarios that still lack some of their first rounds' visits."""
        failed = {failure.scenario.id for failure in self.failures}
        return unfinished(self.plan, self.visit_counts(), failed, self.options.profile.rounds)


def add_run(benchmarks: list[pyperf.Benchmark], visit: pyperf.Benchmark,
            planned: Sequence[str]) -> None:
    """Add a visit's run to its benchmark in `benchmarks` (the first visit is the benchmark),
    which stay in the order of the `planned` ids, whatever order the rounds visit them in."""
    for bench in benchmarks:
        if bench.get_name() == visit.get_name():
            bench.add_runs(visit)
            return
    benchmarks.append(visit)
    position = {name: index for index, name in enumerate(planned)}
    benchmarks.sort(key=lambda bench: position.get(bench.get_name(), len(position)))


def last_visit_seconds(benchmarks: Sequence[pyperf.Benchmark], name: str) -> float:
    """How long the latest visit of benchmark `name` took, its process included; 0 if none."""
    for bench in benchmarks:
        if bench.get_name() == name:
            wall = bench.get_runs()[-1].get_metadata().get("visit_wall_s")
            return float(wall) if isinstance(wall, int | float) else 0.0
    return 0.0


def utc_stamp(now: dt.datetime | None = None) -> str:
    """`20261125T101112Z`: the UTC time that names results files and folders."""
    return (now or dt.datetime.now(dt.UTC)).strftime("%Y%m%dT%H%M%SZ")


def default_path(machine: Machine, now: dt.datetime | None = None) -> Path:
    """`results/<machine>/<UTC timestamp>.json`."""
    return RESULTS_DIR / machine.name / f"{utc_stamp(now)}.json"


def suite_json(benchmarks: Sequence[pyperf.Benchmark], section: dict[str, Any]
               ) -> dict[str, Any]:
    """A pyperf BenchmarkSuite's JSON with mpbench's `section` beside it (see the module's
    docstring); a suite without benchmarks, which pyperf cannot write, is the section alone."""
    data: dict[str, Any] = {"version": "1.0", "benchmarks": []}
    if benchmarks:
        buffer = io.StringIO()
        pyperf.BenchmarkSuite(list(benchmarks)).dump(buffer)
        data = json.loads(buffer.getvalue())
    return {**data, SECTION: section}


def save_json(data: dict[str, Any], path: Path, *, replace: bool) -> Path:
    """Write a results or costs file's JSON atomically, gzipped when its name ends in .gz, and
    return where it went (see write_atomically)."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":")) + "\n"
    content = gzip.compress(text.encode(), mtime=0) if path.name.endswith(".gz") else \
        text.encode()
    return write_atomically(path, content, replace=replace)


def to_json(results: Results) -> dict[str, Any]:
    return suite_json(results.benchmarks, {
        "format": FORMAT_VERSION,
        "machine": asdict(results.machine),
        "options": results.options.to_dict(),
        "plan": [asdict(scenario) for scenario in results.plan],
        "failures": [failure.to_dict() for failure in results.failures],
        "rounds": [record.to_dict() for record in results.rounds],
        "interpreters": [interpreter.to_dict() for interpreter in results.interpreters],
        "unsupported": [item.to_dict() for item in results.unsupported],
    })


def save(results: Results, path: Path, *, replace: bool) -> Path:
    """Write the whole results file atomically and return where it went."""
    return save_json(to_json(results), path, replace=replace)


def write_atomically(path: Path, content: bytes, *, replace: bool = True) -> Path:
    """Write `content` to a temporary file beside `path`, flush it to disk, then give it the name:
    a reader, a crash or an interrupt never sees half a file. Return the path written.

    With `replace=False` an existing file is never touched: the name gets a `-2`, `-3`, …
    suffix instead, so two runs started in the same second keep both their results.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp")
    try:
        with temporary.open("xb") as stream:
            stream.write(content)
            stream.flush()
            os.fsync(stream.fileno())
        if replace:
            temporary.replace(path)
            return path
        for candidate in _candidates(path):
            try:
                os.link(temporary, candidate)  # fails if the name is taken: no overwrite race
            except FileExistsError:
                continue
            return candidate
        raise ResultsFileError(f"could not find a free file name next to {path}")
    finally:
        temporary.unlink(missing_ok=True)


def _candidates(path: Path) -> list[Path]:
    stem, suffixes = path.name.split(".", 1) if "." in path.name else (path.name, "")
    dot = "." if suffixes else ""
    return [path] + [path.with_name(f"{stem}-{n}{dot}{suffixes}") for n in range(2, 1000)]


def read(path: Path) -> Results:
    """Load a results file, or raise ResultsFileError saying what is wrong with it."""
    data = read_json(path)
    if not isinstance(data, dict) or "benchmarks" not in data or "version" not in data:
        raise ResultsFileError(f"{path} is JSON but not a pyperf results file")
    section = data.get(SECTION)
    if not isinstance(section, dict):
        raise ResultsFileError(
            f"{path} is a pyperf file without mpbench metadata; make it with `mpbench run`"
        )
    if section.get("kind") == COSTS_KIND:
        raise ResultsFileError(f"{path} is a costs file from `mpbench costs`, not a run: "
                               f"`mpbench costs {path}` shows it, `mpbench report` reports it")
    stored_format = section.get("format")
    if type(stored_format) is not int or stored_format not in READABLE_FORMATS:
        raise ResultsFileError(
            f"{path} has mpbench format {_shorten(repr(section.get('format')))}; this mpbench "
            f"reads formats {READABLE_FORMATS[0]} to {READABLE_FORMATS[-1]}"
        )
    try:
        machine = Machine.from_dict(section["machine"])
        plan = [Scenario.from_dict(item) for item in section.get("plan", [])]
        failures = [Failure.from_dict(item) for item in section.get("failures", [])]
        rounds = [RoundRecord.from_dict(item) for item in section.get("rounds", [])]
        interpreters = [Interpreter.from_dict(item) for item in section["interpreters"]]
        unsupported = [Unsupported.from_dict(item) for item in section.get("unsupported", [])]
        _check_interpreters(interpreters, [*plan, *(item.scenario for item in failures),
                                           *(item.scenario for item in unsupported)])
        options = StoredOptions.from_dict(section.get("options"))
        benchmarks = []
        if data["benchmarks"]:
            suite = pyperf.BenchmarkSuite.loads(json.dumps(data))
            benchmarks = suite.get_benchmarks()
            for bench in benchmarks:
                _check_axes(bench)
    except ResultsFileError as exc:
        raise ResultsFileError(f"{path} is damaged: {_shorten(str(exc))}") from None
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:
        raise ResultsFileError(
            f"{path} is damaged: {type(exc).__name__}: {_shorten(str(exc))}") from None
    return Results(machine=machine, options=options, benchmarks=benchmarks, failures=failures,
                   plan=plan, rounds=rounds, interpreters=interpreters,
                   unsupported=unsupported, path=path)


def _shorten(text: str, limit: int = 200) -> str:
    """`text`, cut to `limit` characters: an error quoting a value of the file stays readable."""
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} characters)"


# The axes every benchmark must carry, and their types (see Scenario.to_metadata).
_AXES: dict[str, type] = {"kernel": str, "executor": str, "workers": int, "size": int,
                          "tasks": int, "blas_threads": int, "interpreter": str}


def _check_interpreters(interpreters: Sequence[Interpreter],
                        scenarios: Sequence[Scenario]) -> None:
    """Every scenario's interpreter is one of the file's, each named once."""
    tags = [item.tag for item in interpreters]
    if len(set(tags)) != len(tags):
        raise ResultsFileError("two interpreters share a tag")
    unknown = {scenario.interpreter for scenario in scenarios} - set(tags)
    if unknown:
        raise ResultsFileError(f"scenarios of interpreter {sorted(unknown)[0]!r}, which the "
                               "file does not describe")


def _check_axes(bench: pyperf.Benchmark) -> None:
    for run in bench.get_runs():
        metadata = run.get_metadata()
        for name, kind in _AXES.items():
            value = metadata.get(name)
            if not isinstance(value, kind) or isinstance(value, bool) or (
                    isinstance(value, int) and not 1 <= value <= MAX_SIZE) or value == "":
                raise ResultsFileError(f"benchmark {bench.get_name()!r} has no valid {name!r}")
        if not isinstance(metadata.get("start_method", ""), str):
            raise ResultsFileError(f"benchmark {bench.get_name()!r} has no valid 'start_method'")
        if metadata.get("scaling", Scaling.STRONG.value) not in {mode.value for mode in Scaling}:
            raise ResultsFileError(f"benchmark {bench.get_name()!r} has no valid 'scaling'")
        # NaN fails the comparison, and an integer of any size compares without overflowing.
        if not all(0 < value <= MAX_SECONDS for value in run.values):
            raise ResultsFileError(f"benchmark {bench.get_name()!r} has a time that is not a "
                                   f"number of seconds above 0 and at most {MAX_SECONDS:g}")
        visit_round = metadata.get("round")
        if not isinstance(visit_round, int) or isinstance(visit_round, bool) or visit_round < 0:
            raise ResultsFileError(f"benchmark {bench.get_name()!r} has a run without its 'round'")


def read_many(paths: Sequence[Path]) -> list[Results]:
    if not paths:
        raise ResultsFileError("no results file given")
    return [read(path) for path in paths]


def read_json(path: Path) -> Any:
    if path.is_dir():
        raise ResultsFileError(f"{path} is a folder; give one of the results files in it")
    try:
        with _open(path) as stream:
            raw = stream.read(MAX_RESULTS_BYTES + 1)
        if len(raw) > MAX_RESULTS_BYTES:
            raise ResultsFileError(
                f"{path} holds more than {MAX_RESULTS_BYTES >> 20} MiB of JSON, far more than "
                "any results file; it is not one")
        if (raw.count(b"[") + raw.count(b"{")) * MIN_BYTES_PER_CONTAINER > len(raw) + 10_000:
            raise ResultsFileError(f"{path} is nearly all JSON arrays and objects, unlike a "
                                   "results file; it is not one")
        return json.loads(raw.decode("utf-8"))
    except FileNotFoundError:
        raise ResultsFileError(f"{path} does not exist") from None
    except PermissionError:
        raise ResultsFileError(f"{path} cannot be read: permission denied") from None
    except (UnicodeDecodeError, gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise ResultsFileError(f"{path} is not a text JSON file, or its compression is "
                               f"damaged ({exc})") from None
    except RecursionError:
        raise ResultsFileError(f"{path} nests JSON too deeply to be a results file") from None
    except json.JSONDecodeError as exc:
        what = "is empty" if not exc.doc.strip() else \
            f"is not valid JSON ({exc.msg} at line {exc.lineno})"
        raise ResultsFileError(f"{path} {what}; is it a results file from `mpbench run`?") \
            from None
    except ValueError:  # json.loads refuses integers of more digits than int() takes
        raise ResultsFileError(f"{path} holds a number of more than "
                               f"{sys.get_int_max_str_digits()} digits; it is not a results "
                               "file") from None
    except OSError as exc:
        raise ResultsFileError(f"{path} cannot be read: {exc.strerror or exc}") from None


def is_costs_file(path: Path) -> bool:
    """Whether `path` is a costs file rather than a run's results (either may be damaged)."""
    try:
        data = read_json(path)
    except ResultsFileError:
        return False
    return isinstance(data, dict) and isinstance(data.get(SECTION), dict) and \
        data[SECTION].get("kind") == COSTS_KIND


def _open(path: Path) -> BinaryIO:
    """The file's bytes, decompressed as they are read when it is gzipped."""
    if path.name.endswith(".gz"):
        return gzip.GzipFile(path, "rb")  # type: ignore[return-value]  # a BinaryIO in all but name
    return path.open("rb")
