"""Every executor gives the serial result for every kernel, under every start method."""

from __future__ import annotations

import itertools
import multiprocessing

import pytest

from mpbench.executors import (
    EXECUTORS,
    InterpreterPool,
    Task,
    UnsupportedError,
    interpreter_pool_class,
    split_range,
    trivial_tasks,
)
from mpbench.kernels import combine, discover
from mpbench.model import describe_exit

from conftest import BENCHMARKS

START_METHODS = multiprocessing.get_all_start_methods()


def tasks_for(kernel_name: str, pieces: int) -> tuple[list[Task], int]:
    spec = discover(BENCHMARKS)[kernel_name]
    size = max(1000, spec.size // 2000)
    return [Task(spec.func, a, b) for a, b in split_range(size, pieces)], spec.func(0, size)


@pytest.mark.parametrize("start_method", START_METHODS)
@pytest.mark.parametrize("executor_name", [name for name, cls in EXECUTORS.items()
                                           if cls.uses_processes])
def test_process_executors_match_serial(executor_name: str, start_method: str) -> None:
    with EXECUTORS[executor_name](2, start_method) as executor:
        assert combine(executor.run(trivial_tasks(2, discover(BENCHMARKS)["py_square"].func))) == 0
        for kernel_name in discover(BENCHMARKS):
            tasks, expected = tasks_for(kernel_name, 5)
            assert combine(executor.run(tasks)) == expected, kernel_name


# interpreter_pool runs under the interpreters that have it: see test_interpreters.
@pytest.mark.parametrize("executor_name", [name for name, cls in EXECUTORS.items()
                                           if not cls.uses_processes
                                           and cls is not InterpreterPool])
@pytest.mark.parametrize("workers", [1, 3])
def test_in_process_executors_match_serial(executor_name: str, workers: int) -> None:
    with EXECUTORS[executor_name](workers) as executor:
        for kernel_name in discover(BENCHMARKS):
            tasks, expected = tasks_for(kernel_name, 7)
            assert combine(executor.run(tasks)) == expected, kernel_name


@pytest.mark.skipif(not isinstance(interpreter_pool_class(), str),
                    reason="this interpreter has subinterpreters")
def test_interpreter_pool_without_subinterpreters_says_what_it_needs() -> None:
    with pytest.raises(UnsupportedError, match=r"InterpreterPoolExecutor needs 3\.14 or later, "
                                               r"or 3\.13 with the interpreters-pep-734 backport"):
        InterpreterPool(2).open()


def test_kernels_agree_where_they_compute_the_same_thing() -> None:
    kernels = discover(BENCHMARKS)
    assert kernels["py_square"].func(0, 10**5) == kernels["np_square"].func(0, 10**5)
    assert kernels["py_count"].func(0, 100) == 25


@pytest.mark.parametrize(("size", "pieces"), [(10, 3), (3, 5), (0, 2), (1_000_001, 8)])
def test_split_range_covers_the_range_evenly(size: int, pieces: int) -> None:
    ranges = split_range(size, pieces)
    assert len(ranges) == pieces
    assert ranges[0][0] == 0 and ranges[-1][1] == size
    assert all(a[1] == b[0] for a, b in itertools.pairwise(ranges))
    lengths = [stop - start for start, stop in ranges]
    assert max(lengths) - min(lengths) <= 1


def test_exit_codes_in_words() -> None:
    assert describe_exit(-9) == "was killed by SIGKILL"
    assert describe_exit(-11) == "was killed by SIGSEGV"
    assert describe_exit(3) == "exited with code 3"


def test_the_analysis_knows_which_executors_use_processes() -> None:
    from mpbench.analysis import PROCESS_EXECUTORS, THREAD_EXECUTORS

    assert {name for name, cls in EXECUTORS.items() if cls.uses_processes} == PROCESS_EXECUTORS
    assert set(EXECUTORS) >= THREAD_EXECUTORS and InterpreterPool.name not in PROCESS_EXECUTORS
