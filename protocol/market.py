"""The rules of the data market: license.grant, license.revoke, license.purchase and access.

Credits move only here, and only through protocol/payments.py; every use and purchase
is counted in protocol/royalties.py. Time is the block's: a license or terms expire
when the block time passes their expiry, never by the clock of the node applying them.
"""

from __future__ import annotations

from .errors import Rejected
from .events import Access, Event, LicenseGrant, LicensePurchase, LicenseRevoke
from .licenses import (
    GRANT,
    LICENSE,
    PER_ACCESS_BASIS,
    PURCHASE_SOURCE,
    License,
    add_license,
    get_license,
    held_licenses,
    judge_use,
    purpose_terms,
    set_license,
    terms_expired,
)
from .lineage import get_app, get_model
from .payments import pay_holders, split_payment
from .records import BlockContext, StateOverlay, Touched, require_active, require_asset, require_holder
from .royalties import count_consumer_use, record_use
from .terms import TRAINING_PURPOSES


def apply_license_grant(state: StateOverlay, event: Event, body: LicenseGrant, context: BlockContext) -> Touched:
    asset = require_asset(state, body.asset)
    require_holder(asset, event.author, "grant a license on it")
    require_active(asset, "licenses")
    if body.expires and body.expires < context.ts:
        raise Rejected(f"the license would expire at {body.expires}, before this block's time {context.ts}")
    record = License(
        asset=body.asset,
        grantee=body.grantee,
        purposes=list(body.purposes),
        expires=body.expires,
        max_accesses=body.max_accesses,
        source=GRANT,
        issuer=event.author,
        issued_at=context.height,
    )
    add_license(state, event.id, record, context.ts)
    return Touched(assets=(body.asset,), accounts=(body.grantee,))


def apply_license_revoke(state: StateOverlay, event: Event, body: LicenseRevoke, context: BlockContext) -> Touched:
    record = get_license(state, body.license)
    if record is None:
        raise Rejected(f"license {body.license.hex()} does not exist")
    asset = require_asset(state, record.asset)
    require_holder(asset, event.author, "revoke its licenses")
    if record.revoked_at:
        raise Rejected(f"license {body.license.hex()} was already revoked at block {record.revoked_at}")
    record.revoked_at = context.height
    record.revoked_by = event.author
    set_license(state, body.license, record)
    return Touched(assets=(record.asset,), accounts=(record.grantee,))


def apply_license_purchase(state: StateOverlay, event: Event, body: LicensePurchase, context: BlockContext) -> Touched:
    asset = require_asset(state, body.asset)
    require_active(asset, "licenses")
    if terms_expired(asset, context.ts):
        raise Rejected(f"the terms of asset {body.asset} expired at {asset.terms['expires']}: nothing is for sale")
    price = 0
    for purpose in body.purposes:
        mode, purpose_price = purpose_terms(asset, purpose)
        if mode != "purchase":
            raise Rejected(f"asset {body.asset} does not sell licenses for {purpose}: its terms say {mode}")
        price += purpose_price
    for license_id, held in held_licenses(state, body.asset, event.author):
        covered = set(held.purposes) & set(body.purposes)
        if held.in_force(context.ts) and covered and not held.is_used_up():
            raise Rejected(
                f"{event.author} already holds license {license_id.hex()} in force for {', '.join(sorted(covered))} "
                f"of asset {body.asset}"
            )
    if price > body.max_price:
        raise Rejected(f"the license costs {price} credits, more than the max_price of {body.max_price}")
    parts = pay_holders(state, event.author, price, asset.shares, f"a license for {', '.join(body.purposes)} of asset {body.asset}")
    record = License(
        asset=body.asset,
        grantee=event.author,
        purposes=list(body.purposes),
        expires=asset.terms["expires"],
        max_accesses=0,
        source=PURCHASE_SOURCE,
        issuer=event.author,
        issued_at=context.height,
        price=price,
    )
    add_license(state, event.id, record, context.ts)
    record_use(state, body.asset, context.ts, parts, purchase=True)
    return Touched(assets=(body.asset,), accounts=tuple(asset.holders))


def apply_access(state: StateOverlay, event: Event, body: Access, context: BlockContext) -> Touched:
    asset = require_asset(state, body.asset)
    if body.model is not None and get_model(state, body.model) is None:
        raise Rejected(f"model {body.model.hex()} is not registered")
    if body.app is not None and get_app(state, body.app) is None:
        raise Rejected(f"app {body.app.hex()} is not registered")
    if body.purpose == "application" and body.app is None:
        raise Rejected("an access for the application purpose must name the app it serves")
    verdict = judge_use(state, asset, event.author, body.purpose, context.ts)
    if not verdict.allowed:
        raise Rejected(verdict.reason)
    if verdict.basis == LICENSE:
        assert verdict.license is not None
        record = get_license(state, verdict.license)
        assert record is not None
        record.used += 1
        set_license(state, verdict.license, record)
    if verdict.basis == PER_ACCESS_BASIS and verdict.price > body.max_price:
        raise Rejected(
            f"an access to asset {body.asset} for {body.purpose} costs {verdict.price} credits under the terms in force "
            f"since block {asset.terms_since}, more than the max_price of {body.max_price}"
        )
    if verdict.basis == PER_ACCESS_BASIS:
        what = f"an access to asset {body.asset} for {body.purpose}"
        parts = pay_holders(state, event.author, verdict.price, asset.shares, what)
    else:
        parts = split_payment(0, asset.shares)
    record_use(state, body.asset, context.ts, parts, purpose=body.purpose)
    if body.purpose in TRAINING_PURPOSES:  # only training uses are ever asked about (protocol/lineage.py)
        count_consumer_use(state, body.asset, event.author, body.purpose)
    return Touched(assets=(body.asset,), accounts=tuple(asset.holders))
