"""BASE against HEAD: which scenarios got slower or scale worse, beyond both threshold and noise.

A change counts only when it is beyond the gate's threshold (HEAD median / BASE median) *and*
statistically significant. The test, and why:

- Times are compared on a log scale (noise is multiplicative), as the difference of mean log times,
  so the ratio has a confidence interval; independent units are visits (the means of their
  timing processes) when every scenario of a file has at least two, else single values (a smoke
  run: its noise between processes is invisible, and only the threshold guards against it).
- Five values per side leave each scenario's own variance too uncertain: a plain Welch test at the
  level a whole file needs barely ever fires, and Mann-Whitney with 5 against 5 cannot reach it at
  all. So variances are moderated as in limma (Smyth 2004): each is shrunk towards the typical
  variance of the file's scenarios with the same executor, by an amount estimated from how much
  they differ. The test is Welch's t on those variances, with Welch-Satterthwaite degrees of
  freedom, which also handles different sample counts on the two sides (pyperf's own test
  assumes equal counts).
- A speedup is the paired one (baseline and scenario timed back to back in one process), so its
  ratio is tested on the mean per-pair log ratios of each side, which a drifting machine moves
  far less than it moves times; being free of units, it also compares different machines.
- 68 scenarios make 132 tests (times, and speedups but for the 4 serial runs), so p-values are
  adjusted together with Benjamini-Hochberg: when nothing changed, that keeps the chance of any
  false alarm per file pair under ALPHA (measured: 3 % of pairs with the quick profile, 0.4 %
  with standard), and 20 % slower in one scenario is still caught 97 and 100 times in 100.

Everything is deterministic: no resampling. The modules, in the order they build on each other:
`gates` (--fail-on), `stats` (per-scenario statistics), `significance` (the tests),
`comparison` (the verdicts) and `render` (text, Markdown, JSON).
"""

from mpbench.compare.comparison import (
    Comparison,
    Measurements,
    ScenarioComparison,
    Status,
    compare,
    compare_files,
    compare_measurements,
)
from mpbench.compare.gates import Gate, parse_fail_on
from mpbench.compare.render import render, render_json, render_markdown, render_text
from mpbench.compare.significance import Change

__all__ = [
    "Change",
    "Comparison",
    "Gate",
    "Measurements",
    "ScenarioComparison",
    "Status",
    "compare",
    "compare_files",
    "compare_measurements",
    "parse_fail_on",
    "render",
    "render_json",
    "render_markdown",
    "render_text",
]
