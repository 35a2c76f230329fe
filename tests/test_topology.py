"""CPU topology: sysfs snapshots of four machine shapes (tests/data/make_topologies.py), the
placement orders drawn from them, and the kernel's CPU-list syntax."""

from __future__ import annotations

import os
import shutil
from itertools import pairwise
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mpbench.topology import (
    MAX_CPU_ID,
    CoreType,
    Placement,
    Topology,
    format_cpu_list,
    parse_cpu_list,
    read_topology,
)

from conftest import DATA

TOPOLOGIES = DATA / "topologies"
COMPACT, SPREAD = Placement.COMPACT, Placement.SPREAD


def shape(name: str) -> Topology:
    return read_topology(TOPOLOGIES / name)


def every_cpu(topology: Topology) -> set[int]:
    return {cpu.id for cpu in topology.cpus}


def counts(topology: Topology) -> tuple[int, int, int, int, int]:
    return (topology.sockets, topology.cores, topology.logical, topology.smt, topology.nodes)


# --- the shapes -------------------------------------------------------------------------------


def test_server_with_two_sockets_and_smt() -> None:
    server = shape("server-2socket-smt")
    assert counts(server) == (2, 16, 32, 2, 2)
    assert server.core_types() == (CoreType("all", 16, 3_900_000),)
    assert server.describe() == "2 sockets, 16 cores, 32 logical CPUs (SMT 2), 2 NUMA nodes"
    cpu9 = server.cpus[9]
    assert (cpu9.package, cpu9.core, cpu9.node, cpu9.siblings) == (1, 1, 1, (9, 25))


def test_server_compact_fills_node_0_cores_then_node_1_then_siblings() -> None:
    compact = shape("server-2socket-smt").ordered(range(32), COMPACT)
    assert compact[:4] == (0, 1, 2, 3)
    assert compact == (*range(8), *range(8, 16), *range(16, 24), *range(24, 32))


def test_server_spread_alternates_the_nodes() -> None:
    server = shape("server-2socket-smt")
    spread = server.ordered(range(32), SPREAD)
    assert spread[:4] == (0, 8, 1, 9)
    assert [server.cpus[cpu].node for cpu in spread[:16]] == [0, 1] * 8
    assert spread[16:20] == (16, 24, 17, 25)  # siblings only once every core has a worker


def test_laptop_with_performance_and_efficiency_cores() -> None:
    laptop = shape("laptop-hybrid")
    assert counts(laptop) == (1, 14, 20, 2, 1)
    assert laptop.core_types() == (CoreType("performance", 6, 4_700_000),
                                   CoreType("efficiency", 8, 3_500_000))
    assert laptop.describe() == ("1 socket, 14 cores, 20 logical CPUs (SMT 2), 1 NUMA node; "
                                 "6 performance cores at 4.70 GHz, 8 efficiency cores at 3.50 GHz")


def test_laptop_compact_takes_p_cores_then_e_cores_then_p_siblings() -> None:
    compact = shape("laptop-hybrid").ordered(range(20), COMPACT)
    assert compact == (0, 2, 4, 6, 8, 10, *range(12, 20), 1, 3, 5, 7, 9, 11)
    assert shape("laptop-hybrid").ordered(range(20), SPREAD) == compact  # a single node


def test_vm_captured_from_the_machine_the_tests_were_written_on() -> None:
    vm = shape("vm-2vcpu")
    assert counts(vm) == (1, 2, 2, 1, 1)
    assert vm.core_types() == (CoreType("all", 2, None),)  # cpu_capacity alike, no cpufreq
    assert vm.describe() == "1 socket, 2 cores, 2 logical CPUs (no SMT), 1 NUMA node"
    assert vm.ordered({0, 1}, COMPACT) == vm.ordered({0, 1}, SPREAD) == (0, 1)


