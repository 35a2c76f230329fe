"""`mpbench costs`: the model's arithmetic on known inputs, the figures of a synthetic costs file
whose truth is known, the costs file, the command, and one real smoke run."""

from __future__ import annotations

import dataclasses
import json
import math
import sys
from pathlib import Path

import numpy as np
import pyperf
import pytest

import mpbench
from mpbench.costs import store
from mpbench.costs.figures import (
    CoresSource,
    SweepPoint,
    crossing,
    measured_break_even,
    precision_probes,
    summarize,
)
from mpbench.costs.model import (
    ExecutorCosts,
    best_chunk,
    break_even,
    chunk_costs,
    smallest_paying_chunk,
    workers_worth_it,
)
from mpbench.costs.probes import CostProbe, parse_payload_sizes, sweep_tasks
from mpbench.costs.spin import spin
from mpbench.errors import ResultsFileError
from mpbench.storage import read

import synthetic
from conftest import DATA, assert_snapshot
from test_cli import run_cli
from test_faults import assert_no_process_left, live_children

GOLDEN = DATA / "golden-costs.json"


# The model's arithmetic

def test_a_map_costs_its_hand_overs_and_its_shared_work() -> None:
    costs = ExecutorCosts(per_call_s=1e-3, per_chunk_s=40e-6, per_task_s=2e-6, cores=1.6)
    assert costs.map_seconds(1000, 1e-4) == pytest.approx(1e-3 + 1000 * 42e-6 + 0.1 / 1.6)
    # chunks of 10: a hundred hand-overs, and a tail of 9 tasks the other core cannot share
    assert costs.map_seconds(1000, 1e-4, chunk=10) == pytest.approx(
        1e-3 + 100 * 40e-6 + 1000 * 2e-6 + 0.1 / 1.6 + 9 * 1e-4 * (1 - 1 / 1.6))


@pytest.mark.parametrize(("dispatch", "cores"), [(40e-6, 1.8), (150e-6, 2.0), (1e-6, 3.7)])
def test_break_even_is_the_dispatch_over_the_share_of_work_saved(dispatch: float,
                                                                 cores: float) -> None:
    # n·t = n·d + n·t/c  ⇒  t = d / (1 - 1/c)
    expected = dispatch / (1 - 1 / cores)
    assert break_even(ExecutorCosts(0, dispatch, 0, cores), 1000) == pytest.approx(expected,
                                                                                   rel=1e-6)


@pytest.mark.parametrize("cores", [1.0, 0.7])
def test_without_a_second_core_nothing_breaks_even(cores: float) -> None:
    assert break_even(ExecutorCosts(0, 1e-6, 0, cores), 1000) == math.inf


def test_break_even_against_gil_threads_counts_their_own_cost() -> None:
    pool = ExecutorCosts(0, 40e-6, 0, 2.0)
    threads = ExecutorCosts(2 * 80e-6, 0, 0, 1.0)  # two threads per call, no parallel work
    # n·t + 2·80 µs = n·40 µs + n·t/2  ⇒  t = 2·(40 µs - 0.16 µs)
    assert break_even(pool, 1000, rival=threads) == pytest.approx(2 * (40e-6 - 0.16e-6))


def test_chunk_costs_reproduce_both_dispatch_figures() -> None:
    per_chunk, per_task = chunk_costs(40e-6, 4e-6, 125)
    costs = ExecutorCosts(0, per_chunk, per_task, 2.0)
    assert costs.map_seconds(1000, 0.0) / 1000 == pytest.approx(40e-6)
    assert costs.map_seconds(1000, 0.0, chunk=125) / 1000 == pytest.approx(4e-6)
    assert chunk_costs(4e-6, 40e-6, 125) == (0.0, 4e-6)  # noise never makes a cost negative
    assert chunk_costs(40e-6, 4e-6, 1) == (40e-6, 0.0)


@pytest.mark.parametrize(("per_chunk", "task_s"), [(40e-6, 1e-5), (40e-6, 1e-3), (1e-3, 1e-5),
                                                   (0.0, 1e-4)])
def test_best_chunk_is_the_brute_force_minimum(per_chunk: float, task_s: float) -> None:
    costs = ExecutorCosts(0, per_chunk, 1e-6, 1.8)
    brute = min(range(1, 501), key=lambda chunk: costs.map_seconds(1000, task_s, chunk))
    chosen = best_chunk(costs, 1000, task_s, workers=2)
    assert costs.map_seconds(1000, task_s, chosen) == pytest.approx(
        costs.map_seconds(1000, task_s, brute))


