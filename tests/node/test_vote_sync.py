"""Learning the votes behind a block a peer's status shows justified (gossip is not retried)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from node.p2p import messages
from node.p2p.peers import PENALTY_BAD_RESPONSE, PeerBook
from node.p2p.sync import Syncer
from node.p2p.sync_server import SyncServer
from protocol.votes import encode_vote

from .consensus_helpers import AUTHORITIES, GENESIS, Node, checkpoint, votes

A1, A2, A3, A4 = AUTHORITIES
PEER = "source-peer"


def status_of(node: Node) -> messages.Status:
    """What ``node`` says in a status exchange (``PeerManager._our_status``)."""
    ledger = node.ledger
    head, final = ledger.head, ledger.finalized
    justified = ledger.justified_on(head.hash, head.height)
    return messages.Status(
        GENESIS.network_id, GENESIS.hash, head.height, head.hash, ledger.head_difficulty,
        final.height, final.hash, justified.height, justified.hash,
    )


class Harness:
    """A syncer on ``sink`` whose one peer is ``source``, served by a real SyncServer."""

    def __init__(self, sink: Node, source: Node) -> None:
        self.penalties: list[tuple[int, str]] = []
        self.requests: list[bytes] = []
        self.server = SyncServer(source.chain, source.votes.votes_behind)
        self.answer = self.server.serve
        self.book = PeerBook()
        self.book.set_status(PEER, status_of(source))

        async def request(peer: str, payload: bytes) -> bytes:
            self.requests.append(payload)
            return await self.answer(peer, payload)

        async def penalize(peer: str, amount: int, reason: str) -> None:
            self.penalties.append((amount, reason))

        self.syncer = Syncer(sink.ledger, sink.importer, self.book, request, penalize, lambda _: None, sink.votes)


@pytest.fixture
def split(start, forge):
    """Both nodes hold b1..b3; only ``source`` got the gossiped votes that justify b2 (b1 -> b2 final too)."""
    b1, b2, b3 = forge.chain(None, A1, A2, A3)
    source, sink = start("source"), start("sink")
    for node in (source, sink):
        node.import_all(b1, b2, b3)
    for vote in votes(None, b1, AUTHORITIES[:3]) + votes(b1, b2, AUTHORITIES[:3]) + votes(b2, b3, AUTHORITIES[:3]):
        source.votes.add(vote)
    assert source.ledger.justified_on(b3.hash, 3) == checkpoint(b3)
    assert sink.ledger.justified_on(b3.hash, 3) == checkpoint(None)
    return source, sink, (b1, b2, b3)


async def test_a_peer_s_justified_block_brings_the_votes_behind_it(split):
    source, sink, (b1, b2, b3) = split
    harness = Harness(sink, source)
    await harness.syncer.learn_justified()
    assert sink.ledger.justified_on(b3.hash, 3) == checkpoint(b3)
    assert sink.ledger.finalized.hash == b2.hash
    assert harness.penalties == []
    # Asked once; not again while the answer stands (it is justified here now).
    await harness.syncer.learn_justified()
    assert len(harness.requests) == 1
    assert messages.decode_sync_request(harness.requests[0]) == messages.VotesBehind(3, b3.hash, 0)


async def test_the_votes_are_asked_for_only_once_the_block_is_here(start, forge, split):
    source, _, (b1, b2, b3) = split
    late = start("late")
    late.import_all(b1, b2)
    harness = Harness(late, source)
    await harness.syncer.learn_justified()
    assert harness.requests == []  # b3 is not here: its votes could not be counted yet
    late.import_all(b3)
    await harness.syncer.learn_justified()
    assert late.ledger.justified_on(b3.hash, 3) == checkpoint(b3)


async def test_a_forged_vote_in_the_answer_costs_the_peer_and_counts_nothing(split):
    source, sink, (b1, b2, b3) = split
    harness = Harness(sink, source)
    honest = source.votes.votes_behind(checkpoint(b3), 0, messages.MAX_SYNC_VOTES)
    forged = replace(honest[-1], sig=bytes(64))

    async def answer(peer: str, payload: bytes) -> bytes:
        return messages.encode_votes([encode_vote(vote) for vote in honest[:-1] + [forged]])

    harness.answer = answer
    await harness.syncer.learn_justified()
    assert [amount for amount, _ in harness.penalties] == [PENALTY_BAD_RESPONSE]
    assert sink.ledger.justified_on(b3.hash, 3) == checkpoint(None)
    assert sink.ledger.votes.vote_count() == 0


async def test_a_malformed_votes_answer_costs_the_peer(split):
    source, sink, _ = split
    harness = Harness(sink, source)

    async def answer(peer: str, payload: bytes) -> bytes:
        return messages.encode_votes([b"not a vote"])

    harness.answer = answer
    await harness.syncer.learn_justified()
    assert [amount for amount, _ in harness.penalties] == [PENALTY_BAD_RESPONSE]


def test_a_votes_request_decodes_strictly():
    request = messages.VotesBehind(5, bytes(32), 2)
    assert messages.decode_sync_request(request.encode()) == request
    with pytest.raises(messages.BadMessage):
        messages.decode_sync_request(messages.encode({"op": "votes", "height": 0, "hash": bytes(32), "above": 0}))
    with pytest.raises(messages.BadMessage):
        messages.decode_votes(messages.encode({"votes": [b"x"] * (messages.MAX_SYNC_VOTES + 1)}))
