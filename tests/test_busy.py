"""Other processes' load: the /proc parsers on fixture text, and the meter on a scripted clock."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import psutil
import pytest

from mpbench import busy
from mpbench.busy import (
    CpuTimes,
    OtherLoadMeter,
    Pressure,
    parse_cpu_pressure,
    parse_proc_stat,
    read_cpu_pressure,
)

PROC_STAT = """\
cpu  52162 0 6644 473382 373 0 265 284 0 0
cpu0 16459 0 2320 247361 35 0 155 157 0 0
cpu1 35703 0 4323 226020 338 0 109 127 0 0
intr 484334 0 0 0
ctxt 590997
"""

PRESSURE = """\
some avg10=3.80 avg60=1.32 avg300=1.57 total=21076290
full avg10=0.00 avg60=0.00 avg300=0.00 total=0
"""


def test_proc_stat_adds_busy_fields_and_keeps_steal_apart() -> None:
    assert parse_proc_stat(PROC_STAT) == CpuTimes(busy=52162 + 6644 + 265, steal=284)


def test_proc_stat_of_an_old_kernel_without_steal() -> None:
    assert parse_proc_stat("cpu 10 2 3 40\n") == CpuTimes(busy=15, steal=0)


def test_proc_stat_without_cpu_line() -> None:
    with pytest.raises(ValueError, match="no `cpu` line"):
        parse_proc_stat("intr 1 2 3\n")


def test_pressure_some_line() -> None:
    assert parse_cpu_pressure(PRESSURE + "\n") == Pressure(avg10=3.8, total_us=21076290)


def test_pressure_without_some_line() -> None:
    with pytest.raises(ValueError, match="no `some` line"):
        parse_cpu_pressure("full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n")


def test_pressure_is_none_where_psi_is_off(tmp_path: Path) -> None:
    assert read_cpu_pressure(tmp_path) is None
    (tmp_path / "pressure").mkdir()
    (tmp_path / "pressure" / "cpu").write_text(PRESSURE)
    assert read_cpu_pressure(tmp_path) == Pressure(avg10=3.8, total_us=21076290)


def test_system_busy_time_counts_steal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(busy, "read_cpu_times", lambda: CpuTimes(busy=300, steal=100))
    monkeypatch.setattr(busy, "CLOCK_TICKS", 100)
    assert busy.system_busy_seconds() == 4.0


def test_meter_subtracts_our_own_cpu_time(monkeypatch: pytest.MonkeyPatch) -> None:
    readings = {"busy": iter([10.0, 13.0, 20.0, 20.5]), "ours": iter([1.0, 2.0, 2.0, 2.5]),
                "clock": iter([0.0, 2.0, 5.0, 6.0])}
    monkeypatch.setattr(busy, "system_busy_seconds", lambda: next(readings["busy"]))
    monkeypatch.setattr(busy, "tree_cpu_seconds", lambda process: next(readings["ours"]))
    monkeypatch.setattr(busy, "time", SimpleNamespace(perf_counter=lambda: next(readings["clock"])))
    meter = OtherLoadMeter(psutil.Process())
    assert meter.other_load is None
    for _ in range(2):
        meter.start()
        meter.stop()
    # 3 s busy - 1 s ours over 2 s, then 0.5 s busy - 0.5 s ours over 1 s: 2 CPU-s in 3 s
    assert meter.other_load == pytest.approx(2 / 3)


def test_meter_without_proc_stat_measures_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(busy, "system_busy_seconds", lambda: None)
    meter = OtherLoadMeter(psutil.Process())
    meter.start()
    meter.stop()
    assert meter.other_load is None


def test_tree_cpu_time_of_this_process() -> None:
    assert busy.tree_cpu_seconds(psutil.Process()) > 0
