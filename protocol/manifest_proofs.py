"""Proofs that an asset is, or is not, in a model's training manifest.

The manifest's leaves are ``manifest_leaf(entry)`` under the RFC 6962 tree of
protocol/merkle.py, and the rules only accept manifests sorted by asset id
(protocol/lineage.py). So:

- **membership** is one leaf with its Merkle path to the manifest root;
- **absence** is the two adjacent leaves around where the asset would sort (positions
  i and i+1 of the same tree, the first smaller and the second larger than the asset),
  or the first leaf alone (the asset sorts before it), or the last leaf alone (after
  it), or nothing at all for an empty manifest (whose root is the empty root).

Each path also fixes the tree size, so "adjacent" and "first" and "last" cannot be
faked. A verifier needs only the manifest root and size, which it takes from the
model's register event once it has checked that event against a block header.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Sequence

from .errors import InvalidProof
from .events import ManifestEntry, manifest_leaf
from .merkle import EMPTY_ROOT, MerkleProof, merkle_proof, verify_merkle_proof


@dataclass(frozen=True)
class LeafProof:
    entry: ManifestEntry
    proof: MerkleProof


def prove_manifest(manifest: Sequence[ManifestEntry], asset: str) -> tuple[bool, list[LeafProof]]:
    """(present, leaves) proving whether ``asset`` is in the sorted ``manifest``."""
    assets = [entry.asset for entry in manifest]
    leaves = [manifest_leaf(entry) for entry in manifest]
    position = bisect.bisect_left(assets, asset)
    if position < len(assets) and assets[position] == asset:
        return True, [LeafProof(manifest[position], merkle_proof(leaves, position))]
    around = [index for index in (position - 1, position) if 0 <= index < len(assets)]
    return False, [LeafProof(manifest[index], merkle_proof(leaves, index)) for index in around]


def verify_manifest_proof(root: bytes, size: int, asset: str, present: bool, leaves: Sequence[LeafProof]) -> None:
    """Raise InvalidProof unless ``leaves`` prove that ``asset`` is (``present``) or is not in the manifest."""
    for leaf in leaves:
        if leaf.proof.size != size:
            raise InvalidProof(f"a leaf proof is for a tree of {leaf.proof.size} leaves; the manifest has {size}")
        verify_merkle_proof(manifest_leaf(leaf.entry), leaf.proof, root)
    if present:
        if len(leaves) != 1 or leaves[0].entry.asset != asset:
            raise InvalidProof(f"a membership proof is exactly one leaf naming asset {asset}")
        return
    if size == 0:
        if leaves or root != EMPTY_ROOT:
            raise InvalidProof("an empty manifest has the empty root and no leaves")
        return
    ordered = sorted(leaves, key=lambda leaf: leaf.proof.index)
    if any(leaf.entry.asset == asset for leaf in ordered):
        raise InvalidProof(f"the leaves name asset {asset}: it is in the manifest")
    if len(ordered) == 2:
        left, right = ordered
        if right.proof.index != left.proof.index + 1:
            raise InvalidProof("the two leaves of an absence proof must be adjacent")
        if not left.entry.asset < asset < right.entry.asset:
            raise InvalidProof(f"asset {asset} does not sort between the two adjacent leaves")
        return
    if len(ordered) == 1:
        only = ordered[0]
        if only.proof.index == 0 and asset < only.entry.asset:
            return
        if only.proof.index == size - 1 and only.entry.asset < asset:
            return
        raise InvalidProof("one leaf proves absence only as the first leaf (asset sorts before it) or the last (after it)")
    raise InvalidProof("an absence proof has one or two leaves")
