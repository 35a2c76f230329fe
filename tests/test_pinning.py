"""Pinned CPU sets and weak scaling: from the options to what the timing processes recorded."""

from __future__ import annotations

import os
from pathlib import Path

import pyperf
import pytest

from mpbench.errors import ResultsFileError, UsageError
from mpbench.executors import range_tasks
from mpbench.kernels import discover
from mpbench.matrix import MatrixOptions, expand, parse_cpus
from mpbench.model import Scenario
from mpbench.options import StoredOptions
from mpbench.storage import read
from mpbench.topology import format_cpu_list

from conftest import BENCHMARKS, FAULTY_BENCHMARKS, TAG
from test_cli import run_cli

ALLOWED = frozenset(os.sched_getaffinity(0))


def test_weak_scaling_gives_w_workers_w_copies_of_the_range_and_says_so_in_the_id() -> None:
    kernels = discover(BENCHMARKS)
    size = kernels["py_count"].size
    scenarios = expand(kernels, MatrixOptions(
        kernels=("py_count",), executors=("pool_map",), workers=(1, 2), start_methods=("fork",),
        scalings=("strong", "weak")), 2, [TAG])
    assert [(s.id, s.size, s.work) for s in scenarios] == [
        (f"py_count/serial/w1@{TAG}", size, 1),
        (f"py_count/pool_map/w1/fork@{TAG}", size, 1),
        (f"py_count/pool_map/w2/fork@{TAG}", size, 1),
        (f"py_count/pool_map/w1/fork/weak@{TAG}", size, 1),
        (f"py_count/pool_map/w2/fork/weak@{TAG}", size, 2)]
    assert scenarios[-1].to_metadata()["scaling"] == "weak"
    tasks = range_tasks(kernels["py_count"].func, size, scenarios[-1].tasks, 2)
    assert [(task.start, task.stop) for task in tasks] == 2 * [
        (0, size // 4), (size // 4, size // 2), (size // 2, 3 * size // 4), (3 * size // 4, size)]


def test_a_pinned_run_offers_as_many_workers_as_its_cpus() -> None:
    kernels = discover(BENCHMARKS)
    scenarios = expand(kernels, MatrixOptions(kernels=("py_square",), executors=("threads",),
                                              cpus=(0,)), 8, [TAG])
    assert sorted({s.workers for s in scenarios}) == [1]


def test_cpu_lists() -> None:
    assert parse_cpus("auto", {3, 1}) == (1, 3)
    assert parse_cpus("0-1", {0, 1, 2}) == (0, 1)
    with pytest.raises(UsageError, match=r"^--cpus '5': CPU 5 is not available to this "
                                         r"process, which may use 0-1$"):
        parse_cpus("5", {0, 1})
    with pytest.raises(UsageError, match=r"^--cpus '3-1': .*; e\.g\. --cpus 0-3,8"):
        parse_cpus("3-1", {0, 1, 2, 3})
    with pytest.raises(UsageError, match="cannot pin"):
        parse_cpus("auto", None)


def test_files_from_before_pinning_and_weak_scaling_still_read() -> None:
    old = Scenario("k", "serial", 1, 10, 1, None, 1, "bm_k.py", "hash", "3.11").to_json()
    stored = Scenario.from_json(old.replace(', "scaling": "strong"', ""))
    assert stored.scaling == "strong" and stored.id == "k/serial/w1@3.11"
    with pytest.raises(ResultsFileError, match="unknown scaling 'sideways'"):
        Scenario.from_json(old.replace('"strong"', '"sideways"'))
    matrix = {"kernels": None, "executors": None, "workers": None, "start_methods": None,
              "size": None, "tasks_per_worker": 4, "blas_threads": 1, "select": [],
              "profile": "smoke", "pythons": None, "gil": None}
    options = StoredOptions.from_dict({"matrix": matrix, "timeout": 300, "seed": 1,
                                       "precision": None, "max_seconds": None})
    assert (options.matrix.cpus, options.matrix.scalings, options.matrix.placement) == (
        None, None, "compact")
    with pytest.raises(ResultsFileError, match="'placement' is not compact or spread"):
        StoredOptions.from_dict({"matrix": {**matrix, "placement": "scattered"}, "timeout": 300,
                                 "seed": 1, "precision": None, "max_seconds": None})


@pytest.mark.parametrize(("option", "error"), [
    (["--cpus", "4096"], f"error: --cpus '4096': CPU 4096 is not available to this process, "
                         f"which may use {format_cpu_list(ALLOWED)}\n"),
    (["--scaling", "sideways"], "error: unknown scaling sideways; choose from: strong, weak\n"),
    (["--placement", "everywhere"], "error: argument --placement: invalid choice: 'everywhere' "
                                    "(choose from 'compact', 'spread') (see `mpbench run "
                                    "--help`)\n"),
])
def test_bad_pinning_and_scaling_options_are_one_line_errors(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, option: list[str],
        error: str) -> None:
    code, _, err = run_cli(capsys, "run", "--profile", "smoke", "--benchmarks", str(BENCHMARKS),
                           "-o", str(tmp_path / "run.json"), *option)
    assert code == 2
    assert err == error
    assert not (tmp_path / "run.json").exists()


def test_every_process_of_a_pinned_scenario_runs_on_its_cpus(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """The kernel's result counts the CPUs each process may use: pool children, per-call
    processes and Manager-fed workers computing as serial did were all pinned like it."""
    output = tmp_path / "pinned.json"
    code, out, _ = run_cli(capsys, "run", "--profile", "smoke", "--benchmarks",
                           str(FAULTY_BENCHMARKS), "--kernels", "pinned", "--executors",
                           "threads,process_queue,process_manager,pool_map,process_pool",
                           "--workers", "1,2", "--start-method", "fork", "--cpus", "0",
                           "--scaling", "strong,weak", "-o", str(output))
    assert code == 0, out
    assert "pinned (compact): 1 worker on CPU 0, 2 workers on CPU 0" in out
    results = read(output)
    suite = pyperf.BenchmarkSuite.load(str(output))
    size = results.plan[0].size
    for bench in suite.get_benchmarks():
        metadata = bench.get_metadata()
        assert metadata["cpus"] == "0"
        name = bench.get_name()
        assert metadata["result"] == str(size * (2 if "/w2/" in name and "/weak@" in name else 1))
    assert len(suite.get_benchmarks()) == len(results.plan) == 1 + 5 * 2 * 2
