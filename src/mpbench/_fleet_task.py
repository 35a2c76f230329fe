"""The Dask task `mpbench fleet` runs on each host: one whole `mpbench run`, alone there.

It runs in a Dask worker of that host, so with the worker's own Python (which must have
mpbench installed). The kernels travel with the task, as file contents; the run starts under
a guard (see `sessions`), so if the worker dies, the run and everything it started die too.
When the fleet's stop event is set (the asking machine was interrupted), the run gets SIGTERM,
saves what it finished, and that partial file comes back like a whole one.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mpbench.runner import bounded_text
from mpbench.sessions import session

POLL_SECONDS = 0.5
SAVE_SECONDS = 30.0  # for a stopped run to save what it finished
STOPPED = 130  # as `mpbench run` exits when it is stopped
LOG_TAIL = 4000  # characters of the run's output sent back, for a failure's reason


def run_here(argv: Sequence[str], kernels: Mapping[str, bytes], machine: str,
             stop_event: str) -> dict[str, Any]:
    """Run `mpbench run ARGV` on these kernels as machine `machine`; its exit code, results
    file (bytes, or None) and the end of its output."""
    from distributed import Event

    stop = Event(stop_event)
    if _is_set(stop):  # queued when the fleet was interrupted: nothing to start
        return {"code": STOPPED, "results": None, "log": "", "python": sys.executable}
    with tempfile.TemporaryDirectory(prefix="mpbench-fleet-") as scratch:
        folder = Path(scratch)
        benchmarks = folder / "benchmarks"
        benchmarks.mkdir()
        for name, source in kernels.items():
            (benchmarks / Path(name).name).write_bytes(source)
        output = folder / "results.json"
        command = [sys.executable, "-m", "mpbench", "run", *argv, "--benchmarks",
                   str(benchmarks), "--machine", machine, "-o", str(output)]
        with (folder / "log.txt").open("w+b") as log:
            # If the worker dies, the guard ends the run and removes this folder.
            with session(command, log, subprocess.STDOUT, scratch=folder) as running:
                asked: float | None = None
                while running.process.poll() is None:
                    if asked is None and _is_set(stop):
                        os.kill(running.process.pid, signal.SIGTERM)  # the guard passes it on
                        asked = time.monotonic()
                    if asked is not None and time.monotonic() - asked > SAVE_SECONDS:
                        break  # leaving the session ends the run that does not stop
                    time.sleep(POLL_SECONDS)
            text = bounded_text(log)
        return {"code": running.process.returncode,
                "results": output.read_bytes() if output.exists() else None,
                "log": text[-LOG_TAIL:], "python": sys.executable}


def _is_set(stop: Any) -> bool:
    """Whether the fleet asked to stop; a scheduler that cannot be asked means stop, too."""
    try:
        return bool(stop.is_set())
    except Exception:  # the scheduler is gone: nobody will collect the rest
        return True
