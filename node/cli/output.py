"""Rendering results: aligned ``key: value`` lines and short tables for people, or JSON.

With ``--json`` every command writes exactly one JSON document to stdout, so scripts can
pipe it to ``jq``; progress and notices always go to stderr.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime, timezone
from typing import Any, Callable, Iterable, Sequence, TextIO


class Output:
    def __init__(self, json_mode: bool, stdout: TextIO | None = None, stderr: TextIO | None = None) -> None:
        self.json_mode = json_mode
        self._stdout = stdout
        self._stderr = stderr

    @property
    def stdout(self) -> TextIO:
        # Looked up at use, not at construction, so redirected streams (tests, pipes) apply.
        return self._stdout or sys.stdout

    @property
    def stderr(self) -> TextIO:
        return self._stderr or sys.stderr

    def emit(self, document: Any, render: Callable[[Any], str]) -> None:
        """Write ``document`` as JSON, or ``render(document)`` for a person."""
        if self.json_mode:
            json.dump(document, self.stdout, indent=2, sort_keys=False)
            self.stdout.write("\n")
        else:
            text = render(document)
            self.stdout.write(text if text.endswith("\n") else text + "\n")
        self.stdout.flush()

    def notice(self, message: str) -> None:
        """A progress note for a person; silent in JSON mode so scripts see only the result."""
        if not self.json_mode:
            print(message, file=self.stderr, flush=True)


def fields(pairs: Iterable[tuple[str, Any]], indent: str = "") -> str:
    """``key: value`` lines with the values aligned; None values are left out."""
    rows = [(key, value) for key, value in pairs if value is not None]
    if not rows:
        return ""
    width = max(len(key) for key, _ in rows) + 1
    return "\n".join(f"{indent}{key + ':':<{width}} {value}" for key, value in rows)


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], indent: str = "") -> str:
    """A plain left-aligned table; the last column is never padded."""
    if not rows:
        return f"{indent}(none)"
    cells = [list(headers)] + [[str(cell) for cell in row] for row in rows]
    widths = [max(len(row[column]) for row in cells) for column in range(len(headers))]
    lines = []
    for row in cells:
        padded = [cell.ljust(widths[i]) if i < len(row) - 1 else cell for i, cell in enumerate(row)]
        lines.append(indent + "  ".join(padded).rstrip())
    return "\n".join(lines)


def format_time(ms: int | None) -> str | None:
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def format_bytes(size: int) -> str:
    """Decimal units, as disks and network speeds are quoted."""
    value, unit = float(size), "B"
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            break
        value /= 1000
    return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"


def format_media(media: dict[str, Any] | None) -> str:
    if not media:
        return "not audio"
    seconds = media["duration_ms"] / 1000
    channels = {1: "mono", 2: "stereo"}.get(media["channels"], f"{media['channels']} channels")
    return f"{media['format']}, {seconds:.3f} s, {media['sample_rate']} Hz, {channels}"


def yes_no(value: bool) -> str:
    return "yes" if value else "no"


def short_id(hex_id: str, keep: int = 16) -> str:
    """Enough of an id to tell events apart in a table; full ids are in --json."""
    return hex_id if len(hex_id) <= keep else hex_id[:keep] + "…"
