"""Storage errors."""

from __future__ import annotations


class StorageError(Exception):
    """The store cannot do what was asked; the message says why and what to do."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ContentError(StorageError):
    """Uploaded content was refused (too large, unreadable); nothing was kept."""


class PendingBytesFull(ContentError):
    """Unregistered uploads hold all the bytes this node allows them until some are registered or expire."""


class PendingFilesFull(ContentError):
    """Unregistered uploads are as many files as this node allows until some are registered or expire."""


class TooManyUploads(ContentError):
    """As many uploads are in progress as this node takes at once."""
