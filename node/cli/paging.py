"""Paging through a long history: --limit and --after, and the hint that names the next page."""

from __future__ import annotations

import argparse
import re
from typing import Any


def history_cursor(text: str) -> str:
    """``HEIGHT:INDEX``, as a page of history names its continuation (an argparse type)."""
    if not re.fullmatch(r"[0-9]+:[0-9]+", text):
        raise argparse.ArgumentTypeError(f"{text!r} is not HEIGHT:INDEX (as printed after '--after' in a previous page)")
    return text


def add_page_options(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("--limit", type=int, default=20, help=f"how many {what} to show (default 20, at most 1000)")
    parser.add_argument(
        "--after", type=history_cursor, metavar="HEIGHT:INDEX", help=f"show {what} after this one (next page)"
    )


def more_hint(page: dict[str, Any], command: str) -> str:
    """The command that shows the next page, if there is one."""
    cursor = page.get("next")
    return f"\n  … more: {command} --after {cursor}" if cursor else ""
