"""Key releases: one authority's share of an asset key, sealed to the consumer of a final access.

An authority signs a ``KeyRelease`` (``Domain.RELEASE`` + the canonical encoding of its
unsigned fields) binding the access event's id, the asset and the share index, so a
release for one access is never one for another, and a share cannot be passed off as
another index. The share inside is sealed to the access author's X25519 key: anyone may
store and relay a release, only the consumer opens it. Whether the releaser really holds
that index, and whether the opened share is the committed one, is checked against the
asset's custody (protocol/key_custody.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .encoding import decode, encode
from .errors import DecodeError, ProtocolError
from .fields import FieldReader
from .key_custody import MAX_SHARES, SEALED_KEY_SIZE, seal_to
from .keys import Domain, SignatureCheck, SigningKey

RELEASE_VERSION = 1
MAX_RELEASE_BYTES = 1024


class InvalidRelease(ProtocolError):
    code = "invalid_release"


@dataclass(frozen=True)
class KeyRelease:
    """One share of an asset's key, released for one access."""

    access: bytes
    """Id of the final access event it is released for."""
    asset: str
    """The asset the access is to."""
    index: int
    """The share's index in the asset's custody."""
    sealed_share: bytes
    """The share, sealed to the access author's X25519 key."""
    releaser: str
    """did:key of the authority holding share ``index``."""
    sig: bytes = b""
    """Ed25519 by ``releaser`` over Domain.RELEASE + encode(unsigned_wire())."""
    v: int = RELEASE_VERSION

    def unsigned_wire(self) -> dict[str, Any]:
        return {
            "v": self.v,
            "access": self.access,
            "asset": self.asset,
            "index": self.index,
            "sealed_share": self.sealed_share,
            "releaser": self.releaser,
        }

    def to_wire(self) -> dict[str, Any]:
        return {**self.unsigned_wire(), "sig": self.sig}

    def signature_check(self) -> SignatureCheck:
        return SignatureCheck(Domain.RELEASE, encode(self.unsigned_wire()), self.sig, self.releaser)

    def verify(self) -> None:
        self.signature_check().run()

    @property
    def key(self) -> tuple[bytes, int]:
        """What a release is stored and deduplicated by: one per access and share."""
        return self.access, self.index


def sign_release(key: SigningKey, access: bytes, asset: str, index: int, share: bytes, consumer: str) -> KeyRelease:
    """Seal ``share`` to ``consumer`` and sign the release as ``key``."""
    unsigned = KeyRelease(access=access, asset=asset, index=index, sealed_share=seal_to(consumer, share), releaser=key.did)
    sig = key.sign(Domain.RELEASE, encode(unsigned.unsigned_wire()))
    return KeyRelease(**{**unsigned.__dict__, "sig": sig})


def encode_release(release: KeyRelease) -> bytes:
    return encode(release.to_wire())


def parse_release(value: Any) -> KeyRelease:
    r = FieldReader(value, "key release", InvalidRelease)
    version = r.integer("v")
    if version != RELEASE_VERSION:
        raise InvalidRelease(f"key release version {version} is not supported (this node speaks {RELEASE_VERSION})")
    access = r.digest("access")
    release = KeyRelease(
        access=access,  # type: ignore[arg-type]
        asset=r.cid("asset"),
        index=r.integer("index", low=1, high=MAX_SHARES),
        sealed_share=_fixed(r, "sealed_share", SEALED_KEY_SIZE),
        releaser=r.did("releaser"),  # type: ignore[arg-type]
        sig=_fixed(r, "sig", 64),
        v=version,
    )
    r.done()
    return release


def decode_release(data: bytes, *, verify: bool = True) -> KeyRelease:
    """Strictly decode a release and (unless told it was checked before) verify its signature."""
    if len(data) > MAX_RELEASE_BYTES:
        raise InvalidRelease(f"a key release of {len(data)} bytes is over the limit of {MAX_RELEASE_BYTES}")
    try:
        release = parse_release(decode(data))
    except DecodeError as exc:
        raise InvalidRelease(f"key release does not decode: {exc.message}") from None
    if verify:
        release.verify()
    return release


def _fixed(r: FieldReader, field: str, size: int) -> bytes:
    value = r.raw(field)
    if not isinstance(value, bytes) or len(value) != size:
        raise r.fail(field, f"must be {size} bytes")
    return value
