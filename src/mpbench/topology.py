"""Which logical CPUs share a core, a socket and a NUMA node, and how fast each core is.

Read from /sys/devices/system/cpu rather than from a command's text (lscpu's columns differ
between versions and locales). A placement policy orders the CPUs a run may use, so that k
workers pinned to the first k of them get whole cores before SMT siblings share one.
"""

from __future__ import annotations

import enum
import itertools
import os
import re
from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from pathlib import Path

SYSFS_CPU = Path("/sys/devices/system/cpu")
SPEED_GAP_PERCENT = 15  # cores whose speeds differ by more than this are of different types
MAX_CPU_ID = 65_535  # far above any kernel's NR_CPUS; stops "0-999999999" filling memory
_ITEM = re.compile(r"([0-9]+)(?:-([0-9]+))?")


class Placement(enum.Enum):
    COMPACT = "compact"
    SPREAD = "spread"


@dataclass(frozen=True)
class Cpu:
    """One logical CPU as sysfs describes it."""

    id: int
    package: int
    core: int  # unique within its package only
    node: int  # 0 when unknown
    max_khz: int | None  # cpufreq/cpuinfo_max_freq
    capacity: int | None  # cpu_capacity (hybrid and ARM machines), when present
    siblings: tuple[int, ...]  # thread_siblings_list, itself included


@dataclass(frozen=True)
class CoreType:
    """Cores of about one speed: kind is "performance", "efficiency" (and "intermediate"
    between them, on three-tier ARM chips) when speeds differ, "all" when they do not."""

    kind: str
    cores: int
    max_khz: int | None  # the highest cpuinfo_max_freq among them, when exposed

    def describe(self) -> str:
        cores = _count(self.cores, "core" if self.kind == "all" else f"{self.kind} core")
        kind = " of one kind" if self.kind == "all" else ""
        speed = "" if self.max_khz is None else f" at {self.max_khz / 1e6:.2f} GHz"
        return f"{cores}{kind}{speed}"


