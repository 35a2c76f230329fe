"""Kernels that misbehave on purpose, one way each, for the fault tests. Never run by default."""

import os
import signal
import threading
import time

from mpbench import kernel


@kernel(size=1000)
def fine(start: int, stop: int) -> int:
    """Works: the control."""
    return sum(range(start, stop))


@kernel(size=1000)
def raises(start: int, stop: int) -> int:
    """Raises an exception."""
    raise ValueError(f"bad range {start}-{stop}")


class Unpicklable(int):
    """An int that refuses to be pickled, so it cannot travel back from a process."""

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("this int refuses to be pickled")


@kernel(size=1000)
def unpicklable(start: int, stop: int) -> int:
    """Returns a result that cannot be pickled."""
    return Unpicklable(stop - start)


@kernel(size=1000)
def not_an_int(start: int, stop: int) -> int:
    """Returns a lock instead of a number."""
    return threading.Lock()  # type: ignore[return-value]


@kernel(size=1000)
def exits(start: int, stop: int) -> int:
    """Ends its process at once with exit code 3, skipping all clean-up."""
    os._exit(3)


@kernel(size=1000)
def killed(start: int, stop: int) -> int:
    """Is killed by SIGKILL."""
    os.kill(os.getpid(), signal.SIGKILL)
    return 0


@kernel(size=1000)
def segfaults(start: int, stop: int) -> int:
    """Dies of SIGSEGV."""
    os.kill(os.getpid(), signal.SIGSEGV)
    return 0


@kernel(size=1000)
def hangs(start: int, stop: int) -> int:
    """Never returns."""
    while True:
        time.sleep(1)


@kernel(size=1000)
def impure(start: int, stop: int) -> int:
    """Counts one too many in any process but the main one: lost or doubled work, in effect."""
    import multiprocessing

    extra = 0 if multiprocessing.current_process().name == "MainProcess" else 1
    return stop - start + extra


@kernel(size=1000)
def leaves_a_thread(start: int, stop: int) -> int:
    """Correct, but leaves a thread that is not a daemon running: its process cannot exit."""
    threading.Thread(target=time.sleep, args=(3600,), name="forgotten").start()
    return sum(range(start, stop))


@kernel(size=1000)
def escapes(start: int, stop: int) -> int:
    """Correct, but starts a process in a session of its own, out of its process group."""
    import subprocess

    subprocess.Popen(["sleep", "3117"], start_new_session=True)
    return sum(range(start, stop))


@kernel(size=1000)
def hides(start: int, stop: int) -> int:
    """Starts a process in a session of its own, then never returns."""
    import subprocess

    subprocess.Popen(["sleep", "3118"], start_new_session=True)
    while True:
        time.sleep(1)


@kernel(size=1000)
def pinned(start: int, stop: int) -> int:
    """Counts its range times the mask of the CPUs it may run on: a process that escaped the
    run's pinning computes another result."""
    return (stop - start) * sum(1 << cpu for cpu in os.sched_getaffinity(0))
