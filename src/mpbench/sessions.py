"""Child processes in sessions of their own, so that whatever they start ends with them.

A visit's timing process, the per-round probe and the installers that make an interpreter's
environment each run in a session of its own, led by a guard (`mpbench._guard`): when the child
ends, when the session is stopped (a timeout, an interrupt), or when this process dies however
it dies, the guard ends every process below it, also those that left the process group.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO

import psutil

HELD_SIGNALS = (signal.SIGINT, signal.SIGTERM)
GUARD = Path(__file__).with_name("_guard.py")
PSUTIL_HOME = str(Path(psutil.__file__).parent.parent)  # the folder that holds psutil
GUARD_GRACE_SECONDS = 5.0  # for the guard to end its processes before it is killed itself


class Session:
    """A running child under its guard; `process` is the guard, whose exit is the child's."""

    def __init__(self, process: subprocess.Popen[bytes], lifeline: int) -> None:
        self.process = process
        self._lifeline: int | None = lifeline
        self._lock = threading.Lock()

    def stop(self) -> None:
        """End the child and everything it started, and wait until they are gone (from any
        thread, any number of times)."""
        with self._lock:
            if self._lifeline is not None:
                os.close(self._lifeline)  # the guard reads end of file: it ends them all
                self._lifeline = None
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(GUARD_GRACE_SECONDS)
        # Whatever is left in the guard's group (where no subreaper adopts orphans, or if the
        # guard did not answer) goes too.
        kill_group(self.process)
        self.process.wait()


@contextlib.contextmanager
def session(command: list[str], stdout: int | IO[bytes], stderr: int | IO[bytes],
            environ: Mapping[str, str] | None = None, scratch: Path | None = None
            ) -> Iterator[Session]:
    """`command` under a guard in a session of its own (with `environ` added to this
    environment), stopped on leaving, also on an interrupt: nothing it started outlives it.
    If this process dies first, the guard also removes the `scratch` folder."""
    read_end, write_end = os.pipe()
    # -I -S: isolated from `environ`, meant for the child, and from site (see _guard).
    guard = [sys.executable, "-I", "-S", str(GUARD), str(read_end),
             str(scratch) if scratch else "-", PSUTIL_HOME, "--", *command]
    running = None
    try:
        # An interrupt that lands while Popen waits for the exec would leave a child nobody
        # knows about; it is raised once `running` is set.
        with _interrupts_deferred():
            try:
                process = subprocess.Popen(guard, stdin=subprocess.DEVNULL, stdout=stdout,
                                           stderr=stderr, start_new_session=True,
                                           pass_fds=(read_end,),
                                           env={**os.environ, **environ} if environ else None)
            finally:
                os.close(read_end)  # only the guard reads it
            running = Session(process, write_end)
        yield running
    finally:
        if running is None:
            os.close(write_end)
        else:
            running.stop()


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
