"""Child processes in sessions of their own, so that whatever they start ends with them.

A visit's timing process, the per-round probe and the installers that make an interpreter's
environment each run in a process group of its own: a timeout or an interrupt kills the whole
group, with every worker, pool child and Manager in it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
from collections.abc import Iterator, Mapping
from typing import IO

HELD_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def session(command: list[str], stdout: int | IO[bytes], stderr: int | IO[bytes],
            environ: Mapping[str, str] | None = None) -> Iterator[subprocess.Popen[bytes]]:
    """A subprocess in a session of its own (with `environ` added to this environment), whose
    whole process group is killed on leaving, also on an interrupt: nothing it started
    outlives it."""
    process = None
    try:
        # An interrupt that lands while Popen waits for the exec would leave a child nobody
        # knows about; it is raised once `process` is set.
        with _interrupts_deferred():
            process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=stdout,
                                       stderr=stderr, start_new_session=True,
                                       env={**os.environ, **environ} if environ else None)
        yield process
    finally:
        if process is not None:
            kill_group(process)
            process.wait()


@contextlib.contextmanager
def _interrupts_deferred() -> Iterator[None]:
    """Hold SIGINT and SIGTERM back until the block ends, then deliver them to the handlers
    that were there (only the main thread can; elsewhere the block runs as it is)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending: list[int] = []
    # A handler set outside Python (None) could not be put back: those signals are not held.
    held = [signum for signum in HELD_SIGNALS if signal.getsignal(signum) is not None]
    previous = {signum: signal.signal(signum, lambda signum, _: pending.append(signum))
                for signum in held}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if pending:  # the first is enough: each means "stop"
            signal.raise_signal(pending[0])


def kill_group(process: subprocess.Popen[bytes]) -> None:
    """Kill the session's whole process group, including children that outlived the leader."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
