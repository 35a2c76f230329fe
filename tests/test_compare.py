"""`mpbench compare`: the statistics on synthetic runs with known truth, the gates, the outputs."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mpbench.cli import main
from mpbench.compare import (
    Comparison,
    Gate,
    Measurements,
    compare,
    compare_files,
    compare_measurements,
    parse_fail_on,
    render,
    render_json,
    render_markdown,
    render_text,
)
from mpbench.compare.comparison import Status
from mpbench.errors import MpbenchError, ResultsFileError, UsageError
from mpbench.frame import to_frame
from mpbench.model import Failure, Machine
from mpbench.storage import Results

import synthetic

QUICK = {"processes": 2, "values": 2}  # the quick profile: 2 rounds × 2 values
STANDARD = {"processes": 6, "values": 3}
NOISE = 0.05
TRIALS = 200
# Amdahl with a serial fraction of 1/19: every process executor reaches 1.9× at 2 workers.
MODEL = synthetic.amdahl(0.2, 1 / 19)
SLOWER_SCALING = synthetic.scaled(MODEL, {("py_square", "pool_map", 2): 1.9 / 1.5})


@pytest.mark.parametrize(("spec", "gate"), [
    ("time:10%", Gate(time=0.10, speedup=None)),
    ("speedup:15%", Gate(time=None, speedup=0.15)),
    ("efficiency:15%", Gate(time=None, speedup=0.15)),
    ("time:10%,speedup:5%", Gate(time=0.10, speedup=0.05)),
    (" time : 2.5% , speedup:200% ", Gate(time=0.025, speedup=2.0)),
    ("time:0%", Gate(time=0.0, speedup=None)),
    ("none", Gate(time=None, speedup=None)),
])
def test_parse_fail_on(spec: str, gate: Gate) -> None:
    assert parse_fail_on(spec) == gate


@pytest.mark.parametrize(("spec", "message"), [
    ("time10%", "write each gate as KIND:PERCENT, e.g. --fail-on time:10%"),
    ("time:10", "write each gate as KIND:PERCENT"),
    ("", "write each gate as KIND:PERCENT"),
    ("memory:10%", "unknown gate 'memory'; use time:PERCENT (same machine only) or "
                   "speedup:PERCENT (any machines), or none"),
    ("time:ten%", "the threshold must be a percentage of 0 or more, e.g. 10%"),
    ("time:-5%", "the threshold must be a percentage of 0 or more"),
    ("time:10%,time:5%", "the time gate is given twice; give each gate once"),
    ("speedup:10%,efficiency:5%", "the speedup gate is given twice"),
    ("none,time:10%", "write each gate as KIND:PERCENT"),
])
def test_malformed_fail_on_says_what_to_write(spec: str, message: str) -> None:
    with pytest.raises(UsageError) as raised:
        parse_fail_on(spec)
    assert message in str(raised.value) and "\n" not in str(raised.value)


def test_default_gate_is_ten_percent_on_both() -> None:
    assert Gate() == parse_fail_on("time:10%,speedup:10%")
    assert Gate().describe() == "time:10%, speedup:10%"


# The experiments: many file pairs made straight as frames, so no pyperf file is written.

Template = tuple[Machine, pd.DataFrame, np.ndarray, np.ndarray]


@pytest.fixture(scope="module", params=[QUICK, STANDARD], ids=["quick", "standard"])
def template(request: pytest.FixtureRequest) -> Template:
    """The suite's 68 scenarios in one regime, each value's noiseless time, and that of the
    baseline call paired with it."""
    result = synthetic.results(synthetic.suite_plan(), MODEL, seed=3, noise=NOISE,
                               **request.param)
    frame = to_frame([result])
    return (result.machine, frame, synthetic.true_seconds(frame, MODEL),
            synthetic.true_baseline_seconds(frame, MODEL))


def _pair(machine: Machine, frame: pd.DataFrame, base: tuple[np.ndarray, np.ndarray],
          head: tuple[np.ndarray, np.ndarray], rng: np.random.Generator,
          gate: Gate | None = None) -> Comparison:
    return compare_measurements(
        Measurements("BASE", machine, synthetic.renoised(frame, *base, rng, noise=NOISE)),
        Measurements("HEAD", machine, synthetic.renoised(frame, *head, rng, noise=NOISE)),
        gate or Gate())


def test_false_alarms_on_pairs_from_one_distribution(template: Template) -> None:
    """200 pairs, 68 scenarios each, 5 % noise: the gate may trip on at most 10 % of pairs
    (quick: two visits a scenario, so each variance rests on 2 visit means; standard 1 %).

    Measured over 1,000 pairs: quick 8.0 %, standard 0.2 %.
    """
    machine, frame, seconds, baseline = template
    rng = np.random.default_rng(2026)
    tripped = sum(bool(_pair(machine, frame, (seconds, baseline), (seconds, baseline),
                             rng).trips) for _ in range(TRIALS))
    quick = frame["process"].max() < 5
    assert tripped <= (0.10 if quick else 0.01) * TRIALS


def test_a_twenty_percent_slowdown_is_caught(template: Template) -> None:
    """One scenario 20 % slower, in turn each of the 68, same noise: caught in ≥ 60 % of trials
    with quick's four values, ≥ 95 % with standard.

    Measured over 1,000 trials: quick 71.0 %, standard 100 %.
    """
    machine, frame, seconds, baseline = template
    ids = list(dict.fromkeys(frame["scenario"]))
    trials = TRIALS if frame["process"].max() < 5 else 2 * len(ids)  # standard is never close
    rng = np.random.default_rng(7)
    caught = 0
    for trial in range(trials):
        slowed = ids[trial % len(ids)]
        head = seconds * np.where(frame["scenario"] == slowed, 1.2, 1.0)
        # a slower serial kernel also slows the baseline calls paired with its kernel's others
        kernel, executor = slowed.split("/")[:2]
        head_baseline = baseline * np.where(
            (frame["kernel"] == kernel) & (executor == "serial"), 1.2, 1.0)
        comparison = _pair(machine, frame, (seconds, baseline), (head, head_baseline), rng)
        caught += any(item.id == slowed for item in comparison.trips)
    assert caught >= (0.60 if frame["process"].max() < 5 else 0.95) * trials


def test_different_sample_counts_compare_fairly() -> None:
    """BASE standard (6 processes × 3), HEAD quick (1 × 5): no false trip, a real one found."""
    plan = synthetic.plan(["py_square", "py_count"], ["threads", "pool_map", "process_pool"],
                          [1, 2])
    base = synthetic.results(plan, MODEL, seed=11, noise=NOISE, **STANDARD)
    same = synthetic.results(plan, MODEL, seed=12, noise=NOISE, **QUICK)
    slower = synthetic.results(plan, synthetic.scaled(MODEL, {("py_count", "serial", 1): 1.3}),
                               seed=12, noise=NOISE, **QUICK)
    assert compare(base, same).trips == []
    assert [(item.id, item.gates) for item in compare(base, slower).trips] == [
        ("py_count/serial/w1@3.11", ("time",))]


def _scaling_pair(**head_machine: object) -> tuple[Results, Results]:
    plan = synthetic.plan(["py_square", "np_count"], ["threads", "pool_map"], [1, 2])
    base = synthetic.results(plan, MODEL, seed=1, noise=0.03, **QUICK)
    head = synthetic.results(plan, SLOWER_SCALING, seed=2, noise=0.03, **QUICK,
                             the_machine=synthetic.machine(**head_machine))
    return base, head


def test_worse_scaling_with_serial_unchanged_trips_the_scaling_gate_only() -> None:
    base, head = _scaling_pair()
    comparison = compare(base, head)
    assert comparison.exit_code == 1
    [item] = comparison.trips
    assert (item.id, item.gates, item.verdict) == (
        "py_square/pool_map/w2/fork@3.11", ("speedup",), "slower, scales worse")
    assert item.speedup is not None and item.time is not None
    assert round(item.speedup.base, 1) == 1.9 and round(item.speedup.head, 1) == 1.5
    assert item.speedup.low < item.speedup.ratio < item.speedup.high < 1
    assert render_text(comparison).startswith(
        "FAIL: 1 regression beyond time:10%, speedup:10%: py_square/pool_map/w2/fork@3.11 scales "
        "worse (1.87× → 1.52×)\n")
    # With the time gate alone, the same slowdown is a time regression.
    assert [item.gates for item in compare(base, head, parse_fail_on("time:10%")).trips] == [
        ("time",)]
    assert compare(base, head, parse_fail_on("speedup:50%")).exit_code == 0


def test_between_machines_only_the_scaling_gate_applies() -> None:
    base, head = _scaling_pair(name="other", hostname="runner-7", cpu_model="Other CPU")
    comparison = compare(base, head)
    assert not comparison.same_machine
    assert comparison.differences == ("hostname: golden-2cpu ≠ runner-7",
                                      "cpu_model: Example CPU @ 3.0GHz ≠ Other CPU")
    assert [(item.id, item.gates) for item in comparison.trips] == [
        ("py_square/pool_map/w2/fork@3.11", ("speedup",))]
    assert all(item.time is None for item in comparison.scenarios)
    text = render_text(comparison)
    assert "; time gate skipped: different machines or interpreters\n" in \
        text.splitlines()[0] + "\n"
    assert ("different machines or interpreters (hostname: golden-2cpu ≠ runner-7; cpu_model: "
            "Example CPU @ 3.0GHz ≠ Other CPU): times do not compare, so the time gate is "
            "skipped and only the speedup gate applies") in text
    assert "time gate skipped" in render_markdown(comparison).splitlines()[0]


def test_between_machines_a_uniformly_slower_machine_passes() -> None:
    plan = synthetic.suite_plan()
    base = synthetic.results(plan, MODEL, seed=5, noise=NOISE, **QUICK)
    head = synthetic.results(plan, synthetic.amdahl(0.3, 1 / 19), seed=6, noise=NOISE, **QUICK,
                             the_machine=synthetic.machine("slow", cpu_model="Slow CPU"))
    comparison = compare(base, head)
    assert comparison.exit_code == 0
    assert comparison.tests == 64  # speedups only: 68 scenarios less 4 serial baselines


def test_a_regression_on_a_busy_machine_says_so() -> None:
    base, head = _scaling_pair()
    synthetic.contended(head, ["py_square/pool_map/w2/fork@3.11"])
    comparison = compare(base, head)
    [item] = comparison.trips
    assert item.contended == ("HEAD",)
    assert "(⚠ timed on a busy machine: HEAD)" in render_text(comparison).splitlines()[0]
    assert "slower, scales worse ⚠ HEAD |" in render_markdown(comparison)
    assert "⚠ HEAD: 1 scenario timed while other processes loaded the machine" in \
        render_text(comparison)


def test_new_missing_and_not_comparable_scenarios() -> None:
    plan = synthetic.plan(["py_square", "np_count"], ["pool_map"], [1, 2])
    gone = synthetic.scenario("np_count", "pool_map", 2)
    added = synthetic.scenario("py_square", "threads", 2)
    edited = synthetic.scenario("py_square", "pool_map", 2, size=2000)
    base = synthetic.results(plan, MODEL, seed=1, **QUICK)
    head_plan = [edited if item.id == edited.id else item for item in plan] + [added]
    head = synthetic.results(head_plan, MODEL, seed=2, failures=[(gone, "ValueError: boom")],
                             **QUICK)
    comparison = compare(base, head)
    verdicts = {item.id: (item.verdict, item.reason) for item in comparison.scenarios}
    # a scenario that HEAD broke trips a gate: a failing kernel must not pass CI
    assert verdicts["np_count/pool_map/w2/fork@3.11"] == ("failed",
                                                          "failed in HEAD: ValueError: boom")
    assert [item.id for item in comparison.trips] == ["np_count/pool_map/w2/fork@3.11"]
    assert comparison.exit_code == 1
    assert "np_count/pool_map/w2/fork@3.11 failed in HEAD: ValueError: boom" in \
        render_text(comparison)
    assert verdicts["py_square/threads/w2@3.11"] == ("new", "not measured in BASE")
    assert verdicts["py_square/pool_map/w2/fork@3.11"] == (
        "not comparable", "size differs: 1000 in BASE, 2000 in HEAD")
    assert verdicts["py_square/serial/w1@3.11"] == ("same", "")


def test_markdown_puts_the_verdict_on_top_and_the_worst_first() -> None:
    plan = synthetic.suite_plan()
    head_model = synthetic.scaled(MODEL, {("py_count", "serial", 1): 1.15,
                                          ("np_square", "pool_async", 2): 1.5})
    base = synthetic.results(plan, MODEL, seed=21, noise=0.02, **QUICK)
    head = synthetic.results(plan, head_model, seed=22, noise=0.02, **QUICK)
    comparison = compare(base, head)
    markdown = render_markdown(comparison)
    lines = markdown.splitlines()
    assert lines[0] == (
        "### ❌ mpbench: 2 regressions beyond time:10%, speedup:10%: "
        "np_square/pool_async/w2/fork@3.11 scales worse (1.91× → 1.24×), "
        "py_count/serial/w1@3.11 1.13× slower")
    rows = [line for line in lines if line.startswith("| ")]
    assert rows[0] == ("| gate | scenario | BASE | HEAD | HEAD/BASE \\[95% CI\\] | "
                       "speedup BASE → HEAD | verdict |")
    assert rows[1].startswith("| ✗ speedup | `np_square/pool_async/w2/fork@3.11` |")
    assert rows[2].startswith("| ✗ time | `py_count/serial/w1@3.11` |")
    assert "<details><summary>" in markdown and markdown.rstrip().endswith("</details>")
    assert markdown.count("`py_square/serial/w1@3.11`") == 1


def test_markdown_shows_file_contents_as_text() -> None:
    base, head = _scaling_pair()
    failing = synthetic.scenario("py_square", "pool_async", 2)
    head.plan.append(failing)
    base.benchmarks.append(synthetic.benchmark(failing, 0.1, synthetic.random.Random(1)))
    head.failures.append(Failure(failing, "<script>x</script> | *boom* &amp; \\|\n"))
    markdown = render_markdown(compare(base, head))
    assert "\\<script\\>x\\</script\\> \\| \\*boom\\* \\&amp; \\\\\\| )" in markdown
    assert "<script>" not in markdown
    row = next(line for line in markdown.splitlines() if "boom" in line and line.startswith("|"))
    assert row.count("|") - row.count("\\|") == 8  # the table stays 7 columns


def test_json_is_complete_and_strict() -> None:
    base, head = _scaling_pair()
    data = json.loads(render_json(compare(base, head)))
    assert data["failed"] is True and data["same_machine"] is True
    assert data["gate"] == {"time": 0.1, "speedup": 0.1}
    first = data["scenarios"][0]
    assert first["id"] == "py_square/pool_map/w2/fork@3.11" and first["gates"] == ["speedup"]
    assert set(first["speedup"]) == {"base", "head", "ratio", "low", "high", "p_value",
                                     "regressed", "improved", "contended"}
    serial = next(item for item in data["scenarios"] if item["id"] == "py_square/serial/w1@3.11")
    assert serial["speedup"] is None and serial["time"]["regressed"] is False


def test_one_value_per_scenario_cannot_be_significant() -> None:
    plan = synthetic.plan(["py_square"], ["pool_map"], [1, 2])
    base = synthetic.results(plan, MODEL, seed=1, processes=1, values=1)
    head = synthetic.results(plan, synthetic.amdahl(0.4, 0.5), seed=2, processes=1, values=1)
    comparison = compare(base, head)
    assert comparison.exit_code == 0
    assert {item.verdict for item in comparison.scenarios} == {"same"}
    assert comparison.notes[0].startswith("too few values to test anything")


def test_gate_none_reports_without_failing() -> None:
    base, head = _scaling_pair()
    comparison = compare(base, head, parse_fail_on("none"))
    assert comparison.exit_code == 0
    assert render_text(comparison).startswith("OK: no gate set; 10 scenarios compared\n")


@pytest.fixture
def pair_files(tmp_path: Path) -> tuple[Path, Path]:
    base, head = _scaling_pair()
    return (synthetic.write(base, tmp_path / "base.json"),
            synthetic.write(head, tmp_path / "head.json"))


def test_compare_files_reads_and_gates(pair_files: tuple[Path, Path]) -> None:
    comparison = compare_files(*pair_files, fail_on=["time:10%", "speedup:10%"])
    assert comparison.exit_code == 1
    assert comparison.base == str(pair_files[0])
    text = render(comparison, "text")
    assert text.splitlines()[1] == (
        f"BASE {pair_files[0]} (commit 0123456789) against HEAD {pair_files[1]} "
        "(commit 0123456789)")


def _bad_inputs(tmp_path: Path) -> list[tuple[list[str], type[MpbenchError], str]]:
    good = synthetic.write(synthetic.results(synthetic.plan(["py_square"], [], [1]), MODEL),
                           tmp_path / "good.json")
    other = synthetic.write(synthetic.results(synthetic.plan(["np_count"], [], [1]), MODEL),
                            tmp_path / "other.json")
    not_pyperf = tmp_path / "data.json"
    not_pyperf.write_text('{"rows": []}')
    nothing = synthetic.write(synthetic.results(
        [], MODEL, failures=[(synthetic.scenario("py_square", "serial", 1), "killed")]),
        tmp_path / "nothing.json")
    not_json = tmp_path / "notes.json"
    not_json.write_text("{oops")
    return [
        ([str(tmp_path / "nope.json"), str(good)], ResultsFileError,
         f"{tmp_path / 'nope.json'} does not exist"),
        ([str(not_pyperf), str(good)], ResultsFileError,
         f"{not_pyperf} is JSON but not a pyperf results file"),
        ([str(good), str(not_json)], ResultsFileError,
         f"{not_json} is not valid JSON (Expecting property name enclosed in double quotes at "
         "line 1); is it a results file from `mpbench run`?"),
        ([str(good), str(other)], UsageError,
         f"{good} and {other} have no measured scenario in common; compare two runs made with "
         "the same kernels and -k selection"),
        ([str(good), str(nothing)], UsageError,
         f"{good} and {nothing} have no measured scenario in common"),
        ([str(good), str(good), "--fail-on", "time:10"], UsageError,
         "--fail-on 'time:10': write each gate as KIND:PERCENT"),
    ]


def test_every_bad_input_is_one_line_that_says_what_to_do(tmp_path: Path) -> None:
    for argv, error, message in _bad_inputs(tmp_path):
        fail_on = argv[3:] if "--fail-on" in argv else []
        with pytest.raises(error) as raised:
            compare_files(Path(argv[0]), Path(argv[1]), fail_on)
        assert str(raised.value).startswith(message) and "\n" not in str(raised.value)
    with pytest.raises(UsageError, match=r"--format 'html': choose from text, md, json"):
        render(compare_files(tmp_path / "good.json", tmp_path / "good.json"), "html")


def test_cli_exit_codes_and_formats(capsys: pytest.CaptureFixture[str],
                                    pair_files: tuple[Path, Path]) -> None:
    base, head = map(str, pair_files)
    assert main(["compare", base, head]) == 1
    assert capsys.readouterr().out.startswith("FAIL: 1 regression beyond time:10%, speedup:10%")
    assert main(["compare", base, base, "--format", "md"]) == 0
    assert capsys.readouterr().out.startswith("### ✅ mpbench: no regression beyond")
    assert main(["compare", base, head, "--fail-on", "time:10%", "--fail-on", "speedup:50%",
                 "--format", "json"]) == 1
    assert json.loads(capsys.readouterr().out)["gate"] == {"time": 0.1, "speedup": 0.5}


def test_cli_bad_input_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str],
                                              tmp_path: Path) -> None:
    for argv, _, message in _bad_inputs(tmp_path):
        assert main(["compare", *argv]) == 2
        captured = capsys.readouterr()
        assert captured.out == "" and captured.err.startswith(f"error: {message}")
        assert captured.err.count("\n") == 1


def test_runs_that_saw_different_machine_states_say_so() -> None:
    from mpbench.model import RoundRecord

    base, head = _scaling_pair()
    same = compare(base, head)
    assert not [note for note in same.notes if "in all but name" in note]
    head.rounds = [RoundRecord(index, "2026-11-01T12:00:00+00:00", 8, single_core_ms=9.0,
                               effective_cores=1.4) for index in range(2)]
    notes = [note for note in compare(base, head).notes if "in all but name" in note]
    assert notes == ["⚠ BASE and HEAD saw different machines in all but name (effective cores "
                     "1.90 in BASE, 1.40 in HEAD): speedups and times can differ for that "
                     "reason alone"]


def test_runs_under_two_interpreters_line_up_like_two_machines() -> None:
    plan_311 = synthetic.plan(["py_square"], ["pool_map"], [1, 2])
    plan_313 = synthetic.plan(["py_square"], ["pool_map"], [1, 2], interpreters=("3.13",))
    base = synthetic.results(plan_311, MODEL, seed=31, **QUICK)
    head = synthetic.results(plan_313, MODEL, seed=32, **QUICK)
    comparison = compare(base, head)
    assert {item.id for item in comparison.scenarios} == {
        "py_square/serial/w1", "py_square/pool_map/w1/fork", "py_square/pool_map/w2/fork"}
    assert comparison.differences == ("interpreter: 3.11 ≠ 3.13",)
    assert comparison.exit_code == 0


def test_another_patch_release_or_gil_behind_the_same_tag_gates_speedups_only() -> None:
    plan = synthetic.plan(["py_square"], ["pool_map"], [1, 2])
    base = synthetic.results(plan, MODEL, seed=41, **QUICK)
    head = synthetic.results(plan, MODEL, seed=42, **QUICK)
    head.interpreters = [dataclasses.replace(head.interpreters[0], version="3.11.9")]
    head.options = dataclasses.replace(
        head.options, matrix=dataclasses.replace(head.options.matrix, gil=1))
    comparison = compare(base, head)
    assert comparison.differences == ("3.11: 3.11.7 ≠ 3.11.9", "--gil: None ≠ 1")
    assert all(item.time is None for item in comparison.scenarios)


def _with_result(results: Results, value: str, *ids: str) -> Results:
    """`results` with the kernel's recorded result of scenarios `ids` replaced by `value`."""
    return _with_metadata(results, {"result": value}, *ids)


