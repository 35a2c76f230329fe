"""`mpbench doctor`: is this machine fit to benchmark right now?

A scaling benchmark can only show the speedup the machine hands out. On a shared host the
scheduler inside a VM sees idle CPUs while the host runs other guests on them, so neither the
core count nor `top` tells how many cores' worth of work two processes really get. The doctor
therefore measures it: background load while idle (`load`), then the throughput of N processes
against one (`probe`), beside how the machine is tuned (`tuning`).

`diagnosis` measures, `findings` and `verdict` judge with pure rules, and `display` lays the
result out; nothing here prints — the CLI does.
"""

from mpbench.doctor.diagnosis import DEFAULT_PROBE_SECONDS, Diagnosis, diagnose
from mpbench.doctor.display import render

__all__ = ["DEFAULT_PROBE_SECONDS", "Diagnosis", "diagnose", "render"]
