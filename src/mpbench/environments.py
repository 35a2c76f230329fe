"""An environment of its own for each interpreter a run times, made on first use and reused.

The timing processes of another interpreter cannot use this one's packages, so each gets a venv
under the cache folder (`$MPBENCH_CACHE`, else `$XDG_CACHE_HOME/mpbench`, else
`~/.cache/mpbench`; `envs/` inside it) holding only what a timing process imports: pyperf,
psutil, threadpoolctl, NumPy where a wheel exists (never built from source), the subinterpreter
backport on 3.13, and mpbench itself. mpbench is not copied: the timing processes find this
very package through a link on their PYTHONPATH, one link per checkout or install, so they always
run the code that planned the run, even when two checkouts share an environment at once.
Deleting the folder is safe; it is made again when next needed.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from mpbench.errors import UsageError
from mpbench.interpreters import Interpreter
from mpbench.sessions import session

RECIPE = 2  # bump when what an environment holds changes: older ones are then made anew
TIMING_PACKAGES = ("pyperf>=2.11", "psutil>=5.9", "threadpoolctl>=3.2")
# InterpreterPoolExecutor is in the standard library from 3.14; this backport brings it to 3.13.
SUBINTERPRETER_BACKPORT = "interpreters-pep-734"
INSTALL_TIMEOUT_SECONDS = 900.0
MARKER = "mpbench-environment.json"  # written last: an environment without it is unfinished


@dataclass(frozen=True)
class Environment:
    """Where an interpreter's timing processes run, and what could not be installed there."""

    python: str  # the executable to start timing processes with
    missing: dict[str, str]  # package → why it is not there, in words (for unsupported marks)
    environ: dict[str, str]  # added to the timing processes' environment variables


def cache_root() -> Path:
    base = os.environ.get("MPBENCH_CACHE")
    if base:
        return Path(base)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "mpbench"


def environment_dir(interpreter: Interpreter) -> Path:
    key = f"{os.path.realpath(interpreter.path)}|{interpreter.version}|{RECIPE}"
    digest = hashlib.sha256(key.encode()).hexdigest()[:10]
    return cache_root() / "envs" / f"{interpreter.tag}-{digest}"


def ensure(interpreter: Interpreter, say: Callable[[str], None]) -> Environment:
    """The interpreter's environment, made first if it does not exist yet (`say` tells the
    person why they wait); UsageError when it cannot be made."""
    if interpreter.path == sys.executable:  # its own environment has everything
        return Environment(python=sys.executable, missing={}, environ={})
    folder = environment_dir(interpreter)
    folder.parent.mkdir(parents=True, exist_ok=True)
    with _locked(folder.with_name(folder.name + ".lock")):
        if not (folder / MARKER).exists():
            started = time.monotonic()
            say(f"making the environment for {interpreter.tag} in {folder} (first use only)")
            _make(interpreter, folder)
            say(f"made the environment for {interpreter.tag} in "
                f"{time.monotonic() - started:.0f} s")
        links = _link_mpbench(folder)
        facts = json.loads((folder / MARKER).read_text())
    search = os.pathsep.join(filter(None, (str(links), os.environ.get("PYTHONPATH"))))
    return Environment(python=str(_python_in(folder)), missing=dict(facts["missing"]),
                       environ={"PYTHONPATH": search})


def _make(interpreter: Interpreter, folder: Path) -> None:
    if folder.exists():  # an unfinished attempt: start again
        import shutil

        shutil.rmtree(folder)
    log = folder.with_name(folder.name + ".log")
    _step([interpreter.path, "-m", "venv", str(folder)], log, interpreter,
          "create a venv (on Debian, `apt install python3.X-venv`)")
    python = str(_python_in(folder))
    pip = [python, "-m", "pip", "install", "--disable-pip-version-check", "--quiet",
           "--prefer-binary"]
    _step([*pip, *TIMING_PACKAGES], log, interpreter, "install " + " ".join(TIMING_PACKAGES))
    missing: dict[str, str] = {}
    # A wheel or nothing: building NumPy from source takes minutes, and kernels that need it
    # are then marked unsupported on this interpreter instead.
    if not _try([*pip, "--only-binary=numpy", "numpy"], log):
        missing["numpy"] = f"no NumPy wheel for {interpreter.tag} on this platform"
    if _needs_backport(interpreter) and not _try([*pip, SUBINTERPRETER_BACKPORT], log):
        missing["subinterpreters"] = f"could not install {SUBINTERPRETER_BACKPORT}"
    facts = {"interpreter": interpreter.to_dict(), "recipe": RECIPE, "missing": missing}
    with tempfile.NamedTemporaryFile("w", dir=folder, delete=False) as handle:
        json.dump(facts, handle)
    Path(handle.name).replace(folder / MARKER)


def _needs_backport(interpreter: Interpreter) -> bool:
    return interpreter.implementation == "cpython" and interpreter.version.startswith("3.13.")


def _link_mpbench(folder: Path) -> Path:
    """A folder holding only a link named `mpbench` to this package, for the PYTHONPATH of
    timing processes: an edited checkout or a new install is what they run."""
    package = Path(__file__).resolve().parent
    links = folder / "mpbench-links" / hashlib.sha256(str(package).encode()).hexdigest()[:10]
    link = links / "mpbench"
    if not (link.is_symlink() and link.resolve() == package):
        links.mkdir(parents=True, exist_ok=True)
        temporary = links / f".mpbench-{os.getpid()}"
        temporary.unlink(missing_ok=True)
        temporary.symlink_to(package, target_is_directory=True)
        temporary.replace(link)
    return links


def _python_in(folder: Path) -> Path:
    return folder / "bin" / "python"


def _step(command: list[str], log: Path, interpreter: Interpreter, what: str) -> None:
    if not _try(command, log):
        raise UsageError(f"could not make the environment for {interpreter.tag} "
                         f"({interpreter.path}): failed to {what}; see {log}")


def _try(command: list[str], log: Path) -> bool:
    """Run an installer step, output to `log`; in a session of its own, so an interrupt or
    its timeout ends whatever it started too."""
    with log.open("ab") as output:
        output.write(f"$ {' '.join(command)}\n".encode())
        output.flush()
        try:
            with session(command, output, subprocess.STDOUT) as running:
                return running.process.wait(timeout=INSTALL_TIMEOUT_SECONDS) == 0
        except (OSError, subprocess.TimeoutExpired):
            return False


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One process makes an environment at a time; the others wait and then reuse it."""
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
