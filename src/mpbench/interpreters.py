"""The interpreter axis: which Pythons a run times, named so that files line up.

An interpreter is named by its implementation, its minor version and its build, not by its path
or patch release: `3.13` (a GIL build), `3.13t` (free-threaded), `pypy3.10`. That name, the tag,
ends every scenario id (`py_square/threads/w2@3.13t`), so two machines with their own 3.13t
builds, or one runner before and after a patch release, compare scenario by scenario.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mpbench.errors import UsageError

OLDEST_SUPPORTED = (3, 11)
INSPECT_TIMEOUT_SECONDS = 30.0
# Runs in the interpreter being inspected, which may have nothing but its standard library.
_FACTS = """
import json, platform, sys, sysconfig
print(json.dumps({
    "version": platform.python_version(),
    "version_info": list(sys.version_info[:2]),
    "implementation": sys.implementation.name,
    "free_threaded": bool(sysconfig.get_config_var("Py_GIL_DISABLED")),
}))
"""


@dataclass(frozen=True)
class Interpreter:
    """A Python that timing processes run under."""

    tag: str  # e.g. 3.13t: the axis's value in ids, frames and tables
    path: str  # absolute, as found on this machine
    version: str  # e.g. 3.13.15
    implementation: str  # sys.implementation.name: cpython, pypy
    free_threaded: bool  # a Py_GIL_DISABLED build (whether the GIL is on is measured per run)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Interpreter:
        from mpbench.model import checked_fields

        return cls(**checked_fields(cls, data, "a stored interpreter"))


def tag_for(implementation: str, version_info: Sequence[int], free_threaded: bool) -> str:
    """`3.13t`, `3.11`, `pypy3.10`: CPython is the default and goes unnamed."""
    prefix = "" if implementation == "cpython" else implementation
    return f"{prefix}{version_info[0]}.{version_info[1]}{'t' if free_threaded else ''}"


def running() -> Interpreter:
    """The interpreter running mpbench."""
    import platform
    import sysconfig

    free_threaded = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
    return Interpreter(tag=tag_for(sys.implementation.name, sys.version_info[:2], free_threaded),
                       path=sys.executable, version=platform.python_version(),
                       implementation=sys.implementation.name, free_threaded=free_threaded)


def inspect(path: str) -> Interpreter:
    """The interpreter at `path`, asked directly; UsageError if it is missing, is not a Python
    that answers, or is older than mpbench supports."""
    resolved = _resolve(path)
    if _same_file(resolved, sys.executable):
        return running()
    try:
        answer = subprocess.run([resolved, "-I", "-c", _FACTS], capture_output=True, text=True,
                                timeout=INSPECT_TIMEOUT_SECONDS, stdin=subprocess.DEVNULL)
        facts = json.loads(answer.stdout) if answer.returncode == 0 else None
    except (OSError, subprocess.TimeoutExpired, ValueError):
        facts = None
    if not isinstance(facts, dict):
        raise UsageError(f"--python {path}: not a Python interpreter that answers (`{resolved} "
                         "-c ...` failed); give the path of a python executable")
    version_info = tuple(facts["version_info"])
    if version_info < OLDEST_SUPPORTED:
        oldest = ".".join(map(str, OLDEST_SUPPORTED))
        raise UsageError(f"--python {path} is Python {facts['version']}; mpbench needs "
                         f"{oldest} or newer")
    return Interpreter(
        tag=tag_for(facts["implementation"], version_info, facts["free_threaded"]),
        path=resolved, version=str(facts["version"]),
        implementation=str(facts["implementation"]), free_threaded=bool(facts["free_threaded"]))


def parse_pythons(paths: Sequence[str]) -> list[Interpreter]:
    """`--python` values (each may be a comma list), inspected, in the order given; UsageError
    when two share a tag, which would give two scenarios one id."""
    found: dict[str, Interpreter] = {}
    for item in (part.strip() for value in paths for part in value.split(",")):
        if not item:
            continue
        interpreter = inspect(item)
        other = found.get(interpreter.tag)
        if other is not None and not _same_file(other.path, interpreter.path):
            raise UsageError(f"--python {other.path} and {interpreter.path} are both "
                             f"{interpreter.tag}; a run times one interpreter per version and "
                             "build, so give one of them")
        found[interpreter.tag] = interpreter
    if not found:
        raise UsageError("--python needs the path of a python executable")
    return list(found.values())


def _resolve(path: str) -> str:
    """An absolute path to an executable file, looked up on PATH when it is a bare name."""
    import shutil

    located = shutil.which(path) if os.sep not in path else str(Path(path).expanduser())
    if located is None or not Path(located).is_file() or not os.access(located, os.X_OK):
        raise UsageError(f"--python {path}: no such executable; give the path of a python "
                         "interpreter, e.g. --python ~/.local/bin/python3.14t")
    return str(Path(located).absolute())  # not resolved: a venv's python is not its base's


def _same_file(first: str, second: str) -> bool:
    try:
        return Path(first).samefile(second)  # through symlinks
    except OSError:
        return False
