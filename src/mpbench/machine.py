"""Facts about this machine and interpreter that decide what a measurement means.

`os.cpu_count()` counts every CPU of the host; a process may be allowed fewer (its affinity
mask) and a container may be given less time than its CPUs (a cgroup quota). mpbench plans
its worker counts with the smaller of those.
"""

from __future__ import annotations

import math
import os
import platform
import re
import socket
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

from mpbench import __version__
from mpbench.model import Machine

CGROUP_ROOT = Path("/sys/fs/cgroup")


@dataclass(frozen=True)
class CpuBudget:
    """How many CPUs this process may use, and where each limit comes from."""

    logical: int
    affinity: int | None
    quota: float | None

    @property
    def usable(self) -> int:
        limits = [self.logical]
        if self.affinity is not None:
            limits.append(self.affinity)
        if self.quota is not None:
            limits.append(max(1, math.ceil(self.quota)))
        return min(limits)

    def describe(self) -> str:
        quota = "none" if self.quota is None else f"{self.quota:g} CPUs"
        affinity = "n/a" if self.affinity is None else str(self.affinity)
        return f"logical {self.logical}, affinity {affinity}, cgroup quota {quota}"


def parse_cgroup2_cpu_max(text: str) -> float | None:
    """CPUs allowed by a cgroup v2 `cpu.max` line (`"200000 100000"` → 2.0; `"max …"` → None)."""
    fields = text.split()
    if len(fields) != 2 or fields[0] == "max":
        return None
    quota, period = int(fields[0]), int(fields[1])
    return quota / period if quota > 0 and period > 0 else None


def parse_cgroup1_quota(quota_text: str, period_text: str) -> float | None:
    """CPUs allowed by cgroup v1 `cpu.cfs_quota_us` / `cpu.cfs_period_us` (-1 means no limit)."""
    quota, period = int(quota_text), int(period_text)
    return quota / period if quota > 0 and period > 0 else None


def cgroup_cpu_quota(root: Path = CGROUP_ROOT, self_cgroup: Path = Path("/proc/self/cgroup")
                     ) -> float | None:
    """The tightest CPU quota on this process's cgroup and its ancestors, if any."""
    try:
        lines = self_cgroup.read_text().splitlines()
    except OSError:
        return None
    quotas: list[float] = []
    for line in lines:
        hierarchy, controllers, path = line.split(":", 2)
        if hierarchy == "0":  # cgroup v2: one unified tree
            folder = root / path.lstrip("/")
            for candidate in (folder, *folder.parents):
                if not candidate.is_relative_to(root):
                    break
                quota = _read_cpu_max(candidate / "cpu.max")
                if quota is not None:
                    quotas.append(quota)
        elif "cpu" in controllers.split(","):  # cgroup v1
            folder = root / "cpu" / path.lstrip("/")
            for candidate in (folder, root / "cpu"):
                try:
                    quota_text = (candidate / "cpu.cfs_quota_us").read_text()
                    period_text = (candidate / "cpu.cfs_period_us").read_text()
                except OSError:
                    continue
                v1_quota = parse_cgroup1_quota(quota_text, period_text)
                if v1_quota is not None:
                    quotas.append(v1_quota)
                break
    return min(quotas, default=None)


def _read_cpu_max(path: Path) -> float | None:
    try:
        text = path.read_text()
    except OSError:
        return None
    return parse_cgroup2_cpu_max(text)


def cpu_budget() -> CpuBudget:
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return CpuBudget(logical=os.cpu_count() or 1, affinity=affinity, quota=cgroup_cpu_quota())


def allowed_cpus() -> frozenset[int] | None:
    """The CPUs this process may run on; None where the platform cannot say or pin."""
    return frozenset(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None


def usable_cpus() -> int:
    """CPUs this process can really use: min(logical, affinity, ceil(cgroup quota))."""
    return cpu_budget().usable


def physical_cpus() -> int | None:
    import psutil

    return psutil.cpu_count(logical=False)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def gil_enabled() -> bool:
    """False only on a free-threaded build running without the GIL right now."""
    is_enabled = getattr(sys, "_is_gil_enabled", None)
    return True if is_enabled is None else bool(is_enabled())


def free_threaded_build() -> bool:
    """A Py_GIL_DISABLED build (whose GIL may still be on: see gil_enabled)."""
    return bool(sysconfig.get_config_var("Py_GIL_DISABLED"))


def python_build() -> str:
    """`free-threaded`, `debug` or `default`: the builds that change what scaling means."""
    flags = []
    if free_threaded_build():
        flags.append("free-threaded")
    if hasattr(sys, "gettotalrefcount"):
        flags.append("debug")
    return "+".join(flags) or "default"


def thread_pools() -> str:
    """The BLAS/OpenMP libraries loaded now and their thread counts, each with the package that
    ships it: `openblas (numpy.libs) 2 threads`."""
    from threadpoolctl import threadpool_info

    # Sorted: threadpoolctl lists libraries in load order, which varies with import order.
    return ", ".join(sorted(f"{info['internal_api']} ({Path(info['filepath']).parent.name}) "
                            f"{info['num_threads']} threads" for info in threadpool_info()))


def blas_summary() -> str:
    """NumPy's BLAS/OpenMP libraries and their default thread counts."""
    import numpy  # noqa: F401  (loads the BLAS so threadpoolctl can see it)

    return thread_pools() or "none found"


def git_commit(directory: Path = Path()) -> str | None:
    """The commit checked out in `directory`, `-dirty` if it has changes; None outside git."""
    try:
        described = subprocess.run(
            ["git", "describe", "--always", "--dirty", "--abbrev=40", "--exclude=*"],
            cwd=directory, capture_output=True, text=True, timeout=5, check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return described or None


def machine_name(hostname: str) -> str:
    """A folder-safe name for the machine: the host name, lower-cased, odd characters dashed."""
    return re.sub(r"[^a-z0-9._-]+", "-", hostname.lower()).strip("-.") or "machine"


def collect(name: str | None = None) -> Machine:
    budget = cpu_budget()
    hostname = socket.gethostname()
    return Machine(
        name=name or machine_name(hostname),
        hostname=hostname,
        platform=platform.platform(),
        cpu_model=cpu_model(),
        logical_cpus=budget.logical,
        physical_cpus=physical_cpus(),
        usable_cpus=budget.usable,
        usable_cpus_source=budget.describe(),
        python_version=platform.python_version(),
        python_implementation=platform.python_implementation(),
        python_build=python_build(),
        gil_enabled=gil_enabled(),
        blas=blas_summary(),
        mpbench_version=__version__,
        git_commit=git_commit(),
    )
