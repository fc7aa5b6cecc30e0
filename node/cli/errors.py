"""The CLI's expected failures: each is printed as one ``audiera: …`` line (with ``--json``, one
JSON object ``{"error": {"code", "message", "status"}}``) on stderr, never a traceback."""

from __future__ import annotations


class CliError(Exception):
    """A runtime failure (exit status 1)."""

    exit_code = 1
    code = "failed"
    """What a script reads from ``--json``'s error object."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UsageError(CliError):
    """A command line that cannot be run as given (exit status 2, like argparse)."""

    exit_code = 2
    code = "usage"
