"""Regenerate the golden results files in this folder: `python tests/data/make_golden.py`.

They are synthetic (seeded noise around Amdahl's law), so tests know the true answers.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from mpbench.storage import Results  # noqa: E402

import synthetic  # noqa: E402

EXECUTORS = ["threads", "pool_map", "process_pool"]
HOSTILE = "<script>alert('x')</script> \x1b[31mred\x1b[0m | *bold* [link](javascript:x)"


def quick(results: Results) -> Results:
    results.options = synthetic.options()
    return results


def main() -> None:
    two_cpu = synthetic.plan(["py_square", "np_count"], EXECUTORS, [1, 2])
    failing = synthetic.scenario("py_square", "process_queue", 2)
    synthetic.write(
        quick(synthetic.results(
            [*two_cpu, failing], synthetic.amdahl(0.2, 0.05), seed=2,
            failures=[(failing, "ZeroDivisionError: division by zero <script>alert(1)</script>")],
        )),
        HERE / "golden-2cpu.json",
    )
    eight_cpu = synthetic.plan(["py_square", "np_count"], EXECUTORS, [1, 2, 4, 8])
    synthetic.write(
        quick(synthetic.results(eight_cpu, synthetic.amdahl(0.1, 0.1), seed=8,
                                the_machine=synthetic.machine("golden-8cpu", usable=8))),
        HERE / "golden-8cpu.json",
    )
    hostile = synthetic.plan(["py_square"], ["pool_map"], [1, 2])
    synthetic.write(
        quick(synthetic.results(
            hostile, synthetic.amdahl(0.2, 0.05), seed=3,
            the_machine=synthetic.machine("hostile", cpu_model=HOSTILE, blas=HOSTILE),
            failures=[(hostile[-1], HOSTILE + "\nsecond line")],
        )),
        HERE / "golden-hostile.json",
    )


if __name__ == "__main__":
    main()
