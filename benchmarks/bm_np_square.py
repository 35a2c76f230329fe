"""NumPy sum of squares in cache-sized blocks."""

import numpy as np

from mpbench import kernel

BLOCK = 262_144  # 2 MiB of uint64: cache-resident, and long enough per call to release the GIL
OFFSETS = np.arange(BLOCK, dtype=np.uint64)


@kernel(size=100_000_000)
def np_square(start: int, stop: int) -> int:
    """Sum of i*i over [start, stop) with NumPy uint64 arithmetic (wraps modulo 2**64).

    Releases the GIL inside each ufunc, so threads can overlap the array work; the Python
    loop over blocks holds it briefly between calls.
    """
    block = np.empty(BLOCK, dtype=np.uint64)
    total = 0
    for low in range(start, stop, BLOCK):
        high = min(low + BLOCK, stop)
        values = block[: high - low]
        np.add(OFFSETS[: high - low], low, out=values)
        np.multiply(values, values, out=values)
        total += int(np.add.reduce(values))
    return total % 2**64