def _with_metadata(results: Results, metadata: dict[str, str], *ids: str) -> Results:
    """`results` with run metadata of scenarios `ids` (all, when none is named) changed."""
    import pyperf

    for index, bench in enumerate(results.benchmarks):
        if bench.get_name() in ids or not ids:
            results.benchmarks[index] = pyperf.Benchmark([
                pyperf.Run(run.values, warmups=run.warmups, collect_metadata=False,
                           metadata={**run.get_metadata(), **metadata})
                for run in bench.get_runs()])
    return results


def test_times_on_other_cpus_of_one_machine_are_not_compared() -> None:
    plan = synthetic.plan(["py_square"], ["pool_map"], [2])
    base = _with_metadata(synthetic.results(plan, MODEL, seed=57, **QUICK), {"cpus": "0-1"})
    head = _with_metadata(synthetic.results(plan, MODEL, seed=58, **QUICK), {"cpus": "0"})
    verdicts = {item.id: (item.verdict, item.reason) for item in compare(base, head).scenarios}
    assert verdicts["py_square/pool_map/w2/fork@3.11"] == (
        "not comparable", "run on CPUs 0-1 in BASE, 0 in HEAD")
    elsewhere = dataclasses.replace(head, machine=dataclasses.replace(
        head.machine, hostname="other"))
    across = {item.id: item.reason for item in compare(base, elsewhere).scenarios}
    assert not across["py_square/pool_map/w2/fork@3.11"].startswith("run on CPUs")