def test_the_smallest_paying_chunk() -> None:
    costs = ExecutorCosts(0, 40e-6, 1e-6, 2.0)
    # per task: 40 µs / m + 1 µs of cost against 10 µs / 2 saved  ⇒  m ≥ 10
    assert smallest_paying_chunk(costs, 10e-6) == 10
    assert smallest_paying_chunk(costs, 1e-6) is None  # the per-task cost alone eats the gain


def test_workers_worth_it_counts_start_up() -> None:
    by_workers = {2: ExecutorCosts(0, 40e-6, 0, 2.0), 4: ExecutorCosts(0, 40e-6, 0, 3.9)}
    assert workers_worth_it(by_workers, 1000, 1e-3, {}) == 4
    assert workers_worth_it(by_workers, 1000, 1e-3, {2: 0.01, 4: 1.0}) == 2
    assert workers_worth_it(by_workers, 1000, 1e-5, {}) == 1  # serial is as fast


# The spin kernel

def _traced_lines(turns: int) -> int:
    """Lines the interpreter runs in spin(0, turns): the work, counted exactly."""
    lines = 0

    def trace(frame: object, event: str, arg: object) -> object:
        nonlocal lines
        lines += event == "line"
        return trace

    sys.settrace(trace)
    try:
        assert spin(0, turns) == turns
    finally:
        sys.settrace(None)
    return lines


def test_the_spin_kernels_work_grows_linearly_with_its_length() -> None:
    turns = [100, 200, 400, 800]
    counts = [_traced_lines(count) for count in turns]
    # lines per extra turn, between each length and the next: the same, so the work is linear
    steps = {(counts[index + 1] - counts[index]) / (turns[index + 1] - turns[index])
             for index in range(len(turns) - 1)}
    assert len(steps) == 1 and steps.pop() > 0


def test_sweep_maps_give_every_worker_a_task_and_never_more_than_the_model_s_map() -> None:
    assert sweep_tasks(1e-5, 2, 0.04) == 1000
    assert sweep_tasks(1e-4, 2, 0.04) == 400
    assert sweep_tasks(0.1, 2, 0.04) == 2  # one each: the effective cores, with no tail


# Figures from a synthetic file of known truth

def test_the_figures_of_a_synthetic_file_are_its_true_costs() -> None:
    summary = summarize(store.read(GOLDEN))
    # from the sweep's 100 ms tasks, where the hand-overs are 0.3 % of the work
    assert summary.effective_cores == pytest.approx(synthetic.TRUE_CORES, rel=0.02)
    assert summary.cores_source == CoresSource.SWEEP
    for item in summary.figures:
        truth = synthetic.true_cost(item.probe)
        # a loaded figure is a small difference of two noisy maps
        tolerance = 0.1 if item.probe.measure == "loaded" else 0.05
        assert item.seconds == pytest.approx(truth, rel=tolerance), item.probe.id
        assert item.low <= item.seconds <= item.high
    assert "costs/shared/queue/w1/fork" not in {item.probe.id for item in summary.figures}


@pytest.mark.parametrize("executor", ["pool_map", "pool_async", "process_pool"])
def test_predicted_and_measured_break_even_find_the_true_one(executor: str) -> None:
    found = {item.executor: item for item in summarize(store.read(GOLDEN)).break_evens}
    truth = synthetic.true_per_task(executor) / (1 - 1 / synthetic.TRUE_CORES)
    item = found[executor]
    assert item.predicted_s == pytest.approx(truth, rel=0.05)
    assert item.measured_s == pytest.approx(truth, rel=0.1)
    assert item.measured_low_s is not None and item.measured_high_s is not None
    assert item.measured_low_s <= item.measured_s <= item.measured_high_s
    assert item.ratio == pytest.approx(1, abs=0.1)


def test_without_a_sweep_the_effective_cores_are_the_rounds_probes() -> None:
    results = store.read(GOLDEN)
    results.benchmarks = [bench for bench in results.benchmarks
                          if not bench.get_name().startswith("costs/sweep/")]
    summary = summarize(results)
    assert (summary.effective_cores, summary.cores_source) == (synthetic.TRUE_CORES,
                                                               CoresSource.PROBE)
    results.rounds = []
    assert summarize(results).cores_source == CoresSource.ASSUMED
    assert summarize(results).effective_cores == 2.0


