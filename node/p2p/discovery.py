"""Finding the other peers of our network, and keeping enough of them connected.

Why a peer-list request on our own protocol rather than what py-libp2p ships: its
Kademlia DHT and rendezvous need a server role and records of their own to find what a
single request answers, gossipsub's peer exchange only runs on PRUNE (a small testnet's
mesh never prunes), and mDNS reaches one LAN and only adds addresses, without
connecting. The request ``/audiera/<net>/peers/1`` is tagged with our genesis, so only
nodes of our network answer it, and it carries the asker's own record, so a peer that
dials us (from an ephemeral port) tells us where it listens.

Each record is a peer id and its listen addresses, and, for an authority's node, the
authority's signature over (genesis, peer id): a peer cannot pass itself off as an
authority, though it may lie about others' addresses. So what we accept is bounded
(``MAX_RECORDS`` per answer, ``address_book.MAX_ENTRIES`` in all), and a dial that
finds another peer id or another genesis costs the liar nothing but gains it nothing.

The dialler keeps every bootstrap peer connected and, below ``target`` connections,
dials known peers, authorities first; each peer's backoff starts at 0.5 s, doubles to
2 s, and resets once it is connected again.
"""

from __future__ import annotations

import asyncio
import logging
import random
from typing import Any

from protocol.encoding import decode, encode
from protocol.errors import DecodeError, ProtocolError
from protocol.fields import FieldReader
from protocol.keys import Domain, SigningKey, verify_signature

from node.chain.ledger import Ledger

from .address_book import MAX_ADDRESS_CHARS, MAX_ADDRESSES, AddressBook, Authority, PeerEntry
from .host import P2PError, P2PHost
from .messages import BadMessage
from .peering import HANDSHAKE_TIMEOUT_S, PeerManager

log = logging.getLogger("audiera.p2p.discovery")

MAX_RECORDS = 32
"""Most peer records one answer carries or is read for."""
DIAL_TICK_S = 0.25
MAX_PARALLEL_DIALS = 4
ASK_INTERVAL_S = 10.0
"""How often a random connected peer is asked whom it knows (each new peer is asked at once)."""
SAVE_INTERVAL_S = 5.0
DEFAULT_TARGET_PEERS = 16


def peers_protocol(tag: str) -> str:
    return f"/audiera/{tag}/peers/1"


def authority_statement(genesis_hash: bytes, peer_id: str) -> bytes:
    """What an authority signs to vouch that ``peer_id`` is its node on this genesis."""
    return encode({"genesis": genesis_hash, "peer_id": peer_id})


def encode_records(records: list[PeerEntry]) -> bytes:
    return encode(
        {
            "peers": [
                {
                    "peer_id": record.peer_id,
                    "addresses": list(record.addresses),
                    "authority": record.authority.did if record.authority else None,
                    "signature": record.authority.signature if record.authority else None,
                }
                for record in records[:MAX_RECORDS]
            ]
        }
    )


def decode_records(data: bytes) -> tuple[PeerEntry, ...]:
    """Peer records, their authority claims not yet checked (``check_authority`` does)."""
    try:
        value = decode(data)
    except DecodeError as exc:
        raise BadMessage(f"peer list: {exc.message}") from None
    reader = FieldReader(value, "peer list", BadMessage)
    records = reader.items("peers", _record, max_items=MAX_RECORDS, unique=False)
    reader.done()
    return records


def _record(value: Any, where: str) -> PeerEntry:
    reader = FieldReader(value, where, BadMessage)
    peer_id = reader.text("peer_id", min_len=1, max_len=128)
    addresses = reader.items(
        "addresses", lambda item, at: FieldReader({"a": item}, at, BadMessage).text("a", min_len=1, max_len=MAX_ADDRESS_CHARS),
        max_items=MAX_ADDRESSES, min_items=1,
    )
    did = reader.did("authority", optional=True)
    signature = reader.raw("signature")
    reader.done()
    if (did is None) != (signature is None) or (signature is not None and (not isinstance(signature, bytes) or len(signature) != 64)):
        raise BadMessage(f"{where}: an authority claim needs its did and a 64-byte signature")
    return PeerEntry(peer_id, addresses, Authority(did, signature) if did and signature else None)


