"""Analysis on hand-built frames with known answers: speedups, intervals, fits, verdicts."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import numpy as np
import pandas as pd
import pytest

from mpbench.analysis import (
    NOT_ENOUGH_DATA,
    amdahl_speedup,
    gil_verdicts,
    scaling_fits,
    summarize,
    usl_speedup,
)
from mpbench.estimates import bootstrap_medians
from mpbench.frame import COLUMNS

THREADS = ("threads", "thread_pool")
Point = tuple[str, int, float]  # (executor, workers, median seconds)


Speed = Callable[[int, int, int], float]  # (scenario index, visit, sample) → the CPU's slowness


def steady(scenario: int, visit: int, sample: int) -> float:
    return 1.0


def frame_of(points: Iterable[Point], *, kernel: str = "py_square", usable_cpus: int = 64,
             processes: int = 2, values: int = 3, noise: float = 0.0, seed: int = 0,
             contended: Sequence[str] = (), slowed: Sequence[str] = (),
             speed: Speed = steady) -> pd.DataFrame:
    """The tidy frame for one file: each point's values are its median times lognormal noise,
    times the machine's slowness `speed` at that moment; every parallel value is paired with a
    serial call at the same moment (when the points have a serial one).

    Scenario ids listed in `contended` get their first value marked as taken on a busy machine;
    those in `slowed` had their reference loop run 30 % slower than the others'.
    """
    rng = np.random.default_rng(seed)
    points = list(points)
    serial = next((median for executor, _, median in points if executor == "serial"), None)
    rows = []
    for index, (executor, workers, median) in enumerate(points):
        start_method = None if executor in ("serial", *THREADS) else "fork"
        scenario = f"{kernel}/{executor}/w{workers}" + (f"/{start_method}" if start_method else "")
        paired = executor != "serial" and serial is not None
        for process in range(processes):
            for sample in range(values):
                slowness = speed(index, process, sample)
                noisy = rng.lognormal(0, noise, 2) if noise else np.ones(2)
                rows.append({
                    "file": "results.json", "machine": "box", "python": "3.12.1",
                    "scenario": scenario, "kernel": kernel, "executor": executor,
                    "start_method": start_method, "workers": workers, "scaling": "strong",
                    "work": 1, "size": 1000,
                    "tasks": 4 * workers, "blas_threads": 1, "kernel_hash": "hash",
                    "usable_cpus": usable_cpus, "cpus_granted": usable_cpus,
                    "gil_enabled": True, "process": process, "round": process,
                    "sample": sample, "value": median * slowness * noisy[0],
                    "baseline_s": serial * slowness * noisy[1] if paired and serial else None,
                    "baseline_first": sample % 2 == 0 if paired else None,
                    "startup_s": 0.01, "other_load": 0.0,
                    "contended": scenario in contended and process == sample == 0,
                    "reference_ms": 5.2 if scenario in slowed else 4.0,
                    "result": "42", "date": pd.Timestamp("2026-11-01 12:00:00", tz="UTC"),
                })
    return pd.DataFrame(rows, columns=list(COLUMNS)).astype(COLUMNS)


def scaling(executor: str, speedups: dict[int, float], serial: float = 1.0) -> list[Point]:
    """Points for a serial run plus `executor` at the given speedups over it."""
    return [("serial", 1, serial),
            *((executor, workers, serial / speedup) for workers, speedup in speedups.items())]


def amdahl_points(executor: str, sigma: float, workers: Iterable[int]) -> list[Point]:
    return scaling(executor, {n: float(amdahl_speedup(n, sigma)) for n in workers})


def row(summary: pd.DataFrame, executor: str, workers: int) -> pd.Series:
    found = summary[(summary["executor"] == executor) & (summary["workers"] == workers)]
    assert len(found) == 1
    return found.iloc[0]


def test_speedup_and_efficiency_are_exact_on_noise_free_data() -> None:
    summary = summarize(frame_of(scaling("pool_map", {1: 0.8, 2: 1.6, 4: 3.0}, serial=0.5)))
    assert summary["scenario"].tolist() == [
        "py_square/serial/w1", "py_square/pool_map/w1/fork", "py_square/pool_map/w2/fork",
        "py_square/pool_map/w4/fork"]
    assert summary["samples"].tolist() == [6, 6, 6, 6]
    assert summary["serial_median"].tolist() == [0.5] * 4
    assert summary["speedup"].tolist() == pytest.approx([1.0, 0.8, 1.6, 3.0])
    assert summary["efficiency"].tolist() == pytest.approx([1.0, 0.8, 0.8, 0.75])
    # identical values leave nothing to resample: the intervals collapse onto the estimate
    assert summary["median_low"].tolist() == pytest.approx(summary["median"].tolist())
    assert summary["speedup_high"].tolist() == pytest.approx([1.0, 0.8, 1.6, 3.0])
    assert summary["efficiency_low"].tolist() == pytest.approx([1.0, 0.8, 0.8, 0.75])


def test_weak_scaling_speedup_is_serial_time_times_workers_over_time() -> None:
    """Gustafson's T1·w/Tw: w workers doing w copies of the serial work in 1.2 × the serial
    time scale w/1.2; they are not fitted, and must compute w times serial's result."""
    frame = frame_of([("serial", 1, 0.5), ("pool_map", 2, 0.6), ("pool_map", 4, 0.6)])
    weak = frame["executor"] != "serial"
    frame.loc[weak, "scaling"] = "weak"
    frame.loc[weak, "work"] = frame.loc[weak, "workers"]
    frame.loc[weak, "result"] = (42 * frame.loc[weak, "workers"]).astype(str)
    frame.loc[frame["workers"] == 4, "result"] = "84"  # lost half its work
    summary = summarize(frame)
    assert summary["speedup"].tolist() == pytest.approx([1.0, 2 * 0.5 / 0.6, 4 * 0.5 / 0.6])
    assert summary["serial_median"].tolist() == pytest.approx([0.5, 1.0, 2.0])
    assert summary["wrong_result"].tolist() == [False, False, True]
    assert scaling_fits(summary).empty


