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


class OtherNetwork(StorageError):
    """The data directory holds the chain of another genesis."""

    code = "other_network"

    def __init__(self, stored: bytes, expected: bytes) -> None:
        super().__init__(
            f"this data directory holds network {stored.hex()[:16]}…, not genesis {expected.hex()[:16]}…; "
            "use another --data-dir or the genesis it was created with"
        )
        self.stored = stored
        self.expected = expected


class ContentError(StorageError):
    """Uploaded content was refused (too large, unreadable); nothing was kept."""

    code = "too_large"
    status = 413


class PendingBytesFull(ContentError):
    """Unregistered uploads hold all the bytes this node allows them until some are registered or expire."""

    code = "pending_uploads_full"
    status = 507


class PendingFilesFull(ContentError):
    """Unregistered uploads are as many files as this node allows until some are registered or expire."""

    code = "too_many_pending_uploads"
    status = 429


class TooManyUploads(ContentError):
    """As many uploads are in progress as this node takes at once."""

    code = "too_many_uploads"
    status = 429
