"""The per-asset content key, held by the authorities together.

An asset's 32-byte content key is split k-of-n with Shamir's scheme among the n
authorities of the registration's height, each share sealed (a libsodium sealed box) to
one authority's X25519 key, which is derived from the Ed25519 key its did:key names. A
commitment per share lets whoever combines shares detect a bad one and name its index.
The whole key is also sealed to each rights holder, so holders open their own assets
without the authorities. All of it is a ``Custody``, carried in the signed registration.

Field: GF(2^8), byte by byte over the key (the AES polynomial x^8+x^4+x^3+x+1, as
HashiCorp Vault and SLIP-39 use). A share is exactly as long as the key, there is no
modular bias to avoid when drawing coefficients, and n is bounded by 255 share
indices, far above any authority set this network runs.

Threshold: k = floor(n/3) + 1. Fewer than a third of the authorities hold at most
floor((n-1)/3) < k shares, so they learn nothing about the key (every value of the key
is equally likely given k-1 shares); and the key survives n - k authorities down,
which is at least a third of them. For n = 4: k = 2 (one authority alone learns
nothing; two of four down still release). For n = 7: k = 3 (two learn nothing; four of
seven may be down). The price of that liveness: k authorities together, a third plus
one, can recover the key; DESIGN and the README's threat model say so.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping

import nacl.bindings
import nacl.exceptions
import nacl.public

from .encoding import sha256
from .errors import ProtocolError
from .fields import FieldReader
from .keys import SigningKey, public_key_from_did

KEY_SIZE = 32
SEALED_KEY_SIZE = KEY_SIZE + nacl.bindings.crypto_box_SEALBYTES
MAX_SHARES = 255
MAX_HOLDER_COPIES = 16
_COMMITMENT_TAG = b"audiera/key-share/v1\x00"


class InvalidCustody(ProtocolError):
    code = "invalid_custody"


class BadShare(ProtocolError):
    """A share that does not match its commitment (or cannot be opened); names its index."""

    code = "bad_share"

    def __init__(self, indices: Iterable[int], why: str) -> None:
        self.indices = tuple(sorted(indices))
        super().__init__(f"share{'s' if len(self.indices) > 1 else ''} {', '.join(map(str, self.indices))}: {why}")


class NotEnoughShares(ProtocolError):
    code = "not_enough_shares"


@dataclass(frozen=True)
class KeyShare:
    """One authority's share of an asset's key."""

    index: int
    """The share's x coordinate, 1..255."""
    holder: str
    """did:key of the authority it is sealed to."""
    sealed: bytes
    """The share, sealed to the holder's X25519 key."""
    commitment: bytes
    """sha2-256 over a tag, the asset, the index and the share: checks an opened share."""

    def to_wire(self) -> dict[str, Any]:
        return {"index": self.index, "holder": self.holder, "sealed": self.sealed, "commitment": self.commitment}


@dataclass(frozen=True)
class HolderCopy:
    """The whole key, sealed to one rights holder."""

    holder: str
    sealed: bytes

    def to_wire(self) -> dict[str, Any]:
        return {"holder": self.holder, "sealed": self.sealed}


@dataclass(frozen=True)
class Custody:
    """Who holds an asset's key, and how much of it."""

    threshold: int
    """k: how many shares recover the key."""
    shares: tuple[KeyShare, ...]
    """One per authority, in index order."""
    holder_copies: tuple[HolderCopy, ...]
    """One per rights holder."""

    def to_wire(self) -> dict[str, Any]:
        return {
            "threshold": self.threshold,
            "shares": [share.to_wire() for share in self.shares],
            "holder_copies": [copy.to_wire() for copy in self.holder_copies],
        }

    @property
    def share_holders(self) -> tuple[str, ...]:
        return tuple(share.holder for share in self.shares)

    def share_of(self, did: str) -> KeyShare | None:
        return next((share for share in self.shares if share.holder == did), None)

    def share_at(self, index: int) -> KeyShare | None:
        return next((share for share in self.shares if share.index == index), None)

    def copy_for(self, did: str) -> HolderCopy | None:
        return next((copy for copy in self.holder_copies if copy.holder == did), None)


def threshold_for(n: int) -> int:
    """k = floor(n/3) + 1: fewer than a third learn nothing; the key survives n - k down."""
    return n // 3 + 1


# --- GF(2^8) ---------------------------------------------------------------------------


