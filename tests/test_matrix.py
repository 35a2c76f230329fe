from __future__ import annotations

import pytest

from mpbench.errors import UsageError
from mpbench.kernels import discover
from mpbench.matrix import (
    MatrixOptions,
    auto_workers,
    expand,
    is_selected,
    parse_names,
    parse_workers,
)
from mpbench.model import KernelSpec

from conftest import BENCHMARKS

TAGS = ["3.11"]


@pytest.fixture(scope="module")
def kernels() -> dict[str, KernelSpec]:
    return discover(BENCHMARKS)


def test_builtin_kernels_are_discovered_in_file_order(kernels: dict[str, KernelSpec]) -> None:
    assert list(kernels) == ["np_count", "np_square", "py_count", "py_square"]
    assert all(spec.size > 0 and spec.func.__doc__ for spec in kernels.values())


def test_default_matrix_on_two_cpus(kernels: dict[str, KernelSpec]) -> None:
    scenarios = expand(kernels, MatrixOptions(start_methods=["fork"]), usable_cpus=2,
                       interpreters=TAGS)
    assert len(scenarios) == 4 * (1 + 9 * 2)
    assert [s.id for s in scenarios[:6]] == [
        "np_count/serial/w1@3.11",
        "np_count/threads/w1@3.11",
        "np_count/threads/w2@3.11",
        "np_count/thread_pool/w1@3.11",
        "np_count/thread_pool/w2@3.11",
        "np_count/process_queue/w1/fork@3.11",
    ]
    assert len({s.id for s in scenarios}) == len(scenarios)


def test_ids_are_stable_and_name_every_changing_axis(kernels: dict[str, KernelSpec]) -> None:
    options = MatrixOptions(kernels=["py_square"], executors=["pool_map", "threads"],
                            workers=[1, 4], start_methods=["spawn", "fork"])
    ids = [s.id for s in expand(kernels, options, usable_cpus=2, interpreters=TAGS)]
    assert ids == [
        "py_square/serial/w1@3.11",
        "py_square/pool_map/w1/spawn@3.11",
        "py_square/pool_map/w4/spawn@3.11",
        "py_square/pool_map/w1/fork@3.11",
        "py_square/pool_map/w4/fork@3.11",
        "py_square/threads/w1@3.11",
        "py_square/threads/w4@3.11",
    ]
    # the same options on a bigger machine give the same ids
    assert ids == [s.id for s in expand(kernels, options, usable_cpus=64, interpreters=TAGS)]


def test_serial_is_one_call_and_others_get_tasks_per_worker(kernels: dict[str, KernelSpec]) -> None:
    options = MatrixOptions(kernels=["py_count"], executors=["pool_async"], workers=[3],
                            tasks_per_worker=5, start_methods=["fork"])
    serial, pool = expand(kernels, options, usable_cpus=4, interpreters=TAGS)
    assert (serial.workers, serial.tasks, serial.start_method) == (1, 1, None)
    assert (pool.workers, pool.tasks, pool.start_method) == (3, 15, "fork")
    assert serial.size == pool.size == kernels["py_count"].size


def test_smoke_profile_shrinks_sizes_unless_a_size_is_given(kernels: dict[str, KernelSpec]) -> None:
    smoke = expand(kernels, MatrixOptions(kernels=["py_square"], profile="smoke"), 2, TAGS)
    assert smoke[0].size == round(kernels["py_square"].size * 0.1)
    sized = expand(kernels, MatrixOptions(kernels=["py_square"], profile="smoke", size=77), 2,
                   TAGS)
    assert {s.size for s in sized} == {77}


@pytest.mark.parametrize(("patterns", "scenario_id", "expected"), [
    ((), "py_square/threads/w2@3.11", True),
    (("threads",), "py_square/threads/w2@3.11", True),
    (("threads",), "py_square/thread_pool/w2@3.11", False),
    (("*/w2",), "py_square/thread_pool/w2@3.11", True),
    (("*/w2",), "py_square/pool_map/w2/fork@3.11", False),
    (("py_*/pool_?ap/*",), "py_square/pool_map/w2/fork@3.11", True),
    (("nothing", "w1"), "py_count/serial/w1@3.11", True),
    (("*@3.13t",), "py_square/threads/w2@3.13t", True),
    (("*@3.13t",), "py_square/threads/w2@3.13", False),
])
def test_selection_is_substring_or_glob_and_patterns_add_up(
        patterns: tuple[str, ...], scenario_id: str, expected: bool) -> None:
    assert is_selected(scenario_id, patterns) is expected


def test_selection_keeps_the_serial_baseline_of_every_kernel_it_picks(
        kernels: dict[str, KernelSpec]) -> None:
    options = MatrixOptions(select=("py_count/pool_map/w2",), start_methods=["fork"])
    assert [s.id for s in expand(kernels, options, 2, TAGS)] == [
        "py_count/serial/w1@3.11", "py_count/pool_map/w2/fork@3.11"]
    # Under two interpreters each keeps its own baseline; a pattern may name one of them.
    both = expand(kernels, options, 2, ["3.13t", "3.13"])
    assert [s.id for s in both] == [
        "py_count/serial/w1@3.13t", "py_count/pool_map/w2/fork@3.13t",
        "py_count/serial/w1@3.13", "py_count/pool_map/w2/fork@3.13"]
    only = MatrixOptions(select=("py_count/pool_map/w2*@3.13t",), start_methods=["fork"])
    assert [s.id for s in expand(kernels, only, 2, ["3.13t", "3.13"])] == [
        "py_count/serial/w1@3.13t", "py_count/pool_map/w2/fork@3.13t"]


def test_selection_that_matches_nothing_is_an_error(kernels: dict[str, KernelSpec]) -> None:
    with pytest.raises(UsageError, match="no scenario matches -k nope; `mpbench list`"):
        expand(kernels, MatrixOptions(select=("nope",)), 2, TAGS)


@pytest.mark.parametrize(("usable", "expected"), [
    (1, [1]), (2, [1, 2]), (3, [1, 2, 3]), (4, [1, 2, 4]), (6, [1, 2, 4, 6]), (8, [1, 2, 4, 8]),
])
def test_auto_workers_double_up_to_the_usable_cpus(usable: int, expected: list[int]) -> None:
    assert auto_workers(usable) == expected
    assert parse_workers("auto", usable) == expected


def test_worker_lists_are_sorted_and_deduplicated() -> None:
    assert parse_workers("4, 1,2,2", usable_cpus=2) == [1, 2, 4]


@pytest.mark.parametrize("text", ["0", "-1", "1000000", "two", "", "1,,2", "1.5"])
def test_bad_worker_lists_name_the_limit(text: str) -> None:
    with pytest.raises(UsageError, match=r"from 1 to 64 \(this machine's limit\)"):
        parse_workers(text, usable_cpus=2)


def test_unknown_names_list_the_valid_choices() -> None:
    with pytest.raises(UsageError, match="unknown executor pool_mapp; choose from: serial, thr"):
        parse_names("threads,pool_mapp", ["serial", "threads"], "executor")
    assert parse_names("threads, serial,threads", ["serial", "threads"], "x") == ["threads",
                                                                                 "serial"]
