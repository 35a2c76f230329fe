"""The findings and the verdict as a table, for the CLI to print."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text

from mpbench.doctor.diagnosis import Diagnosis
from mpbench.doctor.findings import Status

_MARKS = {Status.OK: ("✓", "green"), Status.WARN: ("!", "yellow"), Status.BAD: ("✗", "red")}


def render(diagnosis: Diagnosis) -> Group:
    """The findings as a table and the verdict below it, for `Console.print`."""
    table = Table(box=None, show_header=False, padding=(0, 1, 1, 0), expand=False)
    table.add_column(width=1)
    table.add_column(style="bold", no_wrap=True)
    table.add_column(ratio=1)
    for finding in diagnosis.findings:
        mark, colour = _MARKS[finding.status]
        body = Text(finding.figure)
        body.append(f"\n{finding.advice}", style=colour if finding.status != Status.OK else "")
        for detail in finding.details:
            body.append(f"\n  • {detail}")
        body.append(f"\nsource: {finding.source}", style="dim")
        table.add_row(Text(mark, style=colour), finding.title, body)
    verdict = diagnosis.verdict
    colour = "green" if verdict.fit else "red"
    lines = [Text(verdict.summary, style=f"bold {colour}")]
    lines += [Text(f"→ {action}") for action in verdict.actions]
    lines.append(Text(f"checked in {diagnosis.seconds:.1f} s", style="dim"))
    return Group(table, *lines)
