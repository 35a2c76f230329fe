"""What the workers of a costs probe run: small module-level functions, so that every start
method can find them by name."""

from __future__ import annotations

from typing import Any

BARRIER_TIMEOUT_SECONDS = 60.0
_barrier: Any = None  # a worker's start-up barrier, set by its initializer


def hold(barrier: Any) -> None:
    """Initializer: keep the barrier that start-up's tasks meet at."""
    global _barrier
    _barrier = barrier


def meet(index: int) -> int:
    """Wait until every worker runs one of these: then each has started and run a task."""
    _barrier.wait(BARRIER_TIMEOUT_SECONDS)
    return index


def nothing() -> None:
    """The body of a per-call Process."""


def echo(payload: Any) -> Any:
    """A round trip: the payload comes back as it went."""
    return payload


def increment(total: Any, start: Any, end: Any, times: int) -> None:
    """Take the Value's lock `times` times, once start is given, and say when done."""
    start.wait(BARRIER_TIMEOUT_SECONDS)
    for _ in range(times):
        with total.get_lock():
            total.value += 1
    end.wait(BARRIER_TIMEOUT_SECONDS)


def drain(items: Any, done: Any, count: int) -> None:
    """Get `count` items, say so, again and again, until the None that ends it."""
    while True:
        for _ in range(count):
            if items.get() is None:
                return
        done.put(count)
