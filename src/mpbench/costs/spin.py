"""The kernel whose cost per task is set by its length: the sweep of `mpbench costs`."""

from __future__ import annotations


def spin(start: int, stop: int) -> int:
    """`stop - start` turns of a pure-Python loop: its time grows linearly with the range, and
    it holds the GIL throughout, as pure-Python work does. Returns the number of turns."""
    turns = 0
    for _ in range(start, stop):
        turns += 1
    return turns
