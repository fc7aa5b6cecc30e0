"""The chain's rules for an asset's key custody: who may set it and whom it must name.

A custody (protocol/key_custody.py) is checked for what the chain can see: its shares go
to exactly the authority set in force, one each, and it holds one sealed copy for each
rights holder. Whether a sealed share opens to the committed value only its authority
can tell; it finds out when it is asked to release, and a consumer who combines shares
learns which index was bad from the commitments.

The custody in force is kept on the asset record, and ``ix/cu/<did>\\x00<cid>`` names
every asset a did holds a share of, so a node can tell which assets lose share holders
when the authority set changes without scanning every asset.
"""

from __future__ import annotations

from .authorities import get_authorities
from .errors import Rejected
from .events import AssetReshare, Event
from .key_custody import Custody, parse_custody
from .records import (
    ACTIVE,
    AssetRecord,
    BlockContext,
    StateOverlay,
    StateView,
    Touched,
    require_asset,
    require_holder,
    set_asset,
)

CUSTODY_INDEX = b"ix/cu/"


def custody_index_key(did: str, cid: str) -> bytes:
    return CUSTODY_INDEX + did.encode() + b"\x00" + cid.encode()


def require_custody_fits(state: StateView, custody: Custody, rights_holders: list[str]) -> None:
    """Raise Rejected unless ``custody`` shares the key among today's authorities and seals it to every holder."""
    authorities = set(get_authorities(state))
    named = set(custody.share_holders)
    if named != authorities:
        missing = sorted(authorities - named)
        extra = sorted(named - authorities)
        raise Rejected(
            "the key custody must give one share to each authority in force"
            + (f"; it misses {', '.join(missing)}" if missing else "")
            + (f"; {', '.join(extra)} are not authorities" if extra else "")
            + " (read GET /v1/authorities and build it again)"
        )
    copies = {copy.holder for copy in custody.holder_copies}
    if copies != set(rights_holders):
        raise Rejected("the key custody must hold exactly one sealed copy of the key for each rights holder of the asset")


def get_custody(asset: AssetRecord) -> Custody | None:
    return None if asset.custody is None else parse_custody(asset.custody)


def index_custody(state: StateOverlay, cid: str, custody: Custody | None, before: Custody | None = None) -> None:
    if before is not None:
        for did in before.share_holders:
            state.delete(custody_index_key(did, cid))
    if custody is not None:
        for did in custody.share_holders:
            state.put(custody_index_key(did, cid), b"")


def apply_asset_reshare(state: StateOverlay, event: Event, body: AssetReshare, context: BlockContext) -> Touched:
    asset = require_asset(state, body.asset)
    require_holder(asset, event.author, "reshare its key")
    if asset.status != ACTIVE:
        raise Rejected(f"asset {body.asset} is withdrawn")
    require_custody_fits(state, body.custody, asset.holders)
    before = get_custody(asset)
    asset.custody = body.custody.to_wire()
    asset.custody_since = context.height
    set_asset(state, body.asset, asset)
    index_custody(state, body.asset, body.custody, before)
    return Touched(assets=(body.asset,), accounts=tuple(asset.holders))

