"""Pure-Python prime counting by trial division: uneven cost per item."""

from mpbench import kernel


@kernel(size=120_000)
def py_count(start: int, stop: int) -> int:
    """Number of primes in [start, stop), by trial division with odd divisors.

    Holds the GIL the whole time. Cost grows with the numbers (about sqrt(n) per prime),
    so equal-length pieces of the range take unequal time: a test of load balancing.
    """
    count = 0
    for n in range(max(start, 2), stop):
        if n % 2 == 0:
            count += n == 2
            continue
        divisor = 3
        while divisor * divisor <= n:
            if n % divisor == 0:
                break
            divisor += 2
        else:
            count += 1
    return count
