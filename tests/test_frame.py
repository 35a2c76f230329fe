from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import pandas as pd
import pytest

import mpbench
from mpbench.errors import ResultsFileError
from mpbench.frame import COLUMNS, to_frame, utc_offsets
from mpbench.storage import Results

import synthetic


def test_load_gives_one_row_per_value_with_the_documented_columns(golden_2cpu: Path) -> None:
    frame = mpbench.load(golden_2cpu)
    assert list(frame.columns) == list(COLUMNS)
    # 14 measured scenarios × 2 processes × 3 values; warmups are left out
    assert len(frame) == 14 * 2 * 3
    assert frame["scenario"].nunique() == 14
    assert set(frame["machine"]) == {"golden-2cpu"}
    assert frame["workers"].dtype == "int64" and frame["value"].dtype == "float64"
    serial = frame[frame["executor"] == "serial"]
    assert serial["start_method"].isna().all()
    assert set(frame[frame["executor"] == "pool_map"]["start_method"]) == {"fork"}
    assert frame["gil_enabled"].all()
    assert (frame["process"].unique().tolist(), frame["sample"].unique().tolist()) == (
        [0, 1], [0, 1, 2])


def test_load_accepts_several_files_and_folders(golden_2cpu: Path, golden_8cpu: Path) -> None:
    both = mpbench.load([golden_2cpu, str(golden_8cpu)])
    assert set(both["machine"]) == {"golden-2cpu", "golden-8cpu"}
    folder = mpbench.load(golden_2cpu.parent)  # runs and a costs file, told apart by `measure`
    assert set(folder["machine"]) == {"golden-2cpu", "golden-8cpu", "hostile", "golden-costs"}
    assert set(folder[folder["measure"].isna()]["machine"]) == {"golden-2cpu", "golden-8cpu",
                                                               "hostile"}


def test_loaded_values_are_pyperf_values(golden_2cpu: Path) -> None:
    import pyperf

    suite = pyperf.BenchmarkSuite.load(str(golden_2cpu))
    frame = mpbench.load(golden_2cpu)
    for bench in suite:
        values = frame.loc[frame["scenario"] == bench.get_name(), "value"].tolist()
        assert values == pytest.approx(list(bench.get_values()))


def test_empty_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ResultsFileError, match="no results files"):
        mpbench.load(tmp_path)


def test_frame_types_are_fixed_even_when_empty() -> None:
    frame = to_frame([])
    assert list(frame.columns) == list(COLUMNS) and frame.empty
    assert isinstance(frame, pd.DataFrame)


PLAN = synthetic.plan(["py_square"], ["pool_map"], [2])


def _dates(result: Results) -> set[pd.Timestamp]:
    return set(to_frame([result])["date"])


def test_dates_are_utc(golden_2cpu: Path) -> None:
    frame = mpbench.load(golden_2cpu)
    assert frame["date"].dtype == "datetime64[ns, UTC]"
    # pyperf's "2026-11-01 12:00:00" from a machine whose rounds started 12:00:00+00:00
    assert set(frame["date"]) == {pd.Timestamp("2026-11-01 12:00:00", tz="UTC")}


@pytest.mark.parametrize(("local", "reader"), [
    ("2026-11-01 07:00:30.25", "Asia/Kolkata"),  # a UTC-5 machine, read in UTC+5:30
    ("2026-11-01 17:30:30.25", "America/New_York"),  # a UTC+5:30 machine
    ("2026-11-01 12:00:30.25", "Pacific/Kiritimati"),  # a UTC machine, read in UTC+14
])
def test_a_naive_pyperf_date_is_the_timing_machines_local_time(
        monkeypatch: pytest.MonkeyPatch, local: str, reader: str) -> None:
    """pyperf writes local time without an offset; the rounds' UTC starts (12:00:00 and
    12:00:01 here) tell the offset, whatever zone the reader is in."""
    monkeypatch.setenv("TZ", reader)
    time.tzset()
    try:
        result = synthetic.results(PLAN, synthetic.amdahl(0.2, 0.1), date=local)
        assert utc_offsets(result).keys() == {0, 1}
        assert _dates(result) == {pd.Timestamp("2026-11-01 12:00:30.25", tz="UTC")}
    finally:
        monkeypatch.undo()
        time.tzset()


def test_dates_no_round_accounts_for_are_utc_and_offsets_are_kept() -> None:
    model = synthetic.amdahl(0.2, 0.1)
    no_rounds = dataclasses.replace(synthetic.results(PLAN, model, date="2026-11-01 07:00:30"),
                                    rounds=[])
    assert _dates(no_rounds) == {pd.Timestamp("2026-11-01 07:00:30", tz="UTC")}
    # a month from its rounds' starts: no offset of a real time zone, so the records disagree
    far = synthetic.results(PLAN, model, date="2026-10-01 12:00:00")
    assert utc_offsets(far) == {}
    assert _dates(far) == {pd.Timestamp("2026-10-01 12:00:00", tz="UTC")}
    aware = synthetic.results(PLAN, model, date="2026-11-01T13:00:30+01:00")
    assert _dates(aware) == {pd.Timestamp("2026-11-01 12:00:30", tz="UTC")}
    unreadable = synthetic.results(PLAN, model, date="0001-01-01 00:00:00")
    assert to_frame([unreadable])["date"].isna().all()
