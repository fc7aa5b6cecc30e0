"""Key files the node itself reads without a person present: the authority key.

Stored as the raw seed in a mode-0600 JSON file, like geth's nodekey or a libp2p
identity: a daemon that restarts unattended must be able to read it. People's keys
live in the encrypted keystore (node/keystore.py) instead.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from protocol.errors import InvalidKey
from protocol.keys import SigningKey

from node.config import ConfigError


def write_key_file(path: Path, key: SigningKey) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as file:
        json.dump({"did": key.did, "seed": key.seed.hex()}, file)
        file.write("\n")


def read_key_file(path: Path) -> SigningKey:
    try:
        raw = json.loads(path.read_text())
        key = SigningKey(bytes.fromhex(raw["seed"]))
    except FileNotFoundError:
        raise ConfigError(f"key file {path} does not exist") from None
    except (ValueError, KeyError, TypeError, InvalidKey):
        raise ConfigError(f"key file {path} is not an Audiera key file") from None
    if raw.get("did") not in (None, key.did):
        raise ConfigError(f"key file {path} names {raw.get('did')} but holds the key of {key.did}")
    if path.stat().st_mode & 0o077:
        raise ConfigError(f"key file {path} is readable by other users; run: chmod 600 {path}")
    return key


def key_from_seed(seed: str) -> SigningKey:
    """A key derived from public text, for shared test networks whose keys are not secret."""
    return SigningKey(hashlib.sha256(b"audiera-insecure-test-seed/" + seed.encode()).digest())
