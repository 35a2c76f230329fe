"""The GIL three ways, on synthetic runs whose true speedups and serial cost are known."""

from __future__ import annotations

import math

import pytest

from mpbench.analysis import summarize
from mpbench.frame import to_frame
from mpbench.gil import Ratio, Way, answers, serial_costs, verdict
from mpbench.tables import gil_table

import synthetic

SERIAL_S = 0.2
FT_COST = 1.10  # the free-threaded build's serial time over the GIL build's


def gil_build(kernel: str, executor: str, workers: int) -> float:
    """3.13: threads hold the GIL; processes lose 5 % to Amdahl; subinterpreters 10 %."""
    if executor in ("serial", "threads"):
        return SERIAL_S
    fraction = 0.1 if executor == "interpreter_pool" else 0.05
    return SERIAL_S * (fraction + (1 - fraction) / workers)


def free_threaded(kernel: str, executor: str, workers: int) -> float:
    """3.13t: 10 % slower serially; threads scale with 2 % lost."""
    serial = SERIAL_S * FT_COST
    return serial if executor == "serial" else serial * 1.02 / workers


@pytest.fixture(scope="module")
def run() -> tuple[object, object]:
    plan = synthetic.plan(["py_square"], ["threads", "interpreter_pool", "pool_map"], [1, 2],
                          interpreters=("3.13t", "3.13"))
    results = synthetic.results(plan, gil_build, seed=5, noise=0.02, processes=6, values=3,
                                by_interpreter={"3.13t": free_threaded})
    frame = to_frame([results])
    return frame, summarize(frame)


TRUTH = {
    "free-threaded threads": SERIAL_S / (SERIAL_S * FT_COST * 1.02 / 2),
    "processes": 1 / (0.05 + 0.95 / 2),
    "subinterpreters": 1 / (0.1 + 0.9 / 2),
    "GIL threads": 1.0,
}


def test_each_way_is_measured_against_the_gil_build_s_serial_time(run: tuple) -> None:
    frame, summary = run
    found = answers(frame, summary)
    assert [way.value for way in found["way"]] == list(TRUTH)
    assert set(found["yardstick"]) == {"3.13"} and set(found["workers"]) == {2}
    for row in found.itertuples():
        truth = TRUTH[row.way.value]
        assert row.speedup == pytest.approx(truth, rel=0.03), row.way
        assert row.speedup_low <= truth <= row.speedup_high, row.way
    by_way = found.set_index("way")
    assert by_way.loc[Way.FREE_THREADED_THREADS, "interpreter"] == "3.13t"
    assert by_way.loc[Way.GIL_THREADS, "interpreter"] == "3.13"


def test_the_free_threaded_serial_cost_has_an_interval_around_the_truth(run: tuple) -> None:
    frame, _ = run
    cost = serial_costs(frame).iloc[0]
    assert (cost["free_threaded"], cost["gil_build"]) == ("3.13t", "3.13")
    assert cost["serial_cost"] == pytest.approx(FT_COST, rel=0.02)
    assert cost["serial_cost_low"] < FT_COST < cost["serial_cost_high"]


def test_the_verdict_and_table_read_as_the_issue_asks(run: tuple) -> None:
    frame, summary = run
    found = answers(frame, summary)
    assert verdict(found) == ("free-threaded threads 1.8×, processes 1.9×, subinterpreters 1.8×, "
                              "GIL threads 1.0× at 2 workers")
    table = gil_table(found)
    assert table is not None and [row[:3] for row in table.rows] == [
        ["py_square", "free-threaded threads", "threads @3.13t"],
        ["py_square", "processes", "pool_map (fork) @3.13"],
        ["py_square", "subinterpreters", "interpreter_pool @3.13"],
        ["py_square", "GIL threads", "threads @3.13"],
    ]


def test_one_gil_interpreter_alone_needs_no_table() -> None:
    plan = synthetic.plan(["py_square"], ["threads", "pool_map"], [1, 2])
    frame = to_frame([synthetic.results(plan, gil_build, seed=2)])
    assert gil_table(answers(frame, summarize(frame))) is None
    assert serial_costs(frame).empty


def test_a_product_of_ratios_widens_its_interval_in_log_space() -> None:
    product = Ratio(2.0, 1.8, 2.2).times(Ratio(0.5, 0.45, 0.55))
    assert product.value == pytest.approx(1.0)
    down = math.hypot(math.log(2 / 1.8), math.log(0.5 / 0.45))
    assert product.low == pytest.approx(math.exp(-down))
    assert Ratio(2.0, 1.5, 3.0).inverse() == Ratio(0.5, 1 / 3.0, 1 / 1.5)
