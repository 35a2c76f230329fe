"""Whether an interrupted results file may be finished by `mpbench run --resume`.

Finishing a file must not mix measurements made differently: same matrix options, same machine
and interpreter, and the same kernel files as when it started.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mpbench.errors import UsageError
from mpbench.model import Machine
from mpbench.storage import Results

# Facts that may change between the start of a run and its resumption without changing what is
# measured (the results file itself makes the git tree dirty, for one; the name is only a label,
# and the file keeps the one it started with).
_MACHINE_FACTS_THAT_MAY_CHANGE = {"name", "git_commit", "mpbench_version"}


def check_resumable(results: Results, given: Mapping[str, Any], machine: Machine) -> None:
    """Raise UsageError naming the first reason `results` cannot be resumed here and now.

    `given` holds the matrix options typed for the resumption (MatrixOptions field → value)."""
    path = results.path
    stored = dataclasses.asdict(results.options.matrix)
    for name, value in given.items():
        if _as_json(value) != _as_json(stored.get(name)):
            raise UsageError(
                f"{path} was run with {name} = {_as_json(stored.get(name))}, not "
                f"{_as_json(value)}; resume with the same options, or none"
            )
    for field in dataclasses.fields(Machine):
        if field.name in _MACHINE_FACTS_THAT_MAY_CHANGE:
            continue
        before, now = getattr(results.machine, field.name), getattr(machine, field.name)
        if before != now:
            raise UsageError(f"{path} was measured with {field.name} {before!r}, this machine "
                             f"has {now!r}; resume it where it started")
    for scenario in results.missing():
        if _file_hash(Path(scenario.kernel_file)) != scenario.kernel_hash:
            raise UsageError(f"{scenario.kernel_file} changed since {path} was started, so its "
                             "kernel would not be the one measured so far; start a new run")
    if not results.missing():
        raise UsageError(f"{path} has no scenario left to run")


def _as_json(value: Any) -> Any:
    return json.loads(json.dumps(value))


def _file_hash(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    except OSError:
        return None
