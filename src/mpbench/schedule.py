"""Which scenarios a round visits, and in what order: the plan of an interleaved run.

A run goes in rounds. The first rounds visit every scenario once each; later rounds visit only
the scenarios whose speedup is not yet as precise as asked. Each round's order is shuffled anew
from the run's seed, so no scenario is always measured early, late, or next to the same
neighbour, and a run with the same seed visits in the same order.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import TypeVar

from mpbench.executors import Serial
from mpbench.model import Scenario

SERIAL = Serial.name
Visited = TypeVar("Visited")


def shuffled(scenarios: Sequence[Visited], seed: int, round_index: int) -> list[Visited]:
    """`scenarios` (or cost probes) in the order round `round_index` of a run seeded `seed`
    visits them."""
    order = list(scenarios)
    random.Random(f"mpbench/{seed}/{round_index}").shuffle(order)
    return order


def next_round(plan: Sequence[Scenario], visits: Mapping[str, int], done: set[str],
               rounds: int, misses: Sequence[str]) -> tuple[list[Scenario], bool]:
    """The scenarios of the next round, in plan order, and whether it is one of the first
    `rounds` rounds (which every scenario gets) rather than a round for precision.

    `visits` counts each scenario's finished visits, `done` holds scenarios that need no more
    (failed ones), `misses` the ids whose speedup is still too imprecise.
    """
    first = unfinished(plan, visits, done, rounds)
    if first:
        return first, True
    wanted = set(misses) - done
    return [scenario for scenario in plan if scenario.id in wanted], False


def unfinished(plan: Sequence[Scenario], visits: Mapping[str, int], done: set[str],
               rounds: int) -> list[Scenario]:
    """The scenarios, in plan order, that still lack some of the first `rounds` visits."""
    return [scenario for scenario in plan
            if scenario.id not in done and visits.get(scenario.id, 0) < rounds]


def baselines(plan: Sequence[Scenario]) -> dict[tuple[str, str], Scenario]:
    """(kernel, interpreter) → its serial scenario, the baseline every parallel visit is paired
    with: the same kernel under the same interpreter."""
    return {(scenario.kernel, scenario.interpreter): scenario for scenario in plan
            if scenario.executor == SERIAL}
