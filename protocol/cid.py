"""Content identifiers: binary CIDv1 with sha2-256, written as base32 lower text.

Only the subset that ``ipfs add --cid-version=1 --raw-leaves`` produces is
accepted: version 1, codec raw (0x55) or dag-pb (0x70), multihash sha2-256 with a
32-byte digest, multibase base32 lower ("b..."). Restricting the accepted set
means two peers can never disagree on whether two spellings name the same
content: every CID we accept has exactly one binary and one text form.

The multibase/varint codecs are implemented here (a few lines each) so the pure
protocol layer has no third-party dependency.
"""

from __future__ import annotations

import hashlib

from protocol.errors import DecodeError, InvalidCID

RAW = 0x55
DAG_PB = 0x70
SHA2_256 = 0x12

DIGEST_SIZE = 32
_CODEC_NAMES = {RAW: "raw", DAG_PB: "dag-pb"}

# Multiformats unsigned varints are limited to 9 bytes (63 bits).
_MULTIFORMAT_VARINT_MAX_BYTES = 9


# ---------------------------------------------------------------- varints


def encode_uvarint(value: int) -> bytes:
    """Unsigned LEB128 varint (multiformats and protobuf use the same encoding)."""
    if value < 0:
        raise ValueError(f"varint must be non-negative, got {value}")
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def decode_uvarint(data: bytes, pos: int = 0, max_bytes: int = 10) -> tuple[int, int]:
    """Decode one varint at ``pos``; return ``(value, position after it)``.

    Rejects truncation, encodings longer than ``max_bytes`` and non-minimal
    encodings (a trailing 0x00 continuation byte), because a canonical form is
    required for content-addressed bytes to have one hash.
    """
    value = 0
    shift = 0
    for i in range(max_bytes):
        if pos + i >= len(data):
            raise DecodeError("truncated varint")
        byte = data[pos + i]
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            if byte == 0 and i > 0:
                raise DecodeError("non-minimal varint encoding")
            return value, pos + i + 1
        shift += 7
    raise DecodeError(f"varint longer than {max_bytes} bytes")


# ---------------------------------------------------------------- base32

_B32_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"
_B32_INDEX = {ch: i for i, ch in enumerate(_B32_ALPHABET)}


def base32_encode(data: bytes) -> str:
    """RFC 4648 base32, lower case, no padding (multibase 'b')."""
    out = []
    acc = 0
    bits = 0
    for byte in data:
        acc = (acc << 8) | byte
        bits += 8
        while bits >= 5:
            bits -= 5
            out.append(_B32_ALPHABET[(acc >> bits) & 0x1F])
    if bits:
        out.append(_B32_ALPHABET[(acc << (5 - bits)) & 0x1F])
    return "".join(out)


def base32_decode(text: str) -> bytes:
    """Strict inverse of :func:`base32_encode` (raises :class:`InvalidCID`).

    Leftover bits must be fewer than 8 and all zero, so every byte string has
    exactly one accepted spelling.
    """
    out = bytearray()
    acc = 0
    bits = 0
    for pos, ch in enumerate(text):
        index = _B32_INDEX.get(ch)
        if index is None:
            hint = " (base32 must be lower case)" if ch in _B32_ALPHABET.upper() else ""
            raise InvalidCID(f"invalid base32 character {ch!r} at position {pos}{hint}")
        acc = (acc << 5) | index
        bits += 5
        if bits >= 8:
            bits -= 8
            out.append((acc >> bits) & 0xFF)
            acc &= (1 << bits) - 1
    if bits >= 5 or acc & ((1 << bits) - 1):
        raise InvalidCID("base32 text has an invalid length or non-zero padding bits")
    return bytes(out)


# ---------------------------------------------------------------- CIDs


def make_cid(codec: int, data: bytes) -> bytes:
    """Binary CIDv1 of ``data`` with the given codec and a sha2-256 multihash."""
    if codec not in _CODEC_NAMES:
        raise InvalidCID(f"unknown codec 0x{codec:x}: only raw (0x55) and dag-pb (0x70) are used")
    digest = hashlib.sha256(data).digest()
    return b"\x01" + encode_uvarint(codec) + bytes((SHA2_256, DIGEST_SIZE)) + digest


