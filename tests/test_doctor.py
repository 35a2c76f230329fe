"""`mpbench doctor`: parsers on fixture text, verdict rules on hand-built measurements, and
one real, short diagnosis (its figures are not asserted: these machines are noisy)."""

from __future__ import annotations

import multiprocessing
import os
import time
from pathlib import Path

import psutil
import pytest
from rich.console import Console

from mpbench.doctor import Diagnosis, diagnose, probe, render
from mpbench.doctor.diagnosis import _attempt
from mpbench.doctor.findings import (
    Status,
    Unavailable,
    cpu_finding,
    cpu_speeds_finding,
    effective_cores_finding,
    load_finding,
    pyperf_finding,
    speed_finding,
    topology_finding,
)
from mpbench.doctor.load import BackgroundLoad, LoadAverage, measure_background_load, parse_loadavg
from mpbench.doctor.probe import ProbeRound, SpeedProbe, SpinPlan, _spin
from mpbench.doctor.tuning import PyperfHints, parse_pyperf_show, read_governors
from mpbench.doctor.verdict import judge
from mpbench.topology import Topology, read_topology

from conftest import DATA

PYPERF_SHOW = """\
Show the system configuration

System state
============

CPU: use 2 logical CPUs: 0-1
Perf event: Maximum sample rate: 100000 per second
Linux scheduler: No CPU is isolated

Advices
=======

Perf event: Set max sample rate to 1
Linux scheduler: Use isolcpus=<cpu list> kernel parameter to isolate CPUs

Warnings
========

Turbo Boost (MSR): Failed to read MSR 0x1a0 from /dev/cpu/0/msr
Turbo Boost (MSR): Try to load the msr kernel module: sudo modprobe msr

Run "python -m pyperf system tune" to tune the system configuration to run benchmarks
"""

PYPERF_READY = """\
Show the system configuration

System state
============

CPU: use 8 logical CPUs: 0-7
CPU Frequency: 0-7=min=max=3000 MHz

OK! System ready for benchmarking
"""


def test_loadavg() -> None:
    assert parse_loadavg("0.16 0.43 0.34 1/82 10141\n") == LoadAverage(0.16, 0.43, 0.34)


def test_pyperf_show_advice_and_warnings() -> None:
    assert parse_pyperf_show(PYPERF_SHOW) == PyperfHints(
        advice=("Perf event: Set max sample rate to 1",
                "Linux scheduler: Use isolcpus=<cpu list> kernel parameter to isolate CPUs"),
        warnings=2, errors=(), ready=False,
    )


def test_pyperf_show_ready() -> None:
    assert parse_pyperf_show(PYPERF_READY) == PyperfHints(advice=(), warnings=0, errors=(),
                                                          ready=True)


def test_pyperf_show_without_sections() -> None:
    with pytest.raises(ValueError, match="no section"):
        parse_pyperf_show("usage: python -m pyperf ...\n")


def test_background_load_from_proc_files(tmp_path: Path) -> None:
    (tmp_path / "stat").write_text("cpu  52162 0 6644 473382 373 0 265 284 0 0\n")
    (tmp_path / "loadavg").write_text("1.50 0.43 0.34 3/82 10141\n")
    (tmp_path / "pressure").mkdir()
    (tmp_path / "pressure" / "cpu").write_text("some avg10=3.80 avg60=1.32 avg300=1.57 total=9\n")
    load = measure_background_load(0.05, proc=tmp_path)
    assert (load.busy_cpus, load.steal_cpus, load.pressure_some) == (0.0, 0.0, 0.0)
    assert load.load_average == LoadAverage(1.5, 0.43, 0.34)
    assert load.other_cpus == 0.0  # never negative, though mpbench itself used some CPU


def test_governors_of_the_cpus_that_expose_one(tmp_path: Path) -> None:
    (tmp_path / "cpu0" / "cpufreq").mkdir(parents=True)
    (tmp_path / "cpu0" / "cpufreq" / "scaling_governor").write_text("powersave\n")
    (tmp_path / "cpu1").mkdir()
    assert read_governors([0, 1], tmp_path) == {0: "powersave"}


