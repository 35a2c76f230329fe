"""Markdown for READMEs and PR comments: pipe tables, and PNG (plus SVG) files beside the page."""

from __future__ import annotations

import io
from pathlib import Path

from mpbench.report import CostsSection, Plot, Report
from mpbench.storage import write_atomically
from mpbench.tables import Table, markdown_escape, markdown_table


def render(report: Report, images: str) -> str:
    """The page; `images` is the folder, relative to the page, that holds the plot files."""
    lines = [f"# {markdown_escape(report.title)}", "", f"_Generated {report.generated}._", ""]
    lines += _table(report.machines) if report.machines is not None else []
    for section in report.sections:
        lines += [f"## {markdown_escape(section.label)}", "", "**GIL verdicts**", ""]
        lines += [f"- {markdown_escape(verdict)}" for verdict in section.verdicts] + [""]
        if section.gil_ways is not None:
            lines += _table(section.gil_ways)
        lines += [f"- {markdown_escape(line)}" for line in section.unsupported]
        lines += [""] if section.unsupported else []
        lines += _table(section.speedups) + _table(section.fits)
        lines += [line for plot in section.plots for line in _image(plot, images)]
    if report.comparison is not None and report.comparison_plot is not None:
        lines += ["## Machines compared", "", *_table(report.comparison)]
        lines += _image(report.comparison_plot, images)
    for costs in report.costs:
        lines += _costs(costs, images)
    lines += ["## Failed scenarios", ""]
    lines += _table(report.failures) if report.failures.rows else ["None.", ""]
    lines += [f"- {markdown_escape(note)}" for note in report.unfinished]
    return "\n".join(lines).rstrip() + "\n"


def write(report: Report, path: Path) -> list[Path]:
    folder = path.with_name(f"{path.stem}_files")
    written = []
    for plot in _plots(report):
        for suffix in ("png", "svg"):
            image = io.BytesIO()
            plot.figure.savefig(image, format=suffix, dpi=100 if suffix == "png" else None)
            written.append(write_atomically(folder / f"{plot.name}.{suffix}", image.getvalue()))
    write_atomically(path, render(report, folder.name).encode())
    return [path, *written]


def _costs(section: CostsSection, images: str) -> list[str]:
    lines = [f"## {markdown_escape(section.label)}", "", *_table(section.machine),
             "**What the costs say**", ""]
    lines += [f"- {markdown_escape(sentence)}" for sentence in section.sentences] + [""]
    lines += [line for plot in section.plots for line in _image(plot, images)]
    return lines + [line for table in section.tables for line in _table(table)]


def _plots(report: Report) -> list[Plot]:
    plots = [plot for section in report.sections for plot in section.plots]
    plots += [report.comparison_plot] if report.comparison_plot else []
    return plots + [plot for section in report.costs for plot in section.plots]


def _table(table: Table) -> list[str]:
    lines = [f"**{markdown_escape(table.title)}**", "", *markdown_table(table), ""]
    lines += [f"_{markdown_escape(note)}_" for note in table.notes]
    return [*lines, ""]


def _image(plot: Plot, images: str) -> list[str]:
    return [f"![{markdown_escape(plot.caption)}]({images}/{plot.name}.png)", ""]