def test_a_kernel_wrong_when_split_trips_the_gate_with_both_values() -> None:
    plan = synthetic.plan(["py_square"], ["pool_map"], [1, 2])
    base = synthetic.results(plan, MODEL, seed=51, **QUICK)
    head = _with_result(synthetic.results(plan, MODEL, seed=52, **QUICK), "999",
                        "py_square/pool_map/w2/fork@3.11")
    comparison = compare(base, head, parse_fail_on("none"))
    first = comparison.scenarios[0]
    assert (first.id, first.status, first.gates) == (
        "py_square/pool_map/w2/fork@3.11", Status.WRONG_RESULT, ("result",))
    assert first.reason == "computed 999, HEAD's serial run 12345"
    assert comparison.exit_code == 1
    assert render_text(comparison).startswith(
        "FAIL: 1 regression beyond none: py_square/pool_map/w2/fork@3.11 computed 999, "
        "HEAD's serial run 12345")


def test_a_result_that_changed_since_base_trips_the_gate_even_if_consistent() -> None:
    plan = synthetic.plan(["py_square"], ["pool_map"], [2])
    base = synthetic.results(plan, MODEL, seed=53, **QUICK)
    head = _with_result(synthetic.results(plan, MODEL, seed=54, **QUICK), "999",
                        *(item.id for item in plan))
    reasons = {item.id: item.reason for item in compare(base, head).trips}
    assert reasons == {"py_square/serial/w1@3.11": "computed 999, BASE computed 12345",
                       "py_square/pool_map/w2/fork@3.11": "computed 999, BASE computed 12345"}


