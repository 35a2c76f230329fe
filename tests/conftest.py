from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data"
BENCHMARKS = ROOT / "benchmarks"
FAULTY_BENCHMARKS = Path(__file__).resolve().parent / "faulty_benchmarks"

sys.path.insert(0, str(Path(__file__).resolve().parent))  # for `import synthetic`

from mpbench.executors import dask_unavailable  # noqa: E402
from mpbench.interpreters import running  # noqa: E402

TAG = running().tag  # what ends the ids of scenarios run under the interpreter running the tests
# Dask is an optional extra: its tests skip without it, unless CI forbids it.
DASK_MISSING = dask_unavailable()
needs_dask = pytest.mark.skipif(
    DASK_MISSING is not None and os.environ.get("MPBENCH_REQUIRE_DASK") != "1",
    reason=f"{DASK_MISSING} (MPBENCH_REQUIRE_DASK=1 forbids skipping)")


def ids(*names: str) -> list[str]:
    """Scenario ids of real runs under this interpreter: `py_square/serial/w1@3.11`."""
    return [f"{name}@{TAG}" for name in names]


@pytest.fixture(autouse=True)
def _wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """rich lays tables out for the terminal width: fix it, so outputs can be compared whole."""
    monkeypatch.setenv("COLUMNS", "120")
    monkeypatch.setenv("NO_COLOR", "1")


@pytest.fixture
def golden_2cpu() -> Path:
    return DATA / "golden-2cpu.json"


@pytest.fixture
def golden_8cpu() -> Path:
    return DATA / "golden-8cpu.json"


SNAPSHOTS = DATA / "snapshots"


def assert_snapshot(text: str, name: str) -> None:
    """Compare whole output with tests/data/snapshots/NAME; MPBENCH_UPDATE_SNAPSHOTS=1 rewrites."""
    import os

    path = SNAPSHOTS / name
    if os.environ.get("MPBENCH_UPDATE_SNAPSHOTS") == "1" or not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        if os.environ.get("MPBENCH_UPDATE_SNAPSHOTS") != "1":
            pytest.fail(f"new snapshot {path} written: review it, then run again")
    assert text == path.read_text()