def test_container_orders_only_the_cpus_its_affinity_allows() -> None:
    host = shape("container-16cpu")
    assert counts(host) == (1, 8, 16, 2, 1)
    assert host.describe() == "1 socket, 8 cores, 16 logical CPUs (SMT 2), 1 NUMA node"
    assert host.ordered({2, 3, 10, 11}, COMPACT) == (2, 3, 10, 11)
    assert host.ordered({2, 3, 10, 11}, SPREAD) == (2, 3, 10, 11)


def test_a_core_whose_first_thread_is_not_allowed_starts_with_its_second() -> None:
    host = shape("container-16cpu")  # core 2 is cpu2 and cpu10; only cpu10 is allowed
    assert host.ordered({3, 10, 11}, COMPACT) == (10, 3, 11)
    assert host.ordered((), COMPACT) == ()


def test_offline_cpus_are_refused_by_name(tmp_path: Path) -> None:
    root = tmp_path / "cpu"
    shutil.copytree(TOPOLOGIES / "container-16cpu", root)
    (root / "online").write_text("0-14\n")  # cpu15 went offline; its folder stays, as in sysfs
    host = read_topology(root)
    assert host.logical == 15
    assert host.smt == 2  # cpu7 alone on its core now, the others still have two threads
    with pytest.raises(ValueError, match=r"^CPUs 15-16 are not online here \(online: 0-14\)$"):
        host.ordered({3, 15, 16}, COMPACT)


# --- what sysfs may lack ----------------------------------------------------------------------


def test_without_an_online_file_every_cpu_folder_counts(tmp_path: Path) -> None:
    root = tmp_path / "cpu"
    shutil.copytree(TOPOLOGIES / "laptop-hybrid", root)
    (root / "online").unlink()
    assert read_topology(root) == shape("laptop-hybrid")


def test_missing_files_fall_back_to_one_core_per_cpu(tmp_path: Path) -> None:
    for cpu in (0, 1, 10):
        (tmp_path / f"cpu{cpu}").mkdir()
    (tmp_path / "cpufreq").mkdir()  # sysfs has folders that are not CPUs
    (tmp_path / "cpu1" / "topology").mkdir()
    (tmp_path / "cpu1" / "topology" / "core_cpus_list").write_text("1\n")  # newer kernels' name
    (tmp_path / "cpu1" / "topology" / "physical_package_id").write_text("-1\n")  # unknown
    topology = read_topology(tmp_path)
    assert [(c.id, c.package, c.core, c.node, c.max_khz, c.capacity, c.siblings)
            for c in topology.cpus] == [(0, 0, 0, 0, None, None, (0,)),
                                        (1, 0, 1, 0, None, None, (1,)),
                                        (10, 0, 10, 0, None, None, (10,))]
    assert topology.describe() == "1 socket, 3 cores, 3 logical CPUs (no SMT), 1 NUMA node"
    assert topology.core_types() == (CoreType("all", 3, None),)


def test_without_sysfs_every_cpu_is_assumed_to_be_a_core(tmp_path: Path) -> None:
    flat = read_topology(tmp_path / "absent")
    logical = os.cpu_count() or 1
    assert counts(flat) == (1, logical, logical, 1, 1)
    assert flat.describe() == f"topology not readable: {logical} logical CPUs assumed to be cores"
    assert flat.ordered(range(logical), COMPACT) == tuple(range(logical))


def write_speeds(root: Path, speeds: list[tuple[int | None, int]]) -> Topology:
    """CPUs with only a cpu_capacity (when not None) and a cpuinfo_max_freq."""
    for cpu, (capacity, khz) in enumerate(speeds):
        (root / f"cpu{cpu}" / "cpufreq").mkdir(parents=True)
        (root / f"cpu{cpu}" / "cpufreq" / "cpuinfo_max_freq").write_text(f"{khz}\n")
        if capacity is not None:
            (root / f"cpu{cpu}" / "cpu_capacity").write_text(f"{capacity}\n")
    return read_topology(root)