def test_weak_scaling_must_compute_its_copies_of_the_serial_range() -> None:
    plan = [item if item.executor == "serial" else dataclasses.replace(item, scaling="weak")
            for item in synthetic.plan(["py_square"], ["pool_map"], [2])]
    weak = f"py_square/pool_map/w2/fork/weak@{plan[0].interpreter}"
    assert plan[1].id == weak
    base = _with_result(synthetic.results(plan, MODEL, seed=55, **QUICK), "24690", weak)
    head = _with_result(synthetic.results(plan, MODEL, seed=56, **QUICK), "24690", weak)
    assert compare(base, head).trips == []
    broken = _with_result(synthetic.results(plan, MODEL, seed=56, **QUICK), "999", weak)
    assert {item.id: item.reason for item in compare(base, broken).trips} == {
        weak: "computed 999, 2 × HEAD's serial run 12345"}


def test_comparing_nothing_fails_and_says_why() -> None:
    plan = synthetic.plan(["py_square"], ["pool_map"], [1, 2])
    changed = [dataclasses.replace(item, kernel_hash="edited") for item in plan]
    base = synthetic.results(plan, MODEL, seed=61, **QUICK)
    head = synthetic.results(changed, MODEL, seed=62, **QUICK)
    comparison = compare(base, head)
    assert comparison.exit_code == 1 and comparison.compared == []
    reason = next(item.reason for item in comparison.scenarios)
    assert render_text(comparison).splitlines()[0] == (
        "FAIL: nothing compared: none of the 3 scenarios of BASE could be tested against HEAD "
        f"(3× {reason})")
    assert render_markdown(comparison).startswith("### ❌ mpbench: nothing compared")
    assert json.loads(render_json(comparison))["failed"] is True


def test_comparing_less_than_half_of_base_says_so_loudly() -> None:
    plan = synthetic.plan(["py_square", "py_count"], ["pool_map"], [1, 2])
    changed = [dataclasses.replace(item, kernel_hash="edited")
               if item.kernel == "py_count" or item.workers == 2 else item for item in plan]
    base = synthetic.results(plan, MODEL, seed=63, **QUICK)
    head = synthetic.results(changed, MODEL, seed=64, **QUICK)
    comparison = compare(base, head)
    assert len(comparison.compared) == 2 and comparison.exit_code == 0
    assert "; ⚠ only 2 of 6 BASE scenarios compared (3× kernel sourc" in render_text(comparison)
