"""NumPy counting of a predicate in cache-sized blocks."""

import numpy as np

from mpbench import kernel

BLOCK = 262_144  # 2 MiB of uint64: cache-resident, and long enough per call to release the GIL
OFFSETS = np.arange(BLOCK, dtype=np.uint64)


@kernel(size=20_000_000)
def np_count(start: int, stop: int) -> int:
    """How many i in [start, stop) have i*i % 7 == 2 (the quadratic residues), with NumPy.

    Releases the GIL inside each ufunc, so threads can overlap the array work; the Python
    loop over blocks holds it briefly between calls.
    """
    block = np.empty(BLOCK, dtype=np.uint64)
    count = 0
    for low in range(start, stop, BLOCK):
        high = min(low + BLOCK, stop)
        values = block[: high - low]
        np.add(OFFSETS[: high - low], low, out=values)
        np.multiply(values, values, out=values)
        np.remainder(values, 7, out=values)
        count += int(np.count_nonzero(values == 2))
    return count