def test_governor_findings() -> None:
    assert cpu_finding("EPYC", {}).status == Status.OK
    assert cpu_finding("EPYC", {0: "performance", 1: "performance"}).status == Status.OK
    powersave = cpu_finding("EPYC", {0: "powersave", 1: "performance"})
    assert powersave.status == Status.WARN
    assert "performance, powersave" in powersave.figure


def test_topology_finding_on_a_server() -> None:
    finding = topology_finding(read_topology(DATA / "topologies" / "server-2socket-smt"))
    assert (finding.status, finding.figure) == (
        Status.OK, "2 sockets, 16 cores, 32 logical CPUs (SMT 2), 2 NUMA nodes")
    assert finding.details == ("core types: 16 cores of one kind at 3.90 GHz",
                               "NUMA node 0: CPUs 0-7,16-23", "NUMA node 1: CPUs 8-15,24-31")
    assert finding.advice == ("compact placement gives each worker a core of its own before SMT "
                              "siblings share; it fills NUMA node 0 first; spread alternates the "
                              "nodes")
    assert finding.source.startswith("/sys/devices/system/cpu: ")


def test_topology_finding_warns_of_cores_at_different_speeds() -> None:
    finding = topology_finding(read_topology(DATA / "topologies" / "laptop-hybrid"))
    assert finding.status == Status.WARN
    assert finding.figure.endswith("; 6 performance cores at 4.70 GHz, "
                                   "8 efficiency cores at 3.50 GHz")
    assert finding.details == ("core types: 6 performance cores at 4.70 GHz, "
                               "8 efficiency cores at 3.50 GHz",)
    assert "spill from performance onto efficiency cores" in finding.advice


def test_topology_finding_without_sysfs_or_smt(tmp_path: Path) -> None:
    vm = topology_finding(read_topology(DATA / "topologies" / "vm-2vcpu"))
    assert (vm.status, vm.advice) == (Status.OK, "every logical CPU is a core of its own")
    assert vm.details == ("core types: 2 cores of one kind",)
    flat = topology_finding(read_topology(tmp_path / "absent"))
    assert flat.status == Status.WARN
    assert flat.figure.startswith("topology not readable: ")
    assert flat.source == "os.cpu_count(): no /sys/devices/system/cpu"
    unreadable = topology_finding(Unavailable("ValueError: bad online"))
    assert unreadable.figure == "not available here (ValueError: bad online)"


def test_pinned_spin_restores_the_affinity() -> None:
    before = os.sched_getaffinity(0)
    now = time.monotonic_ns()
    assert _spin(SpinPlan(now, now + 20_000_000, cpu=min(before))) > 0
    assert os.sched_getaffinity(0) == before


def test_a_failing_measurement_becomes_a_reason() -> None:
    def broken() -> int:
        raise OSError("no /proc here")

    assert _attempt(broken) == Unavailable("OSError: no /proc here")


def _die(plan: SpinPlan) -> int:
    os._exit(3)


