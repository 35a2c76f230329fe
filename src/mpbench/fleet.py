"""`mpbench fleet ADDRESS`: the same run on every machine of a Dask cluster, and one report.

The machines are the distinct hosts among the scheduler's workers (or, `per_worker`, every
worker on its own, named by its name: containers on one host, and tests). Each host gets one
Dask task, pinned to one of its workers, that runs a whole `mpbench run` there with that
worker's Python (`_fleet_task.run_here`): one host at a time, or all at once (`parallel`).
Each results file that comes back is checked and saved at once under
`results/<machine>/`, so an interrupt loses nothing collected; a host that fails or leaves the
cluster is recorded with its reason, and the others go on.
"""

from __future__ import annotations

import contextlib
import re
import secrets
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from mpbench.errors import MpbenchError, UsageError
from mpbench.storage import RESULTS_DIR, read, utc_stamp, write_atomically

CONNECT_SECONDS = 10.0
WAIT_SECONDS = 1.0  # how often the running hosts' workers are checked to be still there
STOP_GRACE_SECONDS = 60.0  # for interrupted hosts to save and send back what they finished
STOPPED_CODES = (129, 130)  # how `mpbench run` exits when it is stopped, having saved


@dataclass(frozen=True)
class Host:
    """A machine of the fleet: its name in `results/<name>/`, and the worker that runs it."""

    name: str
    worker: str


@dataclass(frozen=True)
class HostResult:
    """What one host gave: its saved results file, or why there is none; and how its run
    ended (`code`, as `mpbench run` exits: 1 means some scenario failed)."""

    host: Host
    path: Path | None
    reason: str | None
    code: int | None
    seconds: float


class FleetObserver(Protocol):
    def host_started(self, host: Host) -> None: ...

    def host_finished(self, result: HostResult) -> None: ...


def find_hosts(workers: Mapping[str, Mapping[str, Any]], per_worker: bool) -> list[Host]:
    """One Host per distinct host among `workers` (the scheduler's address → info), run by
    its first worker by address; or one per worker, named by its name."""
    if per_worker:
        return sorted((Host(machine_name_of(str(info.get("name") or address)), address)
                       for address, info in workers.items()), key=lambda host: host.name)
    by_host: dict[str, str] = {}
    for address in sorted(workers):
        by_host.setdefault(str(workers[address].get("host") or address), address)
    return [Host(machine_name_of(host), address) for host, address in sorted(by_host.items())]


def machine_name_of(text: str) -> str:
    """A name fit for `results/<name>/` (letters, digits, `.`, `_`, `-`)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.") or "host"


def run_fleet(address: str, run_argv: Sequence[str], benchmarks: Path, *, per_worker: bool,
              parallel: bool, observer: FleetObserver,
              results_dir: Path = RESULTS_DIR) -> None:
    """Run `mpbench run RUN_ARGV` with the kernels of `benchmarks` on every host of the
    cluster at `address`, saving each host's file as it arrives and telling `observer`."""
    try:
        import distributed
    except ImportError:
        raise UsageError("fleet needs Dask's distributed: pip install 'mpbench[dask]'") from None
    from mpbench._fleet_task import run_here

    kernels = {path.name: path.read_bytes() for path in sorted(benchmarks.glob("bm_*.py"))}
    if not kernels:
        raise UsageError(f"{benchmarks} holds no bm_*.py kernel file to run on the fleet")
    try:
        client = distributed.Client(address, timeout=CONNECT_SECONDS)
    except (OSError, TimeoutError, ValueError) as exc:
        raise UsageError(f"cannot reach a Dask scheduler at {address}: {exc}") from None
    with client:
        hosts = find_hosts(_workers(client), per_worker)
        if not hosts:
            raise UsageError(f"the Dask scheduler at {address} has no workers")
        if len({host.name for host in hosts}) != len(hosts):
            raise UsageError("two workers share a name; give each its own --name")
        token = secrets.token_hex(4)
        stop = distributed.Event(f"mpbench-fleet-stop-{token}", client=client)
        queue = list(hosts)
        pending: dict[Any, tuple[Host, float]] = {}  # future → its host, when it started
        try:
            while queue or pending:
                while queue and (parallel or not pending):
                    host = queue.pop(0)
                    observer.host_started(host)
                    future = client.submit(
                        run_here, list(run_argv), kernels, host.name, stop.name,
                        workers=[host.worker], allow_other_workers=False, pure=False,
                        key=f"mpbench-fleet-{host.name}-{token}")
                    pending[future] = (host, time.monotonic())
                _collect(client, pending, observer, results_dir, WAIT_SECONDS)
        except KeyboardInterrupt:
            stop.set()  # every running host saves what it finished and sends it back
            for host in queue:
                observer.host_finished(HostResult(host, None, "not started: the fleet was "
                                                  "interrupted", None, 0.0))
            deadline = time.monotonic() + STOP_GRACE_SECONDS
            while pending and time.monotonic() < deadline:
                _collect(client, pending, observer, results_dir, WAIT_SECONDS)
            for future, (host, since) in pending.items():
                future.cancel()
                observer.host_finished(HostResult(
                    host, None, f"no answer within {STOP_GRACE_SECONDS:g} s of the interrupt",
                    None, time.monotonic() - since))
            raise
        except OSError as exc:  # the scheduler went away (distributed's CommClosedError)
            raise MpbenchError(f"lost the Dask scheduler at {address}: {exc}") from None
        finally:
            with contextlib.suppress(Exception):  # no host goes on running for nobody
                stop.set()



