"""Fuzz the results-file reader: whatever the bytes, `storage.read` returns Results or raises one
ResultsFileError with a clear one-line message; never another exception, a hang or a memory blowup.

Run it (skipped otherwise): MPBENCH_FUZZ_SECONDS=300 nice -n 10 python -m pytest tests/test_fuzz.py

The inputs are mutants of the real golden files (tests/data/golden-*.json): values anywhere in the
JSON replaced by odd numbers, strings, lists, nulls, raw tokens (NaN, 1e999, a 5000-digit integer,
deep nesting, lone surrogates) or other parts of the file; keys deleted, renamed, duplicated; then
bytes flipped, cut, inserted or repeated; then sometimes gzipped, and the gzip broken too. A read
slower than SLOW_SECONDS fails, and the address space is capped (MEMORY_HEADROOM) while fuzzing.
A short always-on run (fifty examples) keeps the strategies working; the inputs that broke the
promise stay below (FOUND), read and given to `python -m mpbench show` in every test run.
"""

from __future__ import annotations

import copy
import gzip
import json
import os
import resource
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from mpbench.errors import ResultsFileError
from mpbench.storage import Results, read

from conftest import DATA, ROOT

FUZZ_SECONDS = float(os.environ.get("MPBENCH_FUZZ_SECONDS") or 0)
SEEDS = {path.name: path.read_bytes() for path in sorted(DATA.glob("golden-*.json"))}
TREES = {name: json.loads(content) for name, content in SEEDS.items()}
SLOW_SECONDS = 10.0  # one read taking longer than this counts as a hang
MAX_MESSAGE = 400  # characters of an error message past the file's path: more is not "clear"
MEMORY_HEADROOM = 2 << 30  # bytes of address space the fuzzing may add before MemoryError
FAILING = ROOT / ".hypothesis" / "mpbench-fuzz-failing"  # inputs that broke the promise, kept


# --- Building mutants -------------------------------------------------------------------------

@dataclass(frozen=True)
class Raw:
    """JSON text written as it is: tokens json.dumps never makes (1e999, 5000 digits, …)."""

    text: str


@dataclass(frozen=True)
class Pairs:
    """An object written with these (key, value) pairs, repeated keys and all."""

    pairs: tuple[tuple[str, Any], ...]


@dataclass(frozen=True)
class Nest:
    """`value` inside `depth` arrays (or objects)."""

    value: Any
    depth: int
    objects: bool = False


def dump(node: Any) -> str:
    """`node` as JSON text; plain values as json.dumps writes them (NaN, Infinity included)."""
    if isinstance(node, Raw):
        return node.text
    if isinstance(node, Nest):
        opening, closing = ('{"x":', "}") if node.objects else ("[", "]")
        return opening * node.depth + dump(node.value) + closing * node.depth
    if isinstance(node, Pairs | dict):
        pairs = node.pairs if isinstance(node, Pairs) else node.items()
        return "{" + ",".join(f"{json.dumps(key)}:{dump(value)}" for key, value in pairs) + "}"
    if isinstance(node, list):
        return "[" + ",".join(dump(item) for item in node) + "]"
    return json.dumps(node)