def test_a_dead_worker_ends_the_probe_without_leaving_processes(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(probe, "_spin", _die)
    monkeypatch.setattr(probe, "REPLY_TIMEOUT_SECONDS", 0.5)
    started = time.monotonic()
    outcome = _attempt(lambda: probe.probe_speed(2, 0.5))
    assert isinstance(outcome, Unavailable)
    assert outcome.reason.startswith("TimeoutError: a pool worker gave no answer within")
    assert time.monotonic() - started < 5
    assert multiprocessing.active_children() == []


# --- judging hand-built measurements ---------------------------------------------------------


def make_load(other_cpus: float, steal_cpus: float = 0.0) -> BackgroundLoad:
    return BackgroundLoad(seconds=2.0, busy_cpus=other_cpus + 0.01, own_cpus=0.01,
                          steal_cpus=steal_cpus, pressure_some=0.01,
                          load_average=LoadAverage(0.3, 0.2, 0.1))


def make_probe(*effective: float, serial_units: int = 2000,
               per_cpu: tuple[int, int] = (1000, 1000)) -> SpeedProbe:
    rounds = tuple(ProbeRound(serial_units, round(cores * serial_units), per_cpu)
                   for cores in effective)
    return SpeedProbe(workers=2, start_method="fork", window_seconds=0.2, cpus=(0, 1),
                      rounds=rounds)


def test_probe_figures() -> None:
    probe = make_probe(1.9, 1.5, 2.0, serial_units=2000, per_cpu=(600, 1000))
    assert probe.effective_cores == pytest.approx(1.9)
    assert probe.chunk_ms_by_round() == pytest.approx([10.0] * 3)  # 0.2 s / 20 chunks
    assert probe.relative_cpu_speeds() == {0: pytest.approx(0.6), 1: 1.0}


def test_fit_when_all_cores_deliver_and_the_machine_is_quiet() -> None:
    verdict = judge(2, make_load(0.05), make_probe(1.95, 1.9, 1.97))
    assert verdict.fit
    assert verdict.summary == ("fit to benchmark: 2 usable CPUs deliver 1.95 effective cores, "
                               "other processes use 0.05 CPUs")
    assert verdict.actions == ()


def test_busy_machine_is_not_fit_even_when_the_cores_deliver() -> None:
    verdict = judge(2, make_load(0.6), make_probe(1.95))
    assert not verdict.fit
    assert "other processes use 0.60 CPUs" in verdict.summary
    assert verdict.actions == ("close other programs (see `top`) and rerun `mpbench doctor`",)


def test_few_effective_cores_on_a_quiet_machine_blames_the_host() -> None:
    verdict = judge(2, make_load(0.0), make_probe(1.3, 1.4, 1.2))
    assert not verdict.fit
    assert verdict.summary == ("not fit to benchmark right now: 2 processes deliver only 1.30 "
                               "cores' worth of work")
    assert verdict.actions[0].startswith("the host is sharing these CPUs: rerun later")
    assert "1.3×" in verdict.actions[-1]


def test_few_effective_cores_on_a_big_machine_suggests_fewer_workers() -> None:
    probe = SpeedProbe(workers=8, start_method="fork", window_seconds=0.2, cpus=(),
                       rounds=(ProbeRound(1000, 5500, None),))
    assert "or keep `--workers` at most 5" in judge(8, make_load(0.0), probe).actions


def test_just_below_the_threshold_is_not_fit() -> None:
    assert judge(2, make_load(0.0), make_probe(1.81)).fit
    assert not judge(2, make_load(0.0), make_probe(1.79)).fit
    assert not judge(2, make_load(0.2), make_probe(2.0)).fit


def test_one_usable_cpu_cannot_measure_scaling() -> None:
    probe = SpeedProbe(workers=1, start_method="fork", window_seconds=0.2, cpus=(),
                       rounds=(ProbeRound(2000, None, None),))
    verdict = judge(1, make_load(0.0), probe)
    assert not verdict.fit
    assert verdict.summary == "not fit to benchmark right now: only 1 usable CPU"
    assert effective_cores_finding(probe, 1).status == Status.BAD
    assert cpu_speeds_finding(probe).figure.startswith("not available here")


def test_unmeasured_effective_cores_are_not_fit() -> None:
    verdict = judge(2, Unavailable("no /proc/stat"), Unavailable("TimeoutError"))
    assert not verdict.fit
    assert "effective cores could not be measured (TimeoutError)" in verdict.summary


def test_finding_statuses_follow_the_verdict_thresholds() -> None:
    assert load_finding(make_load(0.1)).status == Status.OK
    assert load_finding(make_load(0.1, steal_cpus=0.3)).status == Status.WARN
    assert load_finding(make_load(0.5)).status == Status.BAD
    assert effective_cores_finding(make_probe(1.95), 2).status == Status.OK
    assert effective_cores_finding(make_probe(1.2), 2).status == Status.BAD
    dipping = effective_cores_finding(make_probe(1.95, 1.9, 1.1), 2)
    assert dipping.status == Status.WARN
    assert dipping.figure == "1.90 of 2 (1.10 to 1.95 over 3 rounds)"
    assert "some rounds fell to 1.10" in dipping.advice


def test_speed_findings_name_the_drift_and_the_slower_cpu() -> None:
    steady = make_probe(1.9, 1.9)
    assert speed_finding(steady).status == Status.OK
    drifting = SpeedProbe(workers=2, start_method="fork", window_seconds=0.2, cpus=(0, 1),
                          rounds=(ProbeRound(2000, 3800, (1000, 1000)),
                                  ProbeRound(1000, 1900, (1000, 1000))))
    assert speed_finding(drifting).status == Status.WARN
    assert "10.0 to 20.0 ms" in speed_finding(drifting).figure
    uneven = cpu_speeds_finding(make_probe(1.9, per_cpu=(1000, 500)))
    assert uneven.status == Status.WARN
    assert uneven.figure == "cpu0 100%, cpu1 50% of the fastest"
    assert uneven.advice.startswith("cpu1 is slower")


def test_unavailable_measurements_say_so() -> None:
    for finding in (pyperf_finding(Unavailable("TimeoutExpired")),
                    load_finding(Unavailable("FileNotFoundError")),
                    speed_finding(Unavailable("TimeoutError"))):
        assert finding.status == Status.WARN
        assert finding.figure.startswith("not available here (")


def test_pyperf_finding_lists_the_advice() -> None:
    finding = pyperf_finding(parse_pyperf_show(PYPERF_SHOW))
    assert (finding.status, finding.figure) == (Status.WARN, "2 suggestions; 2 warnings")
    assert finding.details[0] == "Perf event: Set max sample rate to 1"
    assert pyperf_finding(parse_pyperf_show(PYPERF_READY)).status == Status.OK


# --- one real diagnosis ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def diagnosis_and_leftovers() -> tuple[Diagnosis, set[psutil.Process]]:
    """A real diagnosis, and the processes it added (earlier tests may have left a
    multiprocessing resource tracker or forkserver running: those are not its own)."""
    before = set(psutil.Process().children(recursive=True))
    diagnosis = diagnose(probe_seconds=1.5)
    return diagnosis, set(psutil.Process().children(recursive=True)) - before


@pytest.fixture(scope="module")
def diagnosis(diagnosis_and_leftovers: tuple[Diagnosis, set[psutil.Process]]) -> Diagnosis:
    return diagnosis_and_leftovers[0]


def test_real_diagnosis_is_complete_quick_and_leaves_no_process(
        diagnosis_and_leftovers: tuple[Diagnosis, set[psutil.Process]]) -> None:
    diagnosis, leftovers = diagnosis_and_leftovers
    assert diagnosis.seconds < 15
    assert [finding.title for finding in diagnosis.findings] == [
        "CPU budget", "CPU topology", "CPU and clock", "Python", "BLAS threads", "pyperf tuning",
        "Background load", "Single-process speed", "Effective cores", "Per-CPU speed",
    ]
    assert all(finding.figure and finding.source and finding.advice
               for finding in diagnosis.findings)
    assert diagnosis.verdict.summary.startswith(("fit", "not fit"))
    assert multiprocessing.active_children() == []
    assert leftovers == set()


def test_real_diagnosis_measured_what_it_could(diagnosis: Diagnosis) -> None:
    measured = diagnosis.measurements
    assert isinstance(measured.load, BackgroundLoad)
    assert isinstance(measured.probe, SpeedProbe)
    assert len(measured.probe.rounds) >= 2
    assert measured.probe.workers == measured.budget.usable
    assert measured.topology == read_topology()
    assert isinstance(measured.topology, Topology)
    assert diagnosis.findings[1].figure == measured.topology.describe()


def test_render_shows_every_finding_and_the_verdict(diagnosis: Diagnosis) -> None:
    console = Console(record=True, width=120, color_system=None)
    console.print(render(diagnosis))
    text = console.export_text()
    for finding in diagnosis.findings:
        assert finding.title in text
    assert diagnosis.verdict.summary in text
    assert f"checked in {diagnosis.seconds:.1f} s" in text
