"""The interpreter axis, run for real: this interpreter, and a free-threaded CPython and a GIL
build of the same version (made by scripts/build-python.sh; .ci/run passes them in and sets
MPBENCH_REQUIRE_INTERPRETERS=1, so these tests cannot skip in CI).

Each interpreter's environment is made on first use under the user's cache, as for any user,
so later runs of these tests reuse them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import mpbench
from mpbench.environments import ensure, environment_dir
from mpbench.interpreters import inspect
from mpbench.storage import read

from conftest import FAULTY_BENCHMARKS, TAG


def _interpreter(variable: str, pattern: str) -> str | None:
    """The interpreter named by `variable`, else the newest the build script cached."""
    given = os.environ.get(variable)
    if given:
        return given
    cache = Path(os.environ.get("MPBENCH_CACHE") or Path.home() / ".cache" / "mpbench")
    found = sorted((cache / "interpreters").glob(pattern))
    return str(found[-1]) if found else None


FREE_THREADED = _interpreter("MPBENCH_FREE_THREADED_PYTHON", "cpython-3.*t/bin/python3")
GIL_BUILD = _interpreter("MPBENCH_GIL_PYTHON", "cpython-3.*[0-9]/bin/python3")
REQUIRED = os.environ.get("MPBENCH_REQUIRE_INTERPRETERS") == "1"

if (FREE_THREADED is None or GIL_BUILD is None) and not REQUIRED:
    pytest.skip("no free-threaded and GIL builds: run scripts/build-python.sh",
                allow_module_level=True)
assert FREE_THREADED and GIL_BUILD, "MPBENCH_REQUIRE_INTERPRETERS=1 but no interpreters given"
FT_TAG, GIL_TAG = inspect(FREE_THREADED).tag, inspect(GIL_BUILD).tag


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mpbench", "run", "--profile", "smoke",
                           "--workers", "2", *argv], capture_output=True, text=True,
                          timeout=600)


@pytest.fixture(scope="module")
def three(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One run under the free-threaded build, the GIL build and this interpreter."""
    output = tmp_path_factory.mktemp("three") / "run.json"
    done = run("--kernels", "py_square,np_count", "--executors", "threads,interpreter_pool,"
               "pool_map", "--start-method", "fork", "--python", f"{FREE_THREADED},{GIL_BUILD}",
               "--python", sys.executable, "-o", str(output))
    assert done.returncode == 0, done.stderr + done.stdout
    return output


def test_the_interpreter_is_an_axis_of_the_file_and_the_frame(three: Path) -> None:
    results = read(three)
    assert [item.tag for item in results.interpreters] == [FT_TAG, GIL_TAG, TAG]
    assert results.interpreter(FT_TAG).free_threaded is True  # type: ignore[union-attr]
    frame = mpbench.load(three)
    assert list(dict.fromkeys(frame["interpreter"])) == [FT_TAG, GIL_TAG, TAG]
    versions = frame.groupby("interpreter")["python"].first()
    assert versions[FT_TAG] == versions[GIL_TAG] == inspect(GIL_BUILD).version
    assert set(frame["scenario"].str.rsplit("@", n=1).str[1]) == {FT_TAG, GIL_TAG, TAG}


def test_every_executor_under_every_interpreter_computes_the_serial_result(three: Path) -> None:
    frame = mpbench.load(three)
    assert frame.groupby("kernel")["result"].nunique().to_dict() == {"py_square": 1,
                                                                     "np_count": 1}
    measured = set(zip(frame["interpreter"], frame["executor"], strict=True))
    assert {(FT_TAG, "interpreter_pool"), (GIL_TAG, "interpreter_pool"),
            (FT_TAG, "threads"), (TAG, "pool_map")} <= measured