def test_capacity_ranks_cores_before_frequency(tmp_path: Path) -> None:
    """ARM prime, big and little cores: their clocks are close, their capacities are not."""
    phone = write_speeds(tmp_path, [(300, 2_000_000), (800, 2_600_000), (800, 2_600_000),
                                    (1024, 2_800_000)])
    assert phone.core_types() == (CoreType("performance", 1, 2_800_000),
                                  CoreType("intermediate", 2, 2_600_000),
                                  CoreType("efficiency", 1, 2_000_000))
    assert phone.ordered({0, 1, 2, 3}, COMPACT) == (3, 1, 2, 0)


def test_the_same_capacity_everywhere_leaves_it_to_the_clocks(tmp_path: Path) -> None:
    hybrid = write_speeds(tmp_path, [(1024, 3_500_000), (1024, 4_700_000)])
    assert hybrid.core_types() == (CoreType("performance", 1, 4_700_000),
                                   CoreType("efficiency", 1, 3_500_000))
    assert hybrid.ordered({0, 1}, COMPACT) == (1, 0)


def test_speeds_within_15_percent_are_one_type(tmp_path: Path) -> None:
    favoured = write_speeds(tmp_path, [(None, 5_000_000), (None, 4_700_000), (None, 4_400_000),
                                       (None, 4_300_000)])  # 5.0 / 4.4 is 1.136, 5.0 / 4.3 1.163
    assert favoured.core_types() == (CoreType("performance", 3, 5_000_000),
                                     CoreType("efficiency", 1, 4_300_000))
    assert favoured.ordered({3, 2, 1, 0}, SPREAD) == (0, 1, 2, 3)  # the fastest first


# --- CPU lists --------------------------------------------------------------------------------


def test_cpu_lists() -> None:
    assert parse_cpu_list("0-3,8\n") == (0, 1, 2, 3, 8)
    assert parse_cpu_list("8,0-1,1") == (0, 1, 8)
    assert format_cpu_list((0, 1, 2, 3, 8)) == "0-3,8"
    assert format_cpu_list([5, 4]) == "4-5"
    assert format_cpu_list(()) == ""


@pytest.mark.parametrize(("text", "reason"), [
    ("", "the CPU list is empty: give CPU numbers and ranges, such as 0-3,8"),
    ("3-1", "the range '3-1' runs backwards: write 1-3"),
    ("a", "'a' in 'a' is not a CPU number or a range such as 0-3"),
    ("-1", "'-1' in '-1' is not a CPU number or a range such as 0-3"),
    ("0,,2", "'' in '0,,2' is not a CPU number or a range such as 0-3"),
    ("0-99999999999", f"CPU 99999999999 is beyond any machine's CPUs (at most {MAX_CPU_ID})"),
])
def test_bad_cpu_lists_say_why(text: str, reason: str) -> None:
    with pytest.raises(ValueError) as raised:
        parse_cpu_list(text)
    assert str(raised.value) == reason


CPUS = st.integers(min_value=0, max_value=MAX_CPU_ID)


@given(st.sets(CPUS, min_size=1, max_size=64))
def test_a_formatted_list_parses_back(cpus: set[int]) -> None:
    assert parse_cpu_list(format_cpu_list(cpus)) == tuple(sorted(cpus))


@given(st.lists(st.tuples(st.integers(0, 300), st.integers(0, 20)), min_size=1, max_size=8))
def test_any_valid_list_formats_canonically(spans: list[tuple[int, int]]) -> None:
    text = ",".join(f"{start}" if not length else f"{start}-{start + length}"
                    for start, length in spans)
    canonical = format_cpu_list(parse_cpu_list(text))
    assert parse_cpu_list(canonical) == parse_cpu_list(text)
    assert format_cpu_list(parse_cpu_list(canonical)) == canonical
    spans_out = [[int(bound) for bound in item.split("-")] for item in canonical.split(",")]
    assert all(len(span) == 1 or span[0] < span[1] for span in spans_out)
    assert all(left[-1] + 1 < right[0] for left, right in pairwise(spans_out))  # runs merged
