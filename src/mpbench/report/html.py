"""One self-contained HTML file: images inline as base64 PNG, no script, no network."""

from __future__ import annotations

from pathlib import Path

from mpbench.pages import png_data_uri, render_page
from mpbench.report import Plot, Report
from mpbench.storage import write_atomically


def render(report: Report) -> str:
    return render_page("report.html.j2", report=report, image=_image)


def write(report: Report, path: Path) -> list[Path]:
    return [write_atomically(path, render(report).encode())]


def _image(plot: Plot) -> str:
    return png_data_uri(plot.figure)
