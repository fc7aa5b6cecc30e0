"""Content exchange: fetching a whole sealed file from peers (``content_server`` serves them).

Only sealed streams are stored, so only sealed blocks are ever asked for or served: a
peer learns nothing of the audio from them without the asset's content key.

A fetch walks the file's UnixFS DAG from its root, pulls leaves from peers in batches
(several requests in flight), checks every block against its CID as it arrives, and
writes the leaves in order into the content store, which rebuilds the DAG over their
CIDs: a file is only kept if its root is exactly the one asked for.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections import deque
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Coroutine

from protocol.cid import DAG_PB, cid_codec, cid_from_str, cid_to_str, is_valid_block
from protocol.errors import ProtocolError
from protocol.unixfs import decode_file_node
from storage.content import ContentInfo, ContentStore
from storage.errors import ContentError

from .host import P2PError
from .messages import MAX_CONTENT_CIDS, decode_content_blocks, encode_content_request
from .peers import PENALTY_BAD_RESPONSE
from .traffic import Stream, TrafficCounters

log = logging.getLogger("audiera.content")

Requester = Callable[[str, bytes], Awaitable[bytes]]
Penalizer = Callable[[str, int, str], Awaitable[None]]
Spawn = Callable[[Coroutine[Any, Any, ContentInfo]], "asyncio.Task[ContentInfo]"]
LEAVES_PER_REQUEST = 8
"""8 leaves of 256 KiB: 2 MiB an answer. On a pipe (answers back to back on one stream) the
size hardly matters: 4, 8, 16 and 24 leaves all measured 0.45-0.55 of one bare stream; 8
keeps the memory held by answers in flight at 16 MiB."""
REQUESTS_IN_FLIGHT = 8


@dataclass(frozen=True)
class AssetFacts:
    """What a registration says of the content a sealed CID holds, recorded with it once fetched."""

    asset: str
    """The plain root CID (the asset id)."""
    sealed_cid: str
    size: int
    """Bytes of the plain file."""
    media: dict[str, Any] | None


class FetchError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ContentExchange:
    def __init__(
        self,
        store: ContentStore,
        request: Requester,
        penalize: Penalizer,
        peers: Callable[[], list[str]],
        max_bytes: int,
        *,
        spawn: Spawn = asyncio.create_task,
        traffic: TrafficCounters | None = None,
    ) -> None:
        """``spawn`` starts a fetch that every caller asking for the same root shares, and that
        outlives a caller who leaves: the network passes its task group's."""
        self._spawn = spawn
        self._store = store
        self._request = request
        self._penalize = penalize
        self._peers = peers
        self._max_bytes = max_bytes
        self._in_progress: dict[str, asyncio.Task[ContentInfo]] = {}
        self._traffic = traffic if traffic is not None else TrafficCounters()

    async def fetch(self, root: str, asset: AssetFacts | None = None) -> ContentInfo:
        """Fetch a whole sealed file from peers unless it is here already; one fetch per root at a time.

        ``asset``, when the caller knows which asset ``root`` seals, is recorded with it.
        """
        info = self._store.info(root)
        if info is not None:
            return info
        task = self._in_progress.get(root)
        if task is None:
            task = self._spawn(self._fetch(root, asset))
            self._in_progress[root] = task
            task.add_done_callback(lambda _: self._in_progress.pop(root, None))
        return await asyncio.shield(task)

    async def _fetch(self, root: str, asset: AssetFacts | None) -> ContentInfo:
        root_cid = cid_from_str(root)
        peers = [peer for peer in self._peers()]
        if not peers:
            raise FetchError(f"no peers to fetch {root} from")
        source = await self._find_source(root_cid, peers)
        leaves = await self._leaf_list(root_cid, source, peers)
        total = sum(size for _, size in leaves)
        if total > self._max_bytes:
            raise FetchError(f"{root} is {total} bytes, over this node's limit of {self._max_bytes}")
        ingest = self._store.start_ingest(self._max_bytes)
        loop = asyncio.get_running_loop()
        try:
            await self._pull_leaves(leaves, source, peers, lambda blocks: loop.run_in_executor(None, ingest.write_verified_leaves, blocks))
            await loop.run_in_executor(None, ingest.close_file)
            facts = {} if asset is None else {"asset": asset.asset, "asset_size": asset.size}
            media = None if asset is None else asset.media
            info = await loop.run_in_executor(None, functools.partial(ingest.finish, media, **facts))
        except ContentError as exc:
            await loop.run_in_executor(None, ingest.abort)
            raise FetchError(f"cannot store {root}: {exc}") from None
        except BaseException:
            await loop.run_in_executor(None, ingest.abort)
            raise
        if info.cid != root:
            raise FetchError(f"fetched blocks rebuild {info.cid}, not {root}")  # unreachable if every block verified
        log.info("fetched content %s (%d bytes) from peers", root, info.size)
        return info

    async def _find_source(self, root_cid: bytes, peers: list[str]) -> tuple[str, bytes]:
        """The first peer that serves the root block, with the block."""
        for peer in peers:
            blocks = await self._ask(peer, [root_cid])
            if blocks:
                return peer, blocks[root_cid]
        raise FetchError(f"none of {len(peers)} peers has {cid_to_str(root_cid)}")

    async def _leaf_list(self, root_cid: bytes, source: tuple[str, bytes], peers: list[str]) -> list[tuple[bytes, int]]:
        """Walk the DAG breadth first, keeping file order, down to the raw leaves."""
        peer, root_data = source
        if cid_codec(root_cid) != DAG_PB:
            return [(root_cid, len(root_data))]
        leaves: list[tuple[bytes, int]] = []
        level: list[tuple[bytes, bytes]] = [(root_cid, root_data)]
        while level:
            children: list[tuple[bytes, int]] = []
            for cid, data in level:
                try:
                    node = decode_file_node(data)
                except ProtocolError as exc:
                    raise FetchError(f"node {cid_to_str(cid)} is not a UnixFS file node: {exc.message}") from None
                children.extend(zip((link for link, _ in node.links), node.blocksizes))
            if all(cid_codec(cid) != DAG_PB for cid, _ in children):
                leaves = children
                break
            inner = [cid for cid, _ in children]
            fetched = await self._ask_all(peer, inner)
            level = [(cid, fetched[cid]) for cid in inner]
        return leaves

    async def _ask_all(self, peer: str, cids: list[bytes]) -> dict[bytes, bytes]:
        found: dict[bytes, bytes] = {}
        for start in range(0, len(cids), MAX_CONTENT_CIDS):
            batch = cids[start:start + MAX_CONTENT_CIDS]
            found.update(await self._ask(peer, batch))
            missing = [cid for cid in batch if cid not in found]
            if missing:
                raise FetchError(f"{peer} lacks {len(missing)} blocks of the file")
        return found

    async def _pull_leaves(self, leaves: list[tuple[bytes, int]], source: tuple[str, bytes], peers: list[str], write) -> None:
        """Fetch leaves in batches, several in flight, and write them in file order."""
        batches = deque(leaves[i:i + LEAVES_PER_REQUEST] for i in range(0, len(leaves), LEAVES_PER_REQUEST))
        candidates = [source[0], *[peer for peer in peers if peer != source[0]]]
        pending: deque[asyncio.Task[list[tuple[bytes, bytes]]]] = deque()
        writing: asyncio.Future | None = None

        def launch() -> None:
            batch = batches.popleft()
            pending.append(asyncio.create_task(self._fetch_batch([cid for cid, _ in batch], candidates)))

        try:
            while batches and len(pending) < REQUESTS_IN_FLIGHT:
                launch()
            while pending:
                blocks = await pending.popleft()
                if batches:
                    launch()
                if writing is not None:
                    await writing
                writing = write(blocks)
            if writing is not None:
                await writing
        finally:
            for task in pending:
                task.cancel()

    async def _fetch_batch(self, cids: list[bytes], candidates: list[str]) -> list[tuple[bytes, bytes]]:
        """The blocks of ``cids``, in order, each checked against its CID."""
        for peer in candidates:
            found = await self._ask(peer, cids)
            if all(cid in found for cid in cids):
                return [(cid, found[cid]) for cid in cids]
        raise FetchError(f"no peer could serve {len(cids)} blocks starting at {cid_to_str(cids[0])}")

    async def _ask(self, peer: str, cids: list[bytes]) -> dict[bytes, bytes]:
        """Blocks ``peer`` returns for ``cids``, each verified against its CID; {} if it fails."""
        request = encode_content_request(cids)
        try:
            answer = await self._request(peer, request)
            self._traffic.exchange(Stream.CONTENT, request, answer)
            pairs = decode_content_blocks(answer)
        except P2PError as exc:
            log.debug("content request to %s failed: %s", peer, exc.message)
            return {}
        except ProtocolError as exc:
            await self._penalize(peer, PENALTY_BAD_RESPONSE, f"malformed content response: {exc.message}")
            return {}
        wanted = set(cids)
        found = {}
        for cid, data in pairs:
            try:
                valid = cid in wanted and is_valid_block(cid, data)
            except ProtocolError:
                valid = False
            if not valid:
                await self._penalize(peer, PENALTY_BAD_RESPONSE, f"sent a block that does not match its CID {cid.hex()[:16]}")
                return {}
            found[cid] = data
        return found
