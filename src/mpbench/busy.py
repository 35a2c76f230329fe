"""How busy the machine is with work that is not ours.

While values are timed, the whole system's busy CPU time (from /proc/stat) minus the CPU time
of our own process tree (psutil) is the CPU time other processes took. Divided by the wall time
it is the number of CPUs' worth of other load that competed with the measurement.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def parse_proc_stat_busy(text: str) -> float:
    """Busy CPU-seconds of all CPUs since boot, from the `cpu` line of /proc/stat.

    Busy is everything but idle and iowait; guest time is already inside user time.
    """
    for line in text.splitlines():
        fields = line.split()
        if fields and fields[0] == "cpu":
            ticks = [int(value) for value in fields[1:9]]
            ticks += [0] * (8 - len(ticks))
            idle, iowait = ticks[3], ticks[4]
            return (sum(ticks) - idle - iowait) / CLOCK_TICKS
    raise ValueError("no cpu line in /proc/stat")


def parse_cpu_pressure(text: str) -> float | None:
    """The `some avg10` figure of /proc/pressure/cpu: % of the last 10 s something waited."""
    for line in text.splitlines():
        if line.startswith("some "):
            for field in line.split()[1:]:
                name, _, value = field.partition("=")
                if name == "avg10":
                    return float(value)
    return None


def system_busy_seconds() -> float | None:
    try:
        return parse_proc_stat_busy(Path("/proc/stat").read_text())
    except (OSError, ValueError):
        return None


def cpu_pressure() -> float | None:
    try:
        return parse_cpu_pressure(Path("/proc/pressure/cpu").read_text())
    except (OSError, ValueError):
        return None


def tree_cpu_seconds(process: psutil.Process) -> float:
    """CPU time of a process, its reaped children and its live descendants."""
    times = process.cpu_times()
    total = times.user + times.system + times.children_user + times.children_system
    for child in process.children(recursive=True):
        try:
            child_times = child.cpu_times()
        except psutil.Error:  # it ended between listing and reading
            continue
        total += child_times.user + child_times.system
    return total


@dataclass
class OtherLoadMeter:
    """Accumulates, over several timed intervals, the CPU time other processes used."""

    process: psutil.Process
    wall: float = 0.0
    other_cpu: float = 0.0
    _start: tuple[float, float, float] | None = None

    def start(self) -> None:
        busy = system_busy_seconds()
        if busy is not None:
            self._start = (time.perf_counter(), busy, tree_cpu_seconds(self.process))

    def stop(self) -> None:
        busy = system_busy_seconds()
        if self._start is None or busy is None:
            return
        started, busy_before, ours_before = self._start
        self.wall += time.perf_counter() - started
        ours = tree_cpu_seconds(self.process) - ours_before
        self.other_cpu += max(0.0, (busy - busy_before) - ours)
        self._start = None

    @property
    def other_load(self) -> float | None:
        """CPUs' worth of other processes' work, on average, while we measured."""
        return self.other_cpu / self.wall if self.wall > 0 else None
