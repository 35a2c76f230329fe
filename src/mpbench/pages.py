"""What every self-contained HTML page shares: the jinja2 setup, inline images, atomic writes."""

from __future__ import annotations

import base64
import io
import os
import secrets
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup
from matplotlib.figure import Figure

from mpbench.tables import visible

_ENVIRONMENT = jinja2.Environment(
    loader=jinja2.PackageLoader("mpbench", "templates"),
    autoescape=True,  # every string from a results file is data, never markup
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    # ...and its control characters are written out, not passed to the reader
    finalize=lambda value: value if isinstance(value, Markup) or not isinstance(value, str)
    else visible(value),
)


def render_page(template: str, **context: Any) -> str:
    return _ENVIRONMENT.get_template(template).render(**context)


def png_data_uri(figure: Figure) -> str:
    """The figure as an inline PNG, so the page needs no other file and no network."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def write_atomically(path: Path, content: bytes) -> Path:
    """Write through a temporary file beside `path` and a rename: never half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp")
    try:
        temporary.write_bytes(content)
        temporary.replace(path)
    finally:
        temporary.unlink(missing_ok=True)
    return path
