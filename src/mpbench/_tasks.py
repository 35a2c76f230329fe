"""Functions that run inside workers of every kind, subinterpreters included: they import
nothing, so any interpreter can load them.

An `InterpreterPoolExecutor` pickles each call and its arguments, so what it calls must be
importable there, and a subinterpreter starts with the interpreter's initial `sys.path`, not
the one the timing process extended to find the kernel's file.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence


def extend_path(paths: Sequence[str]) -> None:
    """A subinterpreter's initializer: the timing process's `sys.path`, so kernels import."""
    sys.path[:0] = [path for path in paths if path not in sys.path]


def call(module: str, name: str, start: int, stop: int) -> int:
    """One task in a subinterpreter (see `executors.Task`). The kernel goes by name, not
    pickled: a module that cannot load there (NumPy's) then raises here, where the pool
    reports it, instead of while the pool unpickles the call, where the backport waits
    forever."""
    import importlib

    func: Callable[[int, int], int] = getattr(importlib.import_module(module), name)
    return func(start, stop) if start < stop else 0


def gil_enabled(start: int, stop: int) -> int:
    """Kernel-shaped: 1 where it runs with the GIL on, else 0, so that the executor's own
    workers can be asked (an extension without free-threading support turns it back on)."""
    check = getattr(sys, "_is_gil_enabled", None)
    return 1 if check is None or check() else 0
