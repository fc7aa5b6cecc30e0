"""State records and the narrow functions that read and write them.

Every rule reaches state only through ``StateView.get`` and ``StateOverlay.put``, so
the same rules run on a dict in tests and on LevelDB in the node. Each record kind
has one key space (``acct/``, ``asset/``, ``lic/`` …) and a get/set pair here or in
the module that owns the kind.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from .encoding import decode_stored, encode
from .errors import Rejected

ACTIVE = "active"
WITHDRAWN = "withdrawn"


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

    def delete(self, key: bytes) -> None:
        self.writes[key] = None

    def child(self) -> "StateOverlay":
        return StateOverlay(self)

    def merge(self, child: "StateOverlay") -> None:
        self.writes.update(child.writes)


@dataclass(frozen=True)
class BlockContext:
    """What an event is applied under: the block it goes into."""

    height: int
    ts: int
    """Block time (ms): the only clock the rules read."""


@dataclass(frozen=True)
class Touched:
    """Which assets and accounts an event concerns, for the history indexes."""

    assets: tuple[str, ...] = ()
    accounts: tuple[str, ...] = ()


# --- accounts --------------------------------------------------------------------------


def account_key(did: str) -> bytes:
    return b"acct/" + did.encode()


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
    return Account() if raw is None else Account(**decode_stored(raw))


def set_account(state: StateOverlay, did: str, account: Account) -> None:
    state.put(account_key(did), encode(account.to_wire()))


def require_role(state: StateView, did: str, roles: tuple[str, ...], action: str) -> Account:
    account = get_account(state, did)
    if not set(account.roles) & set(roles):
        needed = " or ".join(roles)
        raise Rejected(f"{action} needs the {needed} role; {did} has {account.roles}")
    return account


# --- assets ----------------------------------------------------------------------------


def asset_key(cid: str) -> bytes:
    return b"asset/" + cid.encode()


@dataclass
class AssetRecord:
    registration: dict[str, Any]
    """The asset.register body as signed, but for its fingerprint (kept under ``fpr/<cid>``) and custody (below)."""
    registrant: str
    registered_at: int
    """Height of the registration."""
    register_event: bytes
    terms: dict[str, Any]
    """Terms in force (wire form)."""
    terms_since: int
    """Height from which ``terms`` apply."""
    status: str = ACTIVE
    reupload_of: dict[str, Any] | None = None
    """The registered asset whose recording this one likely is again (protocol/fingerprints.py's Match), if any."""
    custody: dict[str, Any] | None = None
    """Who holds the content key now (protocol/key_custody.py, wire form): the registration's, or the last reshare's."""
    custody_since: int | None = None
    """Height from which ``custody`` applies."""

    def to_wire(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @property
    def cid(self) -> str:
        return self.registration["cid"]

    @property
    def holders(self) -> list[str]:
        return [share["account"] for share in self.registration["rights_holders"]]

    @property
    def shares(self) -> list[tuple[str, int]]:
        """(account, basis points) in registration order."""
        return [(share["account"], share["share_bps"]) for share in self.registration["rights_holders"]]


def get_asset(state: StateView, cid: str) -> AssetRecord | None:
    raw = state.get(asset_key(cid))
    return None if raw is None else AssetRecord(**decode_stored(raw))


def set_asset(state: StateOverlay, cid: str, asset: AssetRecord) -> None:
    state.put(asset_key(cid), encode(asset.to_wire()))


def require_asset(state: StateView, cid: str) -> AssetRecord:
    asset = get_asset(state, cid)
    if asset is None:
        raise Rejected(f"asset {cid} is not registered")
    return asset


def require_active(asset: AssetRecord, action: str) -> None:
    if asset.status != ACTIVE:
        raise Rejected(f"asset {asset.cid} is withdrawn: no new {action}")


def require_holder(asset: AssetRecord, did: str, action: str) -> None:
    if did not in asset.holders:
        raise Rejected(f"only a rights holder of asset {asset.cid} may {action}")
