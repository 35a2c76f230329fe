"""`mpbench doctor`: is this machine fit to benchmark right now?

A scaling benchmark can only show the speedup the machine hands out. On a shared host the
scheduler inside a VM sees idle CPUs while the host runs other guests on them, so neither the
core count nor `top` tells how many cores' worth of work two processes really get. The doctor
therefore measures it: background load while idle, then the throughput of N processes spinning
on a pure-Python loop against one process, in interleaved windows so that drift hits both.

Measuring (`diagnose`) is kept apart from judging (`build_findings`, `judge`) and rendering
(`render`): the judging functions are pure, so each rule is tested on hand-built figures, and
nothing here prints — the CLI does.
"""

from __future__ import annotations

import contextlib
import math
import multiprocessing
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from multiprocessing.context import BaseContext
from multiprocessing.pool import Pool
from pathlib import Path
from typing import TypeVar

from rich.console import Group
from rich.table import Table
from rich.text import Text

from mpbench import machine
from mpbench.machine import CpuBudget

PROC = Path("/proc")
SYS_CPU = Path("/sys/devices/system/cpu")

FIT_EFFECTIVE_SHARE = 0.9  # effective cores must reach 90 % of the usable CPUs …
FIT_BACKGROUND_CPUS = 0.2  # … while other processes use less than a fifth of one CPU
DIP_EFFECTIVE_SHARE = 0.75  # a round below this share of the usable CPUs is worth a warning
STEADY_SPEED_SPREAD = 0.10  # single-process speed may vary this much between windows
EVEN_CPU_SPEED = 0.9  # the slowest CPU must run at 90 % of the fastest's speed
NOTABLE_STEAL_CPUS = 0.1

DEFAULT_PROBE_SECONDS = 8.0
IDLE_SHARE = 0.3  # of the probe time spent watching the idle machine; the rest times the loop
IDLE_SECONDS_RANGE = (0.5, 3.0)
WINDOW_SECONDS = 0.2  # one timed window: ~2,000 work units here, short enough to repeat often
START_MARGIN_SECONDS = 0.03  # time for the pool to hand every worker its plan before a window
WARMUP_SECONDS = 0.1
REPLY_TIMEOUT_SECONDS = 5.0  # a worker that has not answered by then is treated as lost
MIN_ROUNDS = 2
PYPERF_TIMEOUT_SECONDS = 5.0

UNIT_LOOPS = 1_000  # loop iterations in one work unit (~0.1 ms, so the deadline is checked often)
CHUNK_LOOPS = 100_000  # speed is reported as the time of a chunk this size (~10 ms)

T = TypeVar("T")


class Status(StrEnum):
    OK = "ok"
    WARN = "warn"
    BAD = "bad"


@dataclass(frozen=True)
class Finding:
    """One check: how it came out, the figure, where the figure comes from, what to do."""

    status: Status
    title: str
    figure: str
    source: str
    advice: str
    details: tuple[str, ...] = ()


@dataclass(frozen=True)
class Unavailable:
    """A measurement that could not be taken here, and why (shown instead of a figure)."""

    reason: str


# --- parsers of /proc and pyperf text ------------------------------------------------------


@dataclass(frozen=True)
class CpuTimes:
    """The all-CPU line of /proc/stat, in clock ticks (`os.sysconf("SC_CLK_TCK")` a second)."""

    busy: int  # user + nice + system + irq + softirq (guest time is already inside user)
    steal: int  # time the hypervisor ran something else while this VM wanted the CPU


def parse_proc_stat(text: str) -> CpuTimes:
    """The `cpu` line of /proc/stat; fields missing on old kernels count as 0."""
    for line in text.splitlines():
        fields = line.split()
        if fields and fields[0] == "cpu":
            ticks = [int(value) for value in fields[1:]] + [0] * 8
            user, nice, system, _idle, _iowait, irq, softirq, steal = ticks[:8]
            return CpuTimes(busy=user + nice + system + irq + softirq, steal=steal)
    raise ValueError("no `cpu` line in /proc/stat")


@dataclass(frozen=True)
class Pressure:
    """One line of /proc/pressure/cpu: % of time tasks waited for a CPU, and the µs total."""

    avg10: float
    avg60: float
    avg300: float
    total_us: int


