"""A comparison as text for the terminal, Markdown for a PR or job summary, or JSON for tools."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

from mpbench.compare.comparison import Comparison, ScenarioComparison, Status, plural
from mpbench.compare.significance import ALPHA, BASE, CONFIDENCE, HEAD, Change
from mpbench.errors import UsageError
from mpbench.model import Machine
from mpbench.tables import (
    Table,
    format_ratio,
    format_seconds,
    markdown_escape,
    markdown_table,
    visible,
)


def headline(comparison: Comparison) -> str:
    """The one-line verdict."""
    trips = comparison.trips
    skipped = ("; time gate skipped: different machines or interpreters"
               if comparison.differences and comparison.gate.time is not None else "")
    compared = len(comparison.compared)
    if not compared:
        return (f"nothing compared: none of the {plural(comparison.base_scenarios, 'scenario')} "
                f"of BASE could be tested against HEAD ({_why_not(comparison)})")
    if compared < comparison.base_scenarios / 2:
        skipped += (f"; ⚠ only {compared} of {comparison.base_scenarios} BASE scenarios "
                    f"compared ({_why_not(comparison)})")
    if trips:
        shown = ", ".join(_trip_phrase(item) for item in trips[:3])
        more = f" and {len(trips) - 3} more" if len(trips) > 3 else ""
        return (f"{plural(len(trips), 'regression')} beyond {comparison.gate.describe()}: "
                f"{shown}{more}{skipped}")
    improved = sum(item.improved for item in comparison.scenarios)
    better = f" ({improved} improved)" if improved else ""
    if comparison.gate.time is None and comparison.gate.speedup is None:
        return f"no gate set; {plural(compared, 'scenario')} compared{better}"
    return (f"no regression beyond {comparison.gate.describe()} in "
            f"{plural(compared, 'scenario')}{better}{skipped}")


def _why_not(comparison: Comparison) -> str:
    """The distinct reasons scenarios went uncompared, most frequent first, at most three."""
    reasons: dict[str, int] = {}
    for item in comparison.scenarios:
        if item not in comparison.compared and item.status is not Status.NEW:
            reason = item.reason or str(item.status)
            reasons[reason] = reasons.get(reason, 0) + 1
    ranked = sorted(reasons, key=lambda reason: -reasons[reason])
    return "; ".join(f"{reasons[reason]}× {reason}" for reason in ranked[:3])


def _trip_phrase(item: ScenarioComparison) -> str:
    if "failure" in item.gates or "result" in item.gates:
        return f"{item.id} {item.reason}"
    busy = f" (⚠ timed on a busy machine: {' and '.join(item.contended)})" \
        if item.contended else ""
    if "speedup" in item.gates and item.speedup is not None:
        return (f"{item.id} scales worse ({format_ratio(item.speedup.base)} → "
                f"{format_ratio(item.speedup.head)}){busy}")
    assert item.time is not None
    return f"{item.id} {format_ratio(item.time.ratio)} slower{busy}"


def changes_table(items: Sequence[ScenarioComparison]) -> Table:
    """The rows the text and Markdown views share: one per scenario, numbers formatted once."""
    rows = []
    for item in items:
        time, speedup = item.time, item.speedup
        rows.append([
            "✗ " + "+".join(item.gates) if item.gates else "", item.id,
            format_seconds(time.base) if time else "", format_seconds(time.head) if time else "",
            _ratio_cell(time), _speedup_cell(speedup),
            item.verdict + (f" ({item.reason})" if item.reason else "")
            + (f" ⚠ {'+'.join(item.contended)}" if item.contended else ""),
        ])
    return Table("", ["gate", "scenario", BASE, HEAD, f"HEAD/BASE [{CONFIDENCE:.0%} CI]",
                      "speedup BASE → HEAD", "verdict"], rows)


def _ratio_cell(change: Change | None) -> str:
    if change is None:
        return ""
    return f"{change.ratio:.2f}× [{change.low:.2f}, {change.high:.2f}]"


def _speedup_cell(change: Change | None) -> str:
    if change is None:
        return ""
    return f"{format_ratio(change.base)} → {format_ratio(change.head)} ({change.ratio:.2f}×)"


def _context(comparison: Comparison) -> list[str]:
    """Who was compared with whom, the gates, and what was skipped, one sentence each."""
    machine = comparison.head_machine
    lines = [f"{_side(BASE, comparison.base, comparison.base_machine)} against "
             f"{_side(HEAD, comparison.head, machine)}"]
    if comparison.same_machine:
        lines.append(f"same machine: {machine.name}, {machine.cpu_model}, {machine.usable_cpus} "
                     f"usable CPUs, {machine.python_implementation} {machine.python_version}")
    else:
        lines.append("different machines or interpreters (" + "; ".join(comparison.differences)
                     + "): times do not compare, so the time gate is skipped and only the "
                     "speedup gate applies")
    lines.append(f"gates: {comparison.gate.describe()}; a regression must be beyond the threshold "
                 f"and significant (moderated Welch t, Benjamini-Hochberg at {ALPHA:.0%} over "
                 f"{plural(comparison.tests, 'test')})")
    return lines + list(comparison.notes)


def _side(name: str, label: str, machine: Machine) -> str:
    commit = f"commit {machine.git_commit[:10]}" if machine.git_commit else "commit unknown"
    return f"{name} ({commit})" if label == name else f"{name} {label} ({commit})"


def render_text(comparison: Comparison) -> str:
    table = changes_table(comparison.scenarios)
    rows = [table.columns, *table.rows]
    widths = [max(len(visible(row[index])) for row in rows) for index in range(len(rows[0]))]
    lines = [("FAIL: " if comparison.failed else "OK: ") + headline(comparison),
             *_context(comparison), ""]
    lines += ["  ".join(visible(cell).ljust(width) for cell, width in
                        zip(row, widths, strict=True)).rstrip() for row in rows]
    return "\n".join(visible(line) for line in lines) + "\n"


def render_markdown(comparison: Comparison) -> str:
    """For $GITHUB_STEP_SUMMARY or a PR comment: verdict, changed rows, the rest folded away."""
    # Imported here: the report package loads matplotlib, which text and JSON do without.

    def table(items: Sequence[ScenarioComparison]) -> list[str]:
        return markdown_table(changes_table(items), right=(BASE, HEAD), code=("scenario",))

    changed = [item for item in comparison.scenarios if not item.unchanged]
    same = [item for item in comparison.scenarios if item.unchanged]
    lines = [f"### {'❌' if comparison.failed else '✅'} mpbench: "
             f"{markdown_escape(headline(comparison))}", ""]
    lines += [f"- {markdown_escape(line)}" for line in _context(comparison)] + [""]
    if changed:
        lines += [*table(changed), ""]
    if same:
        lines += [f"<details><summary>{plural(len(same), 'scenario')} unchanged</summary>", ""]
        lines += [*table(same), "", "</details>", ""]
    return "\n".join(lines)


def render_json(comparison: Comparison) -> str:
    def change(item: Change | None) -> dict[str, Any] | None:
        if item is None:
            return None
        return {name: (None if isinstance(value, float) and not math.isfinite(value) else value)
                for name, value in vars(item).items()} | {"contended": list(item.contended)}

    data = {
        "verdict": headline(comparison), "failed": comparison.failed,
        "base": comparison.base, "head": comparison.head,
        "gate": {"time": comparison.gate.time, "speedup": comparison.gate.speedup},
        "same_machine": comparison.same_machine, "differences": list(comparison.differences),
        "tests": comparison.tests, "alpha": ALPHA, "notes": list(comparison.notes),
        "scenarios": [{"id": item.id, "status": str(item.status), "verdict": item.verdict,
                       "reason": item.reason, "gates": list(item.gates),
                       "time": change(item.time), "speedup": change(item.speedup)}
                      for item in comparison.scenarios],
    }
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def render(comparison: Comparison, output_format: str) -> str:
    """`text`, `md` or `json`."""
    renderers = {"text": render_text, "md": render_markdown, "json": render_json}
    if output_format not in renderers:
        raise UsageError(f"--format {output_format!r}: choose from {', '.join(renderers)}")
    return renderers[output_format](comparison)
