"""The key-release topic, ``/audiera/<net>/releases/1``: signed releases, relayed once checked.

A release is relayed only when it decodes strictly, its releaser's signature verifies,
and by this node's final chain the access it names is final, is to the asset it names,
and the releaser holds the share index it names in the asset's custody. Verdicts:
REJECT for what is wrong in itself (malformed, a bad signature, an asset other than the
access's); IGNORE for what depends on this node's view (an access not yet known or not
final here, a custody not yet seen) and for a release already kept. Only the consumer
can open a release, so relaying it to everyone leaks nothing.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Callable

from protocol.errors import ProtocolError
from protocol.releases import KeyRelease, decode_release, encode_release
from storage.chain import ChainStore, ChainTip
from storage.releases import ReleaseStore

from node.chain.key_release import judge_release

from node.bounded_cache import BoundedCache

from .gossip_validation import ACCEPTED, Decoded, Judgement, Validator, ignore, reject
from .host import Message, P2PError, P2PHost
from .tasks import OwnedTasks

log = logging.getLogger("audiera.gossip.releases")


def releases_topic(tag: str) -> str:
    return f"/audiera/{tag}/releases/1"


HELD_RELEASES = 1024
"""Well-signed releases kept aside while their access is not final here yet (this node lags the releaser)."""


def release_validator(
    chain: ChainStore, final: Callable[[], ChainTip], store: ReleaseStore, decoded: Decoded, hold: Callable[[KeyRelease], None]
) -> Validator:
    """``hold`` hears (on the network thread) of well-signed releases this node cannot judge yet."""

    def validate(peer: str, data: bytes) -> Judgement:
        try:
            release = decode_release(data)
        except ProtocolError as exc:
            return reject(f"invalid key release gossip: {exc.message}")
        if store.has(release.access, release.index):
            return ignore("release already kept")
        acceptable, why = judge_release(chain, final(), release)
        if why.startswith("reject: "):
            return reject(why.removeprefix("reject: "))
        if not acceptable:
            hold(release)
            return ignore(why)
        decoded.put(data, release)
        return ACCEPTED

    return validate


class ReleaseGossip:
    def __init__(self, host: P2PHost, chain: ChainStore, final: Callable[[], ChainTip], store: ReleaseStore, tag: str, tasks: OwnedTasks) -> None:
        self._host = host
        self._chain = chain
        self._final = final
        self._store = store
        self._topic = releases_topic(tag)
        self._tasks = tasks
        self._queue: asyncio.Queue[Message] = asyncio.Queue()
        self._decoded = Decoded()
        self._held: BoundedCache[tuple[bytes, int], KeyRelease] = BoundedCache(HELD_RELEASES)

    async def start(self, strike: Callable[[str, str], None], banned: Callable[[str], bool]) -> None:
        loop = asyncio.get_running_loop()

        def hold(release: KeyRelease) -> None:  # from the network thread
            loop.call_soon_threadsafe(self._held.put, release.key, release)

        validator = release_validator(self._chain, self._final, self._store, self._decoded, hold)
        await self._host.subscribe(
            self._topic, lambda peer, data: ignore("the forwarder is banned") if banned(peer) else validator(peer, data), self._queue, strike
        )

    async def run(self) -> None:
        while True:
            message = await self._queue.get()
            release = self._decoded.take(message.data) or decode_release(message.data, verify=False)
            self._store.add(release)

    def on_finality(self) -> None:
        """Keep the held releases whose access is final now (a ledger finality listener)."""
        for key in self._held.frozen_keys():
            release = self._held.get(key)
            if release is None:
                continue
            acceptable, _ = judge_release(self._chain, self._final(), release)
            if acceptable:
                self._held.pop(key)
                self._store.add(release)

    def announce(self, release: KeyRelease) -> None:
        self._tasks.start_soon(self._publish(release))

    async def _publish(self, release: KeyRelease) -> None:
        try:
            await self._host.publish(self._topic, encode_release(release))
        except P2PError as exc:
            log.warning("could not gossip the release for access %s: %s", release.access.hex()[:12], exc)
