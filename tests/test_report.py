"""Reports from the golden files: Markdown snapshots, HTML structure, escaping, and the CLI."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from markupsafe import escape

from mpbench import report
from mpbench.report import html as html_report
from mpbench.report import markdown
from mpbench.storage import read

from conftest import DATA, assert_snapshot
from test_cli import run_cli

HOSTILE = DATA / "golden-hostile.json"
FIXED_DATE = "2026-11-01 12:00 UTC by mpbench (test)"


def build(*paths: Path) -> report.Report:
    return report.build([read(path) for path in paths], generated=FIXED_DATE)


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
