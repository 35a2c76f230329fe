from __future__ import annotations

import gzip
import json
from pathlib import Path

import pyperf
import pytest

from mpbench.errors import ResultsFileError
from mpbench.storage import Results, read, save

import synthetic


def small_results() -> Results:
    scenarios = synthetic.plan(["py_square"], ["pool_map"], [1, 2])
    return synthetic.results(scenarios, synthetic.amdahl(0.1, 0.0),
                             failures=[(scenarios[-1], "ValueError: boom")])


def test_round_trip_keeps_axes_machine_plan_and_failures(tmp_path: Path) -> None:
    original = small_results()
    path = save(original, tmp_path / "run.json", replace=False)
    loaded = read(path)
    assert loaded.machine == original.machine
    assert loaded.plan == original.plan
    assert loaded.failures == original.failures
    assert loaded.options == original.options
    assert [b.get_name() for b in loaded.benchmarks] == ["py_square/serial/w1@3.11",
                                                          "py_square/pool_map/w1/fork@3.11"]
    metadata = loaded.benchmarks[1].get_metadata()
    assert {k: metadata[k] for k in ("kernel", "executor", "workers", "size", "tasks",
                                     "start_method", "blas_threads")} == {
        "kernel": "py_square", "executor": "pool_map", "workers": 1, "size": 1000, "tasks": 4,
        "start_method": "fork", "blas_threads": 1}
    assert loaded.benchmarks[1].get_values() == original.benchmarks[1].get_values()


def test_pyperf_reads_the_file_and_sees_machine_facts_as_suite_metadata(tmp_path: Path) -> None:
    path = save(small_results(), tmp_path / "run.json", replace=False)
    suite = pyperf.BenchmarkSuite.load(str(path))
    assert suite.get_benchmark_names() == ["py_square/serial/w1@3.11",
                                           "py_square/pool_map/w1/fork@3.11"]
    assert suite.get_metadata()["machine_usable_cpus"] == 2
    assert suite.get_metadata()["machine_name"] == "golden-2cpu"


def test_gzip_round_trip(tmp_path: Path) -> None:
    path = save(small_results(), tmp_path / "run.json.gz", replace=False)
    with gzip.open(path, "rt") as stream:
        assert "benchmarks" in json.load(stream)
    assert read(path).plan == small_results().plan
    assert len(pyperf.BenchmarkSuite.load(str(path))) == 2


def test_a_taken_name_is_never_overwritten(tmp_path: Path) -> None:
    first = save(small_results(), tmp_path / "run.json", replace=False)
    second = save(small_results(), tmp_path / "run.json", replace=False)
    assert (first.name, second.name) == ("run.json", "run-2.json")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run-2.json", "run.json"]


def test_replace_swaps_the_whole_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    results = small_results()
    path = save(results, tmp_path / "run.json", replace=False)
    results.failures.clear()
    assert save(results, path, replace=True) == path
    assert read(path).failures == []
    assert [p.name for p in tmp_path.iterdir()] == ["run.json"]


def test_a_run_where_everything_failed_still_records_why(tmp_path: Path) -> None:
    results = small_results()
    results.benchmarks.clear()
    loaded = read(save(results, tmp_path / "run.json", replace=False))
    assert loaded.benchmarks == [] and len(loaded.failures) == 1
    assert [s.id for s in loaded.missing()] == ["py_square/serial/w1@3.11",
                                                "py_square/pool_map/w1/fork@3.11"]


BAD_FILES = {
    "empty.json": ("", "is empty"),
    "truncated.json": ('{"version": "1.0", "bench', "is not valid JSON"),
    "list.json": ("[1, 2]", "is JSON but not a pyperf results file"),
    "pyperf-only.json": ('{"version": "1.0", "benchmarks": []}', "without mpbench metadata"),
    "binary.json": (b"\xff\xfe\x00garbage", "is not a text JSON file"),
    "future.json": ('{"version": "1.0", "benchmarks": [], "mpbench": {"format": 99}}',
                    "has mpbench format 99"),
    "bad-machine.json": ('{"version": "1.0", "benchmarks": [], "mpbench": {"format": 3, '
                         '"machine": {"name": 3}}}', "damaged"),
    "old-format.json": ('{"version": "1.0", "benchmarks": [], "mpbench": {"format": 2}}',
                        "has mpbench format 2; this mpbench reads formats 3 to 4"),
}


def _with_options(change: dict[str, object]) -> dict[str, object]:
    data = json.loads(json.dumps(synthetic.options().to_dict()))
    data.update(change)
    return data


@pytest.mark.parametrize(("change", "message"), [
    ({"seed": "7"}, "'seed' is not a whole number"),
    ({"timeout": -1}, "'timeout' is not a valid number"),
    ({"precision": 2}, "'precision' is not a valid number"),
    ({"max_seconds": -3}, "'max_seconds' is not a valid number"),
    ({"matrix": {"profile": "quick"}}, "'matrix' has missing or unknown fields"),
])
def test_stored_options_are_checked_field_by_field(tmp_path: Path, change: dict[str, object],
                                                   message: str) -> None:
    path = save(small_results(), tmp_path / "run.json", replace=False)
    data = json.loads(path.read_text())
    data["mpbench"]["options"] = _with_options(change)
    path.write_text(json.dumps(data))
    with pytest.raises(ResultsFileError, match=f"damaged: the run's options: {message}"):
        read(path)


def test_rounds_and_visits_round_trip(tmp_path: Path) -> None:
    from mpbench.model import RoundRecord

    original = small_results()
    original.rounds = [RoundRecord(0, "2026-12-01T10:00:00+00:00", 3, 9.5, 1.8),
                       RoundRecord(1, "2026-12-01T10:00:05+00:00", 3, None, None)]
    loaded = read(save(original, tmp_path / "run.json", replace=False))
    assert loaded.rounds == original.rounds
    assert loaded.visit_counts() == {"py_square/serial/w1@3.11": 2,
                                     "py_square/pool_map/w1/fork@3.11": 2}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_bad_files_raise_a_readable_error(tmp_path: Path, name: str) -> None:
    content, message = BAD_FILES[name]
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    with pytest.raises(ResultsFileError, match=message):
        read(path)


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(ResultsFileError, match="does not exist"):
        read(tmp_path / "nope.json")
    with pytest.raises(ResultsFileError, match="is a folder"):
        read(tmp_path)


def test_a_scenario_of_an_interpreter_the_file_does_not_describe_is_refused(
        tmp_path: Path) -> None:
    results = small_results()
    results.interpreters = [synthetic.interpreter("3.13t")]
    path = save(results, tmp_path / "run.json", replace=False)
    with pytest.raises(ResultsFileError, match=r"scenarios of interpreter '3\.11', which the "
                                               r"file does not describe"):
        read(path)
