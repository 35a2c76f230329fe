"""Reports from the golden files: Markdown snapshots, HTML structure, escaping, and the CLI."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from markupsafe import escape

from mpbench import report
from mpbench.costs import store
from mpbench.costs.advice import break_even_table, figures_tables, sentences
from mpbench.costs.figures import CostSummary, summarize
from mpbench.report import html as html_report
from mpbench.report import markdown
from mpbench.storage import is_costs_file, read

from conftest import DATA, assert_snapshot
from test_cli import run_cli

HOSTILE = DATA / "golden-hostile.json"
COSTS = DATA / "golden-costs.json"
FIXED_DATE = "2026-11-01 12:00 UTC by mpbench (test)"
COSTS_PLOTS = [f"costs-{kind}-golden-costs" for kind in
               ("startup", "dispatch", "round-trip", "break-even")]


def build(*paths: Path) -> report.Report:
    return report.build([store.read(path) if is_costs_file(path) else read(path)
                         for path in paths], generated=FIXED_DATE)


def costs_summary() -> CostSummary:
    return summarize(store.read(COSTS))


def costs_titles() -> list[str]:
    """The titles of every table a costs section holds: its machine's, then advice's."""
    summary = costs_summary()
    return ["Facts recorded with the costs file",
            *(table.title for table in figures_tables(summary)), break_even_table(summary).title]


def test_markdown_report_snapshot(golden_2cpu: Path, golden_8cpu: Path) -> None:
    text = markdown.render(build(golden_2cpu, golden_8cpu), "report_files")
    assert_snapshot(text.replace(str(DATA) + "/", ""), "report-2cpu-8cpu.md")


def test_markdown_writes_png_and_svg_beside_the_page(golden_2cpu: Path, tmp_path: Path) -> None:
    written = report.write(build(golden_2cpu), tmp_path / "report.md")
    names = sorted(p.name for p in written[1:])
    assert names == sorted(f"{kind}-golden-2cpu.{suffix}" for kind in
                           ("speedup", "efficiency", "startup") for suffix in ("png", "svg"))
    page = (tmp_path / "report.md").read_text()
    for image in re.findall(r"\]\((report_files/[^)]+)\)", page):
        assert (tmp_path / image).stat().st_size > 1000


def test_html_report_has_every_section(golden_2cpu: Path, golden_8cpu: Path) -> None:
    page = html_report.render(build(golden_2cpu, golden_8cpu))
    for section in ('id="machines"', 'id="section-1"', 'id="section-2"', 'id="comparison"',
                    'id="failures"'):
        assert section in page
    for heading in ("golden-2cpu: median time and speedup over serial", "golden-8cpu: scaling fits",
                    "Scenarios side by side", "Failed scenarios", "Does the GIL stop threads?"):
        assert heading in page
    assert page.count("<img ") == 3 + 3 + 1
    assert all(src.startswith("data:image/png;base64,")
               for src in re.findall(r'<img src="([^"]+)"', page))
    assert "http://" not in page and "https://" not in page and "<script" not in page


def test_html_lists_every_failure_escaped(golden_2cpu: Path) -> None:
    page = html_report.render(build(golden_2cpu))
    failures = page[page.index('id="failures"'):]
    assert "py_square/process_queue/w2/fork" in failures
    assert "ZeroDivisionError: division by zero &lt;script&gt;alert(1)&lt;/script&gt;" in failures


def test_hostile_metadata_is_inert_everywhere(tmp_path: Path) -> None:
    built = build(HOSTILE)
    page = html_report.render(built)
    assert "<script>alert" not in page and "\x1b" not in page
    assert escape("<script>alert('x')</script>") in page
    text = markdown.render(built, "files")
    assert "<script>" not in text and "\x1b" not in text
    assert "\\<script\\>" in text
    failure_row = next(line for line in text.splitlines() if "py_square/pool_map/w2" in line)
    assert failure_row.count("|") - failure_row.count("\\|") == 5  # the table stays 4 columns


def test_show_makes_hostile_strings_visible_not_active(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "show", str(HOSTILE))
    assert code == 0
    assert "\x1b" not in out
    assert "\\x1b[31mred" in out and "\\nsecond" in out


def test_report_and_export_commands(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                    golden_2cpu: Path, golden_8cpu: Path) -> None:
    code, out, err = run_cli(capsys, "report", str(golden_2cpu), str(golden_8cpu), "-o",
                             str(tmp_path / "r.html"))
    assert (code, err) == (0, "")
    assert out == f"wrote {tmp_path / 'r.html'}\n"
    code, out, _ = run_cli(capsys, "report", str(golden_2cpu), "-o", str(tmp_path / "r.md"))
    assert code == 0 and out == f"wrote {tmp_path / 'r.md'} and 6 images beside it\n"

    code, out, _ = run_cli(capsys, "export", str(golden_2cpu), "-o", str(tmp_path / "d.csv"))
    assert code == 0 and out == f"wrote 84 rows to {tmp_path / 'd.csv'}\n"
    assert len(pd.read_csv(tmp_path / "d.csv")) == 84
    code, _, _ = run_cli(capsys, "export", str(golden_2cpu), str(golden_8cpu), "-o",
                         str(tmp_path / "d.parquet"))
    frame = pd.read_parquet(tmp_path / "d.parquet")
    assert code == 0 and set(frame["machine"]) == {"golden-2cpu", "golden-8cpu"}


@pytest.mark.parametrize(("argv", "message"), [
    (["report", "missing.json", "-o", "r.html"], "error: missing.json does not exist\n"),
    (["report", "GOLDEN", "-o", "r.pdf"], "error: -o r.pdf: a report is .html or .md\n"),
    (["export", "GOLDEN", "-o", "d.xlsx"], "error: -o d.xlsx: export writes .csv or .parquet\n"),
    (["report", "GOLDEN"], "error: the following arguments are required: -o/--output"),
])
def test_report_and_export_errors(capsys: pytest.CaptureFixture[str],
                                  monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                  golden_2cpu: Path, argv: list[str], message: str) -> None:
    monkeypatch.chdir(tmp_path)
    argv = [str(golden_2cpu) if arg == "GOLDEN" else arg for arg in argv]
    code, out, err = run_cli(capsys, *argv)
    assert (code, out) == (2, "")
    assert err.startswith(message) and err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_the_markdown_title_is_escaped_too(tmp_path: Path) -> None:
    import synthetic

    plan = synthetic.plan(["py_square"], ["pool_map"], [1, 2])
    hostile = synthetic.results(plan, synthetic.amdahl(0.2, 0.05),
                                the_machine=synthetic.machine(name="<b>box</b>\x1b[31m"))
    path = synthetic.write(hostile, tmp_path / "hostile.json")
    title = markdown.render(build(path), "files").splitlines()[0]
    assert title == "# mpbench report: \\<b\\>box\\</b\\>\\\\x1b\\[31m"  # shown, inert


def test_html_of_a_costs_file_alone(golden_2cpu: Path) -> None:
    page = html_report.render(build(COSTS))
    assert 'id="costs-1"' in page and 'id="failures"' in page
    assert 'id="machines"' not in page and 'id="section-1"' not in page  # no run, no run parts
    costs = page[page.index('id="costs-1"'):page.index('id="failures"')]
    assert all(f"<caption>{escape(title)}</caption>" in costs for title in costs_titles())
    assert all(f"<li>{escape(sentence)}</li>" in costs for sentence in sentences(costs_summary()))
    assert "Example CPU @ 3.0GHz" in costs and "fork, spawn, forkserver" in costs
    assert costs.count("<img ") == len(COSTS_PLOTS)
    assert all(src.startswith("data:image/png;base64,")
               for src in re.findall(r'<img src="([^"]+)"', page))
    failures = page[page.index('id="failures"'):]
    assert "costs/shared/queue/w1/fork" in failures and "synthetic failure" in failures
    assert "http://" not in page and "https://" not in page and "<script" not in page


def test_html_of_a_run_and_a_costs_file(golden_2cpu: Path) -> None:
    page = html_report.render(build(golden_2cpu, COSTS))
    for section in ('id="machines"', 'id="section-1"', 'id="costs-1"', 'id="failures"'):
        assert section in page
    assert 'id="comparison"' not in page  # one run: nothing to compare
    assert page.index('id="section-1"') < page.index('id="costs-1"')
    machines = page[page.index('id="machines"'):page.index('id="section-1"')]
    assert "golden-2cpu" in machines and "golden-costs" not in machines  # runs only
    assert page.count("<img ") == 3 + len(COSTS_PLOTS)
    assert all(f"<caption>{escape(title)}</caption>" in page for title in costs_titles())
    failures = page[page.index('id="failures"'):]
    assert "py_square/process_queue/w2/fork" in failures
    assert "costs/shared/queue/w1/fork" in failures
    assert "<title>mpbench report: golden-2cpu, costs on golden-costs</title>" in page


def test_markdown_of_a_costs_file_alone(tmp_path: Path) -> None:
    written = report.write(build(COSTS), tmp_path / "report.md")
    assert sorted(p.name for p in written[1:]) == sorted(
        f"{name}.{suffix}" for name in COSTS_PLOTS for suffix in ("png", "svg"))
    page = (tmp_path / "report.md").read_text()
    assert "## costs on golden-costs" in page and "Facts recorded with each" not in page
    assert all(f"**{markdown.markdown_escape(title)}**" in page for title in costs_titles())
    assert all(f"- {markdown.markdown_escape(sentence)}" in page
               for sentence in sentences(costs_summary()))
    images = re.findall(r"\]\((report_files/[^)]+)\)", page)
    assert images == [f"report_files/{name}.png" for name in COSTS_PLOTS]
    assert all((tmp_path / image).stat().st_size > 1000 for image in images)
    assert "| costs on golden-costs | costs/shared/queue/w1/fork |" in page


def test_markdown_of_a_run_and_a_costs_file(golden_2cpu: Path, tmp_path: Path) -> None:
    written = report.write(build(golden_2cpu, COSTS), tmp_path / "report.md")
    assert len(written) == 1 + 2 * (3 + len(COSTS_PLOTS))
    page = (tmp_path / "report.md").read_text()
    assert page.index("## golden-2cpu") < page.index("## costs on golden-costs") \
        < page.index("## Failed scenarios")
    assert "**Facts recorded with each results file**" in page
    assert all(f"**{markdown.markdown_escape(title)}**" in page for title in costs_titles())
    for image in re.findall(r"\]\((report_files/[^)]+)\)", page):
        assert (tmp_path / image).stat().st_size > 1000


def test_an_interrupted_costs_file_says_what_never_ran(tmp_path: Path) -> None:
    import synthetic

    partial = synthetic.costs_results()
    partial.benchmarks = partial.benchmarks[:-5]
    built = build(synthetic.write_costs(partial, tmp_path / "partial.json"))
    assert built.unfinished == ["costs on golden-costs: 5 planned probes never ran "
                                "(interrupted run)"]
    assert built.unfinished[0] in markdown.render(built, "files")


def test_strings_from_a_costs_file_are_inert(tmp_path: Path) -> None:
    import synthetic

    hostile = synthetic.costs_results(the_machine=synthetic.machine(name="<b>box</b>\x1b[31m"))
    built = build(synthetic.write_costs(hostile, tmp_path / "hostile.json"))
    page = html_report.render(built)
    assert "<b>box" not in page and "\x1b" not in page and escape("<b>box</b>") in page
    text = markdown.render(built, "files")
    assert "<b>" not in text and "## costs on \\<b\\>box\\</b\\>\\\\x1b\\[31m" in text
    assert built.costs[0].plots[0].name == "costs-startup-b-box-b-31m"


def test_report_command_reads_costs_files(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                          golden_2cpu: Path) -> None:
    code, out, err = run_cli(capsys, "report", str(COSTS), "-o", str(tmp_path / "c.md"))
    assert (code, err) == (0, "")
    assert out == f"wrote {tmp_path / 'c.md'} and 8 images beside it\n"
    code, out, err = run_cli(capsys, "report", str(golden_2cpu), str(COSTS), "-o",
                             str(tmp_path / "both.html"))
    assert (code, out, err) == (0, f"wrote {tmp_path / 'both.html'}\n", "")
    assert 'id="costs-1"' in (tmp_path / "both.html").read_text()


def test_report_refuses_only_when_nothing_was_measured(capsys: pytest.CaptureFixture[str],
                                                       tmp_path: Path) -> None:
    import synthetic

    empty = synthetic.costs_results()
    empty.benchmarks = []
    path = synthetic.write_costs(empty, tmp_path / "empty.json")
    code, out, err = run_cli(capsys, "report", str(path), "-o", str(tmp_path / "r.html"))
    assert (code, out) == (2, "")
    assert err == "error: none of the files has a measured scenario to report on\n"
    code, _, err = run_cli(capsys, "report", str(path), str(COSTS), "-o",
                           str(tmp_path / "r.html"))
    assert (code, err) == (0, "")
