"""`mpbench fleet` against a real Dask scheduler and two real workers on loopback, standing in
for two machines (`--per-worker`): files collected, a report, a host that disappears, and no
process left behind."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from mpbench.fleet import Host, find_hosts, machine_name_of
from mpbench.storage import read

from conftest import BENCHMARKS, TAG, needs_dask
from test_cli import run_cli

FLEET = [sys.executable, "-m", "mpbench", "fleet"]
RUN_OPTIONS = ["--profile", "smoke", "--benchmarks", str(BENCHMARKS), "--kernels", "py_square",
               "--executors", "pool_map", "--workers", "1,2", "--start-method", "fork"]


def test_hosts_are_the_distinct_hosts_or_every_worker() -> None:
    workers = {"tcp://10.0.0.1:4001": {"host": "10.0.0.1", "name": "a-1"},
               "tcp://10.0.0.1:4002": {"host": "10.0.0.1", "name": "a-2"},
               "tcp://10.0.0.2:4001": {"host": "10.0.0.2", "name": "b/1"}}
    assert find_hosts(workers, per_worker=False) == [
        Host("10.0.0.1", "tcp://10.0.0.1:4001"), Host("10.0.0.2", "tcp://10.0.0.2:4001")]
    assert find_hosts(workers, per_worker=True) == [
        Host("a-1", "tcp://10.0.0.1:4001"), Host("a-2", "tcp://10.0.0.1:4002"),
        Host("b-1", "tcp://10.0.0.2:4001")]
    assert machine_name_of("tcp://[::1]:80") == "tcp-1-80"


class Cluster:
    """A `dask scheduler` and named `dask worker` processes on 127.0.0.1."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.file = folder / "scheduler.json"
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        # The HTTP server listens even without a dashboard: on loopback, on a free port.
        self._start("scheduler", ["scheduler", "--host", "127.0.0.1", "--port", "0",
                                  "--no-dashboard", "--dashboard-address", "127.0.0.1:0",
                                  "--scheduler-file", str(self.file)])
        self._wait(lambda: self.file.exists(), "the scheduler")
        self.address = json.loads(self.file.read_text())["address"]

    def worker(self, name: str) -> None:
        self._start(name, ["worker", "--scheduler-file", str(self.file), "--name", name,
                           "--nworkers", "1", "--nthreads", "1", "--no-nanny",
                           "--no-dashboard", "--dashboard-address", "127.0.0.1:0"])

    def wait_for_workers(self, count: int) -> None:
        from distributed import Client

        with Client(self.address, timeout=10) as client:
            client.wait_for_workers(count, timeout=30)

    def _start(self, name: str, argv: list[str]) -> None:
        log = (self.folder / f"{name}.log").open("wb")
        self.processes[name] = subprocess.Popen(
            [str(Path(sys.executable).with_name("dask")), *argv], stdout=log,
            stderr=subprocess.STDOUT, cwd=self.folder)

    def _wait(self, ready: object, what: str) -> None:
        deadline = time.monotonic() + 30
        while not ready() and time.monotonic() < deadline:  # type: ignore[operator]
            time.sleep(0.1)
        assert ready(), f"{what} did not start"  # type: ignore[operator]

    def stop(self) -> None:
        for process in self.processes.values():
            process.kill()
            process.wait()


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    running = Cluster(tmp_path)
    try:
        running.worker("alpha")
        running.worker("beta")
        running.wait_for_workers(2)
        yield running
    finally:
        running.stop()


def _strays() -> list[str]:
    """Live processes of a fleet's runs anywhere on the machine, and their temporary folders."""
    found = [str(folder) for folder in Path(tempfile.gettempdir()).glob("mpbench-fleet-*")]
    for process in psutil.process_iter(["cmdline", "status"]):
        line = " ".join(process.info["cmdline"] or [])
        if process.info["status"] != psutil.STATUS_ZOMBIE and "mpbench-fleet-" in line:
            found.append(line)
    return found


