"""Real Ed25519 signatures, each checked once per run of the process and the verdict kept.

Every simulated node would otherwise verify every header and vote itself, n times the same
work for the same bytes; the cache makes a check cost one dictionary look-up after the
first (measured in the summary), while a forged or altered object is still refused, since
it is a different key.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import replace
from typing import Iterator

import nacl.bindings

from protocol.blocks import Header
from protocol.encoding import encode
from protocol.keys import Domain, SigningKey
from protocol import keys
from protocol.errors import InvalidSignature, ProtocolError
from protocol.votes import Vote

_verdicts: dict[Header | Vote, bool] = {}
_LIMIT = 200_000
_verify_signature = keys.verify_signature


def signature_ok(signed: Header | Vote) -> bool:
    verdict = _verdicts.get(signed)
    if verdict is None:
        try:
            signed.verify()
            verdict = True
        except ProtocolError:
            verdict = False
        if len(_verdicts) >= _LIMIT:
            _verdicts.clear()
        _verdicts[signed] = verdict
    return verdict


class FastSigner:
    """``protocol.keys.SigningKey.sign`` with the key pair derived once, not on every call.

    Ed25519 is deterministic, so the signatures are the very bytes SigningKey makes
    (tests/simulation/test_simulation.py checks it); deriving the key pair is 3/4 of a
    signature's cost through SigningKey.
    """

    def __init__(self, key: SigningKey) -> None:
        self.key = key
        self.did = key.did
        _, self._secret = nacl.bindings.crypto_sign_seed_keypair(key.seed)

    def sign(self, domain: Domain, message: bytes) -> bytes:
        return nacl.bindings.crypto_sign(domain.value + message, self._secret)[:64]

    def sign_header(self, unsigned: Header) -> Header:
        return replace(unsigned, sig=self.sign(Domain.HEADER, encode(unsigned.unsigned_wire())))

    def sign_vote(self, unsigned: Vote) -> Vote:
        return replace(unsigned, sig=self.sign(Domain.VOTE, encode(unsigned.unsigned_wire())))


_checked: dict[tuple[Domain, bytes, bytes, str], bool] = {}


def _cached_verify(domain: Domain, message: bytes, signature: bytes, signer_did: str) -> None:
    key = (domain, message, signature, signer_did)
    verdict = _checked.get(key)
    if verdict is None:
        try:
            _verify_signature(domain, message, signature, signer_did)
            verdict = True
        except ProtocolError:
            verdict = False
        if len(_checked) >= _LIMIT:
            _checked.clear()
        _checked[key] = verdict
    if not verdict:
        raise InvalidSignature(f"signature does not verify for {signer_did}")


@contextmanager
def verdicts_kept() -> Iterator[None]:
    """Within this block, ``protocol.keys.verify_signature`` checks each signature once per process.

    The rules verify votes again where they build evidence (``protocol.evidence.vote_evidence``),
    and every simulated node would check the same bytes; the first check's verdict stands.
    """
    keys.verify_signature = _cached_verify
    try:
        yield
    finally:
        keys.verify_signature = _verify_signature
