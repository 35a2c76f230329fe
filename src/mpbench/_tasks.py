"""What runs inside workers of every kind, subinterpreters included: only the standard library
is imported here (loading this module also loads the small `mpbench` package and its kernels
module), so a subinterpreter can load it.

An `InterpreterPoolExecutor` pickles each call and its arguments, so what it calls must be
importable there, and a subinterpreter starts with the interpreter's initial `sys.path`, not
the one the timing process extended to find the kernel's file.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass


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


def call_object(func: Callable[[int, int], int], start: int, stop: int) -> int:
    """A task whose callable is an object of this module (a GilProbe), pickled as it is."""
    return func(start, stop)


@dataclass(frozen=True)
class GilProbe:
    """Kernel-shaped and picklable: loads the kernel's module where it runs, as the timed tasks
    do, then answers 1 if the GIL is on there, else 0 (an extension without free-threading
    support turns it back on)."""

    module: str

    def __call__(self, start: int, stop: int) -> int:
        import importlib

        importlib.import_module(self.module)
        check = getattr(sys, "_is_gil_enabled", None)
        return 1 if check is None or check() else 0