def test_speedup_is_nan_without_a_serial_run() -> None:
    summary = summarize(frame_of([("threads", 2, 1.0)]))
    assert summary[["serial_median", "speedup", "speedup_low", "efficiency_high"]].isna().all(
        axis=None)


def test_median_interval_contains_the_true_median_and_narrows_with_more_samples() -> None:
    few = summarize(frame_of([("serial", 1, 0.1)], processes=4, values=5, noise=0.05))
    many = summarize(frame_of([("serial", 1, 0.1)], processes=10, values=30, noise=0.05))
    for summary in (few, many):
        assert summary.loc[0, "median_low"] < 0.1 < summary.loc[0, "median_high"]
    width = [s.loc[0, "median_high"] - s.loc[0, "median_low"] for s in (few, many)]
    assert width[1] < width[0] / 2  # 15 times the values: about √15 ≈ 3.9 times narrower


def test_intervals_are_deterministic_and_need_two_values() -> None:
    frame = frame_of(scaling("pool_map", {2: 1.8}), noise=0.05)
    assert summarize(frame).equals(summarize(frame))
    single = summarize(frame_of(scaling("pool_map", {2: 1.8}), processes=1, values=1))
    assert single[["median_low", "median_high"]].isna().all(axis=None)
    assert row(single, "pool_map", 2)[["speedup_low", "speedup_high"]].isna().all()
    assert row(single, "serial", 1)[["speedup_low", "speedup_high"]].tolist() == [1.0, 1.0]


def test_speedup_comes_from_the_pairs_with_an_interval_around_the_truth() -> None:
    summary = summarize(frame_of(scaling("pool_map", {2: 1.8}), processes=4, values=5,
                                 noise=0.05))
    serial, parallel = row(summary, "serial", 1), row(summary, "pool_map", 2)
    assert (serial["speedup_low"], serial["speedup_high"]) == (1.0, 1.0)  # the reference itself
    assert parallel["speedup_low"] < 1.8 < parallel["speedup_high"]
    assert parallel["speedup"] == pytest.approx(1.8, rel=0.05)
    assert parallel["efficiency_high"] == pytest.approx(parallel["speedup_high"] / 2)


