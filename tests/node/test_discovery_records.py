"""Peer-list records on the wire: strictly decoded, bounded, and an authority claim kept only
when a current authority signed it for that peer id on our genesis."""

from __future__ import annotations

import pytest
from libp2p.crypto.ed25519 import create_new_key_pair

from protocol.encoding import encode
from protocol.errors import ProtocolError
from protocol.keys import Domain, SigningKey

from node.p2p.address_book import Authority, PeerEntry
from node.p2p.discovery import MAX_RECORDS, Discovery, authority_statement, decode_records, encode_records
from node.p2p.identity import peer_id_of

GENESIS = b"\x11" * 32


def record(peer: str, authority: Authority | None = None) -> PeerEntry:
    return PeerEntry(peer, (f"/ip4/127.0.0.1/tcp/1/p2p/{peer}",), authority)


def test_records_round_trip():
    peer = peer_id_of(create_new_key_pair())
    key = SigningKey.generate()
    claim = Authority(key.did, key.sign(Domain.PEER, authority_statement(GENESIS, peer)))
    records = [record(peer, claim), record(peer_id_of(create_new_key_pair()))]
    assert decode_records(encode_records(records)) == tuple(records)


@pytest.mark.parametrize(
    "document",
    [
        {"peers": [{"peer_id": "x", "addresses": [], "authority": None, "signature": None}]},
        {"peers": [{"peer_id": "x", "addresses": ["a"] * 5, "authority": None, "signature": None}]},
        {"peers": [{"peer_id": "x", "addresses": ["a"], "authority": None, "signature": b"\0" * 64}]},
        {"peers": [{"peer_id": "x", "addresses": ["a"], "authority": None, "signature": None, "extra": 1}]},
        {"peers": [{"peer_id": "x", "addresses": ["a"], "authority": None, "signature": None}] * (MAX_RECORDS + 1)},
        {"peers": "many"},
    ],
)
def test_invalid_peer_lists_are_refused(document):
    with pytest.raises(ProtocolError):
        decode_records(encode(document))


class _Ledger:
    def __init__(self, authorities: tuple[str, ...]) -> None:
        self.authorities = authorities
        self.genesis = type("G", (), {"hash": GENESIS})()


def check(authorities: tuple[str, ...], entry: PeerEntry) -> PeerEntry:
    discovery = Discovery.__new__(Discovery)
    discovery._ledger = _Ledger(authorities)  # type: ignore[attr-defined]
    return discovery.check_authority(entry)


def test_an_authority_claim_needs_a_current_authority_signing_that_peer_on_our_genesis():
    peer, other = peer_id_of(create_new_key_pair()), peer_id_of(create_new_key_pair())
    key, outsider = SigningKey.generate(), SigningKey.generate()
    good = Authority(key.did, key.sign(Domain.PEER, authority_statement(GENESIS, peer)))
    assert check((key.did,), record(peer, good)).authority == good
    assert check((), record(peer, good)).authority is None, "not (or no longer) an authority"
    assert check((key.did,), record(other, good)).authority is None, "signed for another peer"
    other_genesis = Authority(key.did, key.sign(Domain.PEER, authority_statement(b"\x22" * 32, peer)))
    assert check((key.did,), record(peer, other_genesis)).authority is None
    forged = Authority(key.did, outsider.sign(Domain.PEER, authority_statement(GENESIS, peer)))
    assert check((key.did,), record(peer, forged)).authority is None


def test_what_a_peer_says_of_others_never_rewrites_a_known_address():
    from node.p2p.address_book import AddressBook

    source, known, fresh = (peer_id_of(create_new_key_pair()) for _ in range(3))
    discovery = Discovery.__new__(Discovery)
    discovery._ledger = _Ledger(())  # type: ignore[attr-defined]
    discovery.book = AddressBook(None, peer_id_of(create_new_key_pair()))
    discovery.book.add(PeerEntry(known, (f"/ip4/127.0.0.1/tcp/7/p2p/{known}",)))
    lies = (
        PeerEntry(known, (f"/ip4/10.9.9.9/tcp/1/p2p/{known}",)),
        PeerEntry(fresh, (f"/ip4/127.0.0.1/tcp/8/p2p/{fresh}",)),
        PeerEntry(source, (f"/ip4/127.0.0.1/tcp/9/p2p/{source}",)),
    )
    discovery._learn(source, lies)
    assert discovery.book.get(known).addresses == (f"/ip4/127.0.0.1/tcp/7/p2p/{known}",)
    assert discovery.book.get(fresh) is not None and discovery.book.get(source) is not None
