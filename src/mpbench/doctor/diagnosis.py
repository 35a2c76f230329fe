"""Measuring, in order: the idle machine first, then the speed probe, then the slow questions.

Measuring is kept apart from judging (`findings`, `verdict`): a measurement that fails becomes a
reason shown in its finding, so the doctor always reports and never crashes.
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from mpbench import machine
from mpbench.doctor.findings import Finding, Readings, Unavailable, build_findings
from mpbench.doctor.load import measure_background_load
from mpbench.doctor.probe import probe_speed
from mpbench.doctor.tuning import pyperf_hints, read_governors
from mpbench.doctor.verdict import Verdict, judge
from mpbench.topology import read_topology

DEFAULT_PROBE_SECONDS = 8.0
IDLE_SHARE = 0.3  # of the probe time spent watching the idle machine; the rest times the loop
IDLE_SECONDS_RANGE = (0.5, 3.0)

T = TypeVar("T")


@dataclass(frozen=True)
class Diagnosis:
    """What `diagnose` measured, the findings and verdict drawn from it, and how long it took."""

    measurements: Readings
    findings: tuple[Finding, ...]
    verdict: Verdict
    seconds: float


def _attempt(measure: Callable[[], T]) -> T | Unavailable:
    """The measurement, or why it could not be taken: the doctor reports, it does not crash."""
    try:
        return measure()
    except Exception as exc:  # any failure of one probe is a finding, not the end of the report
        return Unavailable(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)


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
    measured = Readings(
        budget=budget,
        physical_cpus=machine.physical_cpus(),
        topology=_attempt(read_topology),
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
