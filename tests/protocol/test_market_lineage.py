"""Models and apps: the training-license rule, the lineage indexes, and manifest proofs."""

from __future__ import annotations

from dataclasses import replace

import pytest

from protocol.encoding import decode
from protocol.errors import InvalidProof
from protocol.events import (
    Access,
    AppRegister,
    AssetWithdraw,
    LicenseGrant,
    LicensePurchase,
    LicenseRevoke,
    ManifestEntry,
    manifest_leaf,
)
from protocol.lineage import APPS_OF_MODEL, DERIVED, MANIFEST, PEOPLE, get_app, get_model, trained_on_key
from protocol.manifest_proofs import LeafProof, prove_manifest, verify_manifest_proof
from protocol.merkle import EMPTY_ROOT, merkle_proof
from protocol.terms import ALLOWED, PER_ACCESS, PURCHASE, Terms

from .factories import cid, digest
from .market_world import ALICE, BOB, CAROL, DAVE, ERIN, World, asset, model

PAID = Terms.make({"ai_training": (PURCHASE, 10)})
FREE = Terms.make({"ai_generative_training": (ALLOWED, 0), "application": (ALLOWED, 0)})


def catalog() -> World:
    """Alice's 'paid' (70/30 with Bob) sells training; Bob's 'free' allows generative training freely."""
    world = World()
    world.send(ALICE, asset("paid", ((ALICE, 7_000), (BOB, 3_000)), terms=PAID))
    world.send(BOB, asset("free", ((BOB, 10_000),), terms=FREE))
    return world


def test_model_register_records_lineage() -> None:
    world = catalog()
    bought = world.send(CAROL, LicensePurchase(cid("paid"), ("ai_training",), 10))
    body = model([(cid("paid"), bought.id), (cid("free"), None)])
    registered = world.send(CAROL, body)
    record = get_model(world, registered.id)
    assert record is not None
    assert (record.name, record.author, record.manifest_root, record.manifest_size) == ("tune-gen", CAROL.did, body.manifest_root, 2)
    for position, entry in enumerate(body.manifest):
        assert decode(world.get(MANIFEST + registered.id + entry.asset.encode())) == [position, entry.license]  # type: ignore[arg-type]
        assert world.get(trained_on_key(entry.asset, registered.id)) == b""
    people = {key[len(PEOPLE) + 32 :].decode(): decode(world.data[key]) for key in world.keys(PEOPLE + registered.id)}
    assert people == {ALICE.did: 1, BOB.did: 2}
    touched = world.touched[-1]
    assert set(touched.assets) == {cid("paid"), cid("free")}
    assert set(touched.accounts) == {CAROL.did, ALICE.did, BOB.did}


def test_model_on_a_base_model_and_an_app_on_both() -> None:
    world = catalog()
    base = world.send(CAROL, model([(cid("free"), None)], name="base"))
    tuned = world.send(CAROL, model([], base=base.id, name="tuned"))
    assert world.get(DERIVED + base.id + tuned.id) == b""
    app = world.send(DAVE, AppRegister("radio", "2.0", (tuned.id, base.id)))
    record = get_app(world, app.id)
    assert record is not None and record.models == [tuned.id, base.id] and record.author == DAVE.did
    assert world.get(APPS_OF_MODEL + tuned.id + app.id) == b"" and world.get(APPS_OF_MODEL + base.id + app.id) == b""
    assert world.touched[-1].accounts == (DAVE.did, CAROL.did)
    world.send(ERIN, Access(cid("free"), "application", None, app.id, "12D3KooWServer", 1_000, 1_000))


def test_invalid_model_naming_an_unlicensed_asset() -> None:
    world = catalog()
    world.refuse(
        CAROL,
        model([(cid("paid"), None), (cid("free"), None)]),
        f"asset {cid('paid')} is not licensed to {CAROL.did} for training",
        "no license is named",
    )


@pytest.mark.parametrize("case", ["someone else's", "another asset's", "revoked", "expired", "not for training", "unknown"])
def test_invalid_model_naming_a_bad_license(case: str) -> None:
    world = catalog()
    world.send(ALICE, asset("other", terms=PAID))
    grantee, target, purposes, expires = CAROL, "paid", ("ai_training",), 0
    if case == "someone else's":
        grantee = ERIN
    elif case == "another asset's":
        target = "other"
    elif case == "not for training":
        purposes = ("ai_inference",)
    elif case == "expired":
        expires = world.ts + 10
    grant = world.send(ALICE, LicenseGrant(cid(target), grantee.did, purposes, expires, 0))
    license_id = grant.id if case != "unknown" else digest("no license")
    if case == "revoked":
        world.send(BOB, LicenseRevoke(grant.id))
    world.advance(ms=100)
    expected = {
        "someone else's": f"was issued to {ERIN.did}",
        "another asset's": f"is for asset {cid('other')}",
        "revoked": "was revoked at block",
        "expired": "expired at",
        "not for training": "covers only ai_inference, not training",
        "unknown": "does not exist",
    }[case]
    world.refuse(CAROL, model([(cid("paid"), license_id)]), f"asset {cid('paid')} is not licensed", expected)


