"""`python -m mpbench._probe WORKERS WINDOW_SECONDS`: the machine's state now, as JSON.

`mpbench run` starts it at each round: a process of its own, so that the probe's pool is never
forked from a process that runs other threads (a fork can copy a lock another thread holds).
"""

import json
import sys

from mpbench.doctor.probe import snapshot

if __name__ == "__main__":
    print(json.dumps(snapshot(int(sys.argv[1]), float(sys.argv[2]))))
