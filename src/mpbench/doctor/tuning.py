"""How the machine is tuned: the CPU frequency governors, and what pyperf would change.

Neither caps the speedup a benchmark can show; both add noise, so the doctor reports them.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

SYS_CPU = Path("/sys/devices/system/cpu")
PYPERF_TIMEOUT_SECONDS = 5.0


def read_governors(cpus: Sequence[int], sys_cpu: Path = SYS_CPU) -> dict[int, str]:
    """The cpufreq governor of each CPU that exposes one (VMs usually expose none)."""
    governors: dict[int, str] = {}
    for cpu in cpus:
        with contextlib.suppress(OSError):
            path = sys_cpu / f"cpu{cpu}" / "cpufreq" / "scaling_governor"
            governors[cpu] = path.read_text().strip()
    return governors


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


def pyperf_hints() -> PyperfHints:
    """Run `pyperf system show` in a subprocess: pyperf's checks are private, print, and exit."""
    shown = subprocess.run([sys.executable, "-m", "pyperf", "system", "show"],
                           capture_output=True, text=True, timeout=PYPERF_TIMEOUT_SECONDS,
                           check=False)
    return parse_pyperf_show(shown.stdout)