def parse_pressure(text: str) -> dict[str, Pressure]:
    """`some`/`full` lines of a PSI file, e.g. `some avg10=3.80 avg60=1.32 avg300=1.57 total=9`."""
    lines: dict[str, Pressure] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        kind, *pairs = line.split()
        values = dict(pair.split("=", 1) for pair in pairs)
        lines[kind] = Pressure(avg10=float(values["avg10"]), avg60=float(values["avg60"]),
                               avg300=float(values["avg300"]), total_us=int(values["total"]))
    return lines


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


@dataclass(frozen=True)
class PyperfHints:
    """What `pyperf system show` found: its advice, how many warnings, and whether it is happy."""

    advice: tuple[str, ...]
    warnings: int
    errors: tuple[str, ...]
    ready: bool


def parse_pyperf_show(text: str) -> PyperfHints:
    """The sections of `pyperf system show` output.

    A section is a title underlined with `=`, a blank line, then its lines up to the next blank
    line; lines outside sections (the first and last) are pyperf's own summary.
    """
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    lines = [line.strip() for line in text.splitlines()]
    for line, following in zip(lines, [*lines[1:], ""], strict=True):
        if line and following and set(following) == {"="}:
            current = sections.setdefault(line, [])
        elif not line:
            if current:  # a blank line ends a section, except the one right after its title
                current = None
        elif current is not None and set(line) != {"="}:
            current.append(line)
    if not sections:
        raise ValueError("pyperf printed no section this version of mpbench understands")
    return PyperfHints(advice=tuple(sections.get("Advices", ())),
                       warnings=len(sections.get("Warnings", ())),
                       errors=tuple(sections.get("Errors", ())),
                       ready="OK! System ready for benchmarking" in text)


# --- measuring ------------------------------------------------------------------------------


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


def _tree_cpu_seconds() -> float:
    """CPU time of this process and its children, live or already waited for."""
    import psutil

    me = psutil.Process()
    times = me.cpu_times()
    total = times.user + times.system + times.children_user + times.children_system
    for child in me.children(recursive=True):
        with contextlib.suppress(psutil.Error):  # it may end between listing and reading
            child_times = child.cpu_times()
            total += child_times.user + child_times.system
    return total


def _read_pressure_total(proc: Path) -> int | None:
    try:
        return parse_pressure((proc / "pressure" / "cpu").read_text())["some"].total_us
    except (OSError, KeyError, ValueError):  # PSI is off in many kernels and containers
        return None


def read_load_average(proc: Path = PROC) -> LoadAverage | None:
    try:
        return parse_loadavg((proc / "loadavg").read_text())
    except OSError:
        with contextlib.suppress(OSError):
            return LoadAverage(*os.getloadavg())
    return None


def measure_background_load(seconds: float, proc: Path = PROC) -> BackgroundLoad:
    """Sample /proc/stat and this process tree's CPU time `seconds` apart, doing nothing between."""
    load_average = read_load_average(proc)
    ticks_per_second = os.sysconf("SC_CLK_TCK")
    before = parse_proc_stat((proc / "stat").read_text())
    own_before, pressure_before = _tree_cpu_seconds(), _read_pressure_total(proc)
    started = time.monotonic()
    time.sleep(seconds)
    elapsed = time.monotonic() - started
    after = parse_proc_stat((proc / "stat").read_text())
    own_after, pressure_after = _tree_cpu_seconds(), _read_pressure_total(proc)
    pressure = (None if pressure_before is None or pressure_after is None
                else (pressure_after - pressure_before) / 1e6 / elapsed)
    return BackgroundLoad(
        seconds=elapsed,
        busy_cpus=(after.busy - before.busy) / ticks_per_second / elapsed,
        own_cpus=(own_after - own_before) / elapsed,
        steal_cpus=(after.steal - before.steal) / ticks_per_second / elapsed,
        pressure_some=pressure,
        load_average=load_average,
    )


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


