"""The CLI, invoked in-process: whole outputs and exit codes."""

from __future__ import annotations

from pathlib import Path

import pytest

from mpbench.cli import main

from conftest import BENCHMARKS, TAG, assert_snapshot, ids


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exited:
        raise SystemExit(main(list(argv)))
    captured = capsys.readouterr()
    return int(exited.value.code or 0), captured.out, captured.err


def test_list_prints_the_ids_run_would_time(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "list", "--benchmarks", str(BENCHMARKS), "--kernels",
                             "py_square", "--executors", "threads,pool_map", "--workers", "1,2",
                             "--start-method", "spawn")
    assert (code, err) == (0, "")
    assert out.splitlines() == ids(
        "py_square/serial/w1", "py_square/threads/w1", "py_square/threads/w2",
        "py_square/pool_map/w1/spawn", "py_square/pool_map/w2/spawn",
    )


def test_list_with_selection(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "list", "-k", "np_*/pool_map/*", "-k", "serial",
                           "--workers", "2", "--start-method", "fork")
    assert code == 0
    assert out.splitlines() == ids(
        "np_count/serial/w1", "np_count/pool_map/w2/fork", "np_square/serial/w1",
        "np_square/pool_map/w2/fork", "py_count/serial/w1", "py_square/serial/w1",
    )


@pytest.mark.parametrize(("argv", "message"), [
    (["list", "--kernels", "nope"],
     "error: unknown kernel nope; choose from: np_count, np_square, py_count, py_square\n"),
    (["list", "--executors", "pool"],
     "error: unknown executor pool; choose from: serial, threads, thread_pool, process_queue, "
     "process_value, process_manager, pool_map, pool_async, process_pool, interpreter_pool, "
     "dask\n"),
    (["list", "--python", "/no/such/python"],
     "error: --python /no/such/python: no such executable; give the path of a python "
     "interpreter, e.g. --python ~/.local/bin/python3.14t\n"),
    (["list", "--python", "/bin/true"],
     "error: --python /bin/true: not a Python interpreter that answers"),
    (["list", "--gil", "1"], f"error: --gil 1 applies to free-threaded builds, and {TAG} is "
                             "none; add one with --python"),
    (["list", "--gil", "2"], "error: argument --gil: invalid choice: 2"),

    (["list", "--workers", "0"],
     "error: --workers '0': each count must be a whole number from 1 to 64 (this machine's "
     "limit), e.g. --workers 1,2,4 or --workers auto\n"),
    (["list", "--start-method", "teleport"], "error: unknown start method teleport; choose from:"),
    (["list", "-k", "zzz"], "error: no scenario matches -k zzz; `mpbench list` shows the "
                            "scenario ids\n"),
    (["run", "--profile", "fast"], "error: argument --profile: invalid choice: 'fast'"),
    (["run", "--timeout", "0"], "error: argument --timeout: expected a number of seconds above "
                                "0 and at most 604800, got '0' (see `mpbench run --help`)\n"),
    (["run", "--machine", "../up"], "error: argument --machine: '../up' is not usable as a "
                                    "folder name"),
    (["run", "--size", "0"], "error: argument --size: expected a whole number of at least 1"),
    (["list", "--benchmarks", "/no/such/folder"],
     "error: benchmarks folder '/no/such/folder' does not exist; pass --benchmarks DIR"),
    (["show"], "error: the following arguments are required: FILE"),
    (["frobnicate"], "error: argument COMMAND: invalid choice: 'frobnicate'"),
])
def test_bad_usage_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str],
                                          message: str) -> None:
    code, out, err = run_cli(capsys, *argv)
    assert code == 2 and out == ""
    assert err.startswith(message)
    assert err.count("\n") == 1 and "Traceback" not in err