def ramp(scenario: int, visit: int, sample: int) -> float:
    """A machine that slows steadily through the run: scenarios are timed one after another,
    each over 2 visits × 3 values, and the last runs about 60 % slower than the first."""
    return 1 + 0.1 * (scenario * 6 + visit * 3 + sample) / 6


def step(scenario: int, visit: int, sample: int) -> float:
    """The CPU runs 38 % slower from the second scenario on, as a shared host can."""
    return 1.0 if scenario == 0 else 1.38


@pytest.mark.parametrize("speed", [ramp, step])
def test_paired_speedups_hold_when_the_machine_drifts(speed: Speed) -> None:
    """Separately timed medians carry the drift between baseline and scenario into the ratio;
    pairs timed back to back do not."""
    truth = {1: 0.95, 2: 1.8, 4: 3.2, 8: 5.0}
    summary = summarize(frame_of(scaling("pool_map", truth), noise=0.02, speed=speed))
    serial_median = row(summary, "serial", 1)["median"]
    for workers, expected in truth.items():
        point = row(summary, "pool_map", workers)
        assert point["speedup"] == pytest.approx(expected, rel=0.04)
        separate = serial_median / point["median"]  # the old estimate: timed apart
        assert abs(separate / expected - 1) > 0.08


def test_a_process_is_resampled_whole() -> None:
    """Two processes that disagree widen the interval beyond what their values alone show."""
    frame = frame_of([("serial", 1, 1.0)], processes=2, values=10, noise=0.01, seed=3)
    frame.loc[frame["process"] == 1, "value"] *= 1.2
    summary = summarize(frame)
    assert summary.loc[0, "median_high"] / summary.loc[0, "median_low"] > 1.15


def test_processes_of_unequal_length_are_resampled_without_padding() -> None:
    """Five values of 1.0 in one process, two of 2.0 in the other: a resample holds whole
    processes, so its median is 1.0 unless it drew the short process twice (then 2.0)."""
    values = np.array([1.0] * 5 + [2.0] * 2)
    medians = bootstrap_medians(values, np.array([0] * 5 + [1] * 2), np.random.default_rng(0))
    assert set(np.unique(medians)) == {1.0, 2.0}
    assert np.mean(medians == 2.0) == pytest.approx(0.25, abs=0.03)


def test_a_single_process_is_a_plain_bootstrap_of_its_values() -> None:
    values = np.arange(1.0, 8.0)
    medians = bootstrap_medians(values, np.zeros(7, dtype=np.int64), np.random.default_rng(0))
    assert set(np.unique(medians)) <= set(values)
    assert 2.0 <= np.percentile(medians, 2.5) < 4.0 < np.percentile(medians, 97.5) <= 6.0


def test_a_scenario_measured_while_the_cpu_ran_slow_is_marked() -> None:
    points = scaling("pool_map", {1: 1.0, 2: 1.9, 4: 3.5})
    summary = summarize(frame_of(points, slowed=["py_square/pool_map/w2/fork"]))
    assert summary["reference_ms"].tolist() == [4.0, 4.0, 5.2, 4.0]
    assert summary["slowed"].tolist() == [False, False, True, False]


def test_oversubscribed_and_contended_flags() -> None:
    frame = frame_of(scaling("threads", {2: 1.0, 4: 1.0}), usable_cpus=2,
                     contended=["py_square/threads/w2"])
    summary = summarize(frame)
    assert summary["oversubscribed"].tolist() == [False, False, True]
    assert summary["contended"].tolist() == [False, True, False]
    assert summary["oversubscribed"].dtype == bool and summary["contended"].dtype == bool


def test_karp_flatt_on_known_data() -> None:
    summary = summarize(frame_of(scaling("pool_map", {1: 1.0, 2: 1.6, 4: 2.5})))
    # e(2) = (1/1.6 - 1/2) / (1 - 1/2) = 0.25; e(4) = (0.4 - 0.25) / 0.75 = 0.2
    karp_flatt = summary["karp_flatt"].tolist()
    assert np.isnan(karp_flatt[0]) and np.isnan(karp_flatt[1])
    assert karp_flatt[2:] == pytest.approx([0.25, 0.2])
    amdahl = summarize(frame_of(amdahl_points("pool_map", 0.1, [2, 4, 8])))
    assert amdahl["karp_flatt"].dropna().tolist() == pytest.approx([0.1, 0.1, 0.1])


