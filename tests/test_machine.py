from __future__ import annotations

from pathlib import Path

import pytest

from mpbench.machine import (
    CpuBudget,
    cgroup_cpu_quota,
    collect,
    machine_name,
    parse_cgroup1_quota,
    parse_cgroup2_cpu_max,
    usable_cpus,
)


@pytest.mark.parametrize(("text", "cpus"), [
    ("max 100000\n", None), ("200000 100000\n", 2.0), ("150000 100000", 1.5), ("", None),
])
def test_cgroup2_cpu_max(text: str, cpus: float | None) -> None:
    assert parse_cgroup2_cpu_max(text) == cpus


def test_cgroup1_quota() -> None:
    assert parse_cgroup1_quota("-1\n", "100000\n") is None
    assert parse_cgroup1_quota("50000\n", "100000\n") == 0.5


@pytest.mark.parametrize(("budget", "usable"), [
    (CpuBudget(logical=8, affinity=8, quota=None), 8),
    (CpuBudget(logical=8, affinity=3, quota=None), 3),
    (CpuBudget(logical=8, affinity=8, quota=1.5), 2),  # a partial CPU still runs a worker
    (CpuBudget(logical=8, affinity=4, quota=0.2), 1),
    (CpuBudget(logical=4, affinity=None, quota=None), 4),
])
def test_usable_cpus_is_the_tightest_limit(budget: CpuBudget, usable: int) -> None:
    assert budget.usable == usable


def test_budget_says_where_each_number_comes_from() -> None:
    assert CpuBudget(8, 4, 1.5).describe() == "logical 8, affinity 4, cgroup quota 1.5 CPUs"


def test_cgroup2_quota_is_the_tightest_on_the_path_to_the_root(tmp_path: Path) -> None:
    leaf = tmp_path / "user.slice" / "job"
    leaf.mkdir(parents=True)
    (tmp_path / "cpu.max").write_text("max 100000\n")
    (tmp_path / "user.slice" / "cpu.max").write_text("300000 100000\n")
    (leaf / "cpu.max").write_text("max 100000\n")
    self_cgroup = tmp_path / "self_cgroup"
    self_cgroup.write_text("0::/user.slice/job\n")
    assert cgroup_cpu_quota(tmp_path, self_cgroup) == 3.0


def test_cgroup1_quota_file(tmp_path: Path) -> None:
    folder = tmp_path / "cpu" / "docker" / "abc"
    folder.mkdir(parents=True)
    (folder / "cpu.cfs_quota_us").write_text("250000\n")
    (folder / "cpu.cfs_period_us").write_text("100000\n")
    self_cgroup = tmp_path / "self_cgroup"
    self_cgroup.write_text("5:cpu,cpuacct:/docker/abc\n4:memory:/docker/abc\n")
    assert cgroup_cpu_quota(tmp_path, self_cgroup) == 2.5


def test_no_cgroup_information_means_no_quota(tmp_path: Path) -> None:
    assert cgroup_cpu_quota(tmp_path, tmp_path / "missing") is None


def test_this_machine() -> None:
    machine = collect("here")
    assert machine.name == "here"
    assert 1 <= machine.usable_cpus == usable_cpus() <= machine.logical_cpus
    assert machine.python_implementation and machine.cpu_model


@pytest.mark.parametrize(("hostname", "name"), [
    ("Build-Box.example.com", "build-box.example.com"), ("runner 7/ci", "runner-7-ci"),
    ("...", "machine"),
])
def test_machine_names_are_safe_folder_names(hostname: str, name: str) -> None:
    assert machine_name(hostname) == name
