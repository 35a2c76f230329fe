"""The HTML report in real headless Chromium: it renders, every image loads, nothing complains."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from mpbench import report
from mpbench.costs import advice as costs_advice
from mpbench.costs import figures as costs_figures
from mpbench.costs import store as costs_store
from mpbench.storage import read

from conftest import DATA

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# Where a browser is expected (CI sets this), its absence is a failure, not a skip.
if CHROMIUM is None and os.environ.get("MPBENCH_REQUIRE_BROWSER") == "1":
    raise RuntimeError("MPBENCH_REQUIRE_BROWSER=1 but no chromium on PATH")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium")

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]


@contextmanager
def opened(page_path: Path, tmp_path: Path) -> Iterator[tuple[Any, list[str]]]:
    """The page in headless Chromium, and what it complains of (console errors and warnings,
    page errors, dialogs) as it loads; on the way out, a full-page screenshot of it."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            problems: list[str] = []
            page.on("console", lambda message: problems.append(f"{message.type}: {message.text}")
                    if message.type in ("error", "warning") else None)
            page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
            page.on("dialog", lambda dialog: problems.append(f"dialog: {dialog.message}"))
            page.goto(page_path.as_uri(), wait_until="load")
            yield page, problems
            screenshot = tmp_path / "report.png"
            page.screenshot(path=str(screenshot), full_page=True)
            assert screenshot.stat().st_size > 50_000
        finally:
            browser.close()


IMAGES = "Array.from(document.images).map(i => [i.complete, i.naturalWidth, i.alt])"


def test_report_renders_in_chromium(tmp_path: Path) -> None:
    page_path = tmp_path / "report.html"
    all_results = [read(DATA / name) for name in
                   ("golden-2cpu.json", "golden-8cpu.json", "golden-hostile.json")]
    report.write(report.build(all_results), page_path)

    with opened(page_path, tmp_path) as (page, problems):
        images = page.evaluate(IMAGES)
        assert len(images) == 3 * 3 + 1
        assert all(complete and width > 300 for complete, width, _ in images), images
        assert page.title().startswith("mpbench report: golden-2cpu, golden-8cpu, hostile")
        assert page.locator("section").count() == 6
        failures = page.locator("#failures").inner_text()
        assert "<script>alert('x')</script>" in failures  # shown as text, not run
        assert page.evaluate("document.scripts.length") == 0
        assert problems == []


def test_report_of_a_run_and_a_costs_file_renders_in_chromium(tmp_path: Path) -> None:
    page_path = tmp_path / "report.html"
    report.write(report.build([read(DATA / "golden-2cpu.json"),
                               costs_store.read(DATA / "golden-costs.json")]), page_path)

    with opened(page_path, tmp_path) as (page, problems):
        images = page.evaluate(IMAGES)
        assert len(images) == 3 + 4
        assert all(complete and width > 300 for complete, width, _ in images), images
        assert page.title() == "mpbench report: golden-2cpu, costs on golden-costs"
        assert page.locator("section").count() == 4  # machines, the run, the costs, failures
        costs = page.locator("#costs-1").inner_text()
        summary = costs_figures.summarize(costs_store.read(DATA / "golden-costs.json"))
        assert costs_advice.break_even_table(summary).title in costs
        assert all(sentence in costs for sentence in costs_advice.sentences(summary))
        assert "costs/shared/queue/w1/fork" in page.locator("#failures").inner_text()
        assert page.evaluate("document.scripts.length") == 0
        assert problems == []