def test_what_an_interpreter_cannot_run_is_unsupported_with_its_reason(three: Path) -> None:
    results = read(three)
    reasons = {item.scenario.id: item.reason for item in results.unsupported}
    assert set(reasons) == {f"np_count/interpreter_pool/w2@{FT_TAG}",
                            f"np_count/interpreter_pool/w2@{GIL_TAG}",
                            f"np_count/interpreter_pool/w2@{TAG}",
                            f"py_square/interpreter_pool/w2@{TAG}"}
    assert reasons[f"np_count/interpreter_pool/w2@{GIL_TAG}"].startswith(
        "cannot load in a subinterpreter: ImportError:")
    assert "does not support loading in subinterpreters" in \
        reasons[f"np_count/interpreter_pool/w2@{FT_TAG}"]
    if sys.version_info < (3, 13):
        assert reasons[f"py_square/interpreter_pool/w2@{TAG}"] == (
            f"no subinterpreters on Python {TAG}: InterpreterPoolExecutor needs 3.14 or later, "
            "or 3.13 with the interpreters-pep-734 backport")
    assert results.failures == [] and not set(reasons) & {s.id for s in results.plan}


def test_the_gil_state_is_recorded_per_process_and_for_its_workers(three: Path) -> None:
    frame = mpbench.load(three)
    by_build = frame.groupby("interpreter")[["free_threaded", "gil_enabled",
                                             "workers_gil_enabled"]].agg(set)
    assert by_build.loc[FT_TAG].tolist() == [{True}, {False}, {False}]
    assert by_build.loc[GIL_TAG].tolist() == [{False}, {True}, {True}]


def test_show_answers_the_question_on_one_screen(three: Path) -> None:
    shown = subprocess.run([sys.executable, "-m", "mpbench", "show", str(three)],
                           capture_output=True, text=True, check=True,
                           env={**os.environ, "COLUMNS": "160"}).stdout
    assert f"interpreters: {FT_TAG} (cpython" in shown
    assert "The GIL, three ways round it" in shown
    assert "py_square: free-threaded threads " in shown and " at 2 workers" in shown
    assert f"free-threaded serial cost, py_square: {FT_TAG} takes " in shown
    assert f"unsupported on {GIL_TAG}: interpreter_pool for np_count: cannot load in a " \
           "subinterpreter" in shown


def test_gil_1_turns_the_gil_on_in_a_free_threaded_build(tmp_path: Path) -> None:
    output = tmp_path / "gil1.json"
    done = run("--kernels", "py_square", "--executors", "threads", "--python", FREE_THREADED,
               "--gil", "1", "-o", str(output))
    assert done.returncode == 0, done.stderr
    frame = mpbench.load(output)
    assert set(frame["gil_enabled"]) == {True} and set(frame["free_threaded"]) == {True}
    assert read(output).options.matrix.gil == 1


NEEDS_GIL_C = """#include <Python.h>
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_needs_gil", NULL, -1};
PyMODINIT_FUNC PyInit__needs_gil(void) { return PyModule_Create(&module); }
"""


def build_needs_gil(python: str, folder: Path) -> None:
    """Compile `_needs_gil`, an extension that declares no free-threading support, for
    `python` (each interpreter loads the file with its own suffix)."""
    paths = json.loads(subprocess.run(
        [python, "-c", "import json, sysconfig; print(json.dumps("
         "[sysconfig.get_paths()['include'], sysconfig.get_config_var('EXT_SUFFIX')]))"],
        capture_output=True, text=True, check=True).stdout)
    source = folder / "needs_gil.c"
    source.write_text(NEEDS_GIL_C)
    subprocess.run(["gcc", "-shared", "-fPIC", f"-I{paths[0]}", "-o",
                    str(folder / f"_needs_gil{paths[1]}"), str(source)], check=True)
    source.unlink()