def test_invalid_model_manifest_rules() -> None:
    world = catalog()
    unsorted = model([(cid("paid"), None), (cid("free"), None)], sort=False)
    if unsorted.manifest[0].asset < unsorted.manifest[1].asset:
        unsorted = model([(cid("free"), None), (cid("paid"), None)], sort=False)
    world.refuse(CAROL, unsorted, "ascending order of asset id")
    world.refuse(CAROL, model([(cid("nowhere"), None)]), f"asset {cid('nowhere')} in the manifest is not registered")
    world.refuse(CAROL, model([], base=digest("no base")), "base model", "is not registered")
    world.refuse(ERIN, model([]), "registering a model needs the model_developer role")
    world.refuse(CAROL, AppRegister("radio", "1", (digest("x"),)), "registering an app needs the app_developer role")
    world.refuse(DAVE, AppRegister("radio", "1", (digest("x"),)), f"model {digest('x').hex()} is not registered")


def test_model_may_name_withdrawn_asset_never() -> None:
    world = catalog()
    world.send(BOB, AssetWithdraw(cid("free"), ""))
    world.refuse(CAROL, model([(cid("free"), None)]), "it is withdrawn")


def test_per_access_training_counts_once_accessed() -> None:
    world = World()
    world.send(ALICE, asset("metered", terms=Terms.make({"ai_training": (PER_ACCESS, 2)})))
    world.refuse(CAROL, model([(cid("metered"), None)]), "ai_training per_access")
    world.send(CAROL, Access(cid("metered"), "ai_training", None, None, "12D3KooWServer", 1_000, 1_000))
    world.send(CAROL, model([(cid("metered"), None)]))


def test_rights_holder_trains_on_own_asset() -> None:
    world = World()
    world.send(ALICE, asset("mine", ((ALICE, 5_000), (CAROL, 5_000)), terms=Terms.make()))
    world.send(CAROL, model([(cid("mine"), None)]))


# --- manifest proofs -------------------------------------------------------------------


def manifest_of(*tags: str) -> tuple[ManifestEntry, ...]:
    return model([(cid(tag), digest(tag)) for tag in tags]).manifest


def root_of(entries: tuple[ManifestEntry, ...]) -> bytes:
    return model([(entry.asset, entry.license) for entry in entries]).manifest_root


TAGS = ("a", "b", "c", "d", "e", "f", "g")


@pytest.mark.parametrize("tag", TAGS)
def test_membership_proof(tag: str) -> None:
    entries = manifest_of(*TAGS)
    present, leaves = prove_manifest(entries, cid(tag))
    assert present and len(leaves) == 1 and leaves[0].entry.asset == cid(tag)
    verify_manifest_proof(root_of(entries), len(entries), cid(tag), True, leaves)
    with pytest.raises(InvalidProof):
        verify_manifest_proof(root_of(entries), len(entries), cid(tag), False, leaves)


@pytest.mark.parametrize("missing", ["h", "i", "j", "k", "l", "zz", "0"])
def test_absence_proof(missing: str) -> None:
    entries = manifest_of(*TAGS)
    present, leaves = prove_manifest(entries, cid(missing))
    assert not present and 1 <= len(leaves) <= 2
    verify_manifest_proof(root_of(entries), len(entries), cid(missing), False, leaves)
    with pytest.raises(InvalidProof):
        verify_manifest_proof(root_of(entries), len(entries), cid(missing), True, leaves)


def test_absence_proof_in_an_empty_manifest() -> None:
    present, leaves = prove_manifest((), cid("a"))
    assert not present and leaves == []
    verify_manifest_proof(EMPTY_ROOT, 0, cid("a"), False, [])


def test_invalid_absence_proofs() -> None:
    entries = manifest_of(*TAGS)
    root, size = root_of(entries), len(entries)
    leaves = [manifest_leaf_proof(entries, i) for i in range(size)]
    ordered = sorted(range(size), key=lambda i: entries[i].asset)
    target = cid("h")
    position = next((i for i in ordered if entries[i].asset > target), None)
    # Two leaves that are not adjacent, though they sort around the asset.
    if position is not None and 0 < position < size - 1:
        with pytest.raises(InvalidProof, match="adjacent|sort"):
            verify_manifest_proof(root, size, target, False, [leaves[position - 1], leaves[position + 1]])
    # A middle leaf alone proves nothing.
    with pytest.raises(InvalidProof, match="one leaf"):
        verify_manifest_proof(root, size, target, False, [leaves[3]])
    # A leaf under another root, or claiming another size.
    with pytest.raises(InvalidProof):
        verify_manifest_proof(b"\x01" * 32, size, target, False, [leaves[0]])
    forged = LeafProof(leaves[0].entry, replace(leaves[0].proof, size=size + 1))
    with pytest.raises(InvalidProof, match="tree of"):
        verify_manifest_proof(root, size, target, False, [forged])
    # The leaves name the asset itself.
    with pytest.raises(InvalidProof, match="it is in the manifest"):
        verify_manifest_proof(root, size, entries[2].asset, False, [leaves[2]])


def manifest_leaf_proof(entries: tuple[ManifestEntry, ...], index: int) -> LeafProof:
    return LeafProof(entries[index], merkle_proof([manifest_leaf(entry) for entry in entries], index))