def test_unsettled_break_evens_get_a_point_at_their_crossing() -> None:
    summary = summarize(store.read(GOLDEN))
    assert precision_probes(summary) == []  # the synthetic crossings are within 1.5×
    widened = [dataclasses.replace(item, measured_low_s=(item.measured_s or 0) / 2)
               if item.executor == "pool_map" else item for item in summary.break_evens]
    wide = dataclasses.replace(summary, break_evens=widened)
    crossed = next(item.measured_s for item in widened if item.executor == "pool_map")
    assert crossed == pytest.approx(135e-6, rel=0.1)
    # no sweep point within 1.2× of 135 µs: a new one there, at two digits, mapping up to
    # 1,000 tasks as the model does, its spin scaled from the nearest point's real length
    (added,) = precision_probes(wide)
    nearest = next(point for point in summary.sweep
                   if point.probe.id == "costs/sweep/pool_map/w2/fork/100us")
    assert added.id == "costs/sweep/pool_map/w2/fork/140us"
    assert added.operations == round(0.1 / crossed)
    assert added.task_iterations == round(nearest.probe.task_iterations * crossed
                                          / nearest.task_seconds)
    # measured, it is the point to measure again
    wide.results.plan.append(added)
    again = dataclasses.replace(wide, sweep=[*wide.sweep, dataclasses.replace(
        nearest, probe=added, task_seconds=crossed)])
    assert precision_probes(again) == [added]


def test_threads_never_break_even_on_a_gil_build_and_the_sweep_agrees() -> None:
    found = {item.executor: item for item in summarize(store.read(GOLDEN)).break_evens}
    assert found["threads"].predicted_s == math.inf
    assert found["threads"].measured_s == math.inf
    assert found["thread_pool"].predicted_s == math.inf and found["thread_pool"].measured_s is None


LENGTHS = [1e-5, 1e-4, 1e-3, 1e-2]


def test_the_crossing_is_read_on_a_log_scale_between_the_points_either_side() -> None:
    # 0.5 at 10 µs, 1.5 at 100 µs: halfway in log time, about 31.6 µs
    assert crossing(LENGTHS[:2], [0.5, 1.5]) == pytest.approx(10 ** -4.5)
    # a dip below 1 after a crossing moves it: above the crossing, every point pays off
    assert crossing(LENGTHS, [0.5, 1.2, 0.9, 1.5]) == pytest.approx(10 ** (-3 + 1 / 6))
    assert crossing(LENGTHS[:2], [1.1, 1.5]) == 0.0
    assert crossing(LENGTHS[:2], [0.5, 0.9]) == math.inf


def _point(length: float, speedups: list[float]) -> SweepPoint:
    draws = np.array(speedups)
    return SweepPoint(CostProbe("sweep", "pool_map", 2, "fork", 10), length,
                      float(np.median(draws)), float(draws.min()), float(draws.max()), draws)


def test_the_measured_break_even_has_the_interval_of_its_replicates() -> None:
    # three draws of each point, crossing at 10^-4.5, 10^-4.4 and 10^-4.8 (0.5 to 1.5, 4/3, 3)
    points = [_point(1e-5, [0.5, 0.5, 0.5]), _point(1e-4, [1.5, 1.0 + 1 / 3, 3.0]),
              _point(1e-3, [1.8, 1.8, 1.8])]
    measured, low, high = measured_break_even(points)
    assert measured == pytest.approx(10 ** -4.5)
    assert (low, high) == (pytest.approx(10 ** -4.8), pytest.approx(10 ** -4.4))
    # longest tasks not beyond doubt above 1: never, whatever the medians do
    assert measured_break_even([_point(1e-5, [0.9, 0.9, 0.9]),
                                _point(1e-4, [0.98, 1.05, 1.1])])[0] == math.inf


# Payload sizes

def test_payload_sizes_take_units() -> None:
    assert parse_payload_sizes("64MiB, 100,10KiB,1mb") == (100, 10 << 10, 1_000_000, 64 << 20)


@pytest.mark.parametrize("text", ["-5", "0", "2GiB", "ten", "1.5XB", "", "nan"])
def test_bad_payload_sizes_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="is not a payload size from 1 B to 1 GiB"):
        parse_payload_sizes(text)


# The costs file

def test_a_costs_file_round_trips(tmp_path: Path) -> None:
    results = store.read(GOLDEN)
    again = store.read(store.save(results, tmp_path / "again.json", replace=False))
    assert store.to_json(again) == store.to_json(results)