def test_run_refuses_to_overwrite_an_existing_output(capsys: pytest.CaptureFixture[str],
                                                     tmp_path: Path) -> None:
    existing = tmp_path / "taken.json"
    existing.write_text("precious")
    code, _, err = run_cli(capsys, "run", "-k", "py_square/serial", "-o", str(existing))
    assert code == 2 and "already exists" in err
    assert existing.read_text() == "precious"
    code, _, err = run_cli(capsys, "run", "-k", "py_square/serial", "-o", str(tmp_path / "x.csv"))
    assert code == 2 and "must end in .json or .json.gz" in err


def test_show_prints_machine_table_and_failures(capsys: pytest.CaptureFixture[str],
                                                golden_2cpu: Path) -> None:
    code, out, err = run_cli(capsys, "show", str(golden_2cpu))
    assert (code, err) == (0, "")
    assert_snapshot(out.replace(str(golden_2cpu), "golden-2cpu.json"), "show-golden-2cpu.txt")


@pytest.mark.parametrize(("content", "message"), [
    (None, "does not exist"),
    ("", "is empty; is it a results file from `mpbench run`?"),
    ('{"version": "1.0", "benchmarks": []}', "is a pyperf file without mpbench metadata"),
])
def test_show_bad_files(capsys: pytest.CaptureFixture[str], tmp_path: Path, content: str | None,
                        message: str) -> None:
    path = tmp_path / "results.json"
    if content is not None:
        path.write_text(content)
    code, out, err = run_cli(capsys, "show", str(path))
    assert code == 2 and out == ""
    assert err.startswith(f"error: {path} {message}") and err.count("\n") == 1


def test_an_interpreter_older_than_supported_is_refused(capsys: pytest.CaptureFixture[str],
                                                        tmp_path: Path) -> None:
    """The check reads what the interpreter says of itself; this one says it is 3.8."""
    fake = tmp_path / "python3.8"
    fake.write_text("#!/bin/sh\necho '{\"version\": \"3.8.10\", \"version_info\": [3, 8], "
                    "\"implementation\": \"cpython\", \"free_threaded\": false}'\n")
    fake.chmod(0o755)
    code, out, err = run_cli(capsys, "list", "--python", str(fake))
    assert (code, out) == (2, "")
    assert err == f"error: --python {fake} is Python 3.8.10; mpbench needs 3.11 or newer\n"


def test_resume_refuses_kernels_or_a_machine_name_it_would_not_use(
        capsys: pytest.CaptureFixture[str], golden_2cpu: Path, tmp_path: Path) -> None:
    code, _, err = run_cli(capsys, "run", "--resume", str(golden_2cpu), "--benchmarks",
                           str(tmp_path))
    assert code == 2 and err == (f"error: {golden_2cpu} was run with the kernels in /benchmarks; "
                                 "--resume goes on with them, so drop --benchmarks\n")
    code, _, err = run_cli(capsys, "run", "--resume", str(golden_2cpu), "--machine", "box")
    assert code == 2 and err == (f"error: {golden_2cpu} was run as machine 'golden-2cpu'; "
                                 "--resume keeps that name, so drop --machine\n")


@pytest.mark.parametrize(("source", "message"), [
    ("import sys\nsys.exit(3)\n",
     " called sys.exit(3) while being imported; a kernel file should only define kernels"),
    ("from mpbench import kernel\n\n@kernel(size=2**63)\ndef big(start, stop):\n    return 0\n",
     ": @kernel(size=...) must be a whole number from 1 to 2**62, got 9223372036854775808"),
])
def test_a_bad_kernel_file_is_one_error_line(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                             source: str, message: str) -> None:
    (tmp_path / "bm_bad.py").write_text(source)
    code, out, err = run_cli(capsys, "list", "--benchmarks", str(tmp_path))
    assert (code, out) == (2, "")
    assert err == f"error: {tmp_path / 'bm_bad.py'}{message}\n"


def test_a_size_beyond_what_a_run_can_hold_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, "list", "--size", "100000000000000000000")
    assert code == 2
    assert err.startswith("error: argument --size: expected at most 2**62")
