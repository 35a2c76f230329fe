"""Property-based tests: parsers and loaders either succeed or raise mpbench's own errors."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mpbench.analysis import summarize
from mpbench.compare import Gate, parse_fail_on
from mpbench.errors import MpbenchError, ResultsFileError, UsageError
from mpbench.frame import to_frame
from mpbench.matrix import is_selected, max_workers, parse_names, parse_workers
from mpbench.storage import read
from mpbench.tables import speedup_table

from conftest import DATA

GOLDEN = json.loads((DATA / "golden-2cpu.json").read_text())
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
FILE_SETTINGS = settings(max_examples=150, deadline=None,
                         suppress_health_check=[HealthCheck.function_scoped_fixture])


@given(st.text())
def test_worker_lists_parse_or_explain(text: str) -> None:
    try:
        counts = parse_workers(text, usable_cpus=4)
    except UsageError as error:
        assert "--workers" in str(error)
        return
    assert counts == sorted(set(counts))
    assert all(1 <= count <= max_workers(4) for count in counts)


@given(st.lists(st.integers(1, 64), min_size=1))
def test_valid_worker_lists_round_trip(counts: list[int]) -> None:
    assert parse_workers(",".join(map(str, counts)), usable_cpus=2) == sorted(set(counts))


@given(st.text())
def test_names_parse_or_list_the_choices(text: str) -> None:
    valid = ["serial", "threads", "pool_map"]
    try:
        names = parse_names(text, valid, "executor")
    except UsageError as error:
        assert "choose from: serial, threads, pool_map" in str(error)
        return
    assert names and set(names) <= set(valid)


@given(st.text())
def test_whole_number_options_parse_or_explain(text: str) -> None:
    from mpbench.cli import main

    try:
        code = main(["list", "--size", text, "-k", "py_square/serial"])
    except SystemExit as exited:
        code = int(exited.code or 0)
    assert code in (0, 2)


@given(st.text())
def test_fail_on_specs_parse_or_show_the_form(spec: str) -> None:
    try:
        gate = parse_fail_on(spec)
    except UsageError as error:
        assert "\n" not in str(error) and "--fail-on" in str(error)
        return
    for threshold in (gate.time, gate.speedup):
        assert threshold is None or threshold >= 0


@given(st.sampled_from(["time", "speedup"]), st.integers(0, 500))
def test_valid_fail_on_specs_round_trip(kind: str, percent: int) -> None:
    gate = parse_fail_on(f"{kind}:{percent}%")
    expected = Gate(time=percent / 100, speedup=None) if kind == "time" else Gate(
        time=None, speedup=percent / 100)
    assert gate == expected


@given(st.text(), st.lists(st.text(), max_size=3))
def test_selection_never_fails(scenario_id: str, patterns: list[str]) -> None:
    assert is_selected(scenario_id, patterns) in (True, False)
    if not patterns:
        assert is_selected(scenario_id, patterns)
    for pattern in patterns:
        if pattern and not any(c in pattern for c in "*?[") and pattern in scenario_id:
            assert is_selected(scenario_id, patterns)


@given(JSON_VALUES)
@FILE_SETTINGS
def test_any_json_loads_or_is_refused(tmp_path: Path, value: Any) -> None:
    path = tmp_path / "any.json"
    path.write_text(json.dumps(value))
    with pytest.raises(ResultsFileError):
        read(path)


@given(st.binary(max_size=200))
@FILE_SETTINGS
def test_any_bytes_load_or_are_refused(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "any.json"
    path.write_bytes(content)
    with pytest.raises(ResultsFileError):
        read(path)


def _leaves(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(node, dict):
        children = [(key, value) for key, value in node.items()]
    elif isinstance(node, list):
        children = list(enumerate(node))
    else:
        return [path]
    return [path] + [leaf for key, value in children for leaf in _leaves(value, (*path, key))]


PATHS = _leaves(GOLDEN)


@given(st.sampled_from(PATHS), JSON_VALUES)
@FILE_SETTINGS
def test_a_damaged_results_file_is_refused_or_still_summarized(
        tmp_path: Path, where: tuple[Any, ...], replacement: Any) -> None:
    """Change any one part of a real file to anything: mpbench either refuses it with a clear
    error, or reads it and can still summarize it."""
    damaged = copy.deepcopy(GOLDEN)
    if not where:
        damaged = replacement
    else:
        parent = damaged
        for key in where[:-1]:
            parent = parent[key]
        parent[where[-1]] = replacement
    path = tmp_path / "damaged.json"
    path.write_text(json.dumps(damaged))
    try:
        results = read(path)
    except MpbenchError:
        return
    if results.benchmarks:
        summary = summarize(to_frame([results]))
        speedup_table(summary)
