"""Filesystem durability helpers shared by every writer of files the node must not lose."""

from __future__ import annotations

import os
from pathlib import Path

PRIVATE_FILE_MODE = 0o600
"""Node data is the operator's alone: keys, the chain's database, uploaded content."""
PRIVATE_DIRECTORY_MODE = 0o700


def make_private_directory(directory: Path) -> None:
    """Create ``directory`` (and its parents) for the owner only, tightening it if it already exists."""
    directory.mkdir(mode=PRIVATE_DIRECTORY_MODE, parents=True, exist_ok=True)
    os.chmod(directory, PRIVATE_DIRECTORY_MODE)


def fsync_directory(directory: Path) -> None:
    """Make a rename or a new file in ``directory`` survive a power loss."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
