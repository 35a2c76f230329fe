"""`mpbench history`: step detection on series with known truth, and the files it writes."""

from __future__ import annotations

import datetime as dt
import itertools
import re
from pathlib import Path

import numpy as np
import pytest
from matplotlib.axes import Axes
from matplotlib.colors import to_rgba

from mpbench.cli import main
from mpbench.errors import ResultsFileError, UsageError
from mpbench.history import (
    History,
    build_history,
    load_history,
    plot_history,
    render_html,
    step_bounds,
    write_history,
)

import synthetic

POINTS = 30
NOISE = 0.03  # of one point: the median of 5 values with 5 % noise has about 2.8 %
SERIES = 200
PLAN = synthetic.plan(["py_square"], ["threads", "pool_map"], [1, 2])
SLOWED = "py_square/pool_map/w2/fork@3.11"


def _noise(rng: np.random.Generator) -> np.ndarray:
    return rng.normal(np.log(0.2), NOISE, POINTS)


def test_pure_noise_shows_no_step() -> None:
    """Measured: none of 200 series shows a step (by simulation, fewer than 1 in 200 do)."""
    rng = np.random.default_rng(1)
    with_steps = sum(len(step_bounds(_noise(rng))) > 2 for _ in range(SERIES))
    assert with_steps <= 0.02 * SERIES


@pytest.mark.parametrize("ratio", [1.10, 0.90])
def test_an_injected_step_is_found_where_it_is(ratio: float) -> None:
    """A 10 % step is about 3.4 times the noise of a point: found, and only it, in ≥ 90 %."""
    rng = np.random.default_rng(2)
    found = 0
    for _ in range(SERIES):
        values = _noise(rng)
        values[18:] += np.log(ratio)
        bounds = step_bounds(values)
        found += len(bounds) == 3 and abs(bounds[1] - 18) <= 1
    assert found >= 0.9 * SERIES


def test_a_slow_drift_adds_up_to_steps_and_an_odd_run_is_no_step() -> None:
    rng = np.random.default_rng(3)
    drifting = _noise(rng) + np.linspace(0, np.log(1.3), POINTS)  # 30 % in 30 runs
    bounds = step_bounds(drifting)
    levels = [drifting[start:end].mean() for start, end in itertools.pairwise(bounds)]
    assert len(levels) >= 2 and levels == sorted(levels)
    odd = _noise(rng)
    odd[12] += np.log(1.4)  # one run on a busy machine
    assert step_bounds(odd) == [0, POINTS]


def test_too_short_or_flat_series() -> None:
    assert step_bounds(np.array([1.0, 2.0, 3.0])) == [0, 3]
    assert step_bounds(np.zeros(10)) == [0, 10]
    assert step_bounds(np.r_[np.zeros(10), np.ones(10)]) == [0, 10, 20]


@pytest.fixture(scope="module")
def stepped(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, History]:
    """30 runs; from run 20 on, pool_map with 2 workers is 20 % slower."""
    folder = tmp_path_factory.mktemp("ci-runner")
    model = synthetic.amdahl(0.2, 1 / 19)
    slower = synthetic.scaled(model, {("py_square", "pool_map", 2): 1.2})
    synthetic.history(folder, POINTS, lambda run: slower if run >= 20 else model, PLAN, seed=4)
    return folder, load_history(folder)


def test_history_orders_runs_by_date_and_finds_the_step(stepped: tuple[Path, History]) -> None:
    _, history = stepped
    assert [run.date.day if run.date else None for run in history.runs][:3] == [1, 2, 3]
    assert history.runs[0].label == "686780ca 2026-10-01"
    assert [(step.scenario, step.quantity, step.run, step.regression)
            for step in history.steps] == [(SLOWED, "median", 20, True),
                                           (SLOWED, "speedup", 20, True)]
    median = history.steps[0]
    assert 1.15 < median.ratio < 1.25 and 0.1 < median.before < 0.11


def test_runs_are_dated_in_utc_and_undated_runs_come_last() -> None:
    model = synthetic.amdahl(0.2, 0.1)
    dated = [synthetic.results(PLAN, model, seed=second, date=f"2026-11-01 07:00:{second}")
             for second in (30, 10)]
    undated = synthetic.results(PLAN, model, date="not a date")
    history = build_history([undated, *dated])
    # local time on a machine whose rounds started at 12:00:00 and 12:00:01 UTC: UTC-5
    assert [run.date for run in history.runs] == [
        dt.datetime(2026, 11, 1, 12, 0, second, tzinfo=dt.UTC) for second in (10, 30)] + [None]


def test_pure_noise_history_has_no_step(tmp_path: Path) -> None:
    synthetic.history(tmp_path, POINTS, lambda run: synthetic.amdahl(0.2, 1 / 19), PLAN, seed=5)
    assert load_history(tmp_path).steps == ()


