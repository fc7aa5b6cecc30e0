"""Catching up: fetch blocks by height range from a peer that is ahead, and import them.

Correctness never rests on gossip: a node that starts late, restarts after a crash or
missed a block learns from status exchanges that a peer is ahead, and pulls what it
lacks here, checking every block as it imports it.

Nor does finality: gossip is not retried, so the votes that justified a block can miss a
node for good (after a split, one side's votes justified its block and the other never got
them; fork choice then keeps the knowing side on that block while only the other side may
extend it). A peer's status names the highest block it knows as justified; when we hold
that block but do not see it justified, we ask that peer for the votes behind it.
"""

from __future__ import annotations

import asyncio
import logging
from itertools import chain
from typing import Awaitable, Callable

from protocol.blocks import Block, OwedSignature, decode_block_unchecked
from protocol.errors import ProtocolError
from protocol.events import Event
from protocol.votes import Checkpoint, Vote, decode_vote

from node.chain.importer import BlockImporter
from node.chain.ledger import Ledger
from node.chain.vote_pool import VoteOutcome, VotePool
from .host import P2PError
from .messages import MAX_SYNC_BLOCKS, BlocksByRange, VotesBehind, decode_blocks, decode_votes
from .peers import PENALTY_BAD_RESPONSE, PENALTY_FAILED_REQUEST, PENALTY_INVALID_BLOCK, PeerBook, PeerRecord
from .traffic import Stream, TrafficCounters
from node.chain.signature_worker import PendingChecks, SignatureVerifier

log = logging.getLogger("audiera.sync")

Requester = Callable[[str, bytes], Awaitable[bytes]]
Penalizer = Callable[[str, int, str], Awaitable[None]]
BATCH = 128
GOSSIP_LAG_BLOCKS = 2
GOSSIP_GRACE_S = 3.0
RETRY_AFTER_FAILURE_S = 1.0
"""Pause after a pull that failed, before asking again: each status exchange pokes the
syncer, and retrying at that pace scored every peer down to a ban within seconds of a
transient connection loss."""
VOTES_RETRY_S = 6.0
"""How soon the votes behind one block are asked for again (of any peer) while it is still not
justified here: each status exchange (every 2 s, from every peer) would ask otherwise."""