def probe_speed(workers: int, seconds: float) -> SpeedProbe:
    """Interleave one-process, N-process and pinned windows for about `seconds`.

    The pool is started and every worker has spun once before any window is timed, and the
    window order flips each round, so a host that slows down mid-probe slows all kinds alike.
    """
    context = multiprocessing.get_context()  # the start method mpbench runs use by default
    cpus = _pinnable_cpus(workers)
    windows: dict[str, list[int | None]] = {"serial": [None]}  # one entry per worker: its CPU
    if workers > 1:
        windows["parallel"] = [None] * workers
    if cpus:
        windows["pinned"] = list(cpus)
    names = list(windows)
    planned = max(MIN_ROUNDS,
                  int(seconds / (len(names) * (WINDOW_SECONDS + START_MARGIN_SECONDS))))
    deadline = time.monotonic() + seconds
    rounds: list[ProbeRound] = []
    with _process_pool(context, workers) as pool:
        _run_window(pool, [None] * workers, WARMUP_SECONDS)
        for index in range(planned):
            if index >= MIN_ROUNDS and time.monotonic() > deadline:
                break
            order = names if index % 2 == 0 else names[::-1]
            units = {name: _run_window(pool, windows[name], WINDOW_SECONDS) for name in order}
            rounds.append(ProbeRound(
                serial_units=units["serial"][0],
                parallel_units=sum(units["parallel"]) if "parallel" in units else None,
                per_cpu_units=tuple(units["pinned"]) if "pinned" in units else None,
            ))
    return SpeedProbe(workers=workers, start_method=context.get_start_method(),
                      window_seconds=WINDOW_SECONDS, cpus=cpus, rounds=tuple(rounds))


def pyperf_hints() -> PyperfHints:
    """Run `pyperf system show` in a subprocess: pyperf's checks are private, print, and exit."""
    shown = subprocess.run([sys.executable, "-m", "pyperf", "system", "show"],
                           capture_output=True, text=True, timeout=PYPERF_TIMEOUT_SECONDS,
                           check=False)
    return parse_pyperf_show(shown.stdout)


def read_governors(cpus: Sequence[int], sys_cpu: Path = SYS_CPU) -> dict[int, str]:
    """The cpufreq governor of each CPU that exposes one (VMs usually expose none)."""
    governors: dict[int, str] = {}
    for cpu in cpus:
        with contextlib.suppress(OSError):
            path = sys_cpu / f"cpu{cpu}" / "cpufreq" / "scaling_governor"
            governors[cpu] = path.read_text().strip()
    return governors


def _attempt(measure: Callable[[], T]) -> T | Unavailable:
    """The measurement, or why it could not be taken: the doctor reports, it does not crash."""
    try:
        return measure()
    except Exception as exc:  # any failure of one probe is a finding, not the end of the report
        return Unavailable(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)


# --- judging --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Measurements:
    """Everything `diagnose` gathered, before any judgement."""

    budget: CpuBudget
    physical_cpus: int | None
    cpu_model: str
    governors: dict[int, str]
    python: str
    python_build: str
    gil_enabled: bool
    blas: str | Unavailable
    pyperf: PyperfHints | Unavailable
    load: BackgroundLoad | Unavailable
    probe: SpeedProbe | Unavailable


@dataclass(frozen=True)
class Verdict:
    """Fit or not, in one sentence, and what to do when not."""

    fit: bool
    summary: str
    actions: tuple[str, ...]


@dataclass(frozen=True)
class Diagnosis:
    """What `diagnose` measured, the findings and verdict drawn from it, and how long it took."""

    measurements: Measurements
    findings: tuple[Finding, ...]
    verdict: Verdict
    seconds: float


def _not_available(title: str, missing: Unavailable, source: str) -> Finding:
    return Finding(Status.WARN, title, f"not available here ({missing.reason})", source,
                   "the other findings still hold; this one could not be checked")


def budget_finding(budget: CpuBudget, physical: int | None) -> Finding:
    physical_text = "?" if physical is None else str(physical)
    figure = f"{budget.usable} usable of {budget.logical} logical, {physical_text} physical"
    source = (f"usable = min({budget.describe()}) from os.cpu_count(), "
              "os.sched_getaffinity(0) and the cgroup's cpu.max; physical from psutil")
    if budget.usable < 2:
        return Finding(Status.BAD, "CPU budget", figure, source,
                       "scaling needs at least 2 usable CPUs: widen the affinity (taskset) or "
                       "the cgroup quota, or use a bigger machine")
    if physical is not None and physical < budget.usable:
        return Finding(Status.WARN, "CPU budget", figure, source,
                       f"SMT siblings share a core: expect less than linear speedup past "
                       f"{physical} workers")
    return Finding(Status.OK, "CPU budget", figure, source,
                   f"`--workers auto` goes up to {budget.usable}")


