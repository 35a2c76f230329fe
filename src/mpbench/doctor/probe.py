"""How many cores' worth of work N processes really get, and whether every CPU runs alike.

N processes spinning on a pure-Python loop are timed against one, and one pinned to each CPU,
in interleaved windows of a warmed pool, so that drift hits every kind alike.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import statistics
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from multiprocessing.context import BaseContext
from multiprocessing.pool import Pool

WINDOW_SECONDS = 0.2  # one timed window: ~2,000 work units here, short enough to repeat often
START_MARGIN_SECONDS = 0.03  # time for the pool to hand every worker its plan before a window
WARMUP_SECONDS = 0.1
REPLY_TIMEOUT_SECONDS = 5.0  # a worker that has not answered by then is treated as lost
MIN_ROUNDS = 2

UNIT_LOOPS = 1_000  # loop iterations in one work unit (~0.1 ms, so the deadline is checked often)
CHUNK_LOOPS = 100_000  # speed is reported as the time of a chunk this size (~10 ms)


@dataclass(frozen=True)
class SpinPlan:
    """One worker's window: wait until `start_ns`, spin until `stop_ns`, optionally pinned."""

    start_ns: int  # time.monotonic_ns(): one clock for every process on the machine
    stop_ns: int
    cpu: int | None


def _work_unit() -> int:
    total = 0
    for number in range(UNIT_LOOPS):
        total += number * number % 7
    return total


def _spin(plan: SpinPlan) -> int:
    """Work units finished inside the window: the worker's throughput, free of start-up costs.

    Every worker spins until the same deadline, so none sits idle waiting for a slower one (as
    with a fixed share of chunks), and a worker that took a second plan would find it over.
    """
    original = os.sched_getaffinity(0) if plan.cpu is not None else None
    if plan.cpu is not None:
        os.sched_setaffinity(0, {plan.cpu})
    try:
        time.sleep(max(0.0, (plan.start_ns - time.monotonic_ns()) / 1e9))
        units = 0
        while time.monotonic_ns() < plan.stop_ns:
            _work_unit()
            units += 1
        return units
    finally:
        if original is not None:
            os.sched_setaffinity(0, original)


@dataclass(frozen=True)
class ProbeRound:
    """Work units finished in one window by: one process; N at once; one pinned to each CPU."""

    serial_units: int
    parallel_units: int | None
    per_cpu_units: tuple[int, ...] | None


@dataclass(frozen=True)
class SpeedProbe:
    """Rounds of equal windows timing the same pure-Python loop in one and in N processes."""

    workers: int
    start_method: str
    window_seconds: float
    cpus: tuple[int, ...]  # the CPUs of the pinned windows, in the order of `per_cpu_units`
    rounds: tuple[ProbeRound, ...]

    def effective_cores_by_round(self) -> list[float]:
        """N processes' throughput over one process's, window by window."""
        return [r.parallel_units / r.serial_units for r in self.rounds
                if r.parallel_units is not None and r.serial_units > 0]

    @property
    def effective_cores(self) -> float | None:
        by_round = self.effective_cores_by_round()
        return statistics.median(by_round) if by_round else None

    def chunk_ms_by_round(self) -> list[float]:
        """Milliseconds one process took per CHUNK_LOOPS iterations, window by window."""
        return [self.window_seconds * 1e3 * CHUNK_LOOPS / (r.serial_units * UNIT_LOOPS)
                for r in self.rounds if r.serial_units > 0]

    def relative_cpu_speeds(self) -> dict[int, float]:
        """Each pinned CPU's median throughput as a share of the fastest CPU's."""
        pinned = [r.per_cpu_units for r in self.rounds if r.per_cpu_units is not None]
        if not pinned or not self.cpus:
            return {}
        medians = [statistics.median(units[i] for units in pinned) for i in range(len(self.cpus))]
        fastest = max(medians)
        return {cpu: (m / fastest if fastest else 0.0) for cpu, m in zip(self.cpus, medians,
                                                                           strict=True)}


