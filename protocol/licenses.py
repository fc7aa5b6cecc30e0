"""Licenses: grants by rights holders, purchases by consumers, and which use is allowed.

A license's id is the id of the event that created it (``license.grant`` or
``license.purchase``). Rules read licenses through one list per (asset, grantee)
(``lics/``), kept short: entries revoked or expired at the block time are dropped
whenever a new one is added, and at most ``MAX_LICENSES_PER_GRANTEE`` stay in force.

``judge_use`` is the one answer to "may this account use this asset for this purpose
now, and on what basis": access events, preflight and model registration all ask it.
Order of precedence: a withdrawn asset is never used anew; rights holders use their own
assets freely; terms that allow the purpose freely need no license; then a license in
force that covers the purpose (the oldest first); then pay-per-access terms. A purchased
license lasts as long as the terms it was bought under (their expiry), so a later change
of terms never takes back what was bought; grants carry their own expiry and access cap.
A revoked license (either kind) stops at once, with no refund.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any

from .encoding import decode_stored, encode
from .errors import Rejected
from .records import ACTIVE, AssetRecord, StateOverlay, StateView

MAX_LICENSES_PER_GRANTEE = 32
"""Licenses in force that one account may hold on one asset."""

GRANT = "grant"
PURCHASE_SOURCE = "purchase"

HOLDER = "holder"
TERMS = "terms"
LICENSE = "license"
PER_ACCESS_BASIS = "per_access"
BASES_ALLOWED = (HOLDER, TERMS, LICENSE, PER_ACCESS_BASIS)


@dataclass
class License:
    asset: str
    grantee: str
    purposes: list[str]
    expires: int
    """Block time (ms) after which it no longer applies; 0 for never."""
    max_accesses: int
    """0 for no limit."""
    source: str
    """GRANT or PURCHASE_SOURCE."""
    issuer: str
    """The rights holder who granted it, or the buyer."""
    issued_at: int
    """Height of the creating event."""
    price: int = 0
    """Credits paid for it (purchases)."""
    used: int = 0
    """Accesses made under it."""
    revoked_at: int = 0
    """Height of the revocation; 0 while not revoked."""
    revoked_by: str = ""

    def to_wire(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def is_expired(self, ts: int) -> bool:
        return self.expires != 0 and ts > self.expires

    def in_force(self, ts: int) -> bool:
        return not self.revoked_at and not self.is_expired(ts)

    def is_used_up(self) -> bool:
        return self.max_accesses != 0 and self.used >= self.max_accesses


def license_key(license_id: bytes) -> bytes:
    return b"lic/" + license_id


def get_license(state: StateView, license_id: bytes) -> License | None:
    raw = state.get(license_key(license_id))
    return None if raw is None else License(**decode_stored(raw))


def set_license(state: StateOverlay, license_id: bytes, record: License) -> None:
    state.put(license_key(license_id), encode(record.to_wire()))


def _list_key(cid: str, did: str) -> bytes:
    return b"lics/" + cid.encode() + b"\x00" + did.encode()


def held_license_ids(state: StateView, cid: str, did: str) -> list[bytes]:
    raw = state.get(_list_key(cid, did))
    return [] if raw is None else list(decode_stored(raw))


def held_licenses(state: StateView, cid: str, did: str) -> list[tuple[bytes, License]]:
    found = []
    for license_id in held_license_ids(state, cid, did):
        record = get_license(state, license_id)
        assert record is not None, "a license list names a license that does not exist"
        found.append((license_id, record))
    return found


# Query indexes (never read by rules): licenses by grantee and by asset, in issue order.
HELD_INDEX = b"ix/lh/"
ASSET_INDEX = b"ix/la/"


def license_index_keys(license_id: bytes, record: License) -> list[bytes]:
    position = struct.pack(">Q", record.issued_at) + license_id
    return [
        HELD_INDEX + record.grantee.encode() + b"\x00" + position,
        ASSET_INDEX + record.asset.encode() + b"\x00" + position,
    ]


def add_license(state: StateOverlay, license_id: bytes, record: License, ts: int) -> None:
    """Store a new license and list it for its grantee, dropping entries no longer in force."""
    kept = [lid for lid, held in held_licenses(state, record.asset, record.grantee) if held.in_force(ts)]
    if len(kept) >= MAX_LICENSES_PER_GRANTEE:
        raise Rejected(
            f"{record.grantee} already holds {len(kept)} licenses in force on asset {record.asset} "
            f"(the most one account may hold on one asset)"
        )
    state.put(_list_key(record.asset, record.grantee), encode([*kept, license_id]))
    set_license(state, license_id, record)
    for key in license_index_keys(license_id, record):
        state.put(key, b"")


# --- judging a use ------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    basis: str
    """HOLDER, TERMS, LICENSE or PER_ACCESS_BASIS when allowed; else why not (a short token)."""
    reason: str
    """A sentence a person can act on."""
    price: int = 0
    """Credits each access costs (per access), or a license costs (when one must be bought)."""
    license: bytes | None = None
    """The license the use falls under, if it is the basis."""
    problems: tuple[str, ...] = field(default=())


def purpose_terms(asset: AssetRecord, purpose: str) -> tuple[str, int]:
    rule = asset.terms["purposes"][purpose]
    return rule["mode"], rule["price"]


def terms_expired(asset: AssetRecord, ts: int) -> bool:
    expires = asset.terms["expires"]
    return expires != 0 and ts > expires


def judge_use(state: StateView, asset: AssetRecord, account: str, purpose: str, ts: int) -> Verdict:
    """May ``account`` use ``asset`` for ``purpose`` at block time ``ts``, and on what basis."""
    cid = asset.cid
    if asset.status != ACTIVE:
        return Verdict(False, "withdrawn", f"asset {cid} is withdrawn: no new use is allowed")
    if account in asset.holders:
        return Verdict(True, HOLDER, f"{account} is a rights holder of asset {cid}")
    mode, price = purpose_terms(asset, purpose)
    expired = terms_expired(asset, ts)
    if mode == "allowed" and not expired:
        return Verdict(True, TERMS, f"the terms of asset {cid} allow {purpose}")
    problems = []
    for license_id, record in held_licenses(state, cid, account):
        name = f"license {license_id.hex()}"
        if purpose not in record.purposes:
            problems.append(f"{name} covers only {', '.join(record.purposes)}")
        elif record.revoked_at:
            problems.append(f"{name} was revoked at block {record.revoked_at}")
        elif record.is_expired(ts):
            problems.append(f"{name} expired at {record.expires}")
        elif record.is_used_up():
            problems.append(f"{name} has used all {record.max_accesses} of its accesses")
        else:
            return Verdict(True, LICENSE, f"{name} covers {purpose}", license=license_id)
    if mode == "per_access" and not expired:
        return Verdict(True, PER_ACCESS_BASIS, f"the terms of asset {cid} allow {purpose} at {price} credits per access", price=price)
    if expired:
        terms_say = f"the terms of asset {cid} expired at {asset.terms['expires']}"
        basis = "terms_expired"
    elif mode == "purchase":
        terms_say = f"{purpose} of asset {cid} needs a license: buy one for {price} credits or ask a rights holder for a grant"
        basis = "purchase"
    else:
        terms_say = f"the terms of asset {cid} deny {purpose} (only a grant from a rights holder allows it)"
        basis = "denied"
    holder = f" held by {account}" if account else ""  # a preflight may ask for nobody in particular
    reason = f"no license in force for {purpose} of asset {cid}{holder}: " + "; ".join([*problems, terms_say])
    return Verdict(False, basis, reason, price=price if mode == "purchase" and not expired else 0, problems=tuple(problems))
