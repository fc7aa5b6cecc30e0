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
* additional data = ``DOMAIN || 00`` on every leaf but the last, and
  ``DOMAIN || 01 || binary plain root CID`` on the last. The final flag (as in the STREAM
  construction) makes truncation at a leaf boundary visible: the new last leaf was sealed
  as not final; a leaf after the final one is an extension and is refused. The plain root
  CID on the final leaf ties the whole stream, whose every leaf is authenticated under the
  same key, to the asset it claims to be, so a stream sealed for one asset cannot be
  passed off as another's even if a key were ever shared between them. It is bound on the
  final leaf alone because the CID is a Merkle root of the whole plain file: a node sealing
  an upload as it streams in only knows it once the last byte has arrived, and plain bytes
  must never wait on disk for it.

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


def _additional_data(plain_cid: bytes | None) -> bytes:
    """Additional data of a leaf; ``plain_cid`` only for the final one."""
    return DOMAIN + b"\x00" if plain_cid is None else DOMAIN + b"\x01" + plain_cid


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


class Sealer:
    """Seals a plain stream pushed in pieces of any size, for a writer that cannot pull.

    The last whole leaf is held back until ``finish``: only then is it known to be final.
    """

    def __init__(self, key: bytes) -> None:
        _check_key(key)
        self._key = key
        self._chunker = Chunker(LEAF_SIZE)
        self._held: bytes | None = None
        self._index = 0
        self._finished = False

    def feed(self, data: bytes) -> list[bytes]:
        """Add plain bytes; return the sealed leaves they completed (possibly none)."""
        if self._finished:
            raise ValueError("finish() was already called")
        sealed = []
        for leaf in self._chunker.feed(data):
            if self._held is not None:
                sealed.append(self._seal(self._held, None))
            self._held = leaf
        return sealed

    def finish(self, plain_cid: str) -> list[bytes]:
        """Seal what is left, the final leaf bound to ``plain_cid``; call once, at the end."""
        if self._finished:
            raise ValueError("finish() was already called")
        self._finished = True
        sealed = []
        tail = self._chunker.flush()
        if tail is not None:
            if self._held is not None:
                sealed.append(self._seal(self._held, None))
            self._held = tail
        sealed.append(self._seal(self._held if self._held is not None else b"", cid_from_str(plain_cid)))
        return sealed

    def _seal(self, leaf: bytes, plain_cid: bytes | None) -> bytes:
        sealed = crypto_aead_xchacha20poly1305_ietf_encrypt(
            leaf, _additional_data(plain_cid), _nonce(self._index), self._key
        )
        self._index += 1
        return sealed


def seal_chunks(key: bytes, plain_cid: str, chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Seal the plain stream ``chunks`` (pieces of any size) into sealed leaves.

    ``plain_cid`` is the plain file's root CID (the asset id).
    """
    sealer = Sealer(key)
    for chunk in chunks:
        yield from sealer.feed(chunk)
    yield from sealer.finish(plain_cid)


def leaf_count(sealed_length: int) -> int:
    """How many sealed leaves a sealed stream of ``sealed_length`` bytes holds."""
    return max(1, -(-sealed_length // SEALED_LEAF_SIZE))


def open_leaf(key: bytes, plain_cid: str, index: int, leaf: bytes, final: bool) -> bytes:
    """The plain bytes of sealed leaf ``index``, for a reader that reaches leaves out of order.

    ``final`` says whether it is the stream's last leaf; raises :class:`SealBroken`.
    """
    _check_key(key)
    opened = _open_leaf(key, cid_from_str(plain_cid), index, leaf)
    if opened is None:
        raise SealBroken(f"sealed leaf {index} does not open: it was altered", index)
    plain, was_final = opened
    if was_final != final:
        where = "is not the last" if was_final else "is the last"
        raise SealBroken(f"sealed leaf {index} {where}, yet was sealed otherwise: the stream was cut or extended", index)
    return plain


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
    """(plain leaf, was it sealed as final), or None when it opens as neither."""
    nonce = _nonce(index)
    for final_cid in (None, cid):
        try:
            opened = crypto_aead_xchacha20poly1305_ietf_decrypt(
                leaf, _additional_data(final_cid), nonce, key
            )
        except CryptoError:
            continue
        return opened, final_cid is not None
    return None
