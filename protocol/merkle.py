"""Merkle roots and inclusion proofs over a list of 32-byte leaves.

The tree is RFC 6962's (Certificate Transparency): leaves are hashed with a 0x00
prefix and inner nodes with 0x01, and a list of n leaves splits at the largest power
of two below n. The prefixes keep a leaf from passing for an inner node, and the
split avoids Bitcoin's duplicated-last-leaf ambiguity (CVE-2012-2459).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from .encoding import sha256
from .errors import InvalidProof

EMPTY_ROOT = sha256(b"")


def leaf_hash(leaf: bytes) -> bytes:
    return sha256(b"\x00" + leaf)


def node_hash(left: bytes, right: bytes) -> bytes:
    return sha256(b"\x01" + left + right)


def _split(n: int) -> int:
    """Largest power of two strictly below n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def merkle_root(leaves: Sequence[bytes]) -> bytes:
    """Root over ``leaves``; the empty list has root sha256(b"")."""
    if not leaves:
        return EMPTY_ROOT
    level = [leaf_hash(leaf) for leaf in leaves]
    return _root_of_hashes(level)


def _root_of_hashes(hashes: list[bytes]) -> bytes:
    # Bottom-up pairing gives the same tree as RFC 6962's recursive split: an unpaired
    # last node is carried up unchanged.
    while len(hashes) > 1:
        paired = [node_hash(hashes[i], hashes[i + 1]) for i in range(0, len(hashes) - 1, 2)]
        if len(hashes) % 2:
            paired.append(hashes[-1])
        hashes = paired
    return hashes[0]


@dataclass(frozen=True)
class MerkleProof:
    index: int
    size: int
    path: tuple[bytes, ...]
    """Sibling hashes from the leaf up to the root."""

    def to_wire(self) -> dict[str, Any]:
        return {"index": self.index, "size": self.size, "path": list(self.path)}


def merkle_proof(leaves: Sequence[bytes], index: int) -> MerkleProof:
    if not 0 <= index < len(leaves):
        raise InvalidProof(f"leaf index {index} is outside a tree of {len(leaves)} leaves")
    path: list[bytes] = []
    level = [leaf_hash(leaf) for leaf in leaves]
    position = index
    while len(level) > 1:
        sibling = position ^ 1
        if sibling < len(level):
            path.append(level[sibling])
        paired = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
        position //= 2
    return MerkleProof(index=index, size=len(leaves), path=tuple(path))


def verify_merkle_proof(leaf: bytes, proof: MerkleProof, root: bytes) -> None:
    """Raise InvalidProof unless ``leaf`` is at ``proof.index`` under ``root``."""
    if not 0 <= proof.index < proof.size:
        raise InvalidProof(f"leaf index {proof.index} is outside a tree of {proof.size} leaves")
    current = leaf_hash(leaf)
    position, width = proof.index, proof.size
    path = list(proof.path)
    while width > 1:
        if position ^ 1 < width:
            if not path:
                raise InvalidProof("proof is too short for the tree size")
            sibling = path.pop(0)
            current = node_hash(sibling, current) if position & 1 else node_hash(current, sibling)
        position //= 2
        width = (width + 1) // 2
    if path:
        raise InvalidProof("proof is longer than the tree size allows")
    if current != root:
        raise InvalidProof("proof does not lead to the expected root")


def parse_merkle_proof(value: Any) -> MerkleProof:
    if not isinstance(value, dict) or set(value) != {"index", "size", "path"}:
        raise InvalidProof("a proof is a map of index, size and path")
    index, size, path = value["index"], value["size"], value["path"]
    if not isinstance(index, int) or not isinstance(size, int) or not isinstance(path, list):
        raise InvalidProof("proof index and size must be integers and path a list")
    if not all(isinstance(item, bytes) and len(item) == 32 for item in path):
        raise InvalidProof("every proof path entry must be 32 bytes")
    return MerkleProof(index=index, size=size, path=tuple(path))