RAW_TOKENS = [
    "NaN", "Infinity", "-Infinity", "1e999", "-1e999", "1e-999", "-0", "-0.0", "0e0", "1E+2",
    "9" * 4300, "9" * 4301, "-" + "9" * 5000, "0." + "1" * 5000, "1" + "0" * 400,
    str(2**62), str(2**62 + 1), str(2**63), str(-(2**63) - 1), str(2**64), "1.7976931348623157e308",
    '"\\ud800"', '"\\udfff\\ud800"', '"\\u0000"', '"\\u001b[31m"', '"\\u2028\\u0085"', '"\\n"',
    '"' + "x" * 100_000 + '"', '"\\' + '\\' * 999 + '"', "[" + "0," * 10_000 + "0]",
    "{" + ",".join(f'"k{i}":{i}' for i in range(2000)) + "}",
]
INTERESTING = [
    0, 1, -1, 2, 3, 1000, 2**31, 2**62, 2**62 + 1, 2**63, -(2**63), 2**64, 10**30,
    0.0, -0.0, 0.5, 1e-300, 5e-324, 1e308, -1e308, 604800.0, 604800.0001,
    float("nan"), float("inf"), float("-inf"), True, False, None,
    "", " ", "0", "1", "1.0", "3", "3.11", "3.11t", "fork", "spawn", "serial", "threads",
    "pool_map", "py_square", "quick", "second", "yes", "no", "NaN", "2026-11-01 12:00:00",
    "py_square/serial/w1@3.11", "x" * 1000, "\x00", "\x1b[31m", "a\nb", "\u2028", "é", "\U0001f600",
    [], {}, [[]], [{}], [None], [1.0], [0.0], [-1.0], [[1, 0.2]], [[0, 0.0]],
    {"name": "x"}, {"values": [1.0]}, {"metadata": {}}, {"runs": []},
]
SCALARS = (st.none() | st.booleans() | st.integers() | st.floats()
           | st.text(max_size=20) | st.sampled_from(INTERESTING))
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                 max_size=4),
    max_leaves=10,
)


def children(node: Any) -> list[Any]:
    if isinstance(node, dict):
        return list(node)
    if isinstance(node, list):
        return list(range(len(node)))
    return []