def test_an_extension_without_free_threading_support_shows_the_gil_back_on(
        tmp_path: Path) -> None:
    """A kernel importing a C extension that does not declare free-threading support: the
    free-threaded build turns its GIL back on, and the results say so."""
    benchmarks = tmp_path / "benchmarks"
    benchmarks.mkdir()
    # Built for this interpreter too: mpbench reads the kernel's file here to plan the run.
    for python in (FREE_THREADED, sys.executable):
        build_needs_gil(python, benchmarks)
    (benchmarks / "bm_needs_gil.py").write_text(
        "import _needs_gil  # noqa: F401  (no free-threading support: the GIL comes back)\n\n"
        "from mpbench import kernel\n\n\n"
        "@kernel(size=100_000)\n"
        "def needs_gil(start: int, stop: int) -> int:\n"
        "    return sum(range(start, stop)) % 2**64\n")
    output = tmp_path / "needs-gil.json"
    done = run("--benchmarks", str(benchmarks), "--executors", "threads", "--python",
               FREE_THREADED, "-o", str(output))
    assert done.returncode == 0, done.stderr
    frame = mpbench.load(output)
    assert set(frame["free_threaded"]) == {True}
    assert set(frame["gil_enabled"]) == set(frame["workers_gil_enabled"]) == {True}


def test_an_environment_holds_what_timing_needs_and_no_more() -> None:
    environment = ensure(inspect(FREE_THREADED), print)
    has = subprocess.run([environment.python, "-c", "import importlib.util as u; print([m for m "
                          "in ('pyperf', 'psutil', 'threadpoolctl', 'numpy', 'mpbench', "
                          "'pandas', 'matplotlib') if u.find_spec(m)])"],
                         capture_output=True, text=True, check=True,
                         env={**os.environ, **environment.environ}).stdout
    assert has.strip() == "['pyperf', 'psutil', 'threadpoolctl', 'numpy', 'mpbench']"
    assert Path(environment.python).is_relative_to(environment_dir(inspect(FREE_THREADED)))


def test_show_json_names_each_scenario_s_interpreter(three: Path) -> None:
    records = json.loads(subprocess.run([sys.executable, "-m", "mpbench", "show", "--format",
                                         "json", str(three)], capture_output=True, text=True,
                                        check=True).stdout)
    assert {(record["interpreter"], record["scenario"].rsplit("@", 1)[1])
            for record in records} == {(FT_TAG, FT_TAG), (GIL_TAG, GIL_TAG), (TAG, TAG)}


def test_a_kernel_that_fails_or_hangs_in_a_subinterpreter_fails_its_scenario_alone(
        tmp_path: Path) -> None:
    from test_faults import assert_no_process_left, live_children

    before = live_children()
    output = tmp_path / "faults.json"
    done = run("--benchmarks", str(FAULTY_BENCHMARKS), "--kernels", "raises,hangs,fine",
               "--executors", "interpreter_pool", "--python", GIL_BUILD, "--timeout", "5",
               "-o", str(output))
    assert done.returncode == 1, done.stderr
    reasons = {failure.scenario.id: failure.reason for failure in read(output).failures}
    assert reasons[f"raises/interpreter_pool/w2@{GIL_TAG}"].startswith("ValueError: bad range")
    assert reasons[f"hangs/interpreter_pool/w2@{GIL_TAG}"] == "timed out after 5 s"
    assert f"fine/interpreter_pool/w2@{GIL_TAG}" not in reasons
    assert_no_process_left(before)


def test_nothing_to_measure_when_an_interpreter_can_run_none_of_it(tmp_path: Path) -> None:
    """A kernel needing a package only this interpreter has: under the GIL build alone every
    scenario is unsupported, and the run says so before measuring anything."""
    benchmarks = tmp_path / "benchmarks"
    benchmarks.mkdir()
    (benchmarks / "bm_needs_pandas.py").write_text(
        "import pandas  # noqa: F401\n\nfrom mpbench import kernel\n\n\n"
        "@kernel(size=1000)\ndef needs_pandas(start: int, stop: int) -> int:\n"
        "    return stop - start\n")
    done = run("--benchmarks", str(benchmarks), "--executors", "threads", "--python", GIL_BUILD,
               "-o", str(tmp_path / "none.json"))
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.endswith(
        f"error: nothing to measure: every scenario is unsupported (the first on {GIL_TAG}: "
        f"{benchmarks / 'bm_needs_pandas.py'} failed to import: ModuleNotFoundError: No module "
        "named 'pandas')\n")
    assert not (tmp_path / "none.json").exists()
