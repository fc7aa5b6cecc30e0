"""The node's own libp2p identity: an Ed25519 key kept in its data directory (mode 0600).

Its peer id (``12D3KooW…``) names the node on the network and in ``access`` events
(the serving node), and stays the same across restarts.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.crypto.keys import KeyPair
from libp2p.identity_utils import create_identity_from_seed, load_identity, save_identity
from libp2p.peer.id import ID

from ..config import ConfigError

NODE_KEY_FILE = "node.key"


def load_or_create_node_key(data_dir: Path, seed: str | None = None) -> KeyPair:
    if seed is not None:
        # A shared test network's node ids must be known in advance to bootstrap from them.
        return create_identity_from_seed(hashlib.sha256(b"audiera-insecure-node-seed/" + seed.encode()).digest())
    path = data_dir / NODE_KEY_FILE
    if not path.exists():
        save_identity(create_new_key_pair(), path)
    try:
        return load_identity(path)
    except ValueError as exc:
        raise ConfigError(f"node key {path} is unreadable ({exc}); remove it to make a new identity") from None


def peer_id_of(key_pair: KeyPair) -> str:
    return ID.from_pubkey(key_pair.public_key).to_base58()