def all_paths(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    return [path] + [deeper for key in children(node)
                     for deeper in all_paths(node[key], (*path, key))]


def at(tree: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        tree = tree[key]
    return tree


@st.composite
def paths_in(draw: st.DrawFn, tree: Any) -> tuple[Any, ...]:
    """A path into `tree`: either any node alike (most are timed values), or a walk from the
    root that stops early, which favours the structure over the leaves."""
    if draw(st.booleans()):
        return draw(st.sampled_from(all_paths(tree)))
    path: tuple[Any, ...] = ()
    node = tree
    while children(node) and (not path or draw(st.integers(0, 3)) != 0):
        key = draw(st.sampled_from(children(node)))
        path, node = (*path, key), node[key]
    return path


@st.composite
def replacements(draw: st.DrawFn, tree: Any) -> Any:
    """Something to put somewhere: a random value, an odd token, or another part of a file."""
    kind = draw(st.sampled_from(["value", "raw", "part", "nest"]))
    if kind == "value":  # a copy: mutating INTERESTING's lists would change later draws
        return copy.deepcopy(draw(JSON_VALUES))
    if kind == "raw":
        return Raw(draw(st.sampled_from(RAW_TOKENS)))
    other = draw(st.sampled_from([tree, *TREES.values()]))
    part = copy.deepcopy(at(other, draw(paths_in(other))))
    if kind == "part":
        return part
    depth = draw(st.sampled_from([1, 2, 50, 500, 900, 990, 1000, 3000, 100_000]))
    return Nest(part if draw(st.booleans()) else None, depth, objects=draw(st.booleans()))


def put(tree: Any, path: tuple[Any, ...], value: Any) -> Any:
    """`tree` with the node at `path` replaced by `value` (the root if the path is empty)."""
    if not path:
        return value
    parent = at(tree, path[:-1])
    if isinstance(parent, dict | list):
        parent[path[-1]] = value
    return tree


@st.composite
def mutate(draw: st.DrawFn, tree: Any) -> Any:
    """One change to `tree` (which is changed in place where it can be)."""
    path = draw(paths_in(tree))
    node = at(tree, path)
    parent = at(tree, path[:-1]) if path else None
    operation = draw(st.sampled_from(
        ["replace", "replace", "replace", "delete", "duplicate", "rename", "add", "repeat_key",
         "wrap", "empty"]))
    if operation == "replace":
        return put(tree, path, draw(replacements(tree)))
    if operation == "delete" and isinstance(parent, dict | list):
        del parent[path[-1]]
        return tree
    if operation == "duplicate" and isinstance(parent, list):
        parent.insert(draw(st.integers(0, len(parent))), copy.deepcopy(node))
        return tree
    if operation == "rename" and isinstance(parent, dict):
        new_key = draw(st.text(max_size=8) | st.sampled_from(list(parent)))
        parent[new_key] = parent.pop(path[-1])
        return tree
    if operation == "add" and isinstance(node, dict | list):
        value = draw(replacements(tree))
        if isinstance(node, dict):
            node[draw(st.text(max_size=8))] = value
        else:
            node.insert(draw(st.integers(0, len(node))), value)
        return tree
    if operation == "repeat_key" and isinstance(node, dict) and node:
        key = draw(st.sampled_from(list(node)))
        pairs = [*node.items()]
        pairs.insert(draw(st.integers(0, len(pairs))), (key, draw(replacements(tree))))
        return put(tree, path, Pairs(tuple(pairs)))
    if operation == "wrap":
        return put(tree, path, [node] if draw(st.booleans()) else {"value": node})
    if operation == "empty" and isinstance(node, dict | list):
        return put(tree, path, type(node)())
    return put(tree, path, draw(replacements(tree)))


INTERESTING_BYTES = [b"\x00", b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xef\xbb\xbf", b"\x1f\x8b",
                     b"{", b"}", b"[", b"]", b'"', b"\\", b",", b":", b"\n", b"NaN", b"-", b"e9"]


@st.composite
def damage(draw: st.DrawFn, content: bytes) -> bytes:
    """`content` with one byte-level change: flipped, cut, inserted, removed or repeated."""
    data = bytearray(content)
    where = draw(st.integers(0, len(data)))
    operation = draw(st.sampled_from(["flip", "truncate", "insert", "delete", "repeat"]))
    if operation == "flip" and where < len(data):
        data[where] ^= draw(st.integers(1, 255))
    elif operation == "truncate":
        del data[where:]
    elif operation == "insert":
        data[where:where] = draw(st.sampled_from(INTERESTING_BYTES) | st.binary(max_size=8))
    elif operation == "delete":
        del data[where:where + draw(st.integers(1, 64))]
    else:
        start = draw(st.integers(0, where))
        data[where:where] = data[start:where] * draw(st.integers(1, 3))
    return bytes(data)


@st.composite
def results_files(draw: st.DrawFn) -> tuple[str, bytes]:
    """(file name, content): a golden file after some JSON changes, byte changes and maybe gzip."""
    seed = draw(st.sampled_from(sorted(SEEDS)))
    tree = copy.deepcopy(TREES[seed])
    for _ in range(draw(st.integers(0, 4))):
        tree = draw(mutate(tree))
    if _has_markers(tree) or draw(st.booleans()):
        text = dump(tree)
    else:
        text = json.dumps(tree, indent=draw(st.sampled_from([None, 1, "\t"])),
                          ensure_ascii=draw(st.booleans()))
    content = text.encode("utf-8", "surrogatepass")
    for _ in range(draw(st.integers(0, 3) if draw(st.integers(0, 2)) == 0 else st.just(0))):
        content = draw(damage(content))
    container = draw(st.sampled_from(["plain"] * 8 + ["gzip"] * 4 + ["broken gzip"] * 2 + [
        "gzip named .json", "plain named .gz", "two members"]))
    if container == "plain":
        return "mutant.json", content
    if container == "plain named .gz":
        return "mutant.json.gz", content
    packed = gzip.compress(content, compresslevel=draw(st.integers(0, 9)), mtime=0)
    if container == "gzip named .json":
        return "mutant.json", packed
    if container == "two members":
        packed += gzip.compress(draw(st.sampled_from([b"", b" ", b"{}", content[:100]])))
    if container == "broken gzip":
        for _ in range(draw(st.integers(1, 3))):
            packed = draw(damage(packed))
    return "mutant.json.gz", packed


def _has_markers(node: Any) -> bool:
    if isinstance(node, Raw | Pairs | Nest):
        return True
    if isinstance(node, dict):
        return any(_has_markers(value) for value in node.values())
    if isinstance(node, list):
        return any(_has_markers(item) for item in node)
    return False


# --- Checking one input -----------------------------------------------------------------------

@dataclass
class Tally:
    """What a fuzzing session saw: outcomes, and the inputs worth showing the CLI."""

    examples: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    slowest: list[tuple[float, str, bytes]] = field(default_factory=list)  # refused, slowest first
    accepted: list[tuple[str, bytes]] = field(default_factory=list)  # a few mutants read fine

    def add(self, outcome: str, seconds: float, name: str, content: bytes) -> None:
        self.examples += 1
        self.outcomes[outcome] += 1
        if outcome.startswith("refused"):
            self.slowest = sorted([*self.slowest, (seconds, name, content)],
                                  key=lambda item: -item[0])[:3]
        elif len(self.accepted) < 2 and content not in SEEDS.values():
            self.accepted.append((name, content))


def _reason(message: str, path: Path) -> str:
    """The kind of refusal: the message without the path and the particulars."""
    words = message.removeprefix(str(path)).split()
    return " ".join(words[:4])


def check_one(directory: Path, name: str, content: bytes, tally: Tally | None = None) -> str:
    """Read one input file: return "accepted" or "refused: <kind>"; fail on anything else."""
    path = directory / name
    path.write_bytes(content)
    started = time.perf_counter()
    try:
        results = read(path)
    except ResultsFileError as error:
        message = str(error)
        outcome = f"refused: {_reason(message, path)}"
        assert message.startswith(str(path)), message
        assert message.isprintable(), f"not one clean line: {message!r}"
        assert len(message) - len(str(path)) <= MAX_MESSAGE, f"too long: {message[:300]!r}…"
    else:
        assert isinstance(results, Results)
        outcome = "accepted"
    seconds = time.perf_counter() - started
    assert seconds < SLOW_SECONDS, f"reading took {seconds:.1f} s"
    if tally is not None:
        tally.add(outcome, seconds, name, content)
    return outcome


@dataclass(frozen=True)
class Case:
    """One input file; its repr, which Hypothesis prints, is short (the file is saved whole)."""

    name: str
    content: bytes

    def __repr__(self) -> str:
        head = self.content[:120]
        return f"Case({self.name!r}, {len(self.content)} bytes: {head!r}…)"


def fuzz(directory: Path, tally: Tally, examples: int) -> None:
    """One Hypothesis run of `examples` inputs (a fresh random seed each call). An input that
    breaks the promise is kept in FAILING, named by its size: the smallest is the shrunk one."""

    @settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck),
              print_blob=True)
    @given(results_files().map(lambda case: Case(*case)))
    def read_any_file(case: Case) -> None:
        try:
            check_one(directory, case.name, case.content, tally=tally)
        except BaseException:
            FAILING.mkdir(parents=True, exist_ok=True)
            saved = FAILING / f"{len(case.content):09d}-{case.name}"
            saved.write_bytes(case.content)
            note(f"the whole input: {saved}")
            raise

    read_any_file()