class Discovery:
    def __init__(
        self,
        host: P2PHost,
        ledger: Ledger,
        peers: PeerManager,
        book: AddressBook,
        bootstrap: tuple[str, ...],
        *,
        tag: str,
        authority_key: SigningKey | None,
        target: int = DEFAULT_TARGET_PEERS,
    ) -> None:
        self._host = host
        self._ledger = ledger
        self._peers = peers
        self.book = book
        self._protocol = peers_protocol(tag)
        self._authority_key = authority_key
        self._target = target
        self._dialling: set[str] = set()
        for address in bootstrap:
            if book.pin(address) is None:
                log.warning("ignoring bootstrap address %r: not /ip4|ip6|dns…/tcp/…/p2p/<peer id> of another node", address)
        loaded = book.load()
        if loaded:
            log.info("known peers: %d from the last run", loaded)
        peers.on_handshake(self._on_handshake)

    async def serve(self) -> None:
        await self._host.serve(self._protocol, self._answer)

    async def run(self) -> None:
        try:
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(self._dial_loop(), name="dial")
                tasks.create_task(self._ask_loop(), name="ask peers")
                tasks.create_task(self._save_loop(), name="keep peers")
        finally:
            self.book.save_if_changed()

    # --- our record, and checking others' ---------------------------------------------------

    def own_record(self) -> PeerEntry:
        authority = None
        key = self._authority_key
        if key is not None and key.did in self._ledger.authorities:
            statement = authority_statement(self._ledger.genesis.hash, self._host.peer_id)
            authority = Authority(key.did, key.sign(Domain.PEER, statement))
        addresses = tuple(a if "/p2p/" in a else f"{a}/p2p/{self._host.peer_id}" for a in self._host.addresses)
        return PeerEntry(self._host.peer_id, addresses[:MAX_ADDRESSES], authority)

    def check_authority(self, record: PeerEntry) -> PeerEntry:
        """The record with its authority claim kept only if it is a current authority's valid signature."""
        claim = record.authority
        if claim is None:
            return record
        if claim.did in self._ledger.authorities:
            try:
                verify_signature(Domain.PEER, authority_statement(self._ledger.genesis.hash, record.peer_id), claim.signature, claim.did)
                return record
            except ProtocolError:
                pass
        return PeerEntry(record.peer_id, record.addresses, None)

    def _learn(self, source: str, records: tuple[PeerEntry, ...]) -> None:
        for record in records[:MAX_RECORDS]:
            checked = self.check_authority(record)
            if record.peer_id == source:
                # A peer's word on itself is the one we keep, authority claim (or its lack) included.
                self.book.add(checked)
                self.book.set_authority(record.peer_id, checked.authority)
            elif self.book.get(record.peer_id) is None:
                self.book.add(checked)
            elif checked.authority is not None:
                # What a peer says of others never rewrites an address we know; a valid signature is a fact.
                self.book.set_authority(record.peer_id, checked.authority)

    def _shared_records(self, asker: str) -> list[PeerEntry]:
        connected = set(self._host.peers())
        others = [entry for entry in self.book.reached() if entry.peer_id in connected and entry.peer_id != asker]
        random.shuffle(others)
        others.sort(key=lambda entry: entry.authority is None)
        return [self.own_record(), *others[: MAX_RECORDS - 1]]

    # --- the protocol ----------------------------------------------------------------------

    async def _answer(self, peer: str, request: bytes) -> bytes:
        try:
            self._learn(peer, tuple(record for record in decode_records(request) if record.peer_id == peer))
        except ProtocolError as exc:
            log.debug("peer list request from %s: %s", peer, exc.message)
        return encode_records(self._shared_records(peer))

    async def ask(self, peer: str) -> int:
        """Ask ``peer`` whom it knows; returns how many records it gave."""
        try:
            answer = await self._host.request(peer, self._protocol, encode_records([self.own_record()]), timeout=HANDSHAKE_TIMEOUT_S)
            records = decode_records(answer)
        except P2PError as exc:
            log.debug("asking %s for peers failed: %s", peer, exc.message)
            return 0
        except ProtocolError as exc:
            log.info("peer %s sent a bad peer list: %s", peer, exc.message)
            return 0
        self._learn(peer, records)
        return len(records)

    def _on_handshake(self, peer: str) -> None:
        self.book.connected(peer, asyncio.get_running_loop().time())
        self._peers.spawn(self.ask(peer))

    # --- loops -----------------------------------------------------------------------------

    async def _ask_loop(self) -> None:
        while True:
            await asyncio.sleep(ASK_INTERVAL_S)
            connected = [peer for peer in self._host.peers() if self._peers.allowed(peer)]
            if connected:
                await self.ask(random.choice(connected))

    async def _save_loop(self) -> None:
        while True:
            await asyncio.sleep(SAVE_INTERVAL_S)
            self.book.save_if_changed()

    async def _dial_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(DIAL_TICK_S)
            if not self._peers.peering:
                continue
            now = loop.time()
            connected = set(self._host.peers())
            for peer in connected:
                self.book.connected(peer, now)
            skip = connected | self._dialling | {self._host.peer_id}
            due = [entry for entry in self.book.due(now, skip) if self._peers.allowed(entry.peer_id)]
            room = max(0, self._target - len(connected))
            chosen = [entry for entry in due if entry.peer_id in self.book.pinned]
            chosen += [entry for entry in due if entry.peer_id not in self.book.pinned][:room]
            for entry in chosen[: max(0, MAX_PARALLEL_DIALS - len(self._dialling))]:
                self._dialling.add(entry.peer_id)
                self._peers.spawn(self._dial(entry))

    async def _dial(self, entry: PeerEntry) -> None:
        loop = asyncio.get_running_loop()
        ok = False
        try:
            for address in entry.addresses:
                try:
                    await asyncio.wait_for(self._host.connect(address), timeout=HANDSHAKE_TIMEOUT_S)
                    log.info("connected to %s%s", entry.peer_id, " (authority)" if entry.authority else "")
                    ok = True
                    break
                except (P2PError, asyncio.TimeoutError) as exc:
                    log.debug("dialing %s failed: %r", address, exc)
        finally:
            self._dialling.discard(entry.peer_id)
            self.book.dialled(entry.peer_id, loop.time(), ok)
