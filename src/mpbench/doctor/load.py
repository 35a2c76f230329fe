"""How busy the machine is while mpbench sits idle: the load its workers would compete with.

The window is watched with the same /proc readers that measure other processes' load while
benchmark values are timed (`mpbench.busy`).
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from mpbench.busy import CLOCK_TICKS, PROC, read_cpu_pressure, read_cpu_times, tree_cpu_seconds


@dataclass(frozen=True)
class LoadAverage:
    """Runnable (and uninterruptible) tasks averaged over 1, 5 and 15 minutes."""

    one: float
    five: float
    fifteen: float


def parse_loadavg(text: str) -> LoadAverage:
    """/proc/loadavg, e.g. `0.16 0.43 0.34 1/82 10141` (the last two fields are not needed)."""
    one, five, fifteen = (float(value) for value in text.split()[:3])
    return LoadAverage(one, five, fifteen)


def read_load_average(proc: Path = PROC) -> LoadAverage | None:
    try:
        return parse_loadavg((proc / "loadavg").read_text())
    except OSError:
        with contextlib.suppress(OSError):
            return LoadAverage(*os.getloadavg())
    return None


@dataclass(frozen=True)
class BackgroundLoad:
    """How busy the machine was while mpbench sat idle, in CPUs' worth (1.0 = one full CPU)."""

    seconds: float
    busy_cpus: float  # all CPUs' busy time (/proc/stat) per second of the window
    own_cpus: float  # this process tree's CPU time (psutil) per second of the window
    steal_cpus: float
    pressure_some: float | None  # share of the window in which some task waited for a CPU
    load_average: LoadAverage | None  # at the start, so it does not include the speed probe

    @property
    def other_cpus(self) -> float:
        """Load from processes that are not this one or its children."""
        return max(0.0, self.busy_cpus - self.own_cpus)


def measure_background_load(seconds: float, proc: Path = PROC) -> BackgroundLoad:
    """Sample /proc/stat and this process tree's CPU time `seconds` apart, doing nothing between."""
    me = psutil.Process()
    load_average = read_load_average(proc)
    before = read_cpu_times(proc)
    own_before, pressure_before = tree_cpu_seconds(me), read_cpu_pressure(proc)
    started = time.monotonic()
    time.sleep(seconds)
    elapsed = time.monotonic() - started
    after = read_cpu_times(proc)
    own_after, pressure_after = tree_cpu_seconds(me), read_cpu_pressure(proc)
    pressure = (None if pressure_before is None or pressure_after is None
                else (pressure_after.total_us - pressure_before.total_us) / 1e6 / elapsed)
    return BackgroundLoad(
        seconds=elapsed,
        busy_cpus=(after.busy - before.busy) / CLOCK_TICKS / elapsed,
        own_cpus=(own_after - own_before) / elapsed,
        steal_cpus=(after.steal - before.steal) / CLOCK_TICKS / elapsed,
        pressure_some=pressure,
        load_average=load_average,
    )
