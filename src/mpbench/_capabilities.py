"""`python -m mpbench._capabilities REQUEST_JSON`: what this interpreter can run, as JSON.

Run once per interpreter before a run measures anything, in that interpreter's environment, so
scenarios it cannot run are marked unsupported (with the reason) instead of failing: a kernel
whose module does not import here (no NumPy wheel), `interpreter_pool` where there are no
subinterpreters or the kernel cannot load in one (NumPy cannot: numpy#24755), and `dask` where
Dask is not installed.

The request is {"kernels": [[file, name], ...], "interpreter_pool": bool, "dask": bool}; the
answer maps `file::name` to null (supported) or a reason, for the kernels and for
`interpreter_pool`, and gives "dask" a reason or null.
"""

from __future__ import annotations

import json
import os
import sys
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import Any

SUBINTERPRETER_TIMEOUT_SECONDS = 20.0
REASON_LIMIT = 200


def _reason(exc: BaseException) -> str:
    """One line: the exception's, or the last of a long message (NumPy's import error puts
    advice first and the cause last)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return f"{type(exc).__name__}: {lines[-1] if lines else ''}"[:REASON_LIMIT]


def capabilities(request: dict[str, Any]) -> dict[str, Any]:
    from mpbench.errors import KernelDefinitionError
    from mpbench.executors import dask_unavailable, interpreter_pool_class
    from mpbench.kernels import load_kernel

    kernels: dict[str, str | None] = {}
    loaded = {}
    for file, name in request["kernels"]:
        key = f"{file}::{name}"
        try:
            loaded[key] = load_kernel(Path(file), name)
            kernels[key] = None
        except KernelDefinitionError as exc:  # says which file and why, in its own words
            kernels[key] = str(exc)[:REASON_LIMIT]
        except Exception as exc:
            kernels[key] = _reason(exc)
    pool: dict[str, str | None] = {}
    if request["interpreter_pool"]:
        pool_class = interpreter_pool_class()
        if isinstance(pool_class, str):
            pool = {key: pool_class for key in kernels}
        else:
            pool = {key: reason for key, reason in kernels.items() if reason is not None}
            pool.update(_in_subinterpreters(pool_class, loaded))
    return {"kernels": kernels, "interpreter_pool": pool,
            "dask": dask_unavailable() if request["dask"] else None}


def _in_subinterpreters(pool_class: Any, loaded: dict[str, Any]) -> dict[str, str | None]:
    """Each kernel's module, loaded in a subinterpreter (an empty task unpickles the kernel)."""
    from mpbench import _tasks

    answers: dict[str, str | None] = {}
    try:
        pool = pool_class(max_workers=1, initializer=_tasks.extend_path,
                          initargs=(tuple(sys.path),))
    except Exception as exc:
        return dict.fromkeys(loaded, f"cannot start subinterpreters: {_reason(exc)}")
    for key, spec in loaded.items():
        try:
            pool.submit(_tasks.call, spec.func.__module__, spec.name, 0, 0).result(
                timeout=SUBINTERPRETER_TIMEOUT_SECONDS)
            answers[key] = None
        except FutureTimeout:
            answers[key] = (f"did not load within {SUBINTERPRETER_TIMEOUT_SECONDS:g} s in a "
                            "subinterpreter")
            return answers  # the pool's one interpreter is stuck; the rest cannot be asked
        except Exception as exc:
            answers[key] = f"cannot load in a subinterpreter: {_reason(exc)}"
    pool.shutdown(wait=True)
    return answers


def main() -> None:
    answer = capabilities(json.loads(sys.argv[1]))
    print(json.dumps(answer), flush=True)
    os._exit(0)  # a stuck subinterpreter's thread would keep a normal exit waiting


if __name__ == "__main__":
    main()
