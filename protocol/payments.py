"""Moving credits: a buyer pays, the rights holders are paid by their shares.

Integer arithmetic only. A payment of ``amount`` to holders with shares ``s_i`` (basis
points summing to 10,000) gives each ``floor(amount * s_i / 10000)``; the few credits
left over (fewer than the number of holders) go one each to the holders with the
largest fractional remainders ``(amount * s_i) mod 10000``, ties to the holder listed
first in the asset's registration (the largest-remainder, or Hamilton, method). So
every payment is paid out exactly: nothing is created or lost, and the sum of all
balances only ever changes at genesis.

Each account also keeps running totals (``cred/``): credits earned as a rights holder
and credits spent as a buyer, so that ``balance == genesis allocation + earned - spent``
can be checked for every account.
"""

from __future__ import annotations

from .encoding import decode_stored, encode
from .errors import Rejected
from .events import TOTAL_SHARE_BPS
from .records import StateOverlay, StateView, get_account, set_account


def split_payment(amount: int, shares: list[tuple[str, int]]) -> list[tuple[str, int]]:
    """Each holder's part of ``amount``, in the order given; the parts sum to ``amount``."""
    if amount < 0:
        raise ValueError("a payment cannot be negative")
    parts = []
    for position, (account, bps) in enumerate(shares):
        whole, fraction = divmod(amount * bps, TOTAL_SHARE_BPS)
        parts.append([account, whole, fraction, position])
    left = amount - sum(part[1] for part in parts)
    for part in sorted(parts, key=lambda p: (-p[2], p[3]))[:left]:
        part[1] += 1
    return [(account, whole) for account, whole, _, _ in parts]


def credits_key(did: str) -> bytes:
    return b"cred/" + did.encode()


def get_credits(state: StateView, did: str) -> tuple[int, int]:
    """(earned, spent) over the account's life."""
    raw = state.get(credits_key(did))
    if raw is None:
        return 0, 0
    earned, spent = decode_stored(raw)
    return earned, spent


def _add_credits(state: StateOverlay, did: str, earned: int = 0, spent: int = 0) -> None:
    total_earned, total_spent = get_credits(state, did)
    state.put(credits_key(did), encode([total_earned + earned, total_spent + spent]))


def split_evenly(amount: int, count: int) -> list[int]:
    """``amount`` in ``count`` equal parts; the remainder one each to the first parts (largest remainder, equal weights)."""
    whole, left = divmod(amount, count)
    return [whole + (1 if position < left else 0) for position in range(count)]


def pay_holders(state: StateOverlay, payer: str, amount: int, shares: list[tuple[str, int]], what: str) -> list[tuple[str, int]]:
    """Move ``amount`` from ``payer`` to the holders by share; Rejected if the payer cannot afford it."""
    parts = split_payment(amount, shares)
    transfer(state, payer, amount, parts, what)
    return parts


def transfer(state: StateOverlay, payer: str, amount: int, parts: list[tuple[str, int]], what: str) -> None:
    """Move ``amount`` from ``payer`` to the receivers of ``parts`` (which sum to it); Rejected if the payer cannot afford it."""
    assert sum(part for _, part in parts) == amount, "a payment's parts must sum to the amount paid"
    account = get_account(state, payer)
    if account.balance < amount:
        raise Rejected(f"{what} costs {amount} credits and {payer} has {account.balance}")
    if amount == 0:
        return
    account.balance -= amount
    set_account(state, payer, account)
    _add_credits(state, payer, spent=amount)
    for receiver_did, part in parts:
        if part:
            receiver = get_account(state, receiver_did)
            receiver.balance += part
            set_account(state, receiver_did, receiver)
            _add_credits(state, receiver_did, earned=part)
