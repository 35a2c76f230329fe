"""Figures are checked by their structure (axes, labels, lines), not by pixels."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import mpbench
from mpbench import plots
from mpbench.analysis import scaling_fits, summarize


@pytest.fixture(scope="module")
def summary_8cpu() -> pd.DataFrame:
    from conftest import DATA

    return summarize(mpbench.load(DATA / "golden-8cpu.json"))


def test_speedup_figure(summary_8cpu: pd.DataFrame) -> None:
    fits = scaling_fits(summary_8cpu)
    figure = plots.speedup_figure(summary_8cpu, fits)
    axes = [a for a in figure.axes if a.get_visible()]
    assert [a.get_title() for a in axes] == ["py_square", "np_count"]
    for a in axes:
        assert a.get_xlabel() == "workers" and a.get_ylabel() == "speedup over serial (×)"
        assert [t.get_text() for t in a.get_xticklabels()] == ["1", "2", "4", "8"]
        assert [line.get_label() for line in a.get_lines() if line.get_label() == "ideal"]
        assert len(a.containers) == 3  # a line with error bars per executor
        # an Amdahl curve only where the fitted serial fraction is one (0 ≤ σ ≤ 1)
        sigmas = fits.loc[fits["kernel"] == a.get_title(), "amdahl_sigma"]
        assert len([line for line in a.get_lines() if line.get_linestyle() == ":"]) == int(
            sigmas.between(0, 1).sum()) >= 2
    legend = figure.legends[0]
    assert [t.get_text() for t in legend.get_texts()] == [
        "ideal", "threads", "pool_map (fork)", "process_pool (fork)"]


def test_efficiency_figure(summary_8cpu: pd.DataFrame) -> None:
    figure = plots.efficiency_figure(summary_8cpu)
    first = figure.axes[0]
    assert first.get_ylabel() == "efficiency (speedup / workers)"
    assert first.get_ylim()[0] == 0
    assert len(first.containers) == 3


def test_startup_figure_has_a_bar_per_executor_and_start_method(
        summary_8cpu: pd.DataFrame) -> None:
    figure = plots.startup_figure(summary_8cpu)
    axes = figure.axes[0]
    assert axes.get_ylabel() == "start-up (ms, log scale)"
    assert axes.get_title() == "Executor start-up with 8 workers"
    assert [t.get_text() for t in axes.get_xticklabels()] == ["threads", "pool_map",
                                                              "process_pool"]
    assert [t.get_text() for t in axes.get_legend().get_texts()] == ["in-process", "fork"]


def test_machines_figure_colours_machines(golden_2cpu: Path, golden_8cpu: Path) -> None:
    summary = summarize(mpbench.load([golden_2cpu, golden_8cpu]))
    labels = {str(golden_2cpu): "golden-2cpu", str(golden_8cpu): "golden-8cpu"}
    figure = plots.machines_figure(summary, labels)
    labels = [t.get_text() for t in figure.legends[0].get_texts()]
    # per file and kernel, its best thread and best process executor (which is best is noise)
    assert labels[0] == "ideal"
    for machine in ("golden-2cpu", "golden-8cpu"):
        executors = [label.split(": ")[1] for label in labels if label.startswith(machine)]
        assert executors[0] == "threads"
        assert set(executors[1:]) <= {"pool_map (fork)", "process_pool (fork)"}
        assert executors[1:]
    colours = {bars.get_label(): bars.lines[0].get_color() for bars in figure.axes[0].containers}
    assert colours["golden-2cpu: threads"] == colours[labels[2]]
    assert colours["golden-2cpu: threads"] != colours["golden-8cpu: threads"]


def test_oversubscribed_points_are_shaded(summary_8cpu: pd.DataFrame) -> None:
    squeezed = summary_8cpu.assign(usable_cpus=4,
                                   oversubscribed=summary_8cpu["workers"] > 4)
    figure = plots.speedup_figure(squeezed, scaling_fits(squeezed))
    assert any(patch.get_label() == "more workers than CPUs" for patch in figure.axes[0].patches)


def test_points_from_a_busy_or_slow_machine_are_ringed(summary_8cpu: pd.DataFrame) -> None:
    disturbed = summary_8cpu.assign(slowed=summary_8cpu["workers"] == 4)
    axes = plots.speedup_figure(disturbed, scaling_fits(disturbed)).axes[0]
    rings = [c for c in axes.collections if c.get_label() == "machine busy or slow while measured"]
    assert len(rings) == 1 and len(rings[0].get_offsets()) == 3  # 3 executors at 4 workers
    assert axes.get_title() == "py_square"

    baseline_slow = summary_8cpu.assign(slowed=summary_8cpu["executor"] == "serial")
    title = plots.speedup_figure(baseline_slow, scaling_fits(baseline_slow)).axes[0].get_title()
    assert title == "py_square\n(serial run disturbed: all its speedups uncertain)"
