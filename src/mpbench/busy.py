"""How busy the machine is with work that is not ours.

While values are timed, the whole system's busy CPU time (from /proc/stat) minus the CPU time
of our own process tree (psutil) is the CPU time other processes took. Divided by the wall time
it is the number of CPUs' worth of other load that competed with the measurement.

The readers of /proc/stat and /proc/pressure/cpu live here alone: `mpbench doctor` watches the
same figures while the machine sits idle.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

PROC = Path("/proc")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclass(frozen=True)
class CpuTimes:
    """The all-CPU line of /proc/stat, in clock ticks (CLOCK_TICKS a second)."""

    busy: int  # user + nice + system + irq + softirq (guest time is already inside user)
    steal: int  # time the hypervisor ran something else while this VM wanted the CPU


def parse_proc_stat(text: str) -> CpuTimes:
    """The `cpu` line of /proc/stat; fields missing on old kernels count as 0."""
    for line in text.splitlines():
        fields = line.split()
        if fields and fields[0] == "cpu":
            ticks = [int(value) for value in fields[1:9]] + [0] * 8
            user, nice, system, _idle, _iowait, irq, softirq, steal = ticks[:8]
            return CpuTimes(busy=user + nice + system + irq + softirq, steal=steal)
    raise ValueError("no `cpu` line in /proc/stat")


@dataclass(frozen=True)
class Pressure:
    """The `some` line of /proc/pressure/cpu: how long some task waited for a CPU."""

    avg10: float  # % of the last 10 s
    total_us: int  # µs since boot, for shares of windows of any length


def parse_cpu_pressure(text: str) -> Pressure:
    """/proc/pressure/cpu, e.g. `some avg10=3.80 avg60=1.32 avg300=1.57 total=21076290`."""
    for line in text.splitlines():
        kind, *pairs = line.split() or [""]
        if kind == "some":
            values = {name: value for name, _, value in (pair.partition("=") for pair in pairs)}
            if "avg10" in values and "total" in values:
                return Pressure(avg10=float(values["avg10"]), total_us=int(values["total"]))
    raise ValueError("no `some` line with avg10 and total in /proc/pressure/cpu")


def read_cpu_times(proc: Path = PROC) -> CpuTimes:
    return parse_proc_stat((proc / "stat").read_text())


def read_cpu_pressure(proc: Path = PROC) -> Pressure | None:
    """None where PSI is off, as in many kernels and containers."""
    try:
        return parse_cpu_pressure((proc / "pressure" / "cpu").read_text())
    except (OSError, ValueError):
        return None


def cpu_pressure() -> float | None:
    """% of the last 10 s in which some task waited for a CPU."""
    pressure = read_cpu_pressure()
    return None if pressure is None else pressure.avg10


def system_busy_seconds() -> float | None:
    """Busy CPU-seconds of all CPUs since boot, steal included: other guests' work competes too."""
    try:
        times = read_cpu_times()
    except (OSError, ValueError):
        return None
    return (times.busy + times.steal) / CLOCK_TICKS


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


REFERENCE_LOOPS = 50_000  # a few milliseconds of pure Python


def reference_loop_seconds() -> float:
    """Seconds for a fixed pure-Python loop on this CPU, now: a clock for slowdowns that /proc
    cannot see, such as a shared host taking the CPU from a virtual machine."""
    started = time.perf_counter()
    total = 0
    for number in range(REFERENCE_LOOPS):
        total += number * number
    return time.perf_counter() - started
