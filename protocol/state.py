"""The state machine: ``apply_event(state, event, context)`` or a rejection with a reason.

Pure and deterministic: state is read and written only through ``StateView`` /
``StateOverlay``, so the same rules run on a dict in tests and on LevelDB in the node.
Every node applies the same blocks in the same order, reaches the same writes, and so
the same running state root (``next_state_root``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Protocol

from .encoding import decode, encode, sha256
from .errors import Rejected
from .events import AssetRegister, AssetTerms, AssetWithdraw, Body, Event, ParticipantRegister
from .genesis import Genesis

ACTIVE = "active"
WITHDRAWN = "withdrawn"
REGISTERING_ROLES = ("creator", "contributor")


class StateView(Protocol):
    def get(self, key: bytes) -> bytes | None: ...


class StateOverlay:
    """Writes pending over a base view; ``child()`` stacks another for all-or-nothing steps."""

    def __init__(self, base: StateView) -> None:
        self._base = base
        self.writes: dict[bytes, bytes | None] = {}

    def get(self, key: bytes) -> bytes | None:
        if key in self.writes:
            return self.writes[key]
        return self._base.get(key)

    def put(self, key: bytes, value: bytes | None) -> None:
        self.writes[key] = value

    def child(self) -> "StateOverlay":
        return StateOverlay(self)

    def merge(self, child: "StateOverlay") -> None:
        self.writes.update(child.writes)


@dataclass(frozen=True)
class BlockContext:
    """What an event is applied under: the block it goes into."""

    height: int
    ts: int


@dataclass(frozen=True)
class Touched:
    """Which assets and accounts an event concerns, for the history indexes."""

    assets: tuple[str, ...] = ()
    accounts: tuple[str, ...] = ()


# --- state records -----------------------------------------------------------------


def account_key(did: str) -> bytes:
    return b"acct/" + did.encode()


def asset_key(cid: str) -> bytes:
    return b"asset/" + cid.encode()


@dataclass
class Account:
    nonce: int = 0
    """Nonce of the author's last applied event."""
    balance: int = 0
    name: str = ""
    roles: list[str] = field(default_factory=list)
    registered_at: int = 0
    """Height of the participant.register event; 0 while unregistered."""

    def to_wire(self) -> dict[str, Any]:
        return {
            "nonce": self.nonce,
            "balance": self.balance,
            "name": self.name,
            "roles": self.roles,
            "registered_at": self.registered_at,
        }


def get_account(state: StateView, did: str) -> Account:
    raw = state.get(account_key(did))
    return Account() if raw is None else Account(**decode(raw))


def set_account(state: StateOverlay, did: str, account: Account) -> None:
    state.put(account_key(did), encode(account.to_wire()))


@dataclass
class AssetRecord:
    registration: dict[str, Any]
    """The asset.register body as signed."""
    registrant: str
    registered_at: int
    """Height of the registration."""
    register_event: bytes
    terms: dict[str, Any]
    """Terms in force (wire form)."""
    terms_since: int
    """Height from which ``terms`` apply."""
    status: str = ACTIVE

    def to_wire(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @property
    def holders(self) -> list[str]:
        return [share["account"] for share in self.registration["rights_holders"]]


def get_asset(state: StateView, cid: str) -> AssetRecord | None:
    raw = state.get(asset_key(cid))
    return None if raw is None else AssetRecord(**decode(raw))


def set_asset(state: StateOverlay, cid: str, asset: AssetRecord) -> None:
    state.put(asset_key(cid), encode(asset.to_wire()))


def require_asset(state: StateView, cid: str) -> AssetRecord:
    asset = get_asset(state, cid)
    if asset is None:
        raise Rejected(f"asset {cid} is not registered")
    return asset


def require_holder(asset: AssetRecord, did: str, action: str) -> None:
    if did not in asset.holders:
        raise Rejected(f"only a rights holder of asset {asset.registration['cid']} may {action}")


# --- genesis and the running state root ---------------------------------------------


def genesis_writes(genesis: Genesis) -> dict[bytes, bytes | None]:
    overlay = StateOverlay(_Empty())
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
    record = AssetRecord(
        registration=body.to_wire(),
        registrant=event.author,
        registered_at=context.height,
        register_event=event.id,
        terms=body.terms.to_wire(),
        terms_since=context.height,
    )
    set_asset(state, body.cid, record)
    return Touched(
        assets=(body.cid, *(parent.asset for parent in body.parents)),
        accounts=tuple(share.account for share in body.rights_holders),
    )


def _asset_terms(state: StateOverlay, event: Event, body: AssetTerms, context: BlockContext) -> Touched:
    asset = require_asset(state, body.asset)
    require_holder(asset, event.author, "change its terms")
    if asset.status != ACTIVE:
        raise Rejected(f"asset {body.asset} is withdrawn")
    asset.terms = body.terms.to_wire()
    asset.terms_since = context.height
    set_asset(state, body.asset, asset)
    return Touched(assets=(body.asset,), accounts=tuple(asset.holders))


def _asset_withdraw(state: StateOverlay, event: Event, body: AssetWithdraw, context: BlockContext) -> Touched:
    asset = require_asset(state, body.asset)
    require_holder(asset, event.author, "withdraw it")
    if asset.status != ACTIVE:
        raise Rejected(f"asset {body.asset} is already withdrawn")
    asset.status = WITHDRAWN
    set_asset(state, body.asset, asset)
    return Touched(assets=(body.asset,), accounts=tuple(asset.holders))


Handler = Callable[[StateOverlay, Event, Any, BlockContext], Touched]
_HANDLERS: dict[type[Body], Handler] = {
    ParticipantRegister: _participant_register,
    AssetRegister: _asset_register,
    AssetTerms: _asset_terms,
    AssetWithdraw: _asset_withdraw,
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
