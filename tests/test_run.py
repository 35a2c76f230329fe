"""End-to-end runs with the smallest profile: real pyperf subprocesses, real files."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pyperf
import pytest

import mpbench
from mpbench.errors import UsageError
from mpbench.storage import read

from conftest import FAULTY_BENCHMARKS, TAG, ids
from test_cli import run_cli


def test_smoke_run_writes_a_file_pyperf_reads(capsys: pytest.CaptureFixture[str],
                                              tmp_path: Path) -> None:
    output = tmp_path / "smoke.json"
    code, out, err = run_cli(capsys, "run", "--profile", "smoke", "--kernels", "py_square",
                             "--executors", "threads,pool_map,process_value", "--workers", "2",
                             "--start-method", "fork", "-o", str(output))
    assert code == 0, err
    expected = ids("py_square/serial/w1", "py_square/threads/w2",
                   "py_square/process_value/w2/fork", "py_square/pool_map/w2/fork")
    suite = pyperf.BenchmarkSuite.load(str(output))
    assert sorted(suite.get_benchmark_names()) == sorted(expected)
    assert "round 1 (4 visits): single core " in out and " effective cores" in out
    assert "Median time and speedup over serial" in out
    assert out.rstrip().endswith(f"results saved to {output}")
    stats = subprocess.run([sys.executable, "-m", "pyperf", "stats", str(output)],
                           capture_output=True, text=True, check=True)
    assert f"py_square/pool_map/w2/fork@{TAG}" in stats.stdout

    frame = mpbench.load(output)
    assert frame.groupby("scenario")["result"].nunique().max() == 1
    assert frame["result"].nunique() == 1  # every executor computed the serial result
    results = read(output)
    assert results.machine.usable_cpus >= 1 and results.failures == []
    assert set(frame["startup_s"].notna()) == {True}


def test_a_failing_kernel_is_recorded_and_the_run_goes_on(capsys: pytest.CaptureFixture[str],
                                                          tmp_path: Path) -> None:
    output = tmp_path / "faults.json"
    code, out, _ = run_cli(capsys, "run", "--profile", "smoke", "--benchmarks",
                           str(FAULTY_BENCHMARKS), "--kernels", "raises,fine", "--executors",
                           "pool_map", "--workers", "1", "--start-method", "fork",
                           "-o", str(output))
    assert code == 1
    results = read(output)
    assert sorted(b.get_name() for b in results.benchmarks) == ids("fine/pool_map/w1/fork",
                                                                   "fine/serial/w1")
    reasons = {f.scenario.id: f.reason for f in results.failures}
    # smoke runs a tenth of the size: [0, 100), in 4 tasks of 25 for the pool
    assert reasons == {f"raises/serial/w1@{TAG}": "ValueError: bad range 0-100",
                       f"raises/pool_map/w1/fork@{TAG}": "ValueError: bad range 0-25"}
    assert f"✗ raises/serial/w1@{TAG}: ValueError: bad range 0-100" in out
    assert "2 of 4 scenarios failed" in out


def test_mpbench_run_from_python(tmp_path: Path) -> None:
    """The library entry point: typed options in, the saved results out; one visit each."""
    options = mpbench.RunOptions(
        mpbench.MatrixOptions(kernels=("py_square",), executors=("pool_map",), workers=(2,),
                              start_methods=("fork",), profile="smoke"),
        seed=11, output=tmp_path / "api.json")
    results = mpbench.run(options)
    assert results.path == tmp_path / "api.json"
    assert results.options.seed == 11 and results.options.precision is None
    assert results.visit_counts() == dict.fromkeys(
        ids("py_square/serial/w1", "py_square/pool_map/w2/fork"), 1)
    assert len(results.rounds) == 1 and results.rounds[0].visits == 2
    assert read(results.path).options == results.options
    frame = mpbench.load(results.path)
    paired = frame[frame["executor"] == "pool_map"]
    assert paired["baseline_s"].notna().all() and frame["round"].tolist() == [0, 0]


def test_run_options_are_checked_when_made() -> None:
    with pytest.raises(UsageError, match="unknown profile 'fast'"):
        mpbench.RunOptions(mpbench.MatrixOptions(profile="fast"))
    with pytest.raises(UsageError, match=re.escape("--precision 1.5: give a percentage above 0")):
        mpbench.RunOptions(precision=1.5)
    with pytest.raises(UsageError, match=re.escape("must end in .json or .json.gz")):
        mpbench.RunOptions(output=Path("results.txt"))


def test_the_default_path_is_results_machine_timestamp(tmp_path: Path) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "mpbench", "run", "--profile", "smoke", "--machine", "box",
         "-k", "py_count/serial", "--benchmarks", str(Path(__file__).parents[1] / "benchmarks")],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    [path] = (tmp_path / "results" / "box").iterdir()
    assert path.name.endswith("Z.json") and len(path.name) == len("20261125T101112Z.json")
    assert f"results saved to results/box/{path.name}" in completed.stdout


def test_the_run_path_stays_light() -> None:
    """Progress and saving import neither SciPy nor matplotlib; the pyperf worker not even
    pandas (SciPy loading its own OpenBLAS also changed the recorded BLAS facts)."""
    code = ("import sys, mpbench.cli, mpbench.runner, mpbench.views, mpbench._worker;"
            "print(sorted(m for m in ('scipy', 'matplotlib') if m in sys.modules))")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True).stdout.strip() == "[]"
    worker = ("import sys, mpbench._worker, mpbench.busy, mpbench.machine;"
              "print(sorted(m for m in ('pandas', 'scipy', 'matplotlib') if m in sys.modules))")
    assert subprocess.run([sys.executable, "-c", worker], capture_output=True, text=True,
                          check=True).stdout.strip() == "[]"
