"""py-libp2p's log output, routed through the node's logging.

On import, py-libp2p (without ``LIBP2P_DEBUG``) sets its ``libp2p`` logger to not
propagate and gives it no handler, so Python's last-resort handler printed its warnings
and errors as raw lines outside the node's log format. Here they propagate to the
node's handlers, at WARNING and above (set ``LIBP2P_DEBUG`` for its own debug output), less the dial failures: those reach the caller
as a ``P2PError``, and while a peer is away the redial loop would log one every second.
"""

from __future__ import annotations

import logging
import os

_DIAL_FAILURES = ("Failed to open TCP stream", "Unexpected error opening TCP stream")


class _NoDialFailureReports(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(_DIAL_FAILURES)


def route_library_logs() -> None:
    """Call once py-libp2p's modules are imported (some set their own logger's level at import)."""
    if os.environ.get("LIBP2P_DEBUG"):
        return  # whoever set it wants py-libp2p's own debug logging, as it configures it
    library = logging.getLogger("libp2p")
    library.handlers.clear()
    library.propagate = True
    library.setLevel(logging.WARNING)
    for name, logger in list(logging.Logger.manager.loggerDict.items()):
        # Some of its modules lower their own logger to INFO (the auto-connector logs every dial round).
        if name.startswith("libp2p.") and isinstance(logger, logging.Logger) and logger.level < logging.WARNING:
            logger.setLevel(logging.NOTSET)
    logging.getLogger("libp2p.transport.tcp.tcp").addFilter(_NoDialFailureReports())
