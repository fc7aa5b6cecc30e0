"""Storage errors."""

from __future__ import annotations


class StorageError(Exception):
    """The store cannot do what was asked; the message says why and what to do."""

    code: str = "storage"
    status: int = 500
    """The HTTP status the RPC answers this error with: the node's fault, not the client's."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ContentError(StorageError):
    """Uploaded content was refused (too large, unreadable); nothing was kept."""