def _tables() -> tuple[list[int], list[int]]:
    exp = [0] * 510
    log = [0] * 256
    value = 1
    for power in range(255):
        exp[power] = value
        log[value] = power
        value ^= (value << 1) ^ (0x11B if value & 0x80 else 0)  # times 3, the field's generator
        value &= 0xFF
    for power in range(255, 510):
        exp[power] = exp[power - 255]
    return exp, log


_EXP, _LOG = _tables()


def _mul(a: int, b: int) -> int:
    return 0 if a == 0 or b == 0 else _EXP[_LOG[a] + _LOG[b]]


def _div(a: int, b: int) -> int:
    return 0 if a == 0 else _EXP[_LOG[a] + 255 - _LOG[b]]


def split_secret(secret: bytes, n: int, k: int, random_bytes: Callable[[int], bytes] = secrets.token_bytes) -> dict[int, bytes]:
    """Shares 1..n of ``secret``, any ``k`` of which recover it."""
    if not 1 <= k <= n <= MAX_SHARES:
        raise ValueError(f"need 1 <= k <= n <= {MAX_SHARES}, got k={k}, n={n}")
    coefficients = [random_bytes(len(secret)) for _ in range(k - 1)]
    shares: dict[int, bytes] = {}
    for x in range(1, n + 1):
        out = bytearray(len(secret))
        for position, constant in enumerate(secret):
            y = 0
            for row in reversed(coefficients):  # Horner, highest degree first
                y = _mul(y, x) ^ row[position]
            out[position] = _mul(y, x) ^ constant
        shares[x] = bytes(out)
    return shares


def combine_shares(shares: Mapping[int, bytes]) -> bytes:
    """The secret at x = 0 through the given points (Lagrange); the caller passes k of them."""
    if not shares:
        raise NotEnoughShares("no shares to combine")
    lengths = {len(value) for value in shares.values()}
    if len(lengths) != 1 or any(not 1 <= x <= MAX_SHARES for x in shares):
        raise BadShare(shares, "shares of different lengths or out-of-range indices cannot be combined")
    weights = {}
    for x in shares:
        weight = 1
        for other in shares:
            if other != x:
                weight = _mul(weight, _div(other, other ^ x))
        weights[x] = weight
    out = bytearray(lengths.pop())
    for x, value in shares.items():
        weight = weights[x]
        for position, byte in enumerate(value):
            out[position] ^= _mul(weight, byte)
    return bytes(out)


# --- sealing to did:key ---------------------------------------------------------------


def x25519_public_key(did: str) -> nacl.public.PublicKey:
    """The X25519 key of an Ed25519 did:key (libsodium's birational map)."""
    return nacl.public.PublicKey(nacl.bindings.crypto_sign_ed25519_pk_to_curve25519(public_key_from_did(did)))


def x25519_private_key(key: SigningKey) -> nacl.public.PrivateKey:
    secret = nacl.bindings.crypto_sign_ed25519_sk_to_curve25519(key.seed + key.public_key)
    return nacl.public.PrivateKey(secret)


def seal_to(did: str, plain: bytes) -> bytes:
    return nacl.public.SealedBox(x25519_public_key(did)).encrypt(plain)


def open_sealed(key: SigningKey, sealed: bytes) -> bytes | None:
    """The plaintext of a box sealed to ``key``'s did, or None if it was not, or was altered."""
    try:
        return nacl.public.SealedBox(x25519_private_key(key)).decrypt(sealed)
    except nacl.exceptions.CryptoError:
        return None


# --- custody ---------------------------------------------------------------------------


def share_commitment(asset: str, index: int, share: bytes) -> bytes:
    return sha256(_COMMITMENT_TAG + asset.encode() + b"\x00" + bytes([index]) + share)


def build_custody(key: bytes, asset: str, authorities: Iterable[str], rights_holders: Iterable[str]) -> Custody:
    """Split ``key`` among ``authorities`` (in their order) and seal it whole to each rights holder."""
    if len(key) != KEY_SIZE:
        raise ValueError(f"a content key has {KEY_SIZE} bytes")
    holders_of_shares = list(authorities)
    n = len(holders_of_shares)
    k = threshold_for(n)
    parts = split_secret(key, n, k)
    shares = tuple(
        KeyShare(index=x, holder=did, sealed=seal_to(did, parts[x]), commitment=share_commitment(asset, x, parts[x]))
        for x, did in zip(range(1, n + 1), holders_of_shares)
    )
    copies = tuple(HolderCopy(holder=did, sealed=seal_to(did, key)) for did in rights_holders)
    return Custody(threshold=k, shares=shares, holder_copies=copies)


