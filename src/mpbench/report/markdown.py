"""Markdown for READMEs and PR comments: pipe tables, and PNG (plus SVG) files beside the page."""

from __future__ import annotations

import re
from collections.abc import Collection
from pathlib import Path

from mpbench.pages import write_atomically
from mpbench.report import Plot, Report
from mpbench.tables import Table, visible

_IDENTIFIER = re.compile(r"[\w./-]+")  # safe as inline code: no backtick, pipe or space


def render(report: Report, images: str) -> str:
    """The page; `images` is the folder, relative to the page, that holds the plot files."""
    lines = [f"# {report.title}", "", f"_Generated {report.generated}._", ""]
    lines += _table(report.machines)
    for section in report.sections:
        lines += [f"## {markdown_escape(section.label)}", "", "**GIL verdicts**", ""]
        lines += [f"- {markdown_escape(verdict)}" for verdict in section.verdicts] + [""]
        lines += _table(section.speedups) + _table(section.fits)
        lines += [line for plot in section.plots for line in _image(plot, images)]
    if report.comparison is not None and report.comparison_plot is not None:
        lines += ["## Machines compared", "", *_table(report.comparison)]
        lines += _image(report.comparison_plot, images)
    lines += ["## Failed scenarios", ""]
    lines += _table(report.failures) if report.failures.rows else ["None.", ""]
    lines += [f"- {markdown_escape(note)}" for note in report.unfinished]
    return "\n".join(lines).rstrip() + "\n"


def write(report: Report, path: Path) -> list[Path]:
    folder = path.with_name(f"{path.stem}_files")
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for plot in _plots(report):
        for suffix in (".png", ".svg"):
            image = folder / f"{plot.name}{suffix}"
            plot.figure.savefig(image, dpi=100 if suffix == ".png" else None)
            written.append(image)
    write_atomically(path, render(report, folder.name).encode())
    return [path, *written]


def _plots(report: Report) -> list[Plot]:
    plots = [plot for section in report.sections for plot in section.plots]
    return plots + ([report.comparison_plot] if report.comparison_plot else [])


def _table(table: Table) -> list[str]:
    lines = [f"**{markdown_escape(table.title)}**", "", *markdown_table(table), ""]
    lines += [f"_{markdown_escape(note)}_" for note in table.notes]
    return [*lines, ""]


def markdown_table(table: Table, right: Collection[str] = (), code: Collection[str] = ()
                   ) -> list[str]:
    """`table` as a pipe table, without its title and notes, every string inert: `right` names
    the columns aligned right, `code` those whose identifiers (`py_square/serial/w1`) show as code.
    """
    lines = ["| " + " | ".join(markdown_escape(column) for column in table.columns) + " |",
             "|" + "|".join("---:" if column in right else "---" for column in table.columns)
             + "|"]
    as_code = {index for index, column in enumerate(table.columns) if column in code}
    for row in table.rows:
        cells = [f"`{cell}`" if index in as_code and _IDENTIFIER.fullmatch(cell)
                 else markdown_escape(cell) for index, cell in enumerate(row)]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _image(plot: Plot, images: str) -> list[str]:
    return [f"![{markdown_escape(plot.caption)}]({images}/{plot.name}.png)", ""]


def markdown_escape(text: str) -> str:
    """Make a string from a results file inert in Markdown: no markup, HTML or entity; one line.

    Underscores inside words (`py_square`) are left alone: they never start emphasis.
    """
    text = visible(" ".join(text.split()))
    text = re.sub(r"([\\`*~\[\]<>|&])", r"\\\1", text)
    return re.sub(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])", r"\\_", text)