@dataclass(frozen=True)
class Topology:
    """The machine's online CPUs, and the counts and orders drawn from them."""

    cpus: tuple[Cpu, ...]  # online CPUs, by id
    readable: bool = True  # False: no sysfs here, so every CPU is assumed to be a core

    @property
    def logical(self) -> int:
        return len(self.cpus)

    @property
    def cores(self) -> int:
        return len(self._cores())

    @property
    def sockets(self) -> int:
        return len({cpu.package for cpu in self.cpus})

    @property
    def nodes(self) -> int:
        return len({cpu.node for cpu in self.cpus})

    @property
    def smt(self) -> int:
        """The most logical CPUs on one core (1: no SMT)."""
        return max((len(threads) for threads in self._cores().values()), default=0)

    def _cores(self) -> dict[tuple[int, int], list[Cpu]]:
        cores: dict[tuple[int, int], list[Cpu]] = defaultdict(list)
        for cpu in self.cpus:
            cores[cpu.package, cpu.core].append(cpu)
        return cores

    def _speeds(self) -> dict[int, int] | None:
        """Each CPU's speed: its cpu_capacity (the scheduler's own ranking) when every CPU has
        one and they differ, else its cpuinfo_max_freq when every CPU has one; None otherwise.

        x86 kernels may write 1024 for every CPU, even on a hybrid chip, so a capacity that
        is the same everywhere leaves the frequencies to tell the cores apart.
        """
        capacities = {cpu.id: cpu.capacity for cpu in self.cpus}
        frequencies = {cpu.id: cpu.max_khz for cpu in self.cpus}
        varied = len(set(capacities.values())) > 1
        for speeds in ([capacities] if varied else []) + [frequencies]:
            if all(speed is not None for speed in speeds.values()):
                return {cpu: speed for cpu, speed in speeds.items() if speed is not None}
        return None

    def core_types(self) -> tuple[CoreType, ...]:
        """The cores grouped by speed, fastest first; one type "all" when they run alike."""
        cores = self._cores()
        speeds = self._speeds()
        if speeds is None:
            return (CoreType("all", len(cores), _max_khz(self.cpus)),)
        core_speed = {key: max(speeds[cpu.id] for cpu in threads) for key, threads in cores.items()}
        tiers: list[list[tuple[int, int]]] = []  # core keys, each tier within 15 % of its fastest
        tier_top = 0
        for key in sorted(core_speed, key=core_speed.__getitem__, reverse=True):
            if tiers and tier_top * 100 <= core_speed[key] * (100 + SPEED_GAP_PERCENT):
                tiers[-1].append(key)
            else:
                tiers.append([key])
                tier_top = core_speed[key]
        kinds = (["all"] if len(tiers) == 1 else
                 ["performance", *["intermediate"] * (len(tiers) - 2), "efficiency"])
        return tuple(CoreType(kind, len(keys), _max_khz(c for k in keys for c in cores[k]))
                     for kind, keys in zip(kinds, tiers, strict=True))

    def describe(self) -> str:
        """One line: "2 sockets, 16 cores, 32 logical CPUs (SMT 2), 2 NUMA nodes"."""
        if not self.readable:
            logical = _count(self.logical, "logical CPU")
            return f"topology not readable: {logical} assumed to be cores"
        smt = f"SMT {self.smt}" if self.smt > 1 else "no SMT"
        line = (f"{_count(self.sockets, 'socket')}, {_count(self.cores, 'core')}, "
                f"{_count(self.logical, 'logical CPU')} ({smt}), {_count(self.nodes, 'NUMA node')}")
        types = self.core_types()
        if len(types) > 1:
            line += "; " + ", ".join(core_type.describe() for core_type in types)
        return line

    def ordered(self, allowed: Collection[int], placement: Placement) -> tuple[int, ...]:
        """Every allowed CPU, in the order the policy fills them (k workers take the first k).

        Both policies place the first allowed thread of every core before any SMT sibling;
        compact then takes NUMA node 0's cores before node 1's, spread alternates the nodes;
        within a node the fastest cores come first, then by package, core and id.
        """
        wanted = set(allowed)
        by_id = {cpu.id: cpu for cpu in self.cpus}
        if offline := wanted - by_id.keys():
            several = len(offline) > 1
            raise ValueError(f"CPU{'s' if several else ''} {format_cpu_list(offline)} "
                             f"{'are' if several else 'is'} not online here "
                             f"(online: {format_cpu_list(by_id)})")
        speeds = self._speeds() or {}

        def thread_rank(cpu: Cpu) -> int:
            """0 for its core's first allowed thread: cpu10 when a container may not use cpu2."""
            return sum(1 for sibling in cpu.siblings if sibling in wanted and sibling < cpu.id)

        chosen = sorted((by_id[cpu] for cpu in wanted), key=lambda cpu: (
            thread_rank(cpu), cpu.node, -speeds.get(cpu.id, 0), cpu.package, cpu.core, cpu.id))
        if placement is Placement.COMPACT:
            return tuple(cpu.id for cpu in chosen)
        spread: list[int] = []
        for _, same_rank in itertools.groupby(chosen, key=thread_rank):
            by_node = [list(cpus) for _, cpus in itertools.groupby(same_rank, key=lambda c: c.node)]
            for turn in itertools.zip_longest(*by_node):
                spread.extend(cpu.id for cpu in turn if cpu is not None)
        return tuple(spread)


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _max_khz(cpus: Iterable[Cpu]) -> int | None:
    return max((cpu.max_khz for cpu in cpus if cpu.max_khz is not None), default=None)


def _read_int(path: Path) -> int | None:
    """A non-negative number from a sysfs file; None when it is absent or not one (some
    platforms write -1 for an unknown package)."""
    try:
        number = int(path.read_text().strip())
    except (OSError, ValueError):
        return None
    return number if number >= 0 else None


