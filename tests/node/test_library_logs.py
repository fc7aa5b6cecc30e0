"""py-libp2p's log records reach the node's handlers, in its format, less its dial-failure noise."""

from __future__ import annotations

import logging

import node.p2p.host  # noqa: F401  (importing the host routes py-libp2p's logs)


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def test_library_warnings_propagate_and_its_info_and_dial_failures_do_not():
    collect = _Collect()
    root = logging.getLogger()
    root.addHandler(collect)
    try:
        logging.getLogger("libp2p.pubsub.gossipsub").warning("mesh trouble")
        logging.getLogger("libp2p.network.auto_connector").info("initiating 200 new dials")
        logging.getLogger("libp2p.transport.tcp.tcp").error("Failed to open TCP stream: all attempts to connect failed")
    finally:
        root.removeHandler(collect)
    assert collect.messages == ["mesh trouble"]