def test_amdahl_sigma_is_recovered() -> None:
    summary = summarize(frame_of(amdahl_points("pool_map", 0.07, [1, 2, 4, 8]), noise=0.02))
    fits = scaling_fits(summary)
    assert len(fits) == 1
    assert fits.loc[0, "amdahl_sigma"] == pytest.approx(0.07, abs=0.01)
    assert fits.loc[0, "points"] == 4


def test_usl_is_recovered_from_noisy_data() -> None:
    workers = [1, 2, 4, 8, 16, 32]
    speedups = {n: float(usl_speedup(n, 0.05, 0.002)) for n in workers}
    fits = scaling_fits(summarize(frame_of(scaling("process_pool", speedups), noise=0.02,
                                           values=5)))
    fit = fits.iloc[0]
    assert (fit["points"], fit["usl_note"]) == (6, "")
    # over 100 seeds this noise moves sigma by at most 0.009 and kappa by at most 13 %
    assert fit["usl_sigma"] == pytest.approx(0.05, abs=0.015)
    assert fit["usl_kappa"] == pytest.approx(0.002, rel=0.2)
    assert fit["usl_peak_workers"] == pytest.approx(np.sqrt(0.95 / 0.002), rel=0.1)


def test_usl_without_crosstalk_peaks_at_infinity() -> None:
    fits = scaling_fits(summarize(frame_of(amdahl_points("pool_map", 0.1, [1, 2, 4, 8, 16]))))
    fit = fits.iloc[0]
    assert fit["usl_sigma"] == pytest.approx(0.1)
    assert fit["usl_kappa"] == 0 and fit["usl_peak_workers"] == np.inf
    assert fit["amdahl_sigma"] == pytest.approx(0.1)


def test_usl_is_not_fitted_on_three_worker_counts() -> None:
    fits = scaling_fits(summarize(frame_of(amdahl_points("pool_map", 0.1, [1, 2, 4]))))
    fit = fits.iloc[0]
    assert fit["points"] == 3
    assert fit["usl_note"] == "not enough points (3 worker counts; the USL needs 4)"
    assert fit[["usl_sigma", "usl_kappa", "usl_peak_workers"]].isna().all()
    assert fit["amdahl_sigma"] == pytest.approx(0.1)


def test_fits_ignore_oversubscribed_points() -> None:
    points = amdahl_points("pool_map", 0.1, [1, 2, 4, 8])
    wrong = [*points, ("pool_map", 16, 50.0), ("pool_map", 32, 0.001)]
    columns = ["points", "amdahl_sigma", "usl_sigma", "usl_kappa", "usl_peak_workers", "usl_note"]
    honest = scaling_fits(summarize(frame_of(points, usable_cpus=8)))[columns]
    padded = scaling_fits(summarize(frame_of(wrong, usable_cpus=8)))[columns]
    pd.testing.assert_frame_equal(honest, padded)


def test_fits_cover_each_parallel_executor_but_not_serial() -> None:
    points = [*amdahl_points("pool_map", 0.1, [1, 2]), ("threads", 1, 1.0), ("threads", 2, 1.0)]
    fits = scaling_fits(summarize(frame_of(points)))
    assert fits["executor"].tolist() == ["pool_map", "threads"]
    assert fits["start_method"].isna().tolist() == [False, True]
    assert fits["amdahl_sigma"].tolist() == pytest.approx([0.1, 1.0])
    assert fits["usl_note"].tolist() == [
        "not enough points (2 worker counts; the USL needs 4)"] * 2


def test_fits_without_usable_points_say_so() -> None:
    fits = scaling_fits(summarize(frame_of([("pool_map", 2, 1.0)])))  # no serial run
    assert fits.loc[0, "points"] == 0 and np.isnan(fits.loc[0, "amdahl_sigma"])
    assert fits.loc[0, "usl_note"] == "not enough points (0 worker counts; the USL needs 4)"


