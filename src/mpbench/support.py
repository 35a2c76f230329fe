"""Which planned scenarios an interpreter cannot run, and why, asked of the interpreter itself.

Before a run measures anything, each interpreter's environment runs `mpbench._capabilities`
once: it imports every kernel the plan names, when the plan has `interpreter_pool` loads each
in a subinterpreter, and when it has `dask` looks for Dask. A scenario that cannot run there
becomes `Unsupported` with the reason in words: shown and stored, never measured, not a
failure.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from typing import Any

from mpbench.environments import Environment
from mpbench.errors import UsageError
from mpbench.executors import Dask, InterpreterPool, dask_unavailable, interpreter_pool_class
from mpbench.interpreters import Interpreter
from mpbench.model import Scenario, Unsupported

CAPABILITIES_TIMEOUT_SECONDS = 120.0


def unsupported(plan: Sequence[Scenario], interpreter: Interpreter,
                environment: Environment) -> list[Unsupported]:
    """The scenarios of `plan` under `interpreter` that it cannot run, in plan order."""
    mine = [scenario for scenario in plan if scenario.interpreter == interpreter.tag]
    if not mine:
        return []
    if environment.python == sys.executable:
        # Planning already imported every kernel here; only subinterpreters may need asking.
        pool = interpreter_pool_class()
        wants_pool = any(scenario.executor == InterpreterPool.name for scenario in mine)
        if isinstance(pool, str) or not wants_pool:
            here = {InterpreterPool.name: pool if isinstance(pool, str) else None,
                    Dask.name: dask_unavailable()}
            return [Unsupported(scenario, reason) for scenario in mine
                    if (reason := here.get(scenario.executor)) is not None]
    answer = _ask(interpreter, environment, mine)
    marked = []
    for scenario in mine:
        key = f"{scenario.kernel_file}::{scenario.kernel}"
        reason = answer["kernels"].get(key, "its capabilities could not be asked")
        if reason is None and scenario.executor == InterpreterPool.name:
            reason = environment.missing.get("subinterpreters") or answer[
                "interpreter_pool"].get(key, "not checked: an earlier kernel hung the "
                                             "subinterpreter")
        if reason is None and scenario.executor == Dask.name:
            reason = answer["dask"]
        if reason is not None:
            marked.append(Unsupported(scenario, _in_words(reason, environment)))
    return marked


def _ask(interpreter: Interpreter, environment: Environment,
         scenarios: Sequence[Scenario]) -> dict[str, Any]:
    kernels = sorted({(scenario.kernel_file, scenario.kernel) for scenario in scenarios})
    executors = {scenario.executor for scenario in scenarios}
    request = {"kernels": kernels, "interpreter_pool": InterpreterPool.name in executors,
               "dask": Dask.name in executors}
    command = [environment.python, "-m", "mpbench._capabilities", json.dumps(request)]
    try:
        answer = subprocess.run(command, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                                timeout=CAPABILITIES_TIMEOUT_SECONDS,
                                env={**os.environ, **environment.environ})
        facts = json.loads(answer.stdout)
    except (OSError, subprocess.TimeoutExpired, ValueError):
        facts = None
    if not isinstance(facts, dict) or "kernels" not in facts:
        raise UsageError(f"{interpreter.tag} ({interpreter.path}) cannot run mpbench's timing "
                         f"processes from {environment.python}; delete that environment to "
                         "have it made again")
    return facts


def _in_words(reason: str, environment: Environment) -> str:
    """A missing package's own explanation (no NumPy wheel) rather than its ImportError."""
    for package, why in environment.missing.items():
        if f"No module named '{package}" in reason:
            return why
    return reason
