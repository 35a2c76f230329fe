"""The errors mpbench raises for problems a user can fix.

The CLI prints any `MpbenchError` as one line, `error: <message>`, and exits 2.
Messages say what is wrong and what to do about it.
"""


class MpbenchError(Exception):
    """A problem with the user's input: options, files or kernels."""


class UsageError(MpbenchError):
    """An option value that cannot be used (unknown name, bad number, empty selection)."""


class ResultsFileError(MpbenchError):
    """A results file that is missing, unreadable or not an mpbench/pyperf suite."""


class KernelDefinitionError(MpbenchError):
    """A benchmarks folder or kernel that cannot be loaded as written."""
