"""mpbench: how CPU-heavy Python work scales with threads and processes, timed by pyperf."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mpbench.kernels import kernel

if TYPE_CHECKING:
    from collections.abc import Iterable
    from os import PathLike

    import pandas as pd

__version__ = "0.1.0"
__all__ = ["__version__", "kernel", "load"]


def load(paths: str | PathLike[str] | Iterable[str | PathLike[str]]) -> pd.DataFrame:
    """Results file(s) as a tidy pandas DataFrame, one row per timing sample (see README)."""
    from mpbench.frame import load as load_frame  # pandas only when asked for

    return load_frame(paths)
