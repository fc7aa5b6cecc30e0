"""The state machine: ``apply_event(state, event, context)`` or a rejection with a reason.

Pure and deterministic: state is read and written only through ``StateView`` /
``StateOverlay`` (protocol/records.py), so the same rules run on a dict in tests and on
LevelDB in the node. Every node applies the same blocks in the same order, reaches the
same writes, and so the same running state root (``next_state_root``). The query
indexes (catalog, licenses, lineage, royalties; keys under ``ix/``) are state too:
they commit with their block, are undone with it and are covered by the state root.

The rules of each kind live with their records: participants and assets here, the
market (licenses, purchases, access) in protocol/market.py, models and apps in
protocol/lineage.py, their terms and paid use in protocol/usage.py, the authority set
and its votes in protocol/authorities.py.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Callable, Iterable

from .asset_custody import apply_asset_reshare, index_custody, require_custody_fits
from .authorities import apply_authority_vote, authorities_writes
from .catalog import held_asset_key, index_asset, reindex_terms, unindex_asset
from .encoding import encode, sha256
from .errors import Rejected
from .events import (
    Access,
    AppRegister,
    AssetRegister,
    AssetReshare,
    AssetTerms,
    AssetWithdraw,
    AuthorityVote,
    Body,
    Event,
    LicenseGrant,
    LicensePurchase,
    LicenseRevoke,
    ModelRegister,
    ModelTermsSet,
    ParticipantRegister,
    UsageRecord,
)
from .fingerprints import find_match, index_fingerprint
from .genesis import Genesis
from .lineage import apply_app_register, apply_model_register
from .market import apply_access, apply_license_grant, apply_license_purchase, apply_license_revoke
from .usage import apply_model_terms, apply_usage_record
from .records import (  # noqa: F401  (re-exported: the state API other packages import from here)
    ACTIVE,
    WITHDRAWN,
    Account,
    AssetRecord,
    BlockContext,
    StateOverlay,
    StateView,
    Touched,
    account_key,
    asset_key,
    get_account,
    get_asset,
    require_asset,
    require_holder,
    require_role,
    set_account,
    set_asset,
)

REGISTERING_ROLES = ("creator", "contributor")


# --- genesis and the running state root ---------------------------------------------


def genesis_writes(genesis: Genesis) -> dict[bytes, bytes | None]:
    overlay = StateOverlay(_Empty())
    for key, value in authorities_writes(genesis.authorities).items():
        overlay.put(key, value)
    for did, amount in genesis.allocations:
        set_account(overlay, did, Account(balance=amount))
    return overlay.writes


def next_state_root(previous: bytes, writes: dict[bytes, bytes | None]) -> bytes:
    """Chain the previous root with a digest of this block's writes, in key order."""
    digest = sha256(encode([[key, writes[key]] for key in sorted(writes)]))
    return sha256(previous + digest)


class _Empty:
    def get(self, key: bytes) -> bytes | None:
        return None


# --- the transition ------------------------------------------------------------------


def apply_event(state: StateOverlay, event: Event, context: BlockContext) -> Touched:
    """Apply ``event`` to ``state`` or raise Rejected; on rejection ``state`` is unchanged.

    The event's signature and well-formedness are checked when it is decoded.
    """
    step = state.child()
    author = get_account(step, event.author)
    if event.nonce != author.nonce + 1:
        if event.nonce <= author.nonce:
            raise Rejected(f"nonce {event.nonce} of {event.author} was already used (last used: {author.nonce})")
        raise Rejected(f"nonce {event.nonce} of {event.author} leaves a gap (next is {author.nonce + 1})")
    handler = _HANDLERS.get(type(event.body))
    if handler is None:
        raise Rejected(f"event kind {event.kind} is not enabled on this network yet")
    if not isinstance(event.body, ParticipantRegister) and not author.registered_at:
        raise Rejected(f"{event.author} must register as a participant before sending {event.kind}")
    author.nonce = event.nonce
    set_account(step, event.author, author)
    touched = handler(step, event, event.body, context)
    state.merge(step)
    return Touched(assets=touched.assets, accounts=tuple(dict.fromkeys((event.author, *touched.accounts))))


def _participant_register(state: StateOverlay, event: Event, body: ParticipantRegister, context: BlockContext) -> Touched:
    account = get_account(state, event.author)
    if account.registered_at:
        raise Rejected(f"{event.author} is already registered as {account.name!r}")
    account.name = body.name
    account.roles = list(body.roles)
    account.registered_at = context.height
    set_account(state, event.author, account)
    return Touched()


