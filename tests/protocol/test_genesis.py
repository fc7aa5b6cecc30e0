"""The genesis: parsing, its hash, and what it refuses."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from protocol.encoding import encode, sha256
from protocol.genesis import Genesis, InvalidGenesis, parse_genesis

from .factories import ALICE, BOB, CAROL


def wire(**changes: Any) -> dict[str, Any]:
    value: dict[str, Any] = {
        "network_id": "audiera-testnet-1",
        "timestamp": 1_700_000_000_000,
        "authorities": [ALICE.did, BOB.did, CAROL.did],
        "block_period_ms": 2_000,
        "allocations": {CAROL.did: 5_000, ALICE.did: 1_000_000},
    }
    value.update(copy.deepcopy(changes))
    return value


def invalid(value: Any, *fragments: str) -> None:
    with pytest.raises(InvalidGenesis) as exc:
        parse_genesis(value)
    assert exc.value.code == "invalid_genesis"
    for fragment in fragments:
        assert fragment in exc.value.message, f"{fragment!r} not in {exc.value.message!r}"


def test_parse() -> None:
    genesis = parse_genesis(wire())
    assert genesis.network_id == "audiera-testnet-1"
    assert genesis.timestamp == 1_700_000_000_000
    assert genesis.authorities == (ALICE.did, BOB.did, CAROL.did)
    assert genesis.block_period_ms == 2_000
    assert genesis.allocations == tuple(sorted([(CAROL.did, 5_000), (ALICE.did, 1_000_000)]))


def test_authority_order_is_kept() -> None:
    genesis = parse_genesis(wire(authorities=[CAROL.did, ALICE.did]))
    assert genesis.authorities == (CAROL.did, ALICE.did)


def test_wire_round_trip() -> None:
    genesis = parse_genesis(wire())
    assert parse_genesis(genesis.to_wire()) == genesis


def test_hash_is_sha256_of_canonical_encoding() -> None:
    genesis = parse_genesis(wire())
    assert genesis.hash == sha256(encode(genesis.to_wire()))
    assert len(genesis.hash) == 32


def test_hash_is_stable() -> None:
    # Pinned: a change here changes every network's id and must be deliberate.
    assert parse_genesis(wire()).hash.hex() == PINNED_HASH


def test_hash_matches_independent_msgpack_encoding() -> None:
    import hashlib

    import msgpack

    allocations = dict(sorted({CAROL.did: 5_000, ALICE.did: 1_000_000}.items()))
    by_key = {
        "allocations": allocations,
        "authorities": [ALICE.did, BOB.did, CAROL.did],
        "block_period_ms": 2_000,
        "network_id": "audiera-testnet-1",
        "timestamp": 1_700_000_000_000,
    }
    expected = hashlib.sha256(msgpack.packb(by_key, use_bin_type=True)).hexdigest()
    assert parse_genesis(wire()).hash.hex() == expected == PINNED_HASH


def test_hash_does_not_depend_on_allocation_order() -> None:
    forward = wire(allocations={ALICE.did: 1, BOB.did: 2, CAROL.did: 3})
    backward = wire(allocations={CAROL.did: 3, BOB.did: 2, ALICE.did: 1})
    assert parse_genesis(forward).hash == parse_genesis(backward).hash


@pytest.mark.parametrize(
    "changes",
    [
        {"network_id": "audiera-testnet-2"},
        {"timestamp": 1_700_000_000_001},
        {"authorities": [BOB.did, ALICE.did, CAROL.did]},
        {"authorities": [ALICE.did, BOB.did]},
        {"block_period_ms": 2_001},
        {"allocations": {ALICE.did: 1_000_000}},
        {"allocations": {CAROL.did: 5_001, ALICE.did: 1_000_000}},
    ],
)
def test_hash_depends_on_every_field(changes: dict[str, Any]) -> None:
    assert parse_genesis(wire(**changes)).hash != parse_genesis(wire()).hash


def test_empty_allocations_allowed() -> None:
    assert parse_genesis(wire(allocations={})).allocations == ()


@pytest.mark.parametrize("network_id", ["a", "audiera", "dev.local_1-x", "0net", "n" * 64])
def test_valid_network_ids(network_id: str) -> None:
    assert parse_genesis(wire(network_id=network_id)).network_id == network_id


@pytest.mark.parametrize(
    "network_id, fragment",
    [
        ("", "genesis.network_id must have 1 to 64 characters"),
        ("n" * 65, "genesis.network_id must have 1 to 64 characters"),
        ("Audiera", "genesis.network_id 'Audiera' is not a lower-case id"),
        ("-audiera", "is not a lower-case id"),
        (".audiera", "is not a lower-case id"),
        ("audiera net", "is not a lower-case id"),
        ("audiera/1", "is not a lower-case id"),
        ("audiéra", "is not a lower-case id"),
        ("audiera\n", "genesis.network_id must not contain control characters"),
        (1, "genesis.network_id must be text"),
    ],
)
def test_invalid_network_id(network_id: Any, fragment: str) -> None:
    invalid(wire(network_id=network_id), fragment)


def test_invalid_empty_authorities() -> None:
    invalid(wire(authorities=[]), "genesis.authorities must have 1 to 64 items, not 0")


def test_invalid_too_many_authorities() -> None:
    from protocol.keys import did_from_public_key

    invalid(wire(authorities=[did_from_public_key(bytes([i]) * 32) for i in range(65)]), "genesis.authorities must have 1 to 64 items, not 65")


@pytest.mark.parametrize("authority", ["alice", "did:key:z6Mk", "did:web:example.com", 5, None])
def test_invalid_authority_did(authority: Any) -> None:
    invalid(wire(authorities=[ALICE.did, authority]), "genesis.authorities is not a valid account")


def test_invalid_duplicate_authority() -> None:
    invalid(wire(authorities=[ALICE.did, BOB.did, ALICE.did]), "genesis.authorities must not repeat an item")


def test_invalid_authorities_not_a_list() -> None:
    invalid(wire(authorities=ALICE.did), "genesis.authorities must be a list")


@pytest.mark.parametrize("period, fragment", [(9, "must be between 10 and 3600000"), (3_600_001, "must be between 10 and 3600000"), (0, "must be between"), ("2s", "must be an integer"), (2.0, "must be an integer")])
def test_invalid_block_period(period: Any, fragment: str) -> None:
    invalid(wire(block_period_ms=period), f"genesis.block_period_ms {fragment}")


@pytest.mark.parametrize("timestamp, fragment", [(-1, "must be between 0"), ("2024-01-01", "must be an integer"), (True, "must be an integer")])
def test_invalid_timestamp(timestamp: Any, fragment: str) -> None:
    invalid(wire(timestamp=timestamp), f"genesis.timestamp {fragment}")


@pytest.mark.parametrize("amount", [0, -1, 2**63, True, 1.5, "100", None])
def test_invalid_allocation_amount(amount: Any) -> None:
    invalid(wire(allocations={ALICE.did: amount}), f"genesis.allocations[{ALICE.did}] must be a positive integer")


@pytest.mark.parametrize("account", ["alice", "did:key:z6Mk", "did:web:example.com"])
def test_invalid_allocation_account(account: str) -> None:
    invalid(wire(allocations={account: 10}), "genesis.allocations is not a valid account")


@pytest.mark.parametrize("allocations", [[], [[ALICE.did, 10]], "none", 5])
def test_invalid_allocations_not_a_map(allocations: Any) -> None:
    invalid(wire(allocations=allocations), "genesis.allocations must map accounts to credits")


def test_max_allocation_allowed() -> None:
    assert parse_genesis(wire(allocations={ALICE.did: 2**63 - 1})).allocations == ((ALICE.did, 2**63 - 1),)


@pytest.mark.parametrize("field", ["network_id", "timestamp", "authorities", "block_period_ms", "allocations"])
def test_invalid_missing_field(field: str) -> None:
    value = wire()
    del value[field]
    invalid(value, f"genesis.{field} is missing")


def test_invalid_unknown_field() -> None:
    invalid(wire(chain_id=7), "genesis has unknown field(s): chain_id")


def test_invalid_not_a_map() -> None:
    invalid([], "genesis must be a map")


def test_genesis_is_a_value() -> None:
    assert isinstance(parse_genesis(wire()), Genesis)
    assert parse_genesis(wire()) == parse_genesis(wire())


PINNED_HASH = "31987a4b35f3c0d6668c5bb7187bc1b0fade010b09a503587dff6a219b943598"
