"""The rounds of a run: shuffled visiting order, and the loop that measures until precise.

The orchestration is tested with visits that are made up (no subprocess): each visit returns a
one-run pyperf benchmark whose paired speedup has the noise the test chooses.
"""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import pytest

import mpbench.runner
from mpbench.matrix import MatrixOptions
from mpbench.model import RoundRecord
from mpbench.options import StoredOptions
from mpbench.runner import Outcome, RunSettings, Visit, precision_misses, run_rounds
from mpbench.schedule import next_round, shuffled
from mpbench.storage import Results, read

import synthetic


def test_each_round_visits_every_scenario_once_in_a_seeded_order() -> None:
    plan = synthetic.suite_plan()
    orders = [[s.id for s in shuffled(plan, seed=42, round_index=index)] for index in range(3)]
    for order in orders:
        assert Counter(order) == Counter(s.id for s in plan)  # each exactly once
    assert orders[0] != orders[1] != orders[2]  # a fresh order each round
    assert orders == [[s.id for s in shuffled(plan, 42, index)] for index in range(3)]
    assert orders[0] != [s.id for s in shuffled(plan, seed=43, round_index=0)]


def test_next_round_gives_first_rounds_then_only_the_imprecise() -> None:
    plan = synthetic.plan(["py_square"], ["pool_map"], [1, 2])
    ids = [s.id for s in plan]
    todo, first = next_round(plan, {}, set(), rounds=2, misses=[])
    assert first and [s.id for s in todo] == ids
    todo, first = next_round(plan, {ids[0]: 2, ids[1]: 1, ids[2]: 2}, set(), 2, [])
    assert first and [s.id for s in todo] == [ids[1]]  # a resumed run finishes its rounds first
    todo, first = next_round(plan, dict.fromkeys(ids, 2), set(), 2, [ids[2]])
    assert not first and [s.id for s in todo] == [ids[2]]
    todo, first = next_round(plan, dict.fromkeys(ids, 2), {ids[2]}, 2, [ids[2]])
    assert todo == []  # a failed scenario is never visited again


class FakeVisits:
    """Stands in for `run_visit`: each visit's speedup is 1.9 × lognormal(`noise[id]`)."""

    def __init__(self, noise: dict[str, float], seconds: float = 1.0) -> None:
        self.noise = noise
        self.seconds = seconds
        self.rng = random.Random(5)
        self.visits: list[Visit] = []

    def __call__(self, visit: Visit, settings: RunSettings) -> Outcome:
        self.visits.append(visit)
        scenario = visit.scenario
        parallel = visit.baseline is not None
        bench = synthetic.benchmark(
            scenario, 0.1 if parallel else 0.19, self.rng, processes=1, values=3,
            noise=self.noise.get(scenario.id, 0.01), baseline_seconds=0.19 if parallel else None)
        bench.update_metadata({"round": visit.round, "visit_wall_s": self.seconds})
        return Outcome(visit, bench, None, self.seconds)


class Recorder:
    def __init__(self) -> None:
        self.rounds: list[tuple[RoundRecord, bool]] = []

    def round_started(self, record: RoundRecord, precision: bool) -> None:
        self.rounds.append((record, precision))

    def visit_started(self, visit: Visit) -> None:
        pass

    def visit_finished(self, outcome: Outcome, path: Path) -> None:
        pass


def _run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake: FakeVisits, *,
         precision: float | None, budget: float) -> tuple[Results, Recorder]:
    monkeypatch.setattr(mpbench.runner, "run_visit", fake)
    plan = synthetic.plan(["py_square"], ["pool_map", "threads"], [2])
    options = StoredOptions(MatrixOptions(profile="quick"), timeout=60.0, seed=3,
                            precision=precision, max_seconds=budget)
    results = Results(machine=synthetic.machine(), options=options, plan=plan,
                      interpreters=[synthetic.interpreter()])
    recorder = Recorder()
    run_rounds(results, RunSettings(options, probe_machine=False), tmp_path / "run.json",
               recorder)
    return results, recorder


def test_precise_enough_after_the_first_rounds_means_no_more(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeVisits({})
    results, recorder = _run(tmp_path, monkeypatch, fake, precision=0.05, budget=100)
    assert [precision for _, precision in recorder.rounds] == [False, False]
    assert len(fake.visits) == 2 * 3
    assert precision_misses(results, 0.05) == {}
    saved = read(tmp_path / "run.json")
    assert saved.visit_counts() == dict.fromkeys((s.id for s in results.plan), 2)
    assert [r.index for r in saved.rounds] == [0, 1]


def test_an_imprecise_scenario_gets_rounds_of_its_own_until_the_budget(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    noisy = "py_square/pool_map/w2/fork@3.11"
    fake = FakeVisits({noisy: 0.5}, seconds=1.0)
    results, recorder = _run(tmp_path, monkeypatch, fake, precision=0.05, budget=0.5)
    # a visit of 1 s never fits a budget of 0.5 s: the first rounds only, and the miss is told
    assert len(fake.visits) == 6 and [p for _, p in recorder.rounds] == [False, False]
    assert len(results.rounds) == 2
    assert set(precision_misses(results, 0.05)) == {noisy}

    fake = FakeVisits({noisy: 0.5}, seconds=0.0)
    results, recorder = _run(tmp_path / "more", monkeypatch, fake, precision=0.05, budget=0.5)
    extra = [visit for visit in fake.visits if visit.round >= 2]
    assert extra and {visit.scenario.id for visit in extra} == {noisy}
    assert all(visit.baseline is not None for visit in extra)  # still paired
    assert results.visit_counts()[noisy] == 2 + len(extra)


def test_a_scenario_that_becomes_precise_stops_being_visited(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeVisits({"py_square/pool_map/w2/fork@3.11": 0.04}, seconds=0.0)
    results, _ = _run(tmp_path, monkeypatch, fake, precision=0.05, budget=60)
    assert precision_misses(results, 0.05) == {}
    assert results.visit_counts()["py_square/pool_map/w2/fork@3.11"] > 2
    assert results.visit_counts()["py_square/threads/w2@3.11"] == 2


def test_no_target_means_the_profiles_rounds_only(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeVisits({"py_square/pool_map/w2/fork@3.11": 0.5}, seconds=0.0)
    _, recorder = _run(tmp_path, monkeypatch, fake, precision=None, budget=60)
    assert len(recorder.rounds) == 2 and len(fake.visits) == 6