def cpu_finding(model: str, governors: dict[int, str]) -> Finding:
    source = "/proc/cpuinfo; /sys/devices/system/cpu/cpu*/cpufreq/scaling_governor"
    if not governors:
        return Finding(Status.OK, "CPU and clock", f"{model}; no frequency governor exposed",
                       source, "a VM or a fixed clock: the host decides the speed, which the "
                               "single-process speed check below watches")
    names = sorted(set(governors.values()))
    figure = f"{model}; governor {', '.join(names)}"
    if names == ["performance"]:
        return Finding(Status.OK, "CPU and clock", figure, source, "the clock stays high")
    return Finding(Status.WARN, "CPU and clock", figure, source,
                   "the clock follows the load, so the first samples run slower: "
                   "`sudo python -m pyperf system tune` sets the performance governor")


def pyperf_finding(hints: PyperfHints | Unavailable) -> Finding:
    title, source = "pyperf tuning", "`python -m pyperf system show`"
    if isinstance(hints, Unavailable):
        return _not_available(title, hints, source)
    warnings = f"; {hints.warnings} warnings" if hints.warnings else ""
    if hints.ready and not hints.errors:
        return Finding(Status.OK, title, f"system ready{warnings}", source, "nothing to tune")
    return Finding(Status.WARN, title, f"{len(hints.advice)} suggestions{warnings}", source,
                   "less noise, same cores: `sudo python -m pyperf system tune` applies the "
                   "runtime settings (`system reset` undoes them); isolcpus and rcu_nocbs are "
                   "kernel boot parameters",
                   details=hints.advice + hints.errors)


def blas_finding(blas: str | Unavailable) -> Finding:
    source = "threadpoolctl after importing numpy"
    if isinstance(blas, Unavailable):
        return _not_available("BLAS threads", blas, source)
    return Finding(Status.OK, "BLAS threads", blas, source,
                   "mpbench caps each worker's BLAS threads (`--blas-threads`, default 1), so "
                   "numpy kernels in N processes do not oversubscribe the CPUs")


def python_finding(python: str, build: str, gil_enabled: bool) -> Finding:
    figure = f"{python}, {build} build, GIL {'enabled' if gil_enabled else 'disabled'}"
    source = "sys._is_gil_enabled(), sysconfig Py_GIL_DISABLED"
    if not gil_enabled:
        return Finding(Status.OK, "Python", figure, source,
                       "threads can scale for pure-Python kernels too")
    if "free-threaded" in build:
        return Finding(Status.WARN, "Python", figure, source,
                       "a free-threaded build with the GIL back on (an extension enabled it): "
                       "PYTHON_GIL=0 forces it off")
    return Finding(Status.OK, "Python", figure, source,
                   "threads cannot speed up pure-Python kernels here, processes can; a "
                   "free-threaded 3.13t/3.14t shows what threads do without the GIL")


def load_finding(load: BackgroundLoad | Unavailable) -> Finding:
    title = "Background load"
    source = ("/proc/stat busy time minus this process tree's CPU time (psutil) while idle; "
              "/proc/pressure/cpu; /proc/loadavg")
    if isinstance(load, Unavailable):
        return _not_available(title, load, source)
    parts = [f"{load.other_cpus:.2f} CPUs used by other processes over {load.seconds:.1f} s "
             f"(all CPUs busy {load.busy_cpus:.2f}, mpbench {load.own_cpus:.2f})",
             f"steal {load.steal_cpus:.2f} CPUs"]
    if load.pressure_some is not None:
        parts.append(f"tasks waited for a CPU {load.pressure_some:.1%} of the time")
    if load.load_average is not None:
        parts.append(f"load average {load.load_average.one:.2f} (1 min)")
    figure = "; ".join(parts)
    if load.other_cpus >= FIT_BACKGROUND_CPUS:
        return Finding(Status.BAD, title, figure, source,
                       "other programs compete with the workers: close them (see `top`) and rerun")
    if load.steal_cpus >= NOTABLE_STEAL_CPUS:
        return Finding(Status.WARN, title, figure, source,
                       "the hypervisor gives these CPUs to other guests: rerun later or use a "
                       "dedicated machine")
    return Finding(Status.OK, title, figure, source, "the machine is quiet")


def speed_finding(probe: SpeedProbe | Unavailable) -> Finding:
    title, source = "Single-process speed", "a pure-Python loop in one pool worker"
    if isinstance(probe, Unavailable):
        return _not_available(title, probe, source)
    chunk_ms = probe.chunk_ms_by_round()
    if not chunk_ms:
        return _not_available(title, Unavailable("no window finished a work unit"), source)
    fastest, slowest = min(chunk_ms), max(chunk_ms)
    spread = slowest / fastest - 1
    figure = (f"{statistics.median(chunk_ms):.1f} ms per {CHUNK_LOOPS:,} loop iterations "
              f"(median; {fastest:.1f} to {slowest:.1f} ms over {len(chunk_ms)} windows, "
              f"spread {spread:.0%})")
    source += f", {len(chunk_ms)} windows of {probe.window_seconds:g} s"
    if spread >= STEADY_SPEED_SPREAD:
        return Finding(Status.WARN, title, figure, source,
                       "the CPU's speed drifts (other load, here or on the host): compare runs "
                       "made at different times with care, or use a dedicated machine")
    return Finding(Status.OK, title, figure, source, "steady")


