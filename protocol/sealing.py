"""Sealed content: the AEAD framing every stored or moved copy of an asset's audio uses.

A node keeps and serves an asset only as its *sealed stream*: the plain file cut into
``LEAF_SIZE`` leaves, each leaf encrypted and authenticated on its own with
XChaCha20-Poly1305 under the asset's content key, the sealed leaves laid end to end.
Sealed leaf ``i`` is ``ciphertext(leaf i) || tag`` and is ``LEAF_SIZE + TAG_SIZE`` bytes
long, except the last one, which may be shorter. An empty file seals to one empty final
leaf (the tag alone), so every sealed stream has at least one leaf.

Why per leaf: a consumer decrypts while downloading with memory bounded by one leaf, and
a damaged leaf is refused by its index before any plain byte of it is released.

What each leaf's AEAD binds:

* nonce = the leaf index as a 24-byte big-endian integer. A content key seals exactly one
  stream, so counting leaves gives every leaf of it its own nonce; a leaf moved to another
  position is opened under the wrong nonce and fails its tag (reorder, swap, duplicate).
* additional data = ``DOMAIN || binary plain root CID || final flag``. The plain CID ties
  the stream to the asset it claims to be, so a stream sealed for one asset cannot be
  passed off as another's even if a key were ever shared between them. The final flag (1 on
  the last leaf, 0 on every other, as in the STREAM construction) makes truncation at a
  leaf boundary visible: the new last leaf was sealed as not final. A leaf after the
  final one is an extension and is refused.

There is no header: the leaf size is a protocol constant and the key and CID come from
the registration, so nothing about the stream needs to be read before the first leaf.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Iterator

from nacl.bindings import (
    crypto_aead_xchacha20poly1305_ietf_ABYTES,
    crypto_aead_xchacha20poly1305_ietf_decrypt,
    crypto_aead_xchacha20poly1305_ietf_encrypt,
    crypto_aead_xchacha20poly1305_ietf_KEYBYTES,
    crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
)
from nacl.exceptions import CryptoError

from protocol.cid import cid_from_str
from protocol.errors import ProtocolError
from protocol.unixfs import Chunker

LEAF_SIZE = 256 * 1024
"""Plain bytes per sealed leaf (the last leaf may hold fewer)."""
KEY_SIZE: int = crypto_aead_xchacha20poly1305_ietf_KEYBYTES
TAG_SIZE: int = crypto_aead_xchacha20poly1305_ietf_ABYTES
SEALED_LEAF_SIZE = LEAF_SIZE + TAG_SIZE
"""Bytes of every sealed leaf but the last."""
DOMAIN = b"audiera/sealed-content/v1"
_NONCE_SIZE: int = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES


class SealBroken(ProtocolError):
    """A sealed stream that does not open: tampered, truncated, reordered or extended.

    ``leaf`` is the index of the first leaf that failed to open.
    """

    code = "seal_broken"
    status = 422

    def __init__(self, message: str, leaf: int) -> None:
        super().__init__(message)
        self.leaf = leaf


def new_content_key() -> bytes:
    """A fresh random content key; seal exactly one stream with it."""
    return secrets.token_bytes(KEY_SIZE)


def sealed_size(plain_size: int) -> int:
    """Length of the sealed stream of a plain file of ``plain_size`` bytes."""
    if plain_size < 0:
        raise ValueError("a size is never negative")
    leaves = max(1, -(-plain_size // LEAF_SIZE))
    return plain_size + leaves * TAG_SIZE


def _nonce(index: int) -> bytes:
    return index.to_bytes(_NONCE_SIZE, "big")


def _additional_data(plain_cid: bytes, final: bool) -> bytes:
    return DOMAIN + plain_cid + (b"\x01" if final else b"\x00")


def _check_key(key: bytes) -> None:
    if len(key) != KEY_SIZE:
        raise ValueError(f"a content key is {KEY_SIZE} bytes, not {len(key)}")


def _leaves(pieces: Iterable[bytes], size: int) -> Iterator[tuple[int, bytes, bool]]:
    """(index, leaf, is_last) of ``pieces`` re-cut into ``size``-byte leaves.

    Always yields at least one leaf (an empty one for an empty stream).
    """
    chunker = Chunker(size)
    held: bytes | None = None
    index = 0
    for piece in pieces:
        for leaf in chunker.feed(piece):
            if held is not None:
                yield index, held, False
                index += 1
            held = leaf
    tail = chunker.flush()
    if tail is not None:
        if held is not None:
            yield index, held, False
            index += 1
        held = tail
    yield index, held if held is not None else b"", True


def seal_chunks(key: bytes, plain_cid: str, chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Seal the plain stream ``chunks`` (pieces of any size) into sealed leaves.

    ``plain_cid`` is the plain file's root CID (the asset id).
    """
    _check_key(key)
    cid = cid_from_str(plain_cid)
    for index, leaf, last in _leaves(chunks, LEAF_SIZE):
        yield crypto_aead_xchacha20poly1305_ietf_encrypt(
            leaf, _additional_data(cid, last), _nonce(index), key
        )


def open_chunks(key: bytes, plain_cid: str, sealed: Iterable[bytes]) -> Iterator[bytes]:
    """Open the sealed stream ``sealed`` (pieces of any size) and yield the plain leaves.

    Each leaf is released only once it has been authenticated; raises :class:`SealBroken`
    naming the first leaf that is tampered, out of place, missing or extra.
    """
    _check_key(key)
    cid = cid_from_str(plain_cid)
    final_seen_at: int | None = None
    for index, leaf, last in _leaves(sealed, SEALED_LEAF_SIZE):
        if final_seen_at is not None:
            raise SealBroken(
                f"sealed content continues after its final leaf {final_seen_at}", index
            )
        if len(leaf) < TAG_SIZE:
            raise SealBroken(f"sealed leaf {index} is cut short: it was truncated", index)
        plain = _open_leaf(key, cid, index, leaf)
        if plain is None:
            raise SealBroken(f"sealed leaf {index} does not open: it was altered", index)
        opened, was_final = plain
        if was_final:
            final_seen_at = index
        elif last:
            raise SealBroken(
                f"sealed content ends after leaf {index}, before its final leaf: "
                "it was truncated",
                index + 1,
            )
        yield opened


def _open_leaf(key: bytes, cid: bytes, index: int, leaf: bytes) -> tuple[bytes, bool] | None:
    """(plain leaf, was it sealed as final), or None when it opens under neither flag."""
    nonce = _nonce(index)
    for final in (False, True):
        try:
            opened = crypto_aead_xchacha20poly1305_ietf_decrypt(
                leaf, _additional_data(cid, final), nonce, key
            )
        except CryptoError:
            continue
        return opened, final
    return None