def test_a_costs_file_is_not_a_run_and_a_run_is_not_a_costs_file() -> None:
    with pytest.raises(ResultsFileError, match="is a costs file from `mpbench costs`, not a run"):
        read(GOLDEN)
    with pytest.raises(ResultsFileError, match="is not a costs file; make one with"):
        store.read(DATA / "golden-2cpu.json")


@pytest.mark.parametrize(("path", "value", "message"), [
    (("plan", 0, "workers"), 0, "a count out of range"),
    (("plan", 0, "measure"), "warp", "unknown 'warp'"),
    (("options", "payload_bytes"), [], "'payload_bytes' is not a list of int"),
    (("options", "timeout"), -1, "'timeout' is out of range"),
    (("format",), 3, "has costs format 3"),
])
def test_a_damaged_costs_file_says_what_is_wrong(tmp_path: Path, path: tuple[object, ...],
                                                  value: object, message: str) -> None:
    data = json.loads(GOLDEN.read_text())
    target = data["mpbench"]
    for key in path[:-1]:
        target = target[key]  # type: ignore[index]
    target[path[-1]] = value  # type: ignore[index]
    damaged = tmp_path / "damaged.json"
    damaged.write_text(json.dumps(data))
    with pytest.raises(ResultsFileError, match=message):
        store.read(damaged)


def test_load_gives_costs_rows_their_measure_and_payload() -> None:
    frame = mpbench.load(GOLDEN)
    assert set(frame["measure"]) == {"startup", "dispatch", "round_trip", "shared", "loaded",
                                     "sweep"}
    trips = frame[frame["measure"] == "round_trip"]
    assert set(trips["payload_bytes"]) == {100, 10 << 10, 1 << 20, 64 << 20}
    assert frame[frame["measure"] != "round_trip"]["payload_bytes"].isna().all()
    sweep = frame[frame["measure"] == "sweep"]
    assert sweep["baseline_s"].notna().all() and set(sweep["kernel"]) == {"spin"}


# The command

def test_costs_shows_a_saved_file(capsys: pytest.CaptureFixture[str],
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "120")
    code, out, err = run_cli(capsys, "costs", str(GOLDEN))
    assert (code, err) == (1, "")  # one probe failed
    assert_snapshot(out, "costs-golden.txt")


def test_costs_json_from_a_saved_file(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "costs", "--format", "json", str(GOLDEN))
    assert (code, err) == (1, "")
    records = json.loads(out)
    assert {figure["unit"] for figure in records["figures"]} == {"s"}
    assert all(figure["low"] <= figure["value"] <= figure["high"]
               for figure in records["figures"])
    by_executor = {item["executor"]: item for item in records["break_even"]}
    assert by_executor["pool_map"]["start_method"] == "fork"
    # a busy worker's 60 µs a task, not the trivial tasks' 40 µs, over 1 - 1/1.8
    assert by_executor["pool_map"]["break_even_s_predicted"] == pytest.approx(135e-6, rel=0.05)
    assert by_executor["pool_map"]["break_even_s_measured"] == pytest.approx(135e-6, rel=0.1)
    # tasks of 13.5 µs, ten times shorter: about sqrt(1,000 × 56 µs / (13.5 µs × (1 - 1/1.8)))
    assert by_executor["pool_map"]["best_chunk"]["chunk"] == pytest.approx(95, rel=0.1)
    assert by_executor["threads"]["break_even_s_predicted"] is None
    assert by_executor["threads"]["predicted_note"] == "never"
    assert by_executor["threads"]["measured_note"].startswith("not reached by tasks of 0.1")
    assert records["failures"] == [{"id": "costs/shared/queue/w1/fork",
                                    "reason": "RuntimeError: synthetic failure"}]
    assert any("Threads never pay off" in sentence for sentence in records["advice"])