def test_html_is_self_contained_and_escaped(stepped: tuple[Path, History],
                                           tmp_path: Path) -> None:
    _, history = stepped
    page = write_history(history, tmp_path / "history.html").read_text()
    assert page.count('src="data:image/png;base64,') == 1  # one kernel
    assert "<script" not in page and "http" not in page.replace("http-equiv", "")
    row = re.search(r"<tr><td class=\"worse\">slower</td>(.*?)</tr>", page)
    assert row is not None and SLOWED in row.group(1) and re.search(r"1\.2\d×", row.group(1))
    assert "Fewer than one series of pure noise in 200\nshows a step" in page


def test_png_is_one_image(stepped: tuple[Path, History], tmp_path: Path) -> None:
    _, history = stepped
    assert write_history(history, tmp_path / "h.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bad_inputs_say_what_to_do(stepped: tuple[Path, History], tmp_path: Path) -> None:
    folder, history = stepped
    with pytest.raises(UsageError, match=r"-o .*h\.svg: the history is written as \.html or "
                                         r"\.png; e\.g\. -o history\.html"):
        write_history(history, tmp_path / "h.svg")
    with pytest.raises(ResultsFileError, match="no results files in"):
        load_history(tmp_path)
    other = synthetic.write(synthetic.results(PLAN, synthetic.amdahl(0.1, 0.1),
                                              the_machine=synthetic.machine("laptop")),
                            tmp_path / "laptop.json")
    with pytest.raises(UsageError, match=r"the files are from 2 machines \(golden-2cpu, laptop\); "
                                         r"a history needs one machine's files"):
        load_history([folder, other])


EXECUTORS = ["threads", "thread_pool", "process_queue", "process_value", "process_manager",
             "pool_map", "pool_async", "process_pool"]
WIDE_PLAN = synthetic.plan(["py_square"], EXECUTORS, [1, 2])  # serial + 16: 17 lines


def _spread(fastest: float, slowest: float) -> synthetic.Model:
    """The 17 scenarios' times spread evenly on a log scale from `fastest` to `slowest`."""
    def model(kernel: str, executor: str, workers: int) -> float:
        index = 0 if executor == "serial" else 1 + 2 * EXECUTORS.index(executor) + workers - 1
        return fastest * (slowest / fastest) ** (index / 16)
    return model


def _upper_half(ax: Axes, value: float) -> bool:
    return bool(ax.transAxes.inverted().transform(ax.transData.transform((0, value)))[1] > 0.5)


@pytest.mark.parametrize(("fastest", "slowest"), [(0.01, 1.0), (0.15, 0.25)])
def test_history_lines_differ_and_the_time_axis_is_labelled_throughout(
        fastest: float, slowest: float) -> None:
    runs = [synthetic.results(WIDE_PLAN, _spread(fastest, slowest), seed=run, processes=1,
                              date=f"2026-11-0{run + 1} 12:00:00") for run in range(5)]
    figure = plot_history(build_history(runs))
    figure.canvas.draw()
    median = figure.axes[0]
    lines = [line for line in median.get_lines() if not line.get_label().startswith("_")]
    assert len(lines) == 17
    assert len({to_rgba(line.get_color()) for line in lines}) == 17
    low, high = median.get_ylim()
    major, minor = ([label for label in labels if label.get_text()
                     and low <= label.get_position()[1] <= high]
                    for labels in (median.get_yticklabels(), median.get_yticklabels(minor=True)))
    assert any(_upper_half(median, label.get_position()[1]) for label in major)
    boxes = [label.get_window_extent() for label in major + minor]
    assert len(boxes) >= 3
    assert not any(first.overlaps(second) for first, second in itertools.combinations(boxes, 2))


def test_html_shows_file_contents_as_text() -> None:
    runs = [synthetic.results(PLAN, synthetic.amdahl(0.2, 0.1), seed=run,
                              the_machine=synthetic.machine("<i>lab</i>\x1b[31m"))
            for run in range(3)]
    page = render_html(build_history(runs))
    assert "History of &lt;i&gt;lab&lt;/i&gt;\\x1b[31m" in page and "<i>" not in page


def test_cli_writes_the_page_or_says_what_is_wrong(capsys: pytest.CaptureFixture[str],
                                                   stepped: tuple[Path, History],
                                                   tmp_path: Path) -> None:
    folder, _ = stepped
    assert main(["history", str(folder), "-o", str(tmp_path / "history.html")]) == 0
    assert (tmp_path / "history.html").read_text().startswith("<!DOCTYPE html>")
    capsys.readouterr()
    assert main(["history", str(folder), "-o", str(tmp_path / "history.pdf")]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("error: -o ") and captured.err.count("\n") == 1
