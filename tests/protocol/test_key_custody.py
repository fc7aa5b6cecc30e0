"""Shamir k-of-n over GF(2^8), the custody of an asset key, and its wire form."""

from __future__ import annotations

import itertools
import secrets

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.encoding import decode, encode
from protocol.key_custody import (
    BadShare,
    InvalidCustody,
    NotEnoughShares,
    build_custody,
    combine_shares,
    open_holder_copy,
    open_sealed,
    parse_custody,
    recover_key,
    split_secret,
    threshold_for,
)
from protocol.keys import SigningKey

ASSET = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"


@st.composite
def splits(draw):
    n = draw(st.integers(min_value=1, max_value=12))
    k = draw(st.integers(min_value=1, max_value=n))
    secret = draw(st.binary(min_size=1, max_size=40))
    return secret, n, k


@settings(max_examples=60, deadline=None)
@given(splits(), st.randoms(use_true_random=False))
def test_any_k_of_n_shares_recover_the_secret(split, rng):
    secret, n, k = split
    shares = split_secret(secret, n, k)
    chosen = rng.sample(sorted(shares), k)
    assert combine_shares({x: shares[x] for x in chosen}) == secret


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=2, max_value=8), st.data())
def test_k_minus_one_shares_are_consistent_with_every_secret(k, data):
    """With k-1 shares fixed, each candidate secret has exactly one completing polynomial: they reveal nothing."""
    n = data.draw(st.integers(min_value=k, max_value=10))
    shares = split_secret(bytes([data.draw(st.integers(0, 255))]), n, k)
    known = dict(itertools.islice(shares.items(), k - 1))
    other = next(x for x in shares if x not in known)
    # Each value at ``other`` maps to a distinct secret: the map share -> secret is a bijection.
    secrets_seen = {combine_shares({**known, other: bytes([y])}) for y in range(256)}
    assert len(secrets_seen) == 256


def test_k_minus_one_shares_combine_to_something_else():
    key = secrets.token_bytes(32)
    for n in (4, 7, 10):
        k = threshold_for(n)
        shares = split_secret(key, n, k)
        for chosen in itertools.combinations(sorted(shares), k - 1):
            if chosen:
                assert combine_shares({x: shares[x] for x in chosen}) != key


def test_threshold_is_a_third_plus_one():
    assert [threshold_for(n) for n in (1, 2, 3, 4, 5, 6, 7, 10)] == [1, 1, 2, 2, 2, 3, 3, 4]
    for n in range(1, 40):
        k = threshold_for(n)
        assert 3 * (k - 1) <= n  # fewer than a third (at most k-1 of them) learn nothing
        assert n - k >= (n - 1) // 3  # the key survives a third of them being down


def _authorities(n: int) -> list[SigningKey]:
    return [SigningKey(bytes([i + 1]) * 32) for i in range(n)]


def _opened(custody, keys):
    return {custody.share_of(key.did).index: open_sealed(key, custody.share_of(key.did).sealed) for key in keys}


def test_each_authority_opens_only_its_own_share_and_k_recover():
    key = secrets.token_bytes(32)
    authorities = _authorities(7)
    holder = SigningKey(b"\x55" * 32)
    custody = build_custody(key, ASSET, [a.did for a in authorities], [holder.did])
    assert custody.threshold == 3
    assert open_sealed(authorities[1], custody.shares[0].sealed) is None
    for chosen in itertools.combinations(authorities, 3):
        assert recover_key(ASSET, custody, _opened(custody, chosen)) == key
    with pytest.raises(NotEnoughShares):
        recover_key(ASSET, custody, _opened(custody, authorities[:2]))
    assert open_holder_copy(custody, holder) == key
    with pytest.raises(InvalidCustody):
        open_holder_copy(custody, authorities[0])


def test_a_bad_share_is_detected_and_named_by_index():
    key = secrets.token_bytes(32)
    authorities = _authorities(4)
    custody = build_custody(key, ASSET, [a.did for a in authorities], [authorities[0].did])
    opened = _opened(custody, authorities[:3])
    flipped = bytearray(opened[2])
    flipped[5] ^= 1
    opened[2] = bytes(flipped)
    with pytest.raises(BadShare) as caught:
        recover_key(ASSET, custody, opened)
    assert caught.value.indices == (2,)
    assert "share 2" in caught.value.message
    # a share committed for another asset is bad here too
    with pytest.raises(BadShare):
        recover_key("bafkreiother", custody, _opened(custody, authorities[:2]))


def test_custody_round_trips_and_bad_shapes_are_refused():
    authorities = _authorities(4)
    custody = build_custody(secrets.token_bytes(32), ASSET, [a.did for a in authorities], [authorities[0].did])
    assert parse_custody(decode(encode(custody.to_wire()))) == custody
    wire = custody.to_wire()
    with pytest.raises(InvalidCustody, match="threshold"):
        parse_custody({**wire, "threshold": 1})
    with pytest.raises(InvalidCustody, match="indices"):
        parse_custody({**wire, "shares": list(reversed(wire["shares"]))})
    with pytest.raises(InvalidCustody, match="twice"):
        twice = [wire["shares"][0], {**wire["shares"][1], "holder": wire["shares"][0]["holder"]}, *wire["shares"][2:]]
        parse_custody({**wire, "shares": twice})
    with pytest.raises(InvalidCustody, match="bytes"):
        parse_custody({**wire, "shares": [{**wire["shares"][0], "sealed": b"x"}, *wire["shares"][1:]]})
