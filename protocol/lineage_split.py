"""How a payment for a model's use is split down its lineage, in integer credits.

The choice, after Story Protocol's two royalty policies:

- LAP (Liquid Absolute Percentage): every ancestor sets a percentage that *every*
  descendant at any depth pays on its own revenue; a derivative's "royalty stack" is the
  sum over all its ancestors and must stay at or under 100%, so a deep chain can end up
  unable to build further, and an ancestor's terms bind people who never dealt with it.
- LRP (Liquid Relative Percentage): each parent is paid only by its direct children, a
  percentage of what the child receives; grandparents are paid out of their child's
  part, so percentages multiply down the chain and the stack of any one model is only
  what it owes its direct parents.

We follow LRP: a model owes only its direct parents (its training assets, and its base
model), and a base model's part is then split by that base model's own terms, the same
way, one level further. Why: a model's developer sees and agrees to exactly the terms of
what it builds on directly; what any one payment owes can never exceed the payment
(each level splits what it received and nothing more), so the cap is structural rather
than a sum that a far ancestor could push over 100%; and the split is a walk of the
base-model chain, not a fan-out over every ancestor.

For one level, a model M receiving ``amount``:

- ``to_base = floor(amount * d / 10000)`` where ``d`` is the base model's
  ``derivative_share_bps`` (0 without a base);
- ``to_training = floor(amount * t / 10000)`` where ``t = min(M.training_share_bps,
  10000 - d)``: the cap. The base model's part comes first because M's developer agreed
  to it when building on the base, so no model owes more than 100% of what it receives;
  ``t`` is 0 for a model trained on nothing;
- M's developer keeps ``amount - to_base - to_training``: the remainder of both floors
  stays with the developer of the level that rounded;
- ``to_training`` is split evenly over M's training assets (remainder one credit each to
  the first assets in manifest order), and each asset's part over its rights holders by
  share (protocol/payments.py's largest-remainder rule);
- ``to_base`` is split the same way for the base model, up to ``MAX_LINEAGE_DEPTH``
  levels (a deeper base's part stays with the last model walked).

Every credit paid is in exactly one part, so the parts sum to the payment. Only parts of
at least one credit are walked: an asset's record is read only if it is paid something,
so the work of a split is bounded by the credits paid and by the depth.
"""

from __future__ import annotations

from dataclasses import dataclass

from .encoding import decode_stored
from .lineage import get_model, get_training_assets
from .model_terms import NO_TERMS, TOTAL_BPS, ModelTerms, parse_model_terms
from .payments import split_evenly, split_payment
from .records import StateView, get_asset

MAX_LINEAGE_DEPTH = 16
"""Models of a base-model chain paid by one use (the model used is the first)."""


@dataclass(frozen=True)
class RoyaltyPart:
    """Credits owed to one account by one payment, and what they are owed through."""

    account: str
    amount: int
    model: bytes
    """The model of the lineage whose level paid this part."""
    asset: str | None
    """The training asset this part was earned through; None for the model developer's part."""


def model_terms_key(model_id: bytes) -> bytes:
    return b"mterms/" + model_id


def get_model_terms(state: StateView, model_id: bytes) -> ModelTerms:
    raw = state.get(model_terms_key(model_id))
    return NO_TERMS if raw is None else parse_model_terms(decode_stored(raw)["terms"], "stored model terms")


def split_model_payment(state: StateView, model_id: bytes, amount: int) -> list[RoyaltyPart]:
    """Who is owed what of ``amount`` paid for the use of ``model_id``; the parts sum to ``amount``."""
    parts: list[RoyaltyPart] = []
    current, owed = model_id, amount
    for depth in range(MAX_LINEAGE_DEPTH):
        record = get_model(state, current)
        assert record is not None, "a payment names a model the state does not hold"
        terms = get_model_terms(state, current)
        base = record.base_model if depth + 1 < MAX_LINEAGE_DEPTH else None
        base_bps = get_model_terms(state, base).derivative_share_bps if base is not None else 0
        training = get_training_assets(state, current)
        training_bps = min(terms.training_share_bps, TOTAL_BPS - base_bps) if training else 0
        to_base = owed * base_bps // TOTAL_BPS
        to_training = owed * training_bps // TOTAL_BPS
        parts.append(RoyaltyPart(record.author, owed - to_base - to_training, current, None))
        if to_training:
            parts.extend(_training_parts(state, current, training, to_training))
        if base is None or to_base == 0:
            break
        current, owed = base, to_base
    return parts


def _training_parts(state: StateView, model_id: bytes, training: list[str], amount: int) -> list[RoyaltyPart]:
    parts = []
    for cid, asset_part in zip(training, split_evenly(amount, len(training))):
        if asset_part == 0:
            break  # split_evenly pays the first assets first: the rest are owed nothing
        asset = get_asset(state, cid)
        assert asset is not None, "a model's training list names an asset the state does not hold"
        for holder, part in split_payment(asset_part, asset.shares):
            parts.append(RoyaltyPart(holder, part, model_id, cid))
    return parts
