"""Regenerate the golden costs file in this folder: `python tests/data/make_costs.py`.

Synthetic: every cost is `synthetic.TRUE_COSTS` with seeded noise, and the sweep follows the
cost model exactly, so tests know each executor's true break-even.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import synthetic  # noqa: E402

FAILED = "costs/shared/queue/w1/fork"


def main() -> None:
    synthetic.write_costs(synthetic.costs_results(failures=[FAILED]), HERE / "golden-costs.json")


if __name__ == "__main__":
    main()
