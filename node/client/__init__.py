"""The client side of a node: its RPC (``rpc``) and its process (``launcher``).

Standard library only, and nothing of the daemon's packages, so that a program talking
to a node (the ``audiera`` CLI, an application, a test) starts fast and stays out of the
node's internals.
"""

from .feed import FeedClosed, FeedReader
from .rpc import DEFAULT_NODE_URL, Download, NodeClient, RpcError, segment

__all__ = ["DEFAULT_NODE_URL", "Download", "FeedClosed", "FeedReader", "NodeClient", "RpcError", "segment"]
