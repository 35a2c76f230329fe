"""Write the sysfs CPU trees in topologies/: `python tests/data/make_topologies.py`.

Each tree holds only the files `mpbench.topology.read_topology` reads. A CPU's NUMA node, a
symlink in sysfs, is a nodeN folder here, with an empty `.keep` so that git keeps it. Running
the script again rewrites the same trees; `--capture NAME` instead copies those files of this
machine's sysfs to topologies/NAME (vm-2vcpu is the 2-vCPU VM the tests were written on).
"""

from __future__ import annotations

import argparse
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

TOPOLOGIES = Path(__file__).resolve().parent / "topologies"
SYSFS_CPU = Path("/sys/devices/system/cpu")
READ_FILES = ("topology/physical_package_id", "topology/core_id", "topology/thread_siblings_list",
              "topology/core_cpus_list", "cpufreq/cpuinfo_max_freq", "cpu_capacity")


@dataclass(frozen=True)
class Thread:
    """One logical CPU of a made-up machine."""

    package: int
    core: int
    node: int
    siblings: str
    max_khz: int


def server() -> dict[int, Thread]:
    """2 sockets × 8 cores × 2 threads, a NUMA node per socket. As on Intel servers, cpu0-15
    are the cores' first threads (socket 0's, then socket 1's) and cpu16-31 their siblings;
    core ids restart in each socket and have gaps."""
    core_ids = (0, 1, 2, 3, 4, 8, 9, 10)
    threads = {}
    for first in range(16):
        package, index = divmod(first, 8)
        for cpu in (first, first + 16):
            threads[cpu] = Thread(package, core_ids[index], node=package,
                                  siblings=f"{first},{first + 16}", max_khz=3_900_000)
    return threads


def laptop() -> dict[int, Thread]:
    """Intel 12th gen-like: 6 P-cores with SMT at 4.7 GHz, siblings adjacent (0-1, 2-3 …),
    then 8 E-cores without SMT at 3.5 GHz; one node."""
    threads = {cpu: Thread(0, core=4 * (cpu // 2), node=0,
                           siblings=f"{cpu - cpu % 2}-{cpu - cpu % 2 + 1}", max_khz=4_700_000)
               for cpu in range(12)}
    threads |= {cpu: Thread(0, core=cpu + 12, node=0, siblings=str(cpu), max_khz=3_500_000)
                for cpu in range(12, 20)}
    return threads


def container_host() -> dict[int, Thread]:
    """The 16-CPU host a cgroup-limited container sees in sysfs (its affinity allows fewer):
    8 cores × 2 threads, cpuN and cpuN+8 siblings, one node."""
    return {cpu: Thread(0, core=cpu % 8, node=0, siblings=f"{cpu % 8},{cpu % 8 + 8}",
                        max_khz=4_500_000) for cpu in range(16)}


def write_shape(name: str, threads: dict[int, Thread]) -> None:
    root = TOPOLOGIES / name
    shutil.rmtree(root, ignore_errors=True)
    files = {"online": f"0-{len(threads) - 1}"}
    for cpu, thread in threads.items():
        files |= {f"cpu{cpu}/topology/physical_package_id": str(thread.package),
                  f"cpu{cpu}/topology/core_id": str(thread.core),
                  f"cpu{cpu}/topology/thread_siblings_list": thread.siblings,
                  f"cpu{cpu}/cpufreq/cpuinfo_max_freq": str(thread.max_khz),
                  f"cpu{cpu}/node{thread.node}/.keep": ""}
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"{text}\n" if text else "")  # sysfs ends each value with a newline


def capture(name: str, sysfs: Path = SYSFS_CPU) -> None:
    root = TOPOLOGIES / name
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    shutil.copyfile(sysfs / "online", root / "online")
    for folder in sysfs.iterdir():
        if not re.fullmatch(r"cpu[0-9]+", folder.name):
            continue
        for relative in READ_FILES:
            if (folder / relative).is_file():
                (root / folder.name / relative).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(folder / relative, root / folder.name / relative)
        for node in folder.glob("node[0-9]*"):
            (root / folder.name / node.name).mkdir(parents=True)
            (root / folder.name / node.name / ".keep").write_text("")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--capture", metavar="NAME", help="copy this machine's sysfs instead")
    args = parser.parse_args()
    if args.capture:
        capture(args.capture)
        return
    write_shape("server-2socket-smt", server())
    write_shape("laptop-hybrid", laptop())
    write_shape("container-16cpu", container_host())


if __name__ == "__main__":
    main()