def _read_cpu(folder: Path, cpu: int) -> Cpu:
    topology = folder / "topology"
    siblings: tuple[int, ...] = (cpu,)
    for name in ("thread_siblings_list", "core_cpus_list"):  # the old name, then the new
        try:
            siblings = tuple(sorted({cpu, *parse_cpu_list((topology / name).read_text())}))
            break
        except (OSError, ValueError):
            continue
    nodes = sorted(int(entry.name[4:]) for entry in folder.glob("node*")
                   if re.fullmatch(r"node[0-9]+", entry.name))
    package, core = _read_int(topology / "physical_package_id"), _read_int(topology / "core_id")
    return Cpu(id=cpu, package=0 if package is None else package,
               core=cpu if core is None else core, node=nodes[0] if nodes else 0,
               max_khz=_read_int(folder / "cpufreq" / "cpuinfo_max_freq"),
               capacity=_read_int(folder / "cpu_capacity"), siblings=siblings)


def _online(root: Path) -> tuple[int, ...]:
    """The online CPUs: root/online, or every cpuN folder where that file is missing."""
    online = root / "online"
    if online.exists():
        try:
            return parse_cpu_list(online.read_text())
        except ValueError as error:
            raise ValueError(f"{online}: {error}") from None
    return tuple(sorted(int(entry.name[3:]) for entry in root.glob("cpu*")
                        if re.fullmatch(r"cpu[0-9]+", entry.name)))


def read_topology(root: Path = SYSFS_CPU) -> Topology:
    """The online CPUs under `root`; without it (macOS, some containers) os.cpu_count() CPUs,
    each assumed to be a core of its own."""
    online = _online(root) if root.is_dir() else ()
    if not online:
        flat = range(os.cpu_count() or 1)
        return Topology(tuple(Cpu(cpu, 0, cpu, 0, None, None, (cpu,)) for cpu in flat),
                        readable=False)
    return Topology(tuple(_read_cpu(root / f"cpu{cpu}", cpu) for cpu in online))


def parse_cpu_list(text: str) -> tuple[int, ...]:
    """A kernel CPU list, "0-3,8" → (0, 1, 2, 3, 8): sorted, each CPU once."""
    if not text.strip():
        raise ValueError("the CPU list is empty: give CPU numbers and ranges, such as 0-3,8")
    cpus: set[int] = set()
    for item in text.strip().split(","):
        match = _ITEM.fullmatch(item.strip())
        if match is None:
            raise ValueError(f"{item.strip()!r} in {text.strip()!r} is not a CPU number or a "
                             "range such as 0-3")
        first = _cpu_number(match[1])
        last = first if match[2] is None else _cpu_number(match[2])
        if last < first:
            raise ValueError(f"the range {item.strip()!r} runs backwards: write {last}-{first}")
        cpus.update(range(first, last + 1))
    return tuple(sorted(cpus))


def _cpu_number(digits: str) -> int:
    if len(digits.lstrip("0")) > len(str(MAX_CPU_ID)) or int(digits) > MAX_CPU_ID:
        raise ValueError(f"CPU {digits} is beyond any machine's CPUs (at most {MAX_CPU_ID})")
    return int(digits)


def format_cpu_list(cpus: Iterable[int]) -> str:
    """The kernel's CPU list form, (0, 1, 2, 3, 8) → "0-3,8"."""
    numbers = sorted(set(cpus))
    if numbers and numbers[0] < 0:
        raise ValueError(f"CPU numbers are not negative: {numbers[0]}")
    runs = itertools.groupby(enumerate(numbers), key=lambda pair: pair[1] - pair[0])
    spans = [[number for _, number in run] for _, run in runs]
    return ",".join(f"{span[0]}" if len(span) == 1 else f"{span[0]}-{span[-1]}" for span in spans)