class Syncer:
    def __init__(
        self,
        ledger: Ledger,
        importer: BlockImporter,
        peers: PeerBook,
        request: Requester,
        penalize: Penalizer,
        known_events: Callable[[bytes], Event | None],
        votes: VotePool,
        traffic: TrafficCounters | None = None,
    ) -> None:
        self._known_events = known_events
        self._votes = votes
        self._votes_asked: dict[Checkpoint, float] = {}
        """Blocks whose votes we asked for, and when (so a peer is not asked each status)."""
        self._traffic = traffic if traffic is not None else TrafficCounters()
        self._ledger = ledger
        self._importer = importer
        self._peers = peers
        self._request = request
        self._penalize = penalize
        self._wake = asyncio.Event()
        self.target_height = 0
        self._verifier = SignatureVerifier()

    @property
    def syncing(self) -> bool:
        return self.target_height > self._ledger.head.height

    @property
    def far_behind(self) -> bool:
        """More than gossip's usual lag behind the best peer: catching up, not following."""
        return self.target_height - self._ledger.head.height > GOSSIP_LAG_BLOCKS

    def best_peer(self) -> PeerRecord | None:
        """The peer whose chain could move our head, if any."""
        ledger = self._ledger
        return self._peers.best_ahead(ledger.head_difficulty, lambda block_hash: ledger.chain.block_meta(block_hash) is not None)

    def poke(self) -> None:
        """Look again for a peer ahead (after a status exchange or an unconnected block)."""
        self._wake.set()

    async def run(self) -> None:
        try:
            await self._follow()
        finally:
            await self._verifier.close()

    async def _follow(self) -> None:
        loop = asyncio.get_running_loop()
        progress = (self._ledger.head.hash, loop.time())
        while True:
            await self._wake.wait()
            self._wake.clear()
            while (peer := self.best_peer()) is not None:
                status = peer.status
                assert status is not None
                head = self._ledger.head
                if head.hash != progress[0]:
                    progress = (head.hash, loop.time())
                self.target_height = max(self.target_height, status.head_height)
                # A block or two behind on our own branch is normal while gossip delivers
                # them: pulling the same blocks again would only double the work. Sync when
                # further behind, on another branch, or when gossip has brought nothing for a while.
                lag = status.head_height - head.height
                if 0 < lag <= GOSSIP_LAG_BLOCKS and loop.time() - progress[1] < GOSSIP_GRACE_S:
                    break
                if not await self._pull_from(peer.peer_id, status.head_height):
                    await asyncio.sleep(RETRY_AFTER_FAILURE_S)
                    break
            if not self.syncing:
                self.target_height = 0
            # After the pull: a justified block a peer named may have just arrived.
            await self.learn_justified()

    async def learn_justified(self) -> None:
        """Ask for the votes behind each block a peer's status shows justified that we hold but do not see justified."""
        now = asyncio.get_running_loop().time()
        final_height = self._ledger.finalized.height
        self._votes_asked = {
            target: asked for target, asked in self._votes_asked.items()
            if target.height > final_height and now - asked < VOTES_RETRY_S
        }
        for record in self._peers.records():
            status = record.status
            if status is None or record.peer_id in self._peers.banned:
                continue
            target = Checkpoint(status.justified_height, status.justified_hash)
            if target in self._votes_asked or not self._lacks_justification(target):
                continue
            self._votes_asked[target] = now
            await self._fetch_votes(record.peer_id, target)

    def _lacks_justification(self, target: Checkpoint) -> bool:
        ledger = self._ledger
        return (
            target.height > ledger.finalized.height
            and ledger.chain.block_meta(target.hash) is not None
            and not ledger.votes.is_justified(target)
        )

    async def _fetch_votes(self, peer: str, target: Checkpoint) -> None:
        """Count the votes ``peer`` holds behind ``target``, each signature checked as gossip's are."""
        request = VotesBehind(target.height, target.hash, self._ledger.finalized.height).encode()
        try:
            answer = await self._request(peer, request)
            self._traffic.exchange(Stream.SYNC, request, answer)
            found = [decode_vote(raw, verify=False) for raw in decode_votes(answer)]
        except P2PError as exc:
            await self._penalize(peer, PENALTY_FAILED_REQUEST, f"votes request failed: {exc.message}")
            return
        except ProtocolError as exc:
            await self._penalize(peer, PENALTY_BAD_RESPONSE, f"malformed votes response: {exc.message}")
            return
        wanted = [vote for vote in found if self._could_count(vote)]
        try:
            checks = await self._verifier.start_checks([OwedSignature(vote.signature_check(), None) for vote in wanted])
            await checks.wait()
        except ProtocolError as exc:
            await self._penalize(peer, PENALTY_BAD_RESPONSE, f"a vote with a bad signature in a votes response: {exc.message}")
            return
        counted = sum(self._votes.add(vote) is VoteOutcome.COUNTED for vote in wanted)
        log.info(
            "counted %d of %d vote(s) behind block %s from %s; %s",
            counted, len(found), target.describe(), peer,
            "it is justified here now" if self._ledger.votes.is_justified(target) else "it is still not justified here",
        )

    def _could_count(self, vote: Vote) -> bool:
        """Worth checking: for a block we hold above our final one, by an authority that signs it
        (a vote for a block we lack would only wait in the pool, and a peer chose to send it)."""
        ledger = self._ledger
        if vote.target_height <= ledger.finalized.height:
            return False
        authorities = ledger.authorities_for(vote.target)
        return authorities is not None and vote.voter in authorities

    async def _pull_from(self, peer: str, peer_height: int) -> bool:
        """Fetch ``peer``'s chain from where it leaves ours up to its head; False if it gave nothing usable.

        Its blocks start right after our head if it extends our chain; otherwise we step
        back (never below our final block) until its blocks connect to one we have, and
        import its branch: fork choice decides whether we switch to it.
        """
        ledger = self._ledger
        start = min(ledger.head.height + 1, max(peer_height, 1))
        step = 4
        while True:
            raw_blocks = await self._fetch(peer, start)
            if raw_blocks is None:
                return False
            if not raw_blocks:
                # It said it was ahead but has nothing there: its status is stale.
                record = self._peers.get(peer)
                if record is not None:
                    record.status = None
                return False
            try:
                first = decode_block_unchecked(raw_blocks[0], known_events=self._known_events)
            except ProtocolError as exc:
                await self._penalize(peer, PENALTY_INVALID_BLOCK, f"invalid block in sync: {exc.message}")
                return False
            if ledger.chain.block_meta(first[0].header.parent) is None:
                floor = ledger.finalized.height + 1
                if start <= floor:
                    await self._penalize(peer, PENALTY_INVALID_BLOCK, "its chain does not contain our final blocks")
                    return False
                start = max(floor, start - step)
                step *= 4
                continue
            blocks = await self._import_checked(peer, first, raw_blocks[1:])
            if blocks is None:
                return False
            log.info("synced blocks %d-%d from %s; head %d", blocks[0].height, blocks[-1].height, peer, ledger.head.height)
            if blocks[-1].height >= peer_height:
                return True
            start = blocks[-1].height + 1

    async def _import_checked(
        self, peer: str, first: tuple[Block, list[OwedSignature]], rest: list[bytes]
    ) -> list[Block] | None:
        """Import the first block and then the ``rest`` in order, each once its signatures have
        passed; None (and the peer penalized) at the first invalid one.

        Every block's signatures go to the verifier as soon as the block is decoded, so the
        helper process checks later blocks while this imports earlier ones.
        """
        pending: list[tuple[Block, PendingChecks]] = []
        decoded = chain([first], (decode_block_unchecked(raw, known_events=self._known_events) for raw in rest))
        try:
            for block, owed in decoded:
                pending.append((block, await self._verifier.start_checks(owed)))
                await asyncio.sleep(0)  # a turn for the RPC and the verifier's pipes
            for block, checks in pending:
                await checks.wait()
                self._importer.import_block(block)
        except ProtocolError as exc:
            # Served as its canonical chain: a faulty or hostile peer.
            for _, checks in pending:
                checks.cancel()
            await self._penalize(peer, PENALTY_INVALID_BLOCK, f"invalid block in sync: {exc.message}")
            return None
        return [block for block, _ in pending]

    async def _fetch(self, peer: str, start: int) -> list[bytes] | None:
        request = BlocksByRange(start=start, count=min(BATCH, MAX_SYNC_BLOCKS)).encode()
        try:
            answer = await self._request(peer, request)
            self._traffic.exchange(Stream.SYNC, request, answer)
            return decode_blocks(answer)
        except P2PError as exc:
            await self._penalize(peer, PENALTY_FAILED_REQUEST, f"sync request failed: {exc.message}")
        except ProtocolError as exc:
            await self._penalize(peer, PENALTY_BAD_RESPONSE, f"malformed sync response: {exc.message}")
        return None