def test_fuzz_quickly(tmp_path: Path) -> None:
    """Always on: fifty mutants, so the strategies keep working (about a second)."""
    tally = Tally()
    fuzz(tmp_path, tally, examples=50)
    assert tally.examples >= 50


@contextmanager
def bounded_memory(headroom: int) -> Iterator[None]:
    """Let the process grow by `headroom` bytes of address space at most: past it, MemoryError,
    which the reader must not raise, instead of a machine brought down."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    status = Path("/proc/self/status").read_text()
    size = next(int(line.split()[1]) * 1024 for line in status.splitlines()
                if line.startswith("VmSize:"))
    resource.setrlimit(resource.RLIMIT_AS, (size + headroom, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


@pytest.mark.skipif(not FUZZ_SECONDS, reason="fuzzing on demand: set MPBENCH_FUZZ_SECONDS=300 "
                                            "(see this module's docstring)")
@pytest.mark.timeout(FUZZ_SECONDS * 1.5 + 300)
def test_fuzz_for_a_while(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """For MPBENCH_FUZZ_SECONDS: Hypothesis runs of 500 mutants, one after another; then the CLI
    on the slowest refused inputs (exit 2, one `error:` line) and on mutants it accepted."""
    tally = Tally()
    started = time.monotonic()
    with bounded_memory(MEMORY_HEADROOM):
        while time.monotonic() - started < FUZZ_SECONDS:
            fuzz(tmp_path, tally, examples=500)
    elapsed = time.monotonic() - started
    with capsys.disabled():
        slowest = tally.slowest[0][0] if tally.slowest else 0.0
        print(f"\nfuzzed the reader for {elapsed:.0f} s: {tally.examples} inputs, "
              f"{tally.examples / elapsed:.0f}/s, peak RSS "
              f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss >> 10} MiB, "
              f"slowest refusal {slowest * 1000:.0f} ms; the most common outcomes:")
        for outcome, count in tally.outcomes.most_common(30):
            print(f"{count:8d}  {outcome}")
    shown = tmp_path / "shown"
    shown.mkdir()
    for index, (_, name, content) in enumerate(tally.slowest):
        path = shown / f"{index}-{name}"
        path.write_bytes(content)
        assert_cli_refuses(path)
    for index, (name, content) in enumerate(tally.accepted):
        path = shown / f"accepted-{index}-{name}"
        path.write_bytes(content)
        shown_cli = _show(path)
        assert shown_cli.returncode in (0, 2) and "Traceback" not in shown_cli.stderr, \
            shown_cli.stderr


def _show(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mpbench", "show", str(path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def assert_cli_refuses(path: Path) -> None:
    """`python -m mpbench show PATH` exits 2 with one line, `error: PATH …`, on stderr."""
    shown = _show(path)
    assert shown.returncode == 2, (shown.returncode, shown.stderr[-3000:])
    assert shown.stderr.startswith(f"error: {path}") and shown.stderr.count("\n") == 1, \
        shown.stderr[-3000:]


# --- What fuzzing found -----------------------------------------------------------------------

def _golden_with(where: tuple[Any, ...], raw: str) -> bytes:
    """golden-2cpu.json with the value at `where` written as the JSON text `raw`."""
    return dump(put(copy.deepcopy(TREES["golden-2cpu.json"]), where, Raw(raw))).encode()


# The inputs that broke the promise (each a crash before the fix in storage.py; the same cases
# are in test_bad_input.py's matrix of commands). Found in the first runs of the fuzzer, all but
# the timeout, which reading the code for the third fix turned up.
FOUND: dict[str, bytes] = {
    # ValueError from json.loads: an integer of more digits than int() takes (4300).
    "many-digits.json": b"9" * 4301,
    # The error quoted pyperf's message whole: 100 kB on one line.
    "long-unit.json": _golden_with(("benchmarks", 0, "metadata", "unit"), json.dumps("x" * 10**5)),
    # OverflowError from math.isfinite: a timed value too large for a float.
    "integer-time.json": _golden_with(("benchmarks", 1, "runs", 0, "values", 0), "1" + "0" * 400),
    # OverflowError from the options' checks, the same way.
    "integer-timeout.json": _golden_with(("mpbench", "options", "timeout"), "1" + "0" * 400),
}


@pytest.mark.parametrize("name", sorted(FOUND))
def test_what_fuzzing_found_is_one_error_line_from_the_cli(tmp_path: Path, name: str) -> None:
    """`python -m mpbench show` on each: exit 2, one line `error: …` (about 1.5 s each)."""
    assert check_one(tmp_path, name, FOUND[name]).startswith("refused")
    assert_cli_refuses(tmp_path / name)
