"""What every self-contained HTML page shares: the jinja2 setup and inline images."""

from __future__ import annotations

import base64
import io
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