@contextlib.contextmanager
def _process_pool(context: BaseContext, workers: int) -> Iterator[Pool]:
    """A pool that is terminated and reaped however the block ends: no worker outlives it."""
    pool = context.Pool(workers)
    try:
        yield pool
    finally:
        pool.terminate()
        pool.join()


def _run_window(pool: Pool, cpus: Sequence[int | None], seconds: float) -> list[int]:
    """One window with a worker per entry of `cpus` (None: not pinned); never waits forever."""
    start_ns = time.monotonic_ns() + int(START_MARGIN_SECONDS * 1e9)
    plans = [SpinPlan(start_ns, start_ns + int(seconds * 1e9), cpu) for cpu in cpus]
    pending = pool.map_async(_spin, plans, chunksize=1)
    timeout = START_MARGIN_SECONDS + seconds + REPLY_TIMEOUT_SECONDS
    try:
        return pending.get(timeout=timeout)
    except multiprocessing.TimeoutError:  # a dead worker's plan is never run: Pool waits forever
        raise TimeoutError(f"a pool worker gave no answer within {timeout:.1f} s") from None


def _pinnable_cpus(workers: int) -> tuple[int, ...]:
    """The CPUs to pin one worker each to: the first `workers` this process may run on."""
    if workers < 2 or not hasattr(os, "sched_setaffinity"):
        return ()
    return tuple(sorted(os.sched_getaffinity(0))[:workers])


def probe_speed(workers: int, seconds: float, *, window_seconds: float = WINDOW_SECONDS,
                pinned: bool = True, min_rounds: int = MIN_ROUNDS) -> SpeedProbe:
    """Interleave one-process, N-process and (if `pinned`) pinned windows for about `seconds`,
    and at least `min_rounds` rounds.

    The pool is started and every worker has spun once before any window is timed, and the
    window order flips each round, so a host that slows down mid-probe slows all kinds alike.
    """
    context = multiprocessing.get_context()  # the start method mpbench runs use by default
    cpus = _pinnable_cpus(workers) if pinned else ()
    windows: dict[str, list[int | None]] = {"serial": [None]}  # one entry per worker: its CPU
    if workers > 1:
        windows["parallel"] = [None] * workers
    if cpus:
        windows["pinned"] = list(cpus)
    names = list(windows)
    planned = max(min_rounds,
                  int(seconds / (len(names) * (window_seconds + START_MARGIN_SECONDS))))
    deadline = time.monotonic() + seconds
    rounds: list[ProbeRound] = []
    with _process_pool(context, workers) as pool:
        _run_window(pool, [None] * workers, WARMUP_SECONDS)
        for index in range(planned):
            if index >= min_rounds and time.monotonic() > deadline:
                break
            order = names if index % 2 == 0 else names[::-1]
            units = {name: _run_window(pool, windows[name], window_seconds) for name in order}
            rounds.append(ProbeRound(
                serial_units=units["serial"][0],
                parallel_units=sum(units["parallel"]) if "parallel" in units else None,
                per_cpu_units=tuple(units["pinned"]) if "pinned" in units else None,
            ))
    return SpeedProbe(workers=workers, start_method=context.get_start_method(),
                      window_seconds=window_seconds, cpus=cpus, rounds=tuple(rounds))


def snapshot(workers: int, window_seconds: float) -> dict[str, float | None]:
    """A quick look at the machine, as `mpbench run` records it at the start of each round:
    the single-process time of a CHUNK_LOOPS chunk, in ms, and the effective cores, from two
    short windows of each in flipped order, so a host that changes speed meanwhile hits both
    (short: the cores it keeps busy are the run's own)."""
    probe = probe_speed(workers, 0.0, window_seconds=window_seconds, pinned=False)
    chunks = probe.chunk_ms_by_round()
    return {"single_core_ms": statistics.median(chunks) if chunks else None,
            "effective_cores": probe.effective_cores}