def check_share(asset: str, share: KeyShare, value: bytes) -> None:
    """Raise BadShare naming ``share.index`` unless ``value`` is the committed share."""
    if len(value) != KEY_SIZE or not secrets.compare_digest(share_commitment(asset, share.index, value), share.commitment):
        raise BadShare([share.index], "does not match its commitment in the registration")


def recover_key(asset: str, custody: Custody, opened: Mapping[int, bytes]) -> bytes:
    """The key from opened shares (index -> share): every share is checked, bad ones are named."""
    bad = []
    for index, value in opened.items():
        share = custody.share_at(index)
        if share is None:
            bad.append(index)
            continue
        try:
            check_share(asset, share, value)
        except BadShare:
            bad.append(index)
    if bad:
        raise BadShare(bad, "does not match its commitment in the registration")
    if len(opened) < custody.threshold:
        raise NotEnoughShares(f"{len(opened)} good share(s) of the {custody.threshold} needed to recover the key")
    chosen = dict(sorted(opened.items())[: custody.threshold])
    return combine_shares(chosen)


def open_holder_copy(custody: Custody, key: SigningKey) -> bytes:
    """A rights holder's own copy of the key."""
    copy = custody.copy_for(key.did)
    if copy is None:
        raise InvalidCustody(f"{key.did} holds no copy of this asset's key (it is not a rights holder named in the custody)")
    plain = open_sealed(key, copy.sealed)
    if plain is None or len(plain) != KEY_SIZE:
        raise InvalidCustody(f"the key copy sealed to {key.did} does not open with this key")
    return plain


# --- wire ------------------------------------------------------------------------------


def parse_custody(value: Any, where: str = "custody", error: type[ProtocolError] = InvalidCustody) -> Custody:
    r = FieldReader(value, where, error)
    threshold = r.integer("threshold", low=1, high=MAX_SHARES)
    shares = r.items("shares", lambda v, w: _parse_share(v, w, error), min_items=1, max_items=MAX_SHARES)
    copies = r.items("holder_copies", lambda v, w: _parse_copy(v, w, error), min_items=1, max_items=MAX_HOLDER_COPIES)
    r.done()
    custody = Custody(threshold=threshold, shares=shares, holder_copies=copies)  # type: ignore[arg-type]
    check_custody_shape(custody, where, error)
    return custody


def check_custody_shape(custody: Custody, where: str, error: type[ProtocolError]) -> None:
    n = len(custody.shares)
    if custody.threshold != threshold_for(n):
        raise error(f"{where}.threshold must be floor(n/3)+1 = {threshold_for(n)} for {n} shares, not {custody.threshold}")
    if [share.index for share in custody.shares] != list(range(1, n + 1)):
        raise error(f"{where}.shares must have indices 1..{n} in order")
    if len(set(custody.share_holders)) != n:
        raise error(f"{where}.shares names an authority twice")
    if len({copy.holder for copy in custody.holder_copies}) != len(custody.holder_copies):
        raise error(f"{where}.holder_copies names a rights holder twice")


def _parse_share(value: Any, where: str, error: type[ProtocolError]) -> KeyShare:
    r = FieldReader(value, where, error)
    share = KeyShare(
        index=r.integer("index", low=1, high=MAX_SHARES),
        holder=r.did("holder"),  # type: ignore[arg-type]
        sealed=_fixed_bytes(r, "sealed", SEALED_KEY_SIZE),
        commitment=_fixed_bytes(r, "commitment", 32),
    )
    r.done()
    return share


def _parse_copy(value: Any, where: str, error: type[ProtocolError]) -> HolderCopy:
    r = FieldReader(value, where, error)
    copy = HolderCopy(holder=r.did("holder"), sealed=_fixed_bytes(r, "sealed", SEALED_KEY_SIZE))  # type: ignore[arg-type]
    r.done()
    return copy


def _fixed_bytes(r: FieldReader, field: str, size: int) -> bytes:
    value = r.raw(field)
    if not isinstance(value, bytes) or len(value) != size:
        raise r.fail(field, f"must be {size} bytes")
    return value