def _parse(cid: bytes) -> tuple[int, bytes]:
    """Validate a binary CID; return ``(codec, digest)`` or raise InvalidCID."""
    if not isinstance(cid, (bytes, bytearray, memoryview)):
        raise InvalidCID(f"a binary CID must be bytes, got {type(cid).__name__}")
    cid = bytes(cid)
    if not cid:
        raise InvalidCID("empty CID")
    if len(cid) == 34 and cid[0] == SHA2_256 and cid[1] == DIGEST_SIZE:
        raise InvalidCID("CIDv0 (bare sha2-256 multihash) is not accepted: use CIDv1")
    try:
        version, pos = decode_uvarint(cid, 0, _MULTIFORMAT_VARINT_MAX_BYTES)
        if version != 1:
            raise InvalidCID(f"unsupported CID version {version}: only CIDv1 is accepted")
        codec, pos = decode_uvarint(cid, pos, _MULTIFORMAT_VARINT_MAX_BYTES)
        if codec not in _CODEC_NAMES:
            raise InvalidCID(
                f"unknown codec 0x{codec:x}: only raw (0x55) and dag-pb (0x70) are accepted"
            )
        hash_fn, pos = decode_uvarint(cid, pos, _MULTIFORMAT_VARINT_MAX_BYTES)
        if hash_fn != SHA2_256:
            raise InvalidCID(
                f"unsupported hash function 0x{hash_fn:x}: only sha2-256 (0x12) is accepted"
            )
        length, pos = decode_uvarint(cid, pos, _MULTIFORMAT_VARINT_MAX_BYTES)
    except DecodeError as exc:
        raise InvalidCID(f"malformed CID: {exc.message}") from None
    if length != DIGEST_SIZE:
        raise InvalidCID(f"sha2-256 digest length must be 32, got {length}")
    digest = cid[pos:]
    if len(digest) < DIGEST_SIZE:
        raise InvalidCID(f"truncated CID: digest has {len(digest)} of 32 bytes")
    if len(digest) > DIGEST_SIZE:
        raise InvalidCID(f"{len(digest) - DIGEST_SIZE} trailing bytes after the CID digest")
    return codec, digest


def validate_cid(cid: bytes) -> bytes:
    """Return ``cid`` as bytes if it is a CID we accept, else raise InvalidCID."""
    _parse(cid)
    return bytes(cid)


def cid_to_str(cid: bytes) -> str:
    """Multibase base32 lower text form, e.g. ``bafkrei...`` (raw) or ``bafybei...``."""
    _parse(cid)
    return "b" + base32_encode(bytes(cid))


def cid_from_str(text: str) -> bytes:
    """Strictly parse the text form produced by :func:`cid_to_str`."""
    if not isinstance(text, str):
        raise InvalidCID(f"a CID must be a string, got {type(text).__name__}")
    if not text:
        raise InvalidCID("empty CID")
    if text.startswith("Qm"):
        raise InvalidCID("CIDv0 (Qm…) is not accepted: use CIDv1 base32 (bafy…/bafk…)")
    prefix = text[0]
    if prefix != "b":
        raise InvalidCID(_wrong_multibase_message(prefix))
    return validate_cid(base32_decode(text[1:]))


def _wrong_multibase_message(prefix: str) -> str:
    known = {
        "B": "upper-case base32",
        "z": "base58btc",
        "f": "base16",
        "F": "upper-case base16",
        "m": "base64",
        "u": "base64url",
        "k": "base36",
    }
    name = known.get(prefix)
    what = f"{name} ({prefix}…)" if name else f"multibase prefix {prefix!r}"
    return f"{what} is not accepted: use CIDv1 base32 lower (prefix 'b')"


def cid_codec(cid: bytes) -> int:
    """Codec of a valid CID: :data:`RAW` or :data:`DAG_PB`."""
    return _parse(cid)[0]


def cid_digest(cid: bytes) -> bytes:
    """The 32-byte sha2-256 digest inside a valid CID."""
    return _parse(cid)[1]


def is_valid_block(cid: bytes, data: bytes) -> bool:
    """True iff ``data`` hashes to ``cid``'s digest (raises InvalidCID for a bad CID).

    The codec is not checked against the content: the hash alone binds the bytes.
    """
    return hashlib.sha256(data).digest() == _parse(cid)[1]
