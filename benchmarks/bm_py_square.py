"""Pure-Python sum of squares: the textbook CPU-bound loop."""

from mpbench import kernel


@kernel(size=1_250_000)
def py_square(start: int, stop: int) -> int:
    """Sum of i*i over [start, stop) in pure Python, modulo 2**64.

    Holds the GIL the whole time: threads cannot run it in parallel on a GIL build.
    Every item costs the same, so any split balances.
    """
    return sum(i * i for i in range(start, stop)) % 2**64
