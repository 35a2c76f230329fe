"""Every command, every kind of bad input file: one line `error: …`, exit 2, nothing written."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

import mpbench.storage

from conftest import DATA
from test_cli import run_cli


def _without_workers() -> bytes:
    """A real results file whose first benchmark lost its `workers` axis."""
    data = json.loads((DATA / "golden-2cpu.json").read_text())
    data["benchmarks"][0]["metadata"]["workers"] = "two"
    return json.dumps(data).encode()


def _with_huge_time() -> bytes:
    """A real results file in which one timed value became 1e308 seconds."""
    data = json.loads((DATA / "golden-2cpu.json").read_text())
    data["benchmarks"][1]["runs"][0]["values"][0] = 1e308
    return json.dumps(data).encode()


def _with_matrix_of_the_wrong_type() -> bytes:
    data = json.loads((DATA / "golden-2cpu.json").read_text())
    data["mpbench"]["options"]["matrix"] = 5
    return json.dumps(data).encode()


def _golden_with(change: str, value: object) -> bytes:
    """A real results file with one value changed (found by tests/test_fuzz.py)."""
    data = json.loads((DATA / "golden-2cpu.json").read_text())
    if change == "time":
        data["benchmarks"][1]["runs"][0]["values"][0] = value
    elif change == "timeout":
        data["mpbench"]["options"]["timeout"] = value
    else:
        data["benchmarks"][0]["metadata"]["unit"] = value
    return json.dumps(data).encode()


def _damaged_gzip() -> bytes:
    """A real results file, gzipped, with bytes in the middle of its compressed stream broken."""
    packed = bytearray(gzip.compress((DATA / "golden-2cpu.json").read_bytes()))
    middle = len(packed) // 2
    packed[middle:middle + 16] = bytes(16)
    return bytes(packed)


BOMB_LIMIT = 1 << 20  # the cap the fixture sets for bomb.json.gz, instead of the real 256 MiB

BAD_FILES: dict[str, bytes | None] = {
    "missing.json": None,
    "empty.json": b"",
    "truncated.json": (DATA / "golden-2cpu.json").read_bytes()[:500],
    "invalid.json": b"{'version': 1.0,}",
    "not-pyperf.json": b'{"hello": "world"}',
    "pyperf-only.json": b'{"version": "1.0", "benchmarks": [{"runs": [{"values": [1.0]}], '
                        b'"metadata": {"name": "x", "unit": "second"}}]}',
    "no-axes.json": _without_workers(),
    "damaged.json.gz": _damaged_gzip(),
    "deep.json": b"[" * 200_000,
    "deep-spaced.json": b"[          " * 200_000,  # as sparse as a results file, yet too deep
    "huge-time.json": _with_huge_time(),
    "matrix-number.json": _with_matrix_of_the_wrong_type(),
    "many-digits.json": b"[" + b"9" * 5000 + b"]",  # past int()'s 4300 digits: a ValueError
    "integer-time.json": _golden_with("time", 10**400),  # too large for a float
    "integer-timeout.json": _golden_with("timeout", 10**400),
    "long-unit.json": _golden_with("unit", "x" * 100_000),  # pyperf quotes it whole
    "bomb.json.gz": gzip.compress(b" " * (2 * BOMB_LIMIT)),
    "folder": b"",  # made a directory below
    "unreadable.json": b"{}",  # made unreadable below (root may read anything, so simulated)
}

COMMANDS = {
    "show": ["show", "BAD"],
    "report": ["report", "BAD", "-o", "OUT/report.html"],
    "export": ["export", "BAD", "-o", "OUT/data.csv"],
    "resume": ["run", "--resume", "BAD"],
}


@pytest.fixture
def bad_file(request: pytest.FixtureRequest, tmp_path: Path,
             monkeypatch: pytest.MonkeyPatch) -> Path:
    name = request.param
    path = tmp_path / "in" / name
    path.parent.mkdir()
    content = BAD_FILES[name]
    if name == "folder":
        path.mkdir()
    elif content is not None:
        path.write_bytes(content)
    if name == "bomb.json.gz":
        monkeypatch.setattr(mpbench.storage, "MAX_RESULTS_BYTES", BOMB_LIMIT)
    if name == "unreadable.json":
        original = mpbench.storage._open

        def refuse(target: Path):  # type: ignore[no-untyped-def]
            if target == path:
                raise PermissionError(13, "Permission denied")
            return original(target)

        monkeypatch.setattr(mpbench.storage, "_open", refuse)
    return path


@pytest.mark.parametrize("bad_file", sorted(BAD_FILES), indirect=True)
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_bad_input_files(capsys: pytest.CaptureFixture[str], tmp_path: Path, bad_file: Path,
                         command: str) -> None:
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    argv = [str(bad_file) if a == "BAD" else a.replace("OUT", str(out_dir))
            for a in COMMANDS[command]]
    code, out, err = run_cli(capsys, *argv)
    assert code == 2, (out, err)
    assert err.startswith(f"error: {bad_file}") and err.count("\n") == 1, err
    assert len(err) < len(str(bad_file)) + 400, err[:1000]
    assert "Traceback" not in err + out
    assert list(out_dir.iterdir()) == []
    assert sorted(p.name for p in bad_file.parent.iterdir()) == (
        [] if bad_file.name == "missing.json" else [bad_file.name])


def test_the_reasons_say_what_is_wrong(capsys: pytest.CaptureFixture[str],
                                       tmp_path: Path) -> None:
    expected = {
        "missing.json": "does not exist",
        "empty.json": "is empty; is it a results file from `mpbench run`?",
        "truncated.json": "is not valid JSON",
        "invalid.json": "is not valid JSON",
        "not-pyperf.json": "is JSON but not a pyperf results file",
        "pyperf-only.json": "is a pyperf file without mpbench metadata; make it with `mpbench "
                            "run`",
        "no-axes.json": "is damaged: benchmark 'py_square/serial/w1@3.11' has no valid 'workers'",
        "folder": "is a folder; give one of the results files in it",
        "damaged.json.gz": "is not a text JSON file, or its compression is damaged",
        "deep.json": "is nearly all JSON arrays and objects, unlike a results file; it is not one",
        "deep-spaced.json": "nests JSON too deeply to be a results file",
        "matrix-number.json": "is damaged: the run's options: 'matrix' is missing or not an "
                              "object",
        "huge-time.json": "is damaged: benchmark 'py_square/threads/w1@3.11' has a time that is "
                          "not a number of seconds above 0 and at most 604800",
        "many-digits.json": "holds a number of more than 4300 digits; it is not a results file",
        "integer-time.json": "is damaged: benchmark 'py_square/threads/w1@3.11' has a time that "
                             "is not a number of seconds above 0 and at most 604800",
        "integer-timeout.json": "is damaged: OverflowError: int too large to convert to float",
        "long-unit.json": "is damaged: ValueError: invalid metadata 'unit' value: 'xxxxxxxxx",
    }
    for name, reason in expected.items():
        path = tmp_path / name
        if name == "folder":
            path.mkdir()
        elif BAD_FILES[name] is not None:
            path.write_bytes(BAD_FILES[name] or b"")
        code, _, err = run_cli(capsys, "show", str(path))
        assert code == 2 and err.startswith(f"error: {path} {reason}"), err
