"""mpbench: how CPU-heavy Python work scales with threads and processes, timed by pyperf."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable
    from os import PathLike

    import pandas as pd

    from mpbench.kernels import kernel
    from mpbench.matrix import MatrixOptions
    from mpbench.options import RunOptions
    from mpbench.runner import Observer
    from mpbench.storage import Results

__version__ = "0.1.0"
__all__ = ["MatrixOptions", "RunOptions", "__version__", "kernel", "load", "run"]


def load(paths: str | PathLike[str] | Iterable[str | PathLike[str]]) -> pd.DataFrame:
    """Results file(s) as a tidy pandas DataFrame, one row per timing sample (see README)."""
    from mpbench.frame import load as load_frame  # pandas only when asked for

    return load_frame(paths)


def __getattr__(name: str) -> object:
    """`kernel`, `RunOptions` and `MatrixOptions` on first use: every kernel file, every timing
    process and every spawned worker imports this package, and most need none of them (a
    spawned worker's start-up would count their imports)."""
    if name == "kernel":
        from mpbench.kernels import kernel

        return kernel
    if name == "RunOptions":
        from mpbench.options import RunOptions

        return RunOptions
    if name == "MatrixOptions":
        from mpbench.matrix import MatrixOptions

        return MatrixOptions
    raise AttributeError(f"module 'mpbench' has no attribute {name!r}")


def run(options: RunOptions | None = None, observer: Observer | None = None) -> Results:
    """Measure what `options` ask for (the defaults: the built-in suite, quick profile), save
    the results file, and return its results; `observer` is told of each round and visit."""
    from mpbench.runs import run as run_options

    return run_options(options, observer)
