"""The GitHub workflow teams copy: valid for GitHub, and its shell steps do what they say."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from ruamel.yaml import YAML

from mpbench.cli import build_parser

from conftest import ROOT

WORKFLOW = ROOT / ".github" / "workflows" / "benchmarks.yml"


@pytest.fixture(scope="module")
def workflow() -> dict[str, Any]:
    data: dict[str, Any] = YAML(typ="safe").load(WORKFLOW.read_text())
    return data


def _steps(workflow: dict[str, Any]) -> dict[str, dict[str, Any]]:
    [job] = workflow["jobs"].values()
    return {step.get("name", step.get("uses")): step for step in job["steps"]}


def test_the_schema_github_uses_accepts_it() -> None:
    assert importlib.util.find_spec("check_jsonschema"), \
        "pip install check-jsonschema (it is in the test extra)"
    checked = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows",
         str(WORKFLOW)], capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_one_job_measures_both_sides_then_gates(workflow: dict[str, Any]) -> None:
    assert list(workflow["on"]) == ["pull_request"]
    assert workflow["permissions"] == {"contents": "read"}
    steps = _steps(workflow)
    assert list(steps) == [
        "Check out the pull request", "Check out its base beside it", "actions/setup-python@v5",
        "Install each side in its own environment", "Measure the base, then the pull request",
        "Compare", "Report", "Upload results, comparison and report", "Fail on a regression"]
    assert workflow["env"]["PROFILE"] == "quick"
    assert "for side in base head; do" in steps["Measure the base, then the pull request"]["run"]
    assert '>> "$GITHUB_STEP_SUMMARY"' in steps["Compare"]["run"]
    upload = steps["Upload results, comparison and report"]
    assert upload["uses"] == "actions/upload-artifact@v4"
    assert upload["if"] == "${{ !cancelled() }}"
    assert steps["Fail on a regression"]["if"] == "${{ steps.compare.outputs.status == '1' }}"
    # untrusted event fields reach the shell only through the environment
    assert "${{" not in "".join(step.get("run", "") for step in steps.values())


def _invocations(workflow: dict[str, Any]) -> list[list[str]]:
    """Every `…/bin/mpbench ARGS` in the run scripts, as the argument list after `mpbench`."""
    found = []
    for step in _steps(workflow).values():
        script = step.get("run", "").replace("\\\n", " ")
        for line in script.splitlines():
            lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
            lexer.whitespace_split = True
            words = list(lexer)
            for index, word in enumerate(words):
                if word.endswith("/bin/mpbench"):
                    rest = words[index + 1:]
                    ends = [n for n, item in enumerate(rest) if item in (">", ")", "||", "&&")]
                    found.append(rest[: ends[0]] if ends else rest)
    return found


def test_every_mpbench_command_line_parses(workflow: dict[str, Any]) -> None:
    invocations = _invocations(workflow)
    assert [words[0] for words in invocations] == ["run", "compare", "report"]
    assert invocations[0][:3] == ["run", "--profile", "$PROFILE"]
    missing = []
    for words in invocations:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            try:
                build_parser().parse_args([word.replace("$PROFILE", "quick") for word in words])
            except SystemExit:  # argparse says no: is the command there at all?
                try:
                    build_parser().parse_args([words[0], "--help"])
                except SystemExit as exited:
                    assert exited.code != 0, f"bad options for mpbench {' '.join(words)}"
                missing.append(words[0])
    if missing:
        pytest.skip(f"cli.py has no {' or '.join(missing)} command yet")


class Ran(NamedTuple):
    code: int
    files: dict[str, str]  # what the step wrote to the summary and output files
    output: str  # its stdout and stderr


def _run_step(workflow: dict[str, Any], name: str, tmp_path: Path, shim: str | None = None,
              env: dict[str, str] | None = None) -> Ran:
    """Run a step's script as GitHub does (bash -e), with `mpbench` replaced by `shim` (if
    given), and `env` over the workflow's."""
    runner_temp = tmp_path / "runner"
    for side in ("base", "head"):
        (tmp_path / side).mkdir(exist_ok=True)
        if shim is not None:
            tool = runner_temp / f"venv-{side}" / "bin" / "mpbench"
            tool.parent.mkdir(parents=True, exist_ok=True)
            tool.write_text(f"#!/bin/bash\n{shim}\n")
            tool.chmod(0o755)
    files = {name: tmp_path / name for name in ("summary.md", "output.txt")}
    for path in files.values():
        path.touch()
    env = {**os.environ, **workflow["env"], "RUNNER_TEMP": str(runner_temp),
           "GITHUB_WORKSPACE": str(tmp_path), "RESULTS": str(tmp_path / "results"),
           "GITHUB_STEP_SUMMARY": str(files["summary.md"]),
           "GITHUB_OUTPUT": str(files["output.txt"]), **(env or {})}
    script = _steps(workflow)[name]["run"]
    done = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
                          cwd=tmp_path, env=env, capture_output=True, text=True, check=False)
    return Ran(done.returncode, {name: path.read_text() for name, path in files.items()},
               done.stdout + done.stderr)


