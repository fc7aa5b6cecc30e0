"""The rules of model and app use: ``model.terms`` and ``usage.record``.

A ``usage.record`` of a model charges ``count`` times the per-unit price of its terms for
the purpose; of an app, the same for each model the app names (the app's own developer
is paid nothing by the protocol: it is the app that pays for the models it uses). The
payer is the event's author. The whole batch is refused, and nothing charged, if any
model denies the purpose, if the total is more than the ``max_price`` the payer signed
(so terms raised between signing and inclusion cannot overcharge), or if the payer
cannot afford it. Each model's charge is split down its lineage
(protocol/lineage_split.py) and counted by day of block time (protocol/lineage_income.py).
"""

from __future__ import annotations

from .encoding import decode_stored, encode
from .errors import Rejected
from .events import Event, ModelTermsSet, UsageRecord
from .lineage import get_app, get_model
from .lineage_income import record_paid_use, source_of
from .lineage_split import get_model_terms, model_terms_key, split_model_payment
from .model_terms import DENIED
from .payments import transfer
from .records import BlockContext, StateOverlay, StateView, Touched
from .royalties import day_of


def apply_model_terms(state: StateOverlay, event: Event, body: ModelTermsSet, context: BlockContext) -> Touched:
    model = get_model(state, body.model)
    if model is None:
        raise Rejected(f"model {body.model.hex()} is not registered")
    if model.author != event.author:
        raise Rejected(f"only the developer of model {body.model.hex()} ({model.author}) may set its terms")
    state.put(model_terms_key(body.model), encode({"terms": body.terms.to_wire(), "since": context.height}))
    return Touched(accounts=(model.author,))


def model_terms_since(state: StateView, model_id: bytes) -> int:
    """Height from which the model's terms apply; 0 while none were set."""
    raw = state.get(model_terms_key(model_id))
    return 0 if raw is None else decode_stored(raw)["since"]


def use_price(state: StateView, model_id: bytes, purpose: str) -> int:
    """Credits per unit of ``purpose`` on the model; Rejected if its terms deny it."""
    price = get_model_terms(state, model_id).for_purpose(purpose)
    if price.mode == DENIED:
        since = model_terms_since(state, model_id)
        said = f"its terms (since block {since}) deny it" if since else "its developer has set no terms for its use"
        raise Rejected(f"model {model_id.hex()} may not be used for {purpose}: {said}")
    return price.price


def apply_usage_record(state: StateOverlay, event: Event, body: UsageRecord, context: BlockContext) -> Touched:
    if body.period_end > context.ts:
        raise Rejected(f"the period ends at {body.period_end}, after this block's time {context.ts}: only past use is recorded")
    if body.app is not None:
        app = get_app(state, body.app)
        if app is None:
            raise Rejected(f"app {body.app.hex()} is not registered")
        models = app.models
    else:
        assert body.model is not None
        if get_model(state, body.model) is None:
            raise Rejected(f"model {body.model.hex()} is not registered")
        models = [body.model]
    charges = [(model_id, use_price(state, model_id, body.purpose) * body.count) for model_id in models]
    total = sum(charge for _, charge in charges)
    if total > body.max_price:
        priced = ", ".join(f"model {model_id.hex()[:16]}… {charge // body.count} per unit" for model_id, charge in charges)
        raise Rejected(
            f"{body.count} units of {body.purpose} cost {total} credits ({priced}), more than the max_price of {body.max_price}: "
            "the terms in force when this event lands are what is charged, so sign again with a higher max_price to accept them"
        )
    by_account: dict[str, int] = {}
    by_asset: dict[str, int] = {}
    for model_id, charge in charges:
        for part in split_model_payment(state, model_id, charge) if charge else []:
            if part.amount:
                by_account[part.account] = by_account.get(part.account, 0) + part.amount
                if part.asset is not None:
                    by_asset[part.asset] = by_asset.get(part.asset, 0) + part.amount
    used = f"model {body.model.hex()}" if body.app is None else f"app {body.app.hex()}"
    transfer(state, event.author, total, list(by_account.items()), f"{body.count} units of {body.purpose} of {used}")
    record_paid_use(state, source_of(body.model, body.app), day_of(context.ts), body.count, total, by_account, by_asset)
    return Touched(assets=tuple(by_asset), accounts=tuple(by_account))
