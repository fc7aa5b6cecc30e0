"""The address book: what an untrusted peer can make us remember is bounded, pinned peers
stay, backoff resets on connecting, and the book survives a restart in its file."""

from __future__ import annotations

import json

from libp2p.crypto.ed25519 import create_new_key_pair

from node.p2p import address_book
from node.p2p.address_book import DIAL_BACKOFF_MAX_S, DIAL_BACKOFF_MIN_S, AddressBook, Authority, PeerEntry, is_dialable
from node.p2p.identity import peer_id_of


def new_peer() -> str:
    return peer_id_of(create_new_key_pair())


def entry(peer: str, port: int = 4000) -> PeerEntry:
    return PeerEntry(peer, (f"/ip4/127.0.0.1/tcp/{port}/p2p/{peer}",))


OWN = new_peer()


def test_is_dialable_needs_tcp_and_the_same_peer_id():
    peer, other = new_peer(), new_peer()
    assert is_dialable(f"/ip4/127.0.0.1/tcp/1/p2p/{peer}", peer)
    assert is_dialable(f"/dns4/node.example/tcp/1/p2p/{peer}", peer)
    assert not is_dialable(f"/ip4/127.0.0.1/tcp/1/p2p/{other}", peer)
    assert not is_dialable(f"/ip4/127.0.0.1/udp/1/p2p/{peer}", peer)
    assert not is_dialable(f"/ip4/127.0.0.1/tcp/1/ws/p2p/{peer}", peer)
    assert not is_dialable("not an address", peer)
    assert not is_dialable(f"/ip4/127.0.0.1/tcp/1/p2p/{peer}" + "x" * 300, peer)


def test_invalid_entries_and_our_own_id_are_refused():
    book = AddressBook(None, OWN)
    peer = new_peer()
    assert not book.add(PeerEntry(peer, (f"/ip4/127.0.0.1/tcp/1/p2p/{new_peer()}",)))
    assert not book.add(entry(OWN))
    assert book.entries() == []


def test_addresses_per_peer_are_capped():
    book = AddressBook(None, OWN)
    peer = new_peer()
    book.add(PeerEntry(peer, tuple(f"/ip4/127.0.0.1/tcp/{port}/p2p/{peer}" for port in range(1, 20))))
    assert len(book.get(peer).addresses) == address_book.MAX_ADDRESSES


def test_a_full_book_evicts_the_worst_unreached_entry_but_never_a_pinned_or_reached_one(monkeypatch):
    monkeypatch.setattr(address_book, "MAX_ENTRIES", 3)
    book = AddressBook(None, OWN)
    pinned = new_peer()
    book.pin(f"/ip4/127.0.0.1/tcp/1/p2p/{pinned}")
    reached, stranger = new_peer(), new_peer()
    book.add(entry(reached))
    book.connected(reached, 0.0)
    book.add(entry(stranger))
    book.dialled(stranger, 0.0, ok=False)
    newcomer = new_peer()
    assert book.add(entry(newcomer))
    assert {e.peer_id for e in book.entries()} == {pinned, reached, newcomer}
    book.connected(newcomer, 0.0)
    assert not book.add(entry(new_peer())), "nothing left to evict: the newcomer is refused"


def test_backoff_doubles_to_its_cap_and_resets_on_connecting():
    book = AddressBook(None, OWN)
    peer = new_peer()
    book.add(entry(peer))
    now = 100.0
    for _ in range(10):
        book.dialled(peer, now, ok=False)
    assert book.due(now + DIAL_BACKOFF_MAX_S * 0.7, set()) == []
    assert [e.peer_id for e in book.due(now + DIAL_BACKOFF_MAX_S * 1.3, set())] == [peer]
    book.connected(peer, now)
    assert [e.peer_id for e in book.due(now + DIAL_BACKOFF_MIN_S * 1.01, set())] == [peer]


def test_a_peer_failing_many_dials_is_forgotten_unless_pinned():
    book = AddressBook(None, OWN)
    loose, pinned = new_peer(), new_peer()
    book.add(entry(loose))
    book.pin(f"/ip4/127.0.0.1/tcp/2/p2p/{pinned}")
    for _ in range(address_book.FORGET_AFTER_FAILURES):
        book.dialled(loose, 0.0, ok=False)
        book.dialled(pinned, 0.0, ok=False)
    assert book.get(loose) is None and book.get(pinned) is not None


def test_authorities_are_dialled_first():
    book = AddressBook(None, OWN)
    plain = [new_peer() for _ in range(5)]
    authority = new_peer()
    for peer in plain:
        book.add(entry(peer))
    book.add(entry(authority))
    book.set_authority(authority, Authority("did:key:z6Mk", b"\0" * 64))
    assert book.due(0.0, set())[0].peer_id == authority


def test_known_peers_survive_a_restart_and_a_damaged_file_is_ignored(tmp_path):
    path = tmp_path / "peers.json"
    book = AddressBook(path, OWN)
    peer = new_peer()
    book.add(entry(peer, 4321))
    book.connected(peer, 0.0)
    book.save_if_changed()
    again = AddressBook(path, OWN)
    assert again.load() == 1
    assert again.get(peer).addresses == entry(peer, 4321).addresses
    assert [e.peer_id for e in again.reached()] == [peer]
    path.write_text("{not json")
    assert AddressBook(path, OWN).load() == 0
    path.write_text(json.dumps({"peers": [{"peer_id": peer, "addresses": ["/ip4/1.2.3.4/tcp/1/p2p/" + new_peer()]}]}))
    assert AddressBook(path, OWN).load() == 0, "an address of another peer id is not loaded"
