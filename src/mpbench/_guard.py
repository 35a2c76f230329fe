"""`python -I -S _guard.py LIFELINE_FD SCRATCH PSUTIL_HOME -- COMMAND…`: a child's session leader.

`sessions.session` starts every child of a run (a visit's timing process, the per-round probe,
an installer) under a guard, which makes sure nothing the child starts outlives it:

- on Linux it is a child subreaper, so a descendant that leaves the process group (a kernel's
  own `start_new_session=True` child) is adopted by the guard rather than by init;
- when the child exits, it kills every descendant still alive and reaps them;
- a SIGTERM it receives goes on to the child, which may want to save before it stops;
- it reads the lifeline, a pipe whose other end only the orchestrator holds: end of file means
  the orchestrator asks it to stop (a timeout, an interrupt) or is gone, even killed with
  SIGKILL. Then it kills the child and every descendant at once, and, when the orchestrator is
  gone, removes the SCRATCH folder it left (`-` for none).

It then ends the way its child did, with the same exit code or signal, so the orchestrator
reads the child's fate from the guard's. It starts with every visit, so it starts fast: isolated
from the environment meant for the child (PYTHON_GIL=0 would stop a GIL build), without the site
packages and mpbench; psutil, from where the orchestrator found it, only when something is left
to kill.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import psutil

PR_SET_CHILD_SUBREAPER = 36  # from <linux/prctl.h>
USAGE = "_guard.py LIFELINE_FD SCRATCH PSUTIL_HOME -- COMMAND…"
PSUTIL_HOME = ""  # the folder psutil is imported from, as the orchestrator found it
KILL_PASSES = 10  # a descendant may fork while being killed: look again, a few times
REAP_SECONDS = 5.0


def become_subreaper() -> None:
    """Adopt orphaned descendants (Linux only; elsewhere they go to init, as before)."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


_psutil_found = threading.Lock()  # the watcher and the main thread may both get here


def kill_descendants() -> None:
    """SIGKILL every process below this one, until none is left alive."""
    if not _has_children():
        return  # the usual case, found without importing psutil: the guard starts fast
    with _psutil_found:
        if PSUTIL_HOME not in sys.path:
            sys.path.append(PSUTIL_HOME)  # started with -I, for speed: find psutil only now
    import psutil

    for _ in range(KILL_PASSES):
        alive = [p for p in psutil.Process().children(recursive=True) if _alive(p)]
        if not alive:
            return
        for process in alive:
            with contextlib.suppress(psutil.Error):
                process.kill()


def _has_children() -> bool:
    """Whether any process is still below this one: once the child has been waited for, a
    descendant still alive is either the child's or, adopted, this guard's own."""
    if not hasattr(os, "waitid"):  # macOS: ask psutil, below
        return True
    try:  # WNOWAIT: reaps nothing, so the child's exit status stays for Popen to read
        os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return False
    return True


def _alive(process: psutil.Process) -> bool:
    import psutil

    try:
        return bool(process.status() != psutil.STATUS_ZOMBIE)
    except psutil.Error:
        return False


def reap_orphans() -> None:
    """Wait for every adopted child, so none is left a zombie; give up on one that cannot be
    killed (stuck in the kernel) after REAP_SECONDS, rather than hang the visit."""
    deadline = time.monotonic() + REAP_SECONDS
    while time.monotonic() < deadline:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            time.sleep(0.01)


def end_like(returncode: int) -> None:
    """Exit as the child did: with its code, or killed by its signal (no core file of ours)."""
    if returncode >= 0:
        os._exit(returncode)
    signum = -returncode
    resource.setrlimit(resource.RLIMIT_CORE, (0, resource.getrlimit(resource.RLIMIT_CORE)[1]))
    with contextlib.suppress(OSError):  # SIGKILL's cannot be set, and needs no setting
        signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)
    os._exit(128 + signum)  # a signal that does not end a process by default


def main(argv: list[str]) -> None:
    global PSUTIL_HOME
    lifeline, scratch, PSUTIL_HOME, separator, *command = argv
    if separator != "--" or not command:
        sys.exit(f"usage: python -I -S {USAGE}")
    orchestrator = os.getppid()
    become_subreaper()
    child = subprocess.Popen(command)
    # SIGTERM asks the child to stop as it sees fit (mpbench saves what it has): pass it on.
    signal.signal(signal.SIGTERM, lambda *_: child.send_signal(signal.SIGTERM))
    stopped = threading.Event()

    def watch() -> None:
        while os.read(int(lifeline), 1):
            pass
        stopped.set()
        kill_descendants()

    threading.Thread(target=watch, daemon=True).start()
    returncode = child.wait()
    kill_descendants()
    reap_orphans()
    if stopped.is_set() and os.getppid() != orchestrator and scratch != "-":
        shutil.rmtree(scratch, ignore_errors=True)
    end_like(returncode)


if __name__ == "__main__":
    main(sys.argv[1:])