def effective_cores_finding(probe: SpeedProbe | Unavailable, usable: int) -> Finding:
    title = "Effective cores"
    if isinstance(probe, Unavailable):
        return _not_available(title, probe, "process pool probe")
    by_round = probe.effective_cores_by_round()
    if probe.effective_cores is None or not by_round:
        return Finding(Status.BAD, title, "not measured: one usable CPU",
                       "needs 2 usable CPUs", "scaling cannot be measured here")
    effective = probe.effective_cores
    figure = (f"{effective:.2f} of {usable} ({min(by_round):.2f} to {max(by_round):.2f} over "
              f"{len(by_round)} rounds)")
    source = (f"throughput of {probe.workers} {probe.start_method} pool workers spinning at once "
              "over 1, same pure-Python loop; pool warmed before timing, windows interleaved")
    if effective < FIT_EFFECTIVE_SHARE * usable:
        return Finding(Status.BAD, title, figure, source,
                       f"no benchmark can show more than a {effective:.1f}× speedup right now")
    if min(by_round) < DIP_EFFECTIVE_SHARE * usable:
        return Finding(Status.WARN, title, figure, source,
                       f"enough on the whole, but some rounds fell to {min(by_round):.2f}: the "
                       "host's load comes and goes, so repeat runs and compare their spread")
    return Finding(Status.OK, title, figure, source,
                   f"processes get {effective / usable:.0%} of the usable cores' throughput")


def cpu_speeds_finding(probe: SpeedProbe | Unavailable) -> Finding:
    title = "Per-CPU speed"
    source = "one pool worker pinned to each CPU (sched_setaffinity), all spinning at once"
    if isinstance(probe, Unavailable):
        return _not_available(title, probe, source)
    speeds = probe.relative_cpu_speeds()
    if not speeds:
        return _not_available(title, Unavailable("needs 2 CPUs and sched_setaffinity"), source)
    figure = ", ".join(f"cpu{cpu} {speed:.0%}" for cpu, speed in speeds.items())
    slowest = min(speeds, key=speeds.__getitem__)
    if speeds[slowest] < EVEN_CPU_SPEED:
        return Finding(Status.WARN, title, figure + " of the fastest", source,
                       f"cpu{slowest} is slower (other load runs there, here or on the host): "
                       "parallel runs wait for the workers on it, so speedups stop short")
    return Finding(Status.OK, title, figure + " of the fastest", source, "the CPUs run alike")


def build_findings(measured: Measurements) -> tuple[Finding, ...]:
    return (
        budget_finding(measured.budget, measured.physical_cpus),
        cpu_finding(measured.cpu_model, measured.governors),
        python_finding(measured.python, measured.python_build, measured.gil_enabled),
        blas_finding(measured.blas),
        pyperf_finding(measured.pyperf),
        load_finding(measured.load),
        speed_finding(measured.probe),
        effective_cores_finding(measured.probe, measured.budget.usable),
        cpu_speeds_finding(measured.probe),
    )