def _workers(client: Any) -> dict[str, dict[str, str]]:
    """Every worker's address → its host and name (`scheduler_info` lists only a few in some
    releases; `nthreads` and `run` reach them all)."""
    names = client.run(_worker_name)
    return {address: {"host": urlsplit(address).hostname or address,
                      "name": str(names.get(address, address))}
            for address in client.nthreads()}


def _worker_name(dask_worker: Any) -> str:
    return str(dask_worker.name)


def _collect(client: Any, pending: dict[Any, tuple[Host, float]], observer: FleetObserver,
             results_dir: Path, wait: float) -> None:
    """Wait up to `wait` seconds for a host to finish; tell and forget every host that did,
    or whose worker left the cluster."""
    from distributed import wait as wait_for

    try:
        done, _ = wait_for(list(pending), timeout=wait, return_when="FIRST_COMPLETED")
    except TimeoutError:
        done = set()
    alive = set(client.nthreads())
    for future, (host, since) in list(pending.items()):
        if future in done:
            result = _result(host, future, since, results_dir)
        elif host.worker not in alive:
            future.cancel()
            result = HostResult(host, None, f"its worker {host.worker} left the cluster", None,
                                time.monotonic() - since)
        else:
            continue
        del pending[future]
        observer.host_finished(result)


def _result(host: Host, future: Any, since: float, results_dir: Path) -> HostResult:
    """What a finished host task gave: its saved file, or why there is none."""
    seconds = time.monotonic() - since
    try:
        outcome = future.result(timeout=CONNECT_SECONDS)
    except Exception as exc:  # the task raised, was lost, or its result could not be fetched
        return HostResult(host, None, f"the task failed: {type(exc).__name__}: {exc}", None,
                          seconds)
    code = int(outcome["code"])
    if outcome["results"] is None:
        why = ("stopped before it measured anything" if code in STOPPED_CODES
               else _reason(str(outcome["log"]), code))
        return HostResult(host, None, why, code, seconds)
    try:
        path = _save(host, bytes(outcome["results"]), results_dir)
    except MpbenchError as exc:
        return HostResult(host, None, f"its results file is unreadable: {exc}", code, seconds)
    reason: str | None = None  # 1: some scenario failed, as the file says
    if code in STOPPED_CODES:
        reason = "stopped before the end: its file holds the scenarios it finished"
    elif code not in (0, 1):
        reason = _reason(str(outcome["log"]), code)
    return HostResult(host, path, reason, code, seconds)


def _reason(log: str, code: int) -> str:
    """The run's own `error:` line when it printed one, else how it ended."""
    errors = [line for line in log.splitlines() if line.startswith("error:")]
    return errors[-1] if errors else f"mpbench run exited with code {code}"


def _save(host: Host, data: bytes, results_dir: Path) -> Path:
    """Check a host's results file and save it as `results/<name>/<UTC time>.json`."""
    destination = results_dir / host.name / f"{utc_stamp()}.json"
    with tempfile.TemporaryDirectory(prefix="mpbench-fleet-") as folder:
        received = Path(folder) / "results.json"
        received.write_bytes(data)
        read(received)  # raises ResultsFileError if the host sent something else
    return write_atomically(destination, data, replace=False)
