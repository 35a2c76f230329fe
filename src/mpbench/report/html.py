"""One self-contained HTML file: images inline as base64 PNG, no script, no network."""

from __future__ import annotations

import base64
import io
import os
import tempfile
from pathlib import Path

import jinja2
from markupsafe import Markup

from mpbench.report import Plot, Report
from mpbench.tables import visible

_ENVIRONMENT = jinja2.Environment(
    loader=jinja2.PackageLoader("mpbench.report", "templates"),
    autoescape=True,  # every string from a results file is data, never markup
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    finalize=lambda value: value if isinstance(value, Markup) or not isinstance(value, str)
    else visible(value),
)


def render(report: Report) -> str:
    return _ENVIRONMENT.get_template("report.html.j2").render(report=report, image=_data_uri)


def write(report: Report, path: Path) -> list[Path]:
    text = render(report)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(handle, "w", encoding="utf-8") as stream:
        stream.write(text)
    Path(temporary).chmod(0o644)
    Path(temporary).replace(path)
    return [path]


def _data_uri(plot: Plot) -> str:
    buffer = io.BytesIO()
    plot.figure.savefig(buffer, format="png", dpi=100)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
