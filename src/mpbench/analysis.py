"""Pure functions on the tidy frame: summaries and speedups. No I/O, no printing."""

from __future__ import annotations

import pandas as pd

SCENARIO_KEYS = ["file", "machine", "python", "scenario", "kernel", "executor", "start_method",
                 "workers", "usable_cpus"]


def summarize(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per scenario per file: sample statistics, speedup over serial, efficiency.

    Speedup compares medians with the same kernel's `serial` scenario from the same file (so the
    same machine, interpreter and run); it is NaN when that file has no serial run of the kernel.
    """
    grouped = frame.groupby(SCENARIO_KEYS, dropna=False, sort=False)
    summary = grouped["value"].agg(
        samples="count", median="median", mean="mean", stdev="std", minimum="min",
    ).reset_index()
    summary["startup_s"] = grouped["startup_s"].median().to_numpy()
    baseline = summary[summary["executor"] == "serial"].set_index(["file", "kernel"])["median"]
    keys = pd.MultiIndex.from_frame(summary[["file", "kernel"]])
    summary["serial_median"] = baseline.reindex(keys).to_numpy()
    summary["speedup"] = summary["serial_median"] / summary["median"]
    summary["efficiency"] = summary["speedup"] / summary["workers"]
    return summary
