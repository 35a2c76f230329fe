"""The rules: one finding per check, each with its figure, its source and what to do.

Each rule is a pure function of the measurements, so it is tested on hand-built figures.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from enum import StrEnum

from mpbench.doctor.load import BackgroundLoad
from mpbench.doctor.probe import CHUNK_LOOPS, SpeedProbe
from mpbench.doctor.tuning import PyperfHints
from mpbench.machine import CpuBudget
from mpbench.topology import Topology, format_cpu_list

FIT_EFFECTIVE_SHARE = 0.9  # effective cores must reach 90 % of the usable CPUs …
FIT_BACKGROUND_CPUS = 0.2  # … while other processes use less than a fifth of one CPU
DIP_EFFECTIVE_SHARE = 0.75  # a round below this share of the usable CPUs is worth a warning
STEADY_SPEED_SPREAD = 0.10  # single-process speed may vary this much between windows
EVEN_CPU_SPEED = 0.9  # the slowest CPU must run at 90 % of the fastest's speed
NOTABLE_STEAL_CPUS = 0.1


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


@dataclass(frozen=True)
class Readings:
    """Everything `diagnose` gathered, before any judgement."""

    budget: CpuBudget
    physical_cpus: int | None
    topology: Topology | Unavailable
    cpu_model: str
    governors: dict[int, str]
    python: str
    python_build: str
    gil_enabled: bool
    blas: str | Unavailable
    pyperf: PyperfHints | Unavailable
    load: BackgroundLoad | Unavailable
    probe: SpeedProbe | Unavailable


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


def topology_finding(topology: Topology | Unavailable) -> Finding:
    title = "CPU topology"
    source = ("/sys/devices/system/cpu: online, cpuN/topology/, cpuN/nodeN, "
              "cpuN/cpufreq/cpuinfo_max_freq, cpuN/cpu_capacity")
    if isinstance(topology, Unavailable):
        return _not_available(title, topology, source)
    types = topology.core_types()
    details = ["core types: " + ", ".join(core_type.describe() for core_type in types)]
    nodes = sorted({cpu.node for cpu in topology.cpus})
    if len(nodes) > 1:
        details += [f"NUMA node {node}: CPUs "
                    f"{format_cpu_list(cpu.id for cpu in topology.cpus if cpu.node == node)}"
                    for node in nodes]
    figure = topology.describe()
    if not topology.readable:
        return Finding(Status.WARN, title, figure, "os.cpu_count(): no /sys/devices/system/cpu",
                       "cores and SMT siblings look alike here, so pinned CPU sets follow the "
                       "CPU numbers", tuple(details))
    if len(types) > 1:
        return Finding(Status.WARN, title, figure, source,
                       f"cores run at different speeds: speedups bend where workers spill from "
                       f"{types[0].kind} onto {types[-1].kind} cores (compact placement fills "
                       "the fastest first)", tuple(details))
    advice = ["every logical CPU is a core of its own" if topology.smt == 1 else
              "compact placement gives each worker a core of its own before SMT siblings share"]
    if len(nodes) > 1:
        advice.append("it fills NUMA node 0 first; spread alternates the nodes")
    return Finding(Status.OK, title, figure, source, "; ".join(advice), tuple(details))


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


def build_findings(measured: Readings) -> tuple[Finding, ...]:
    return (
        budget_finding(measured.budget, measured.physical_cpus),
        topology_finding(measured.topology),
        cpu_finding(measured.cpu_model, measured.governors),
        python_finding(measured.python, measured.python_build, measured.gil_enabled),
        blas_finding(measured.blas),
        pyperf_finding(measured.pyperf),
        load_finding(measured.load),
        speed_finding(measured.probe),
        effective_cores_finding(measured.probe, measured.budget.usable),
        cpu_speeds_finding(measured.probe),
    )