@pytest.mark.parametrize(("argv", "message"), [
    (["--payload-sizes", "-5"], "error: --payload-sizes: '-5' is not a payload size from 1 B "
                                "to 1 GiB (e.g. 100, 10KiB, 1MiB, 64MiB)\n"),
    (["--executors", "pool_mapp"], "error: unknown executor pool_mapp; choose from: pool_map, "
                                   "pool_async, process_pool, thread_pool, threads, process\n"),
    (["--start-method", "vfork"], "error: unknown start method vfork; choose from: "),
    (["--profile", "huge"], "error: unknown costs profile 'huge'; choose from: smoke, "
                            "default\n"),
    (["--timeout", "-1"], "error: argument --timeout: expected a number of seconds above 0"),
    (["-o", "costs.txt"], "error: --output costs.txt: a costs file name must end in .json\n"),
    (["-o", str(GOLDEN)], f"error: --output {GOLDEN} already exists; costs files are never "
                          "overwritten, so choose a new name\n"),
    ([str(GOLDEN), "--profile", "smoke"], "error: --profile: FILE shows a saved costs file, "
                                          "which measures nothing; drop FILE to measure\n"),
    (["no-such-file.json"], "error: no-such-file.json does not exist\n"),
    ([str(DATA / "golden-2cpu.json")], "is not a costs file; make one with `mpbench costs`\n"),
])
def test_bad_costs_options_give_one_error_line(capsys: pytest.CaptureFixture[str],
                                               argv: list[str], message: str) -> None:
    code, out, err = run_cli(capsys, "costs", *argv)
    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and "Traceback" not in err
    assert message in err if not message.startswith("error:") else err.startswith(message)


def test_a_smoke_costs_run_measures_every_figure(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """Real pyperf processes, the smallest profile: every measurement gives positive, finite
    figures with units, the break-even table is there, and nothing is left running."""
    before = live_children()
    output = tmp_path / "costs.json"
    code, out, _ = run_cli(capsys, "costs", "--profile", "smoke", "--start-method", "fork",
                           "--payload-sizes", "100,1MiB", "--format", "json", "-o", str(output))
    assert code == 0, out
    records = json.loads(out)
    assert {figure["measure"] for figure in records["figures"]} == {
        "startup", "dispatch", "round_trip", "shared", "loaded"}
    # a busy worker's figure is a difference of two maps, which noise can take below 0
    assert all(0 < figure["value"] < math.inf and figure["unit"] == "s" and figure["per"]
               for figure in records["figures"] if figure["measure"] != "loaded")
    assert all(math.isfinite(figure["value"]) and figure["unit"] == "s"
               for figure in records["figures"])
    assert {point["executor"] for point in records["sweep"]} == {
        "pool_map", "pool_async", "process_pool", "threads"}
    assert all(point["task_s"] > 0 and point["speedup"] > 0 for point in records["sweep"])
    assert {item["executor"] for item in records["break_even"]} == {
        "pool_map", "pool_async", "process_pool", "thread_pool", "threads"}
    assert records["file"] == str(output) and records["failures"] == []
    assert len(mpbench.load(output)) > 0
    assert_no_process_left(before)


def test_a_file_of_single_values_still_gives_json(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """One value a probe (an interrupted smoke run): figures without an interval, and sweep
    points left out of the crossings, never NaN in the JSON or a traceback."""
    results = store.read(GOLDEN)
    singles = []
    for bench in results.benchmarks:
        run = bench.get_runs()[0]  # one visit, of one value
        metadata = run.get_metadata()
        if "baseline_values" in metadata:
            metadata["baseline_values"] = metadata["baseline_values"].split()[0]
        singles.append(pyperf.Benchmark([pyperf.Run(run.values[:1], metadata=metadata,
                                                    collect_metadata=False)]))
    results.benchmarks = singles
    path = store.save(results, tmp_path / "single.json", replace=False)
    code, out, err = run_cli(capsys, "costs", "--format", "json", str(path))
    assert (code, err) == (1, "")
    records = json.loads(out)
    assert all(figure["low"] is None for figure in records["figures"])
    assert {item["break_even_s_measured"] for item in records["break_even"]} == {None}


def test_gil_threads_faster_than_serial_are_called_above_physics() -> None:
    from mpbench.costs.advice import sentences

    summary = summarize(store.read(GOLDEN))
    faster = [dataclasses.replace(point, speedup=1.2, low=1.1, high=1.3,
                                  replicates=np.full(len(point.replicates), 1.2))
              if point.probe.pattern == "threads" else point for point in summary.sweep]
    results = dataclasses.replace(summary, sweep=faster)
    crossed = dataclasses.replace(results, break_evens=[
        dataclasses.replace(item, measured_s=0.0) if item.executor == "threads" else item
        for item in results.break_evens])
    said = [sentence for sentence in sentences(crossed) if sentence.startswith("Threads")]
    assert said == ["Threads measured faster than serial here (up to 1.20×), which the GIL does "
                    "not allow for pure-Python work: the host ran one busy thread slower than "
                    "two, so this file's sweep measured the host as much as the executors; "
                    "measure again. The model says threads never pay off on this GIL build; use "
                    "processes, or a free-threaded Python."]
