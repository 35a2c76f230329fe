"""The summary for scripts: one flat record per scenario, as JSON or CSV (`show --format`)."""

from __future__ import annotations

import io
import json
import math
from collections.abc import Sequence
from typing import Any

import pandas as pd

from mpbench.tables import MARK_SYMBOLS

# The fields of a record, in order; the README documents them.
FIELDS = ("file", "machine", "python", "interpreter", "scenario", "kernel", "executor",
          "workers", "start_method", "scaling", "visits", "samples", "median_s", "median_low",
          "median_high", "speedup", "speedup_low", "speedup_high", "efficiency", "flags")


def flags(point: pd.Series[Any], target: float | None) -> list[str]:
    """The marks that apply to a summary point, by name, plus `missed_precision` and
    `wrong_result`."""
    names = [mark for mark in MARK_SYMBOLS if bool(point[mark])]
    if target is not None and point["speedup_half_width"] > target:
        names.append("missed_precision")
    if bool(point["wrong_result"]):
        names.append("wrong_result")
    return names


def records(summary: pd.DataFrame, targets: dict[str, float | None]) -> list[dict[str, Any]]:
    """One dict per scenario of `summary`; `targets` maps each file to its precision target."""
    rows = []
    for _, point in summary.iterrows():
        row: dict[str, Any] = {
            "file": str(point["file"]), "machine": str(point["machine"]),
            "python": str(point["python"]), "interpreter": str(point["interpreter"]),
            "scenario": str(point["scenario"]), "kernel": str(point["kernel"]),
            "executor": str(point["executor"]), "workers": int(point["workers"]),
            "start_method": None if pd.isna(point["start_method"]) else str(point["start_method"]),
            "scaling": str(point["scaling"]),
            "visits": int(point["visits"]), "samples": int(point["samples"]),
            "median_s": point["median"], "median_low": point["median_low"],
            "median_high": point["median_high"], "speedup": point["speedup"],
            "speedup_low": point["speedup_low"], "speedup_high": point["speedup_high"],
            "efficiency": point["efficiency"],
            "flags": flags(point, targets.get(str(point["file"]))),
        }
        rows.append({name: _finite(value) for name, value in row.items()})
    return rows


def _finite(value: Any) -> Any:
    """NaN and infinities become null: JSON has no such numbers."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return float(value) if isinstance(value, float) else value


def to_json(rows: Sequence[dict[str, Any]]) -> str:
    return json.dumps(list(rows), indent=2, ensure_ascii=False) + "\n"


def to_csv(rows: Sequence[dict[str, Any]]) -> str:
    table = pd.DataFrame([{**row, "flags": ";".join(row["flags"])} for row in rows],
                         columns=list(FIELDS))
    buffer = io.StringIO()
    table.to_csv(buffer, index=False, lineterminator="\n")
    return buffer.getvalue()
