from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import mpbench
from mpbench.errors import ResultsFileError
from mpbench.frame import COLUMNS


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
    folder = mpbench.load(golden_2cpu.parent)
    assert set(folder["machine"]) == {"golden-2cpu", "golden-8cpu", "hostile"}


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
    from mpbench.frame import to_frame

    frame = to_frame([])
    assert list(frame.columns) == list(COLUMNS) and frame.empty
    assert isinstance(frame, pd.DataFrame)