@needs_dask
def test_a_fleet_run_collects_every_host_s_file_and_reports(cluster: Cluster,
                                                            tmp_path: Path) -> None:
    done = subprocess.run([*FLEET, cluster.address, "--per-worker", *RUN_OPTIONS], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert [line.split(":")[0] for line in lines[:2]] == ["✓ alpha", "✓ beta"]
    assert lines[-1].startswith("report of 2 hosts: results/fleet/")
    report = tmp_path / lines[-1].split(": ")[1]
    assert report.name == "report.html" and "alpha" in report.read_text()
    manifest = report.with_name("report.hosts.json")
    assert lines[-2] == f"hosts recorded in {manifest.relative_to(tmp_path)}"
    hosts = json.loads(manifest.read_text())
    assert [(host["machine"], host["code"], host["reason"]) for host in hosts] == [
        ("alpha", 0, None), ("beta", 0, None)]
    for host in hosts:
        results = read(Path(host["results"]))
        assert results.machine.name == host["machine"]
        assert Path(host["results"]).parent == tmp_path / "results" / host["machine"]
        assert len(results.benchmarks) == len(results.plan) == 3
        assert {b.get_metadata()["result"] for b in results.benchmarks} == {
            b.get_metadata()["result"] for b in results.benchmarks[:1]}  # all agree
    assert _strays() == []


@needs_dask
def test_a_host_that_disappears_is_recorded_and_the_others_go_on(cluster: Cluster,
                                                                 tmp_path: Path) -> None:
    fleet = subprocess.Popen([*FLEET, cluster.address, "--per-worker", "--parallel",
                              *RUN_OPTIONS, "--executors", "pool_map,threads"], cwd=tmp_path,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    # once the hosts' runs have started (their guards hold the temporary folders), not as soon
    # as a folder appears: a worker killed before that leaves its folder to nobody
    while len(_saved_by_hosts()) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    cluster.processes["beta"].kill()  # its machine is gone, mid-run
    out, err = fleet.communicate(timeout=300)
    assert fleet.returncode == 1, out + err
    assert "✗ beta: its worker tcp://127.0.0.1:" in out and "left the cluster" in out
    assert "✓ alpha: results/alpha/" in out
    assert out.splitlines()[-1].startswith("report of 1 host: ")
    deadline = time.monotonic() + 10
    while _strays() and time.monotonic() < deadline:  # beta's run notices its worker is gone
        time.sleep(0.1)
    assert _strays() == []


@needs_dask
def test_an_interrupted_fleet_keeps_what_the_hosts_finished(cluster: Cluster,
                                                            tmp_path: Path) -> None:
    fleet = subprocess.Popen([*FLEET, cluster.address, "--per-worker", "--parallel",
                              *RUN_OPTIONS, "--profile", "quick"], cwd=tmp_path,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 60
    while len(_saved_by_hosts()) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    fleet.send_signal(signal.SIGINT)
    out, err = fleet.communicate(timeout=120)
    assert fleet.returncode == 130, out + err
    assert "interrupted: 2 hosts' results collected" in err
    hosts = json.loads(next((tmp_path / "results" / "fleet").glob("*/*.hosts.json")).read_text())
    assert [host["code"] for host in hosts] == [130, 130]
    assert {host["reason"] for host in hosts} == {
        "stopped before the end: its file holds the scenarios it finished"}
    for machine in ("alpha", "beta"):
        [saved] = (tmp_path / "results" / machine).iterdir()
        results = read(saved)
        assert results.benchmarks and results.missing()  # part measured, the rest to resume
    deadline = time.monotonic() + 10
    while _strays() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _strays() == []


def _saved_by_hosts() -> list[Path]:
    """The results files the hosts' runs have saved so far (each is saved after every visit)."""
    saved = []
    for process in psutil.process_iter(["cmdline"]):
        argv = process.info["cmdline"] or []
        if argv[1:4] == ["-m", "mpbench", "run"] and "-o" in argv:
            output = Path(argv[argv.index("-o") + 1])
            if output.exists():
                saved.append(output)
    return saved


@needs_dask
def test_fleet_refuses_what_it_cannot_do(tmp_path: Path) -> None:
    unreachable = subprocess.run([*FLEET, "tcp://127.0.0.1:9", *RUN_OPTIONS], cwd=tmp_path,
                                 capture_output=True, text=True, timeout=60)
    assert unreachable.returncode == 2
    assert unreachable.stderr.startswith("error: cannot reach a Dask scheduler at "
                                         "tcp://127.0.0.1:9: ")
    assert len(unreachable.stderr.splitlines()) == 1
    bad = subprocess.run([*FLEET, "tcp://127.0.0.1:9", "--kernels", "nope"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2
    assert bad.stderr.startswith("error: unknown kernel nope; choose from: ")
    later = subprocess.run([*FLEET, "--parallel", "tcp://127.0.0.1:9"], cwd=tmp_path,
                           capture_output=True, text=True, timeout=60)
    assert (later.returncode, later.stderr) == (
        2, "error: give the scheduler's address first: mpbench fleet ADDRESS [options]\n")
    abbreviated = subprocess.run([*FLEET, "tcp://127.0.0.1:9", "--par"], cwd=tmp_path,
                                 capture_output=True, text=True, timeout=60)
    assert abbreviated.returncode == 2 and "unrecognized arguments: --par" in abbreviated.stderr


@needs_dask
def test_the_dask_executor_on_an_existing_cluster_takes_all_its_workers(
        cluster: Cluster, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    output = tmp_path / "remote.json"
    options = ["run", "--profile", "smoke", "--benchmarks", str(BENCHMARKS), "--kernels",
               "py_square", "--dask-scheduler", cluster.address, "-o", str(output)]
    code, out, err = run_cli(capsys, *options, "--executors", "dask")
    assert code == 0, out + err
    results = read(output)
    assert [scenario.id for scenario in results.plan] == [
        f"py_square/serial/w1@{TAG}", f"py_square/dask/w2/cluster@{TAG}"]
    assert len({bench.get_metadata()["result"] for bench in results.benchmarks}) == 1
    code, _, err = run_cli(capsys, *options[:-1], str(tmp_path / "other.json"))
    assert (code, err) == (2, "error: --dask-scheduler runs the dask executor there: add "
                              "--executors dask\n")
