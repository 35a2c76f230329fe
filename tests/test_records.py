"""`show --format json|csv`: the per-scenario summary for scripts, on the golden files."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

import pytest

import mpbench
from mpbench.analysis import summarize
from mpbench.records import FIELDS

from conftest import assert_snapshot
from test_cli import run_cli


def test_json_has_one_record_per_scenario_with_every_field(
        capsys: pytest.CaptureFixture[str], golden_2cpu: Path) -> None:
    code, out, err = run_cli(capsys, "show", str(golden_2cpu), "--format", "json")
    assert (code, err) == (0, "")
    records = json.loads(out)
    summary = summarize(mpbench.load(golden_2cpu))
    assert [r["scenario"] for r in records] == summary["scenario"].tolist()
    for record in records:
        assert tuple(record) == FIELDS
    by_id = {r["scenario"]: r for r in records}
    serial = by_id["py_square/serial/w1@3.11"]
    assert (serial["speedup"], serial["speedup_low"], serial["speedup_high"]) == (1.0, 1.0, 1.0)
    assert serial["start_method"] is None and serial["flags"] == []
    pool = by_id["py_square/pool_map/w2/fork@3.11"]
    assert pool["median_low"] < pool["median_s"] < pool["median_high"]
    assert pool["speedup_low"] < pool["speedup"] < pool["speedup_high"]
    assert math.isclose(pool["efficiency"], pool["speedup"] / 2)
    assert (pool["workers"], pool["start_method"], pool["visits"], pool["samples"]) == (
        2, "fork", 2, 6)
    # the file's precision target is ±5 %: a scenario beyond it says so
    missed = summary.loc[summary["speedup_half_width"] > 0.05, "scenario"].tolist()
    assert [r["scenario"] for r in records if "missed_precision" in r["flags"]] == missed


def test_csv_is_the_same_records_as_a_table(capsys: pytest.CaptureFixture[str],
                                            golden_2cpu: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(golden_2cpu.parent)  # the file column holds the path as given
    code, out, _ = run_cli(capsys, "show", golden_2cpu.name, "--format", "csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    _, json_out, _ = run_cli(capsys, "show", golden_2cpu.name, "--format", "json")
    records = json.loads(json_out)
    assert [row["scenario"] for row in rows] == [r["scenario"] for r in records]
    assert [row["flags"] for row in rows] == [";".join(r["flags"]) for r in records]
    assert_snapshot(out, "show-golden-2cpu.csv")


def test_records_of_several_files_come_together(capsys: pytest.CaptureFixture[str],
                                                        golden_2cpu: Path,
                                                        golden_8cpu: Path) -> None:
    code, out, _ = run_cli(capsys, "show", str(golden_2cpu), str(golden_8cpu), "--format",
                           "json")
    assert code == 0
    assert {r["machine"] for r in json.loads(out)} == {"golden-2cpu", "golden-8cpu"}