def _asset_register(state: StateOverlay, event: Event, body: AssetRegister, context: BlockContext) -> Touched:
    author = get_account(state, event.author)
    if not set(author.roles) & set(REGISTERING_ROLES):
        raise Rejected(f"registering an asset needs the creator or contributor role; {event.author} has {author.roles}")
    if get_asset(state, body.cid) is not None:
        raise Rejected(f"asset {body.cid} is already registered")
    if event.author not in {share.account for share in body.rights_holders}:
        raise Rejected("the registering account must be one of the asset's rights holders")
    for parent in body.parents:
        require_asset(state, parent.asset)
    if body.custody is not None:
        require_custody_fits(state, body.custody, [share.account for share in body.rights_holders])
    registration = body.to_wire()
    fingerprint = registration.pop("fingerprint")  # kept under its own key: records are read often, fingerprints rarely
    custody = registration.pop("custody", None)  # the record's own field: a reshare replaces it
    match = find_match(state, fingerprint) if fingerprint else None
    record = AssetRecord(
        registration=registration,
        registrant=event.author,
        registered_at=context.height,
        register_event=event.id,
        terms=body.terms.to_wire(),
        terms_since=context.height,
        reupload_of=None if match is None else match.to_wire(),
        custody=custody,
        custody_since=None if custody is None else context.height,
    )
    set_asset(state, body.cid, record)
    index_custody(state, body.cid, body.custody)
    if fingerprint:
        index_fingerprint(state, body.cid, fingerprint)
    index_asset(state, record)
    for share in body.rights_holders:
        state.put(held_asset_key(share.account, body.cid), b"")
    return Touched(
        assets=(body.cid, *(parent.asset for parent in body.parents)),
        accounts=tuple(share.account for share in body.rights_holders),
    )


def _asset_terms(state: StateOverlay, event: Event, body: AssetTerms, context: BlockContext) -> Touched:
    asset = require_asset(state, body.asset)
    require_holder(asset, event.author, "change its terms")
    if asset.status != ACTIVE:
        raise Rejected(f"asset {body.asset} is withdrawn")
    changed = replace(asset, terms=body.terms.to_wire(), terms_since=context.height)
    set_asset(state, body.asset, changed)
    reindex_terms(state, asset, changed)
    return Touched(assets=(body.asset,), accounts=tuple(asset.holders))


def _asset_withdraw(state: StateOverlay, event: Event, body: AssetWithdraw, context: BlockContext) -> Touched:
    asset = require_asset(state, body.asset)
    require_holder(asset, event.author, "withdraw it")
    if asset.status != ACTIVE:
        raise Rejected(f"asset {body.asset} is already withdrawn")
    unindex_asset(state, asset)
    asset.status = WITHDRAWN
    set_asset(state, body.asset, asset)
    return Touched(assets=(body.asset,), accounts=tuple(asset.holders))


Handler = Callable[[StateOverlay, Event, Any, BlockContext], Touched]
_HANDLERS: dict[type[Body], Handler] = {
    ParticipantRegister: _participant_register,
    AssetRegister: _asset_register,
    AssetTerms: _asset_terms,
    AssetWithdraw: _asset_withdraw,
    AssetReshare: apply_asset_reshare,
    LicenseGrant: apply_license_grant,
    LicenseRevoke: apply_license_revoke,
    LicensePurchase: apply_license_purchase,
    Access: apply_access,
    ModelRegister: apply_model_register,
    AppRegister: apply_app_register,
    ModelTermsSet: apply_model_terms,
    UsageRecord: apply_usage_record,
    AuthorityVote: apply_authority_vote,
}


def enabled_kinds() -> Iterable[str]:
    return (body_type.KIND for body_type in _HANDLERS)


@dataclass(frozen=True)
class BlockResult:
    """What applying a block's events changes."""

    writes: dict[bytes, bytes | None]
    state_root: bytes
    touched: tuple[Touched, ...]
    """Per event, in block order."""


def apply_block(state: StateView, events: Iterable[Event], context: BlockContext, parent_state_root: bytes) -> BlockResult:
    """Apply every event of a block in order; raises Rejected (naming the event) if one fails."""
    overlay = StateOverlay(state)
    touched = []
    for index, event in enumerate(events):
        try:
            touched.append(apply_event(overlay, event, context))
        except Rejected as exc:
            raise Rejected(f"event {index} ({event.id.hex()}): {exc.message}") from None
    return BlockResult(overlay.writes, next_state_root(parent_state_root, overlay.writes), tuple(touched))
