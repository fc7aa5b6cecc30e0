"""Ed25519 keys, did:key names, and the one signature check.

A signature covers a domain tag followed by the canonical encoding of the unsigned
object, so a signature made for one kind of object (an event) is never valid for
another (a block header). See ``Domain``.
"""

from __future__ import annotations

import enum
import functools
from dataclasses import dataclass

import nacl.bindings
import nacl.exceptions
import nacl.signing

from .errors import InvalidKey, InvalidSignature

_ED25519_MULTICODEC = b"\xed\x01"
_DID_PREFIX = "did:key:z"
_B58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B58_INDEX = {char: index for index, char in enumerate(_B58_ALPHABET)}

PUBLIC_KEY_SIZE = 32
SIGNATURE_SIZE = 64


class Domain(bytes, enum.Enum):
    """Domain tags: one per kind of signed object."""

    EVENT = b"audiera/event/v1\x00"
    HEADER = b"audiera/header/v1\x00"
    EVIDENCE = b"audiera/evidence/v1\x00"
    REQUEST = b"audiera/request/v1\x00"
    VOTE = b"audiera/vote/v1\x00"
    RELEASE = b"audiera/key-release/v1\x00"
    PEER = b"audiera/peer/v1\x00"
    """An authority vouching that a libp2p peer id is its node (peer discovery)."""


def b58encode(data: bytes) -> str:
    number = int.from_bytes(data, "big")
    out = []
    while number:
        number, rem = divmod(number, 58)
        out.append(_B58_ALPHABET[rem])
    leading = len(data) - len(data.lstrip(b"\x00"))
    return "1" * leading + "".join(reversed(out))


def b58decode(text: str) -> bytes:
    number = 0
    for char in text:
        if char not in _B58_INDEX:
            raise InvalidKey(f"character {char!r} is not base58")
        number = number * 58 + _B58_INDEX[char]
    leading = len(text) - len(text.lstrip("1"))
    body = number.to_bytes((number.bit_length() + 7) // 8, "big") if number else b""
    return b"\x00" * leading + body


@functools.lru_cache(maxsize=65536)
def did_from_public_key(public_key: bytes) -> str:
    """The did:key name of an Ed25519 public key (``did:key:z6Mk…``)."""
    if len(public_key) != PUBLIC_KEY_SIZE:
        raise InvalidKey(f"an Ed25519 public key has {PUBLIC_KEY_SIZE} bytes, not {len(public_key)}")
    return _DID_PREFIX + b58encode(_ED25519_MULTICODEC + public_key)


def public_key_from_did(did: str) -> bytes:
    """The public key a did:key names; raises InvalidKey for anything but an Ed25519 did:key."""
    if not isinstance(did, str):
        raise InvalidKey(f"{did!r} is not a did:key (expected 'did:key:z6Mk…')")
    return _public_key_from_did(did)


@functools.lru_cache(maxsize=65536)  # the same accounts sign again and again
def _public_key_from_did(did: str) -> bytes:
    if not did.startswith(_DID_PREFIX):
        raise InvalidKey(f"{did!r} is not a did:key (expected 'did:key:z6Mk…')")
    raw = b58decode(did[len(_DID_PREFIX):])
    # No re-encoding to check the form: b58decode maps each leading "1" to a zero byte
    # and the rest to the number's minimal bytes, so b58encode(b58decode(s)) == s for
    # every base58 string, and two names never decode to one key.
    if len(raw) != 2 + PUBLIC_KEY_SIZE or not raw.startswith(_ED25519_MULTICODEC):
        raise InvalidKey(f"{did!r} does not name an Ed25519 public key")
    return raw[2:]


def is_did(value: object) -> bool:
    try:
        public_key_from_did(value)  # type: ignore[arg-type]
    except InvalidKey:
        return False
    return True


@dataclass(frozen=True)
class SigningKey:
    """A private Ed25519 key with its did:key name."""

    seed: bytes

    def __post_init__(self) -> None:
        if len(self.seed) != 32:
            raise InvalidKey("an Ed25519 seed has 32 bytes")

    @classmethod
    def generate(cls) -> "SigningKey":
        return cls(bytes(nacl.signing.SigningKey.generate()))

    @property
    def public_key(self) -> bytes:
        return bytes(nacl.signing.SigningKey(self.seed).verify_key)

    @property
    def did(self) -> str:
        return did_from_public_key(self.public_key)

    def sign(self, domain: Domain, message: bytes) -> bytes:
        return nacl.signing.SigningKey(self.seed).sign(domain.value + message).signature

    def __repr__(self) -> str:  # never print the seed
        return f"SigningKey({self.did})"


@dataclass(frozen=True)
class SignatureCheck:
    """One signature to check, as a value: it can be checked later, or in another process."""

    domain: Domain
    message: bytes
    signature: bytes
    signer: str

    def run(self) -> None:
        verify_signature(self.domain, self.message, self.signature, self.signer)


def verify_signature(domain: Domain, message: bytes, signature: bytes, signer_did: str) -> None:
    """The one signature check. Raises InvalidSignature unless ``signature`` is valid."""
    if not isinstance(signature, bytes) or len(signature) != SIGNATURE_SIZE:
        raise InvalidSignature(f"a signature has {SIGNATURE_SIZE} bytes")
    public_key = public_key_from_did(signer_did)
    try:
        # The binding itself, not VerifyKey(...).verify: the wrapper's objects cost 15% of
        # a check, and a node checks one signature per event it sees.
        nacl.bindings.crypto_sign_open(signature + domain.value + message, public_key)
    except nacl.exceptions.BadSignatureError:
        raise InvalidSignature(f"signature does not verify for {signer_did}") from None
