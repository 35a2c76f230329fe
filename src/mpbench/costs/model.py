"""The cost model: how long a map of n tasks of t seconds takes on an executor, from the costs
`mpbench costs` measures, and what follows from it. Pure arithmetic, no measuring.

A map of n tasks in chunks of m on an executor whose work runs on c effective cores takes

    per_call + ceil(n / m) · per_chunk + n · per_task + n · t / c + (m - 1) · t · (1 - 1/c)

that is: what one call costs whatever its size (threads started per call), what handing over
one chunk costs, what each task adds beyond its work (pickling its result), the work shared by
the cores, and the tail of the last chunk, which the other cores cannot share. Serially the
same map takes n · t.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

SMALLEST_TASK_S = 1e-9
LARGEST_TASK_S = 1e4
WORTH_IT = 1.05  # a worker count within 5 % of the best is as good as the best


@dataclass(frozen=True)
class ExecutorCosts:
    """What one executor costs beyond the work, and how many cores its work gets."""

    per_call_s: float
    per_chunk_s: float
    per_task_s: float
    cores: float  # effective cores its workers' work runs on: 1 for threads under the GIL

    def map_seconds(self, tasks: int, task_s: float, chunk: int = 1) -> float:
        """The model's time for a map of `tasks` tasks of `task_s` seconds each."""
        shared = max(self.cores, 1.0)
        return (self.per_call_s + math.ceil(tasks / chunk) * self.per_chunk_s
                + tasks * self.per_task_s + tasks * task_s / shared
                + (chunk - 1) * task_s * (1 - 1 / shared))


def chunk_costs(per_task_at_1: float, per_task_at_chunk: float, chunk: int
                ) -> tuple[float, float]:
    """(per chunk, per task) from the dispatch cost per task measured at chunk size 1 and at
    `chunk`: d1 = chunk cost + task cost, dm = chunk cost / m + task cost. Neither below 0
    (noise can make the chunked figure look dearer than it is)."""
    if chunk <= 1:
        return per_task_at_1, 0.0
    per_chunk = max(0.0, (per_task_at_1 - per_task_at_chunk) * chunk / (chunk - 1))
    return per_chunk, max(0.0, per_task_at_1 - per_chunk)


def break_even(costs: ExecutorCosts, tasks: int, rival: ExecutorCosts | None = None,
               chunk: int = 1) -> float:
    """The task time above which a map of `tasks` tasks finishes sooner on `costs` than
    serially (or than on `rival`); infinite when it never does."""
    def gain(task_s: float) -> float:
        other = rival.map_seconds(tasks, task_s) if rival else tasks * task_s
        return other - costs.map_seconds(tasks, task_s, chunk)

    low, high = math.log(SMALLEST_TASK_S), math.log(LARGEST_TASK_S)
    if gain(math.exp(high)) <= 0:
        return math.inf
    if gain(math.exp(low)) > 0:
        return SMALLEST_TASK_S
    for _ in range(100):  # bisection in log time: the gain changes sign once
        middle = (low + high) / 2
        low, high = (middle, high) if gain(math.exp(middle)) <= 0 else (low, middle)
    return math.exp(high)


def best_chunk(costs: ExecutorCosts, tasks: int, task_s: float, workers: int) -> int:
    """The chunk size that minimizes the model's time: fewer hand-overs against a longer tail.
    The ideal is near sqrt(n · chunk cost / (t · (1 - 1/c))), but whole chunks make the time
    jagged, so every size up to one chunk per worker is tried (a few hundred sums)."""
    largest = max(1, math.ceil(tasks / workers))
    return min(range(1, largest + 1), key=lambda chunk: costs.map_seconds(tasks, task_s, chunk))


def smallest_paying_chunk(costs: ExecutorCosts, task_s: float) -> int | None:
    """The smallest chunk size at which tasks of `task_s` pay off on `costs` (ignoring the
    tail); None when no chunk size does, because the per-task cost alone eats the gain."""
    gain_per_task = task_s * (1 - 1 / max(costs.cores, 1.0)) - costs.per_task_s
    if gain_per_task <= 0:
        return None
    return max(1, math.ceil(costs.per_chunk_s / gain_per_task))


def workers_worth_it(costs_by_workers: dict[int, ExecutorCosts], tasks: int, task_s: float,
                     startup_s: dict[int, float]) -> int:
    """The fewest workers whose map of `tasks` tasks of `task_s`, start-up included, is within
    WORTH_IT of the fastest; 1 worker means serial is as good."""
    totals = {workers: startup_s.get(workers, 0.0) + costs.map_seconds(tasks, task_s)
              for workers, costs in costs_by_workers.items()}
    totals[1] = min(totals.get(1, math.inf), tasks * task_s)
    best = min(totals.values())
    return min(workers for workers, total in totals.items() if total <= best * WORTH_IT)