def judge(usable: int, load: BackgroundLoad | Unavailable,
          probe: SpeedProbe | Unavailable) -> Verdict:
    """Fit when N processes deliver ≥ 90 % of N cores and other processes use < 0.2 CPU.

    Everything else (governor, pyperf tuning, drift, uneven CPUs) adds noise but does not cap
    the speedup a benchmark can show, so it is reported as a finding, not a reason to stop.
    """
    problems: list[str] = []
    actions: list[str] = []
    if usable < 2:
        problems.append(f"only {usable} usable CPU")
        actions.append("scaling needs at least 2 usable CPUs: widen the affinity or the cgroup "
                       "quota, or use a bigger machine")
    busy = isinstance(load, BackgroundLoad) and load.other_cpus >= FIT_BACKGROUND_CPUS
    if isinstance(load, BackgroundLoad) and busy:
        problems.append(f"other processes use {load.other_cpus:.2f} CPUs")
        actions.append("close other programs (see `top`) and rerun `mpbench doctor`")
    effective = None if isinstance(probe, Unavailable) else probe.effective_cores
    if usable >= 2 and effective is None:
        reason = probe.reason if isinstance(probe, Unavailable) else "no round finished"
        problems.append(f"effective cores could not be measured ({reason})")
        actions.append("rerun `mpbench doctor`")
    elif effective is not None and effective < FIT_EFFECTIVE_SHARE * usable:
        problems.append(f"{usable} processes deliver only {effective:.2f} cores' worth of work")
        if not busy:
            actions.append("the host is sharing these CPUs: rerun later or use a dedicated "
                           "machine")
        if 2 <= math.floor(effective) < usable:
            actions.append(f"or keep `--workers` at most {math.floor(effective)}")
        actions.append(f"meanwhile read speedups above {effective:.1f}× as out of reach, not as "
                       "your code's limit")
    if problems or effective is None:  # (no problem implies effective cores were measured)
        return Verdict(False, "not fit to benchmark right now: " + "; ".join(problems),
                       tuple(actions))
    quiet = (f", other processes use {load.other_cpus:.2f} CPUs"
             if isinstance(load, BackgroundLoad) else "")
    return Verdict(True, f"fit to benchmark: {usable} usable CPUs deliver {effective:.2f} "
                         f"effective cores{quiet}", ())


def diagnose(probe_seconds: float = DEFAULT_PROBE_SECONDS,
             progress: Callable[[str], None] | None = None) -> Diagnosis:
    """Check the machine in about `probe_seconds` plus ~1 s; `progress` hears each step's name.

    The idle window comes first, before mpbench adds any load of its own, and numpy (for the
    BLAS check) is imported last, so the probe's pool is forked from a process without its
    threads.
    """
    started = time.monotonic()
    say = progress or (lambda step: None)
    idle_low, idle_high = IDLE_SECONDS_RANGE
    idle_seconds = min(idle_high, max(idle_low, IDLE_SHARE * probe_seconds))
    budget = machine.cpu_budget()
    say(f"watching the idle machine for {idle_seconds:.1f} s")
    load = _attempt(lambda: measure_background_load(idle_seconds))
    say(f"timing 1 and {budget.usable} processes")
    probe = _attempt(lambda: probe_speed(budget.usable, probe_seconds - idle_seconds))
    say("asking pyperf and threadpoolctl")
    measured = Measurements(
        budget=budget,
        physical_cpus=machine.physical_cpus(),
        cpu_model=machine.cpu_model(),
        governors=read_governors(sorted(os.sched_getaffinity(0))
                                 if hasattr(os, "sched_getaffinity") else range(budget.logical)),
        python=f"{platform.python_implementation()} {platform.python_version()}",
        python_build=machine.python_build(),
        gil_enabled=machine.gil_enabled(),
        blas=_attempt(machine.blas_summary),
        pyperf=_attempt(pyperf_hints),
        load=load,
        probe=probe,
    )
    return Diagnosis(measurements=measured, findings=build_findings(measured),
                     verdict=judge(budget.usable, load, probe),
                     seconds=time.monotonic() - started)


# --- rendering ------------------------------------------------------------------------------

_MARKS = {Status.OK: ("✓", "green"), Status.WARN: ("!", "yellow"), Status.BAD: ("✗", "red")}


def render(diagnosis: Diagnosis) -> Group:
    """The findings as a table and the verdict below it, for `Console.print`."""
    table = Table(box=None, show_header=False, padding=(0, 1, 1, 0), expand=False)
    table.add_column(width=1)
    table.add_column(style="bold", no_wrap=True)
    table.add_column(ratio=1)
    for finding in diagnosis.findings:
        mark, colour = _MARKS[finding.status]
        body = Text(finding.figure)
        body.append(f"\n{finding.advice}", style=colour if finding.status != Status.OK else "")
        for detail in finding.details:
            body.append(f"\n  • {detail}")
        body.append(f"\nsource: {finding.source}", style="dim")
        table.add_row(Text(mark, style=colour), finding.title, body)
    verdict = diagnosis.verdict
    colour = "green" if verdict.fit else "red"
    lines = [Text(verdict.summary, style=f"bold {colour}")]
    lines += [Text(f"→ {action}") for action in verdict.actions]
    lines.append(Text(f"checked in {diagnosis.seconds:.1f} s", style="dim"))
    return Group(table, *lines)
