"""Kernels: the `@kernel` decorator and discovery of `bm_*.py` files in a benchmarks folder.

A kernel is a plain module-level function `func(start, stop) -> int` that works on the integer
range `[start, stop)`. Work is split into tasks by cutting that range, so the partial results must
combine, by addition modulo 2**64, into the same value however the range is cut. The modulus keeps
every result small enough for a shared 64-bit `multiprocessing.Value`.

Kernels stay plain functions (the decorator only tags them) so that pickle can send them to
spawned and forkserver children by reference, which is why they must live in an importable file
rather than in `__main__`.
"""

from __future__ import annotations

import hashlib
import importlib
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from types import ModuleType

from mpbench.errors import KernelDefinitionError
from mpbench.model import MAX_SIZE, KernelFunc, KernelSpec

RESULT_MODULUS = 2**64
_SIZE_ATTRIBUTE = "__mpbench_size__"
# An installed mpbench carries the built-in kernels inside the package; a checkout (or an
# editable install) has them in benchmarks/ beside src/.
_INSTALLED_BENCHMARKS = Path(__file__).resolve().parent / "builtin_benchmarks"
_CHECKOUT_BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def kernel(*, size: int) -> Callable[[KernelFunc], KernelFunc]:
    """Mark `func(start, stop) -> int` as a kernel whose default range is `[0, size)`."""
    if not isinstance(size, int) or isinstance(size, bool) or not 1 <= size <= MAX_SIZE:
        raise KernelDefinitionError(f"@kernel(size=...) must be a whole number from 1 to 2**62, "
                                    f"got {size!r}")

    def mark(func: KernelFunc) -> KernelFunc:
        setattr(func, _SIZE_ATTRIBUTE, size)
        return func

    return mark


def combine(partials: Iterable[int]) -> int:
    """The kernel's result over the whole range, from its results over the pieces."""
    return sum(partials) % RESULT_MODULUS


def expected_result(serial: str, copies: int) -> str:
    """What a scenario doing `copies` times the serial range must compute, as results are
    recorded (text); `serial` itself when it is not a number."""
    return str(int(serial) * copies % RESULT_MODULUS) if serial.isdigit() else serial


def default_benchmarks_dir() -> Path:
    """`./benchmarks` when it holds kernels, else the folder of built-in kernels."""
    local = Path("benchmarks")
    if any(local.glob("bm_*.py")):
        return local
    return _INSTALLED_BENCHMARKS if _INSTALLED_BENCHMARKS.is_dir() else _CHECKOUT_BENCHMARKS


def discover(directory: Path) -> dict[str, KernelSpec]:
    """Import every `bm_*.py` in `directory` and return its kernels by name, in file order."""
    if not directory.is_dir():
        raise KernelDefinitionError(
            f"benchmarks folder {str(directory)!r} does not exist; pass --benchmarks DIR "
            "pointing at a folder of bm_*.py files"
        )
    kernels: dict[str, KernelSpec] = {}
    for path in sorted(directory.glob("bm_*.py")):
        for spec in _kernels_in(path):
            if spec.name in kernels:
                raise KernelDefinitionError(
                    f"kernel {spec.name!r} is defined twice: in {kernels[spec.name].source_file} "
                    f"and {spec.source_file}; rename one"
                )
            kernels[spec.name] = spec
    if not kernels:
        raise KernelDefinitionError(
            f"no kernels in {str(directory)!r}: add a bm_*.py file with a function marked @kernel"
        )
    return kernels


def load_kernel(path: Path, name: str) -> KernelSpec:
    """The kernel `name` from one benchmarks file (what a pyperf worker needs, and no more)."""
    for spec in _kernels_in(path):
        if spec.name == name:
            return spec
    raise KernelDefinitionError(f"{path} has no kernel named {name!r}")


def _kernels_in(path: Path) -> list[KernelSpec]:
    module = _import_file(path)
    # The whole file's hash: a change to a helper the kernel calls changes its results too.
    source_hash = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    return [
        KernelSpec(
            name=name,
            func=obj,
            size=getattr(obj, _SIZE_ATTRIBUTE),
            source_file=str(path.resolve()),
            source_hash=source_hash,
        )
        for name, obj in vars(module).items()
        # Only the kernel's own name and module: pickle finds it there in child processes.
        if hasattr(obj, _SIZE_ATTRIBUTE) and getattr(obj, "__name__", None) == name
        and getattr(obj, "__module__", None) == module.__name__
    ]


def _import_file(path: Path) -> ModuleType:
    """Import a benchmarks file as a top-level module so that children can import it too.

    Its folder goes on sys.path; spawn and forkserver children inherit sys.path from their
    parent, so they can unpickle the kernel by `module.function` reference.
    """
    path = path.resolve()
    folder = str(path.parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    existing = sys.modules.get(path.stem)
    if existing is not None and Path(getattr(existing, "__file__", "") or "").resolve() != path:
        raise KernelDefinitionError(
            f"{path.name} clashes with the already imported module {path.stem!r} "
            f"({getattr(existing, '__file__', 'built in')}); rename the file"
        )
    try:
        return importlib.import_module(path.stem)
    except KernelDefinitionError as exc:  # from @kernel itself: name the file
        message = str(exc)
        raise KernelDefinitionError(message if message.startswith(str(path)) else
                                    f"{path}: {message}") from None
    except SystemExit as exc:
        raise KernelDefinitionError(
            f"{path} called sys.exit({exc.code!r}) while being imported; a kernel file should "
            "only define kernels") from None
    except Exception as exc:
        raise KernelDefinitionError(
            f"{path} failed to import: {type(exc).__name__}: {exc}"
        ) from None
