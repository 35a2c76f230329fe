"""A CPU burner beside a scenario: the measurement is marked as taken on a busy machine."""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

import mpbench
from mpbench.frame import CONTENDED_LOAD

from conftest import BENCHMARKS
from test_cli import run_cli


def _burn(seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


@contextmanager
def burner(seconds: float) -> Iterator[None]:
    process = multiprocessing.get_context("spawn").Process(target=_burn, args=(seconds,))
    process.start()
    try:
        yield
    finally:
        process.kill()
        process.join()


def test_a_busy_machine_is_marked(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    output = tmp_path / "busy.json"
    with burner(60):
        time.sleep(0.5)
        code, _, _ = run_cli(capsys, "run", "--benchmarks", str(BENCHMARKS), "-k",
                             "py_square/serial", "--size", "500000", "-o", str(output))
    assert code == 0
    frame = mpbench.load(output)
    assert frame["other_load"].min() >= CONTENDED_LOAD
    assert frame["contended"].all()

    code, out, _ = run_cli(capsys, "show", str(output))
    assert code == 0
    assert "1.00×!" in out
    assert "!: measured while other processes kept at least 0.2 CPU busy" in out
