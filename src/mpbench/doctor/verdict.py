"""The verdict: fit to benchmark or not, in one sentence, and what to do when not."""

from __future__ import annotations

import math
from dataclasses import dataclass

from mpbench.doctor.findings import FIT_BACKGROUND_CPUS, FIT_EFFECTIVE_SHARE, Unavailable
from mpbench.doctor.load import BackgroundLoad
from mpbench.doctor.probe import SpeedProbe


@dataclass(frozen=True)
class Verdict:
    """Fit or not, in one sentence, and what to do when not."""

    fit: bool
    summary: str
    actions: tuple[str, ...]


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
