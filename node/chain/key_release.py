"""Releasing this authority's key shares for final accesses, and judging releases from others.

When the final tip advances, the node walks the newly final canonical blocks. For each
``access`` event in them whose asset's custody gives this node's key a share, it opens
its share, seals it to the access author's X25519 key, signs a ``KeyRelease`` and keeps
and gossips it. Nothing is released for an access that is not final: the walk starts
from finality, never from the head, and a final block is never reverted.

The rules at the access's height are checked by the block transition itself: an access
is in a block only if ``apply_access`` admitted it on the state before it (license in
force, not revoked or expired by block time, the purpose allowed, the price paid), and
this node imported that block only after re-executing it. So an access in a final block
of this node's chain *is* an access valid at its height; a revoked, expired or
wrong-purpose access never reaches a block, and a reverted one never reaches finality.
What is checked here is what the transition does not know: that the access is final,
that this node holds a share, and that the share opens to its commitment (an authority
never hands out a share it cannot vouch for).
"""

from __future__ import annotations

import logging
from typing import Callable

from protocol.asset_custody import get_custody
from protocol.errors import ProtocolError
from protocol.events import Access, decode_event
from protocol.key_custody import BadShare, check_share, open_sealed
from protocol.keys import SigningKey
from protocol.releases import KeyRelease, sign_release
from protocol.state import get_asset
from storage.chain import ChainStore, ChainTip
from storage.releases import ReleaseStore

from .ledger import FinalityChange, Ledger

log = logging.getLogger("audiera.release")


class KeyReleaser:
    """Makes this node's releases as accesses become final (a ledger finality listener)."""

    def __init__(self, ledger: Ledger, store: ReleaseStore, key: SigningKey | None, publish: Callable[[KeyRelease], None]) -> None:
        self._ledger = ledger
        self._store = store
        self._key = key
        self._publish = publish

    def on_finality(self, change: FinalityChange) -> None:
        self.release_up_to(change.final.height)

    def release_up_to(self, height: int) -> int:
        """Release for every access final at or below ``height`` not handled yet; returns how many releases were made."""
        start = self._store.released_up_to() + 1
        if self._key is None or height < start:
            return 0
        made = 0
        chain = self._ledger.chain
        for block_height, block_hash in chain.iter_canonical(start, height + 1):
            block = chain.get_block(block_hash)
            if block is None:
                continue
            for event in block.events:
                if isinstance(event.body, Access):
                    release = self._release_for(event.id, event.author, event.body)
                    if release is not None and self._store.add(release):
                        made += 1
                        self._publish(release)
            self._store.set_released_up_to(block_height)
        return made

    def _release_for(self, access_id: bytes, consumer: str, body: Access) -> KeyRelease | None:
        assert self._key is not None
        asset = get_asset(self._ledger.chain, body.asset)
        custody = None if asset is None else get_custody(asset)
        share = None if custody is None else custody.share_of(self._key.did)
        if share is None:
            return None
        value = open_sealed(self._key, share.sealed)
        try:
            if value is None:
                raise BadShare([share.index], "does not open with this node's key")
            check_share(body.asset, share, value)
        except BadShare as exc:
            log.warning("asset %s: cannot release for access %s: my %s", body.asset, access_id.hex()[:12], exc.message)
            return None
        log.info("access %s: releasing share %d of %s to %s", access_id.hex()[:12], share.index, body.asset, consumer)
        return sign_release(self._key, access_id, body.asset, share.index, value, consumer)


def judge_release(chain: ChainStore, final: ChainTip, release: KeyRelease) -> tuple[bool, str]:
    """(acceptable, why not) for a signed release from elsewhere, by this node's final chain.

    ``(False, reason)`` with a reason starting "reject:" is the forwarder's fault (the
    release contradicts what its own access says); other refusals depend on this node's
    view (an access not known or not final here yet, a custody this node has not seen).
    """
    stored = chain.get_event(release.access)
    if stored is None:
        return False, f"access {release.access.hex()} is not on this node's chain"
    try:
        event = decode_event(stored.raw, verify=False)
    except ProtocolError as exc:
        return False, f"reject: stored event {release.access.hex()} does not decode: {exc.message}"
    if not isinstance(event.body, Access):
        return False, f"reject: event {release.access.hex()} is a {event.kind}, not an access"
    if event.body.asset != release.asset:
        return False, f"reject: access {release.access.hex()} is to {event.body.asset}, not {release.asset}"
    if stored.height > final.height or chain.hash_at(stored.height) != stored.block_hash:
        return False, f"access {release.access.hex()} is not final on this node's chain"
    asset = get_asset(chain, release.asset)
    custody = None if asset is None else get_custody(asset)
    share = None if custody is None else custody.share_at(release.index)
    if share is None or share.holder != release.releaser:
        return False, f"{release.releaser} holds no share {release.index} of {release.asset} in the custody known here"
    return True, ""
