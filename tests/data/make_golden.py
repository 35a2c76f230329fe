"""Regenerate the golden results files in this folder: `python tests/data/make_golden.py`.

They are synthetic (seeded noise around Amdahl's law), so tests know the true answers.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import synthetic  # noqa: E402

EXECUTORS = ["threads", "pool_map", "process_pool"]


def main() -> None:
    two_cpu = synthetic.plan(["py_square", "np_count"], EXECUTORS, [1, 2])
    failing = synthetic.scenario("py_square", "process_queue", 2)
    synthetic.write(
        synthetic.results(
            [*two_cpu, failing], synthetic.amdahl(0.2, 0.05), seed=2,
            failures=[(failing, "ZeroDivisionError: division by zero <script>alert(1)</script>")],
        ),
        HERE / "golden-2cpu.json",
    )
    eight_cpu = synthetic.plan(["py_square", "np_count"], EXECUTORS, [1, 2, 4, 8])
    synthetic.write(
        synthetic.results(eight_cpu, synthetic.amdahl(0.1, 0.1), seed=8,
                          the_machine=synthetic.machine("golden-8cpu", usable=8)),
        HERE / "golden-8cpu.json",
    )


if __name__ == "__main__":
    main()
