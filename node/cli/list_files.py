"""Reading the plain list files some commands take (one item a line, # comments)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Callable, TypeVar

from .errors import CliError, UsageError

T = TypeVar("T")


def read_list_file(path: Path, parse: Callable[[str], T]) -> list[T]:
    """Each non-blank line of ``path`` (after stripping # comments) through ``parse``;
    a line ``parse`` refuses is a usage error naming the file and line."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror or exc}") from None
    items = []
    for number, line in enumerate(lines, 1):
        line = line.split("#")[0].strip()
        if line:
            try:
                items.append(parse(line))
            except argparse.ArgumentTypeError as exc:
                raise UsageError(f"{path}:{number}: {exc}") from None
    return items
