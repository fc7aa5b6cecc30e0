"""The parts of a running node that its front ends (RPC, later the network) use."""

from __future__ import annotations

from dataclasses import dataclass

from protocol.genesis import Genesis
from storage.content import ContentStore
from storage.releases import ReleaseStore

from node.chain.clock import Clock
from .config import Config
from node.chain.importer import BlockImporter
from node.chain.intake import EventIntake
from node.chain.ledger import Ledger
from node.chain.mempool import Mempool
from .p2p.network import Network


@dataclass(frozen=True)
class Services:
    config: Config
    genesis: Genesis
    ledger: Ledger
    mempool: Mempool
    intake: EventIntake
    content: ContentStore
    authority: str | None
    """did:key this node signs blocks with, if it is an authority."""
    node_id: str
    """This node's libp2p peer id: the serving node named in access events."""
    clock: Clock
    network: Network
    importer: BlockImporter
    releases: ReleaseStore
    """Key releases this node made or relayed, by access."""
