"""RFC 6962 Merkle roots and inclusion proofs, checked against an independent recursive model."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from protocol.errors import InvalidProof
from protocol.merkle import (
    EMPTY_ROOT,
    MerkleProof,
    leaf_hash,
    merkle_proof,
    merkle_root,
    node_hash,
    parse_merkle_proof,
    verify_merkle_proof,
)

# --- an independent model: RFC 6962 section 2.1, written straight from the text --------


def _h(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _k(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(leaves: list[bytes]) -> bytes:
    n = len(leaves)
    if n == 0:
        return _h(b"")
    if n == 1:
        return _h(b"\x00" + leaves[0])
    k = _k(n)
    return _h(b"\x01" + mth(leaves[:k]) + mth(leaves[k:]))


def path(m: int, leaves: list[bytes]) -> list[bytes]:
    n = len(leaves)
    if n == 1:
        return []
    k = _k(n)
    if m < k:
        return path(m, leaves[:k]) + [mth(leaves[k:])]
    return path(m - k, leaves[k:]) + [mth(leaves[:k])]


def path_length(m: int, n: int) -> int:
    """len(path(m, leaves)) for n leaves, from the same recursion, without hashing."""
    if n == 1:
        return 0
    k = _k(n)
    return 1 + (path_length(m, k) if m < k else path_length(m - k, n - k))


def leaves_of(n: int) -> list[bytes]:
    return [hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range(n)]


SIZES = range(0, 34)

# Certificate Transparency's reference tree (RFC 6962 test data).
CT_LEAVES = [bytes.fromhex(h) for h in ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"]]
CT_ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
CT_PROOFS = [
    (0, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
         "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
         "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (5, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
         "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
         "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
]  # fmt: skip


def test_model_matches_ct_reference() -> None:
    for n in range(len(CT_LEAVES) + 1):
        assert mth(CT_LEAVES[:n]).hex() == CT_ROOTS[n]


@pytest.mark.parametrize("n", range(len(CT_LEAVES) + 1))
def test_root_matches_ct_reference(n: int) -> None:
    assert merkle_root(CT_LEAVES[:n]).hex() == CT_ROOTS[n]


@pytest.mark.parametrize("index, expected", CT_PROOFS)
def test_proof_matches_ct_reference(index: int, expected: list[str]) -> None:
    proof = merkle_proof(CT_LEAVES, index)
    assert [node.hex() for node in proof.path] == expected
    verify_merkle_proof(CT_LEAVES[index], proof, merkle_root(CT_LEAVES))


@pytest.mark.parametrize("n", SIZES)
def test_root_matches_model(n: int) -> None:
    assert merkle_root(leaves_of(n)) == mth(leaves_of(n))


def test_empty_root() -> None:
    assert merkle_root([]) == EMPTY_ROOT == hashlib.sha256(b"").digest()


def test_leaf_and_node_hashes_are_domain_separated() -> None:
    a, b = b"\x11" * 32, b"\x22" * 32
    assert leaf_hash(a) == _h(b"\x00" + a)
    assert node_hash(a, b) == _h(b"\x01" + a + b)
    # An inner node cannot pass for a leaf: the 64 bytes of two children hash differently as a leaf.
    assert leaf_hash(a + b) != node_hash(a, b)
    assert merkle_root([a + b]) != merkle_root([a, b])


def test_no_duplicate_last_leaf_ambiguity() -> None:
    # Bitcoin's CVE-2012-2459: [a, b, c] and [a, b, c, c] must not share a root.
    leaves = leaves_of(3)
    assert merkle_root(leaves) != merkle_root(leaves + [leaves[-1]])
    five = leaves_of(5)
    assert merkle_root(five) != merkle_root(five + [five[-1]])


def test_root_depends_on_order() -> None:
    leaves = leaves_of(4)
    assert merkle_root(leaves) != merkle_root(list(reversed(leaves)))


@pytest.mark.parametrize("n", range(1, 34))
def test_every_proof_verifies_and_matches_model(n: int) -> None:
    leaves = leaves_of(n)
    root = merkle_root(leaves)
    for index in range(n):
        proof = merkle_proof(leaves, index)
        assert proof.index == index and proof.size == n
        assert list(proof.path) == path(index, leaves)
        assert len(proof.path) == path_length(index, n)
        verify_merkle_proof(leaves[index], proof, root)


@pytest.mark.parametrize("n", range(1, 34))
def test_invalid_tampered_leaf(n: int) -> None:
    leaves = leaves_of(n)
    root = merkle_root(leaves)
    for index in range(n):
        proof = merkle_proof(leaves, index)
        with pytest.raises(InvalidProof, match="expected root"):
            verify_merkle_proof(bytes([leaves[index][0] ^ 1]) + leaves[index][1:], proof, root)
        other = leaves[(index + 1) % n]
        if other != leaves[index]:
            with pytest.raises(InvalidProof):
                verify_merkle_proof(other, proof, root)


@pytest.mark.parametrize("n", range(2, 34))
def test_invalid_tampered_path(n: int) -> None:
    leaves = leaves_of(n)
    root = merkle_root(leaves)
    for index in range(n):
        proof = merkle_proof(leaves, index)
        for position in range(len(proof.path)):
            bad = list(proof.path)
            bad[position] = bytes([bad[position][0] ^ 1]) + bad[position][1:]
            with pytest.raises(InvalidProof, match="expected root"):
                verify_merkle_proof(leaves[index], MerkleProof(index, n, tuple(bad)), root)
        with pytest.raises(InvalidProof, match="too short"):
            verify_merkle_proof(leaves[index], MerkleProof(index, n, proof.path[:-1]), root)
        with pytest.raises(InvalidProof, match="longer"):
            verify_merkle_proof(leaves[index], MerkleProof(index, n, proof.path + (root,)), root)
        if len(proof.path) > 1:
            swapped = (proof.path[1], proof.path[0], *proof.path[2:])
            with pytest.raises(InvalidProof):
                verify_merkle_proof(leaves[index], MerkleProof(index, n, swapped), root)


@pytest.mark.parametrize("n", range(1, 34))
def test_invalid_tampered_index(n: int) -> None:
    leaves = leaves_of(n)
    root = merkle_root(leaves)
    for index in range(n):
        proof = merkle_proof(leaves, index)
        for other in [*range(n), n, n + 1, -1, 2 * n]:
            if other == index:
                continue
            with pytest.raises(InvalidProof):
                verify_merkle_proof(leaves[index], MerkleProof(other, n, proof.path), root)


@pytest.mark.parametrize("n", range(1, 34))
def test_invalid_tampered_size(n: int) -> None:
    leaves = leaves_of(n)
    root = merkle_root(leaves)
    for index in range(n):
        proof = merkle_proof(leaves, index)
        for size in range(0, 2 * n + 3):
            if size == n:
                continue
            if size <= index:
                with pytest.raises(InvalidProof, match="outside"):
                    verify_merkle_proof(leaves[index], MerkleProof(index, size, proof.path), root)
            elif path_length(index, size) != len(proof.path):
                # A size that changes the tree's shape at this leaf needs a path of another length.
                with pytest.raises(InvalidProof):
                    verify_merkle_proof(leaves[index], MerkleProof(index, size, proof.path), root)


def test_root_does_not_commit_to_size() -> None:
    # RFC 6962 proofs are checked against a tree size the verifier already trusts: the root
    # alone does not fix the size. Leaf 0 of four leaves also "verifies" as leaf 0 of three,
    # because both shapes walk left, left. Callers must take the size from a trusted source.
    leaves = leaves_of(4)
    proof = merkle_proof(leaves, 0)
    verify_merkle_proof(leaves[0], MerkleProof(0, 3, proof.path), merkle_root(leaves))


def test_invalid_proof_for_missing_leaf() -> None:
    with pytest.raises(InvalidProof, match="outside a tree of 0 leaves"):
        merkle_proof([], 0)
    with pytest.raises(InvalidProof, match="outside"):
        merkle_proof(leaves_of(3), 3)
    with pytest.raises(InvalidProof, match="outside"):
        merkle_proof(leaves_of(3), -1)


def test_invalid_proof_against_other_root() -> None:
    leaves = leaves_of(5)
    with pytest.raises(InvalidProof):
        verify_merkle_proof(leaves[2], merkle_proof(leaves, 2), merkle_root(leaves_of(6)))


def test_single_leaf_proof_is_empty() -> None:
    leaves = leaves_of(1)
    proof = merkle_proof(leaves, 0)
    assert proof.path == ()
    verify_merkle_proof(leaves[0], proof, leaf_hash(leaves[0]))


def test_proof_wire_round_trip() -> None:
    leaves = leaves_of(11)
    proof = merkle_proof(leaves, 7)
    assert parse_merkle_proof(proof.to_wire()) == proof
    verify_merkle_proof(leaves[7], parse_merkle_proof(proof.to_wire()), merkle_root(leaves))


@pytest.mark.parametrize(
    "wire",
    [
        [],
        {"index": 0, "size": 1},
        {"index": 0, "size": 1, "path": [], "extra": 1},
        {"index": "0", "size": 1, "path": []},
        {"index": 0, "size": 1.0, "path": []},
        {"index": 0, "size": 1, "path": b""},
        {"index": 0, "size": 2, "path": [b"\x00" * 31]},
        {"index": 0, "size": 2, "path": ["00" * 32]},
    ],
)
def test_invalid_proof_wire(wire: Any) -> None:
    with pytest.raises(InvalidProof):
        parse_merkle_proof(wire)
