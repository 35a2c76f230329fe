"""The gates of `mpbench compare`: which thresholds fail it, as `--fail-on` spells them."""

from __future__ import annotations

import math
from dataclasses import dataclass

from mpbench.errors import UsageError

DEFAULT_THRESHOLD = 0.10  # for the faster/slower labels of a quantity whose gate is off
GATE_KINDS = {"time": "time", "speedup": "speedup", "efficiency": "speedup"}


@dataclass(frozen=True)
class Gate:
    """Thresholds that fail the comparison, as fractions (0.10 = 10 %); None turns a gate off."""

    time: float | None = DEFAULT_THRESHOLD
    speedup: float | None = DEFAULT_THRESHOLD

    def describe(self) -> str:
        parts = [f"{kind}:{threshold * 100:g}%" for kind, threshold in
                 (("time", self.time), ("speedup", self.speedup)) if threshold is not None]
        return ", ".join(parts) or "none"


def parse_fail_on(spec: str) -> Gate:
    """`time:10%`, `speedup:15%`, both comma-separated, or `none`; a gate left out is off.

    Without --fail-on the CLI uses `Gate()`: time:10% and speedup:10%."""
    items = [item.strip() for item in spec.split(",")]
    if items == ["none"]:
        return Gate(time=None, speedup=None)
    thresholds: dict[str, float] = {}
    for item in items:
        kind, colon, amount = (part.strip() for part in item.partition(":"))
        if not colon or not amount.endswith("%"):
            raise UsageError(f"--fail-on {spec!r}: write each gate as KIND:PERCENT, e.g. "
                             "--fail-on time:10% or --fail-on time:10%,speedup:15% (or none)")
        if kind not in GATE_KINDS:
            raise UsageError(f"--fail-on {spec!r}: unknown gate {kind!r}; use time:PERCENT "
                             "(same machine only) or speedup:PERCENT (any machines), or none")
        try:
            threshold = float(amount[:-1]) / 100
        except ValueError:
            threshold = math.nan
        if not 0 <= threshold < math.inf:
            raise UsageError(f"--fail-on {spec!r}: the threshold must be a percentage of 0 or "
                             "more, e.g. 10%")
        if GATE_KINDS[kind] in thresholds:
            raise UsageError(f"--fail-on {spec!r}: the {GATE_KINDS[kind]} gate is given twice; "
                             "give each gate once")
        thresholds[GATE_KINDS[kind]] = threshold
    return Gate(time=thresholds.get("time"), speedup=thresholds.get("speedup"))