@pytest.mark.parametrize(("run_exit", "step_exit"), [(0, 0), (1, 0), (2, 1)])
def test_measuring_tolerates_failed_scenarios_but_not_bad_usage(
        workflow: dict[str, Any], tmp_path: Path, run_exit: int, step_exit: int) -> None:
    ran = _run_step(workflow, "Measure the base, then the pull request", tmp_path,
                    f"exit {run_exit}")
    assert ran.code == step_exit


@pytest.mark.parametrize(("compare_exit", "step_exit"), [(0, 0), (1, 0), (2, 1)])
def test_compare_writes_the_summary_and_leaves_failing_to_the_last_step(
        workflow: dict[str, Any], tmp_path: Path, compare_exit: int, step_exit: int) -> None:
    shim = f'echo "### verdict for $*"; exit {compare_exit}'
    (tmp_path / "results").mkdir()
    ran = _run_step(workflow, "Compare", tmp_path, shim)
    assert ran.code == step_exit
    results = tmp_path / "results"
    assert ran.files["summary.md"] == (
        f"### verdict for compare {results}/base.json {results}/head.json "
        "--fail-on time:10%,speedup:10% --format md\n")
    assert ran.files["output.txt"] == f"status={compare_exit}\n"


INSTALL = "Install each side in its own environment"
PINNED = "mpbench @ git+https://example.org/mpbench@" + "0123456789abcdef" * 2 + "01234567"


def _install(workflow: dict[str, Any], tmp_path: Path, mpbench: str | None = None
             ) -> tuple[Ran, dict[str, list[list[str]]]]:
    """Run the install step with a fake `python` first on PATH, whose `-m venv DIR` makes a
    DIR/bin/pip that only logs its arguments; give what each side's pip was called with."""
    fakes = tmp_path / "fakes"
    (fakes / "bin").mkdir(parents=True)
    pip = fakes / "pip"  # logs each call as a line of shell words, beside its bin/
    pip.write_text('#!/bin/bash\nlog="${0%/bin/pip}/pip.log"\n'
                   'printf \'%q \' "$@" >> "$log"\necho >> "$log"\n')
    python = fakes / "bin" / "python"
    python.write_text(
        '#!/bin/bash\n'
        '[ "$1 $2" = "-m venv" ] && [ $# -eq 3 ] || { echo "fake python: $*"; exit 97; }\n'
        f'mkdir -p "$3/bin" && cp {shlex.quote(str(pip))} "$3/bin/pip"\n')
    for shim in (pip, python):
        shim.chmod(0o755)
    env = {"PATH": f"{fakes / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    ran = _run_step(workflow, INSTALL, tmp_path,
                    env=env if mpbench is None else {**env, "MPBENCH": mpbench})
    logs = {side: tmp_path / "runner" / f"venv-{side}" / "pip.log" for side in ("base", "head")}
    return ran, {side: [shlex.split(line) for line in log.read_text().splitlines()]
                 if log.exists() else [] for side, log in logs.items()}


def test_by_default_each_side_is_mpbench_itself(workflow: dict[str, Any],
                                                 tmp_path: Path) -> None:
    assert workflow["env"]["MPBENCH"] == ""
    ran, calls = _install(workflow, tmp_path)
    assert ran.code == 0, ran.output
    # each side's own checkout, and no package name for pip to look up on the index
    assert calls == {"base": [["install", "--quiet", "./base"]],
                     "head": [["install", "--quiet", "./head"]]}


def test_a_project_using_mpbench_installs_it_pinned_to_a_commit(
        workflow: dict[str, Any], tmp_path: Path) -> None:
    ran, calls = _install(workflow, tmp_path, PINNED)
    assert ran.code == 0, ran.output
    assert calls == {"base": [["install", "--quiet", PINNED, "./base"]],
                     "head": [["install", "--quiet", PINNED, "./head"]]}


def test_or_from_a_path(workflow: dict[str, Any], tmp_path: Path) -> None:
    (tmp_path / "mpbench").mkdir()
    ran, calls = _install(workflow, tmp_path, "./mpbench")
    assert ran.code == 0, ran.output
    assert calls == {"base": [["install", "--quiet", "./mpbench", "./base"]],
                     "head": [["install", "--quiet", "./mpbench", "./head"]]}


@pytest.mark.parametrize("mpbench", [
    "mpbench", "mpbench==0.1", "mpbench @ git+https://example.org/mpbench@main",
    "mpbench @ git+https://example.org/mpbench@0123456", PINNED + " ; python_version > '3'"])
def test_anything_pip_would_resolve_on_the_index_is_refused(
        workflow: dict[str, Any], tmp_path: Path, mpbench: str) -> None:
    (tmp_path / "mpbench").mkdir()  # pip looks a bare name up on the index even beside a folder
    ran, calls = _install(workflow, tmp_path, mpbench)
    assert ran.code == 1
    assert calls == {"base": [], "head": []}
    assert not (tmp_path / "runner").exists()
    assert ran.output == ("::error::MPBENCH must be empty, a path, or "
                          f'"mpbench @ git+URL@<40-hex commit>": {mpbench}\n')