def gil(thread: float, process: float, *, workers: int = 2, usable_cpus: int = 2,
        thread_executor: str = "threads") -> pd.Series:
    points = [("serial", 1, 1.0), (thread_executor, workers, 1 / thread),
              ("pool_map", workers, 1 / process)]
    verdicts = gil_verdicts(summarize(frame_of(points, usable_cpus=usable_cpus)))
    assert len(verdicts) == 1
    return verdicts.iloc[0]


@pytest.mark.parametrize(("thread", "process", "holds_gil", "verdict"), [
    (1.0, 1.9, True, "threads 1.0× vs processes 1.9× at 2 workers: this kernel holds the GIL"),
    (1.8, 1.9, False, "threads 1.8× vs processes 1.9× at 2 workers: threads scale, so this "
                      "kernel releases the GIL"),
    (1.0, 1.1, None, "threads 1.0× vs processes 1.1× at 2 workers: neither scales here; the "
                     "machine or the task size limits it"),
    (1.9, 1.0, False, "threads 1.9× vs processes 1.0× at 2 workers: threads scale, so this "
                      "kernel releases the GIL"),
])
def test_gil_verdicts(thread: float, process: float, holds_gil: bool | None,
                      verdict: str) -> None:
    found = gil(thread, process)
    assert found["verdict"] == verdict
    assert (found["holds_gil"] is pd.NA) if holds_gil is None else found["holds_gil"] == holds_gil
    assert (found["workers"], found["thread_speedup"], found["process_speedup"]) == (
        2, pytest.approx(thread), pytest.approx(process))


def test_gil_verdict_when_threads_scale_only_partly() -> None:
    found = gil(1.5, 7.0, workers=8, usable_cpus=8, thread_executor="thread_pool")
    assert found["verdict"] == ("threads 1.5× vs processes 7.0× at 8 workers: threads scale far "
                                "less than processes, so this kernel releases the GIL for only "
                                "part of its work")
    assert not found["holds_gil"]


def test_gil_verdict_uses_the_largest_fair_worker_count_and_best_executors() -> None:
    points = [("serial", 1, 1.0),
              ("threads", 2, 1.0), ("thread_pool", 2, 1 / 1.1), ("threads", 4, 1.0),
              ("pool_map", 2, 1 / 1.5), ("process_pool", 2, 1 / 1.9), ("pool_map", 4, 1 / 3.5),
              ("threads", 8, 1.0), ("pool_map", 8, 1 / 9.0)]  # 8 > 4 usable CPUs: skipped
    verdict = gil_verdicts(summarize(frame_of(points, usable_cpus=4))).iloc[0]
    assert verdict["verdict"] == (
        "threads 1.0× vs processes 3.5× at 4 workers: this kernel holds the GIL")


@pytest.mark.parametrize("points", [
    [("serial", 1, 1.0), ("threads", 2, 1.0)],
    [("serial", 1, 1.0), ("threads", 1, 1.0), ("pool_map", 1, 1.0)],
    [("threads", 2, 1.0), ("pool_map", 2, 0.5)],  # no serial run, so no speedups
    [("serial", 1, 1.0), ("threads", 4, 1.0), ("pool_map", 4, 0.3)],  # oversubscribed
])
def test_gil_verdict_without_enough_data(points: list[Point]) -> None:
    verdict = gil_verdicts(summarize(frame_of(points, usable_cpus=2))).iloc[0]
    assert verdict["verdict"] == NOT_ENOUGH_DATA
    assert verdict["holds_gil"] is pd.NA and verdict["workers"] is pd.NA


def test_verdicts_are_per_kernel_and_file() -> None:
    frames = [frame_of([*amdahl_points("pool_map", 0.05, [2]), ("threads", 2, 1.0)],
                       kernel=kernel, usable_cpus=2) for kernel in ("py_square", "np_count")]
    verdicts = gil_verdicts(summarize(pd.concat(frames, ignore_index=True)))
    assert verdicts["kernel"].tolist() == ["py_square", "np_count"]
    assert verdicts["holds_gil"].tolist() == [True, True]


def test_summary_of_an_empty_frame_is_empty() -> None:
    summary = summarize(frame_of([]))
    assert summary.empty and {"median_low", "speedup_high", "contended"} <= set(summary.columns)
    assert scaling_fits(summary).empty and gil_verdicts(summary).empty
