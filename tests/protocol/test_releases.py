"""Key releases: signed by the share holder, bound to access, asset and index, opened only by the consumer."""

from __future__ import annotations

from dataclasses import replace

import pytest

from protocol.encoding import decode, encode
from protocol.errors import InvalidSignature
from protocol.key_custody import open_sealed
from protocol.keys import Domain, SigningKey
from protocol.releases import InvalidRelease, decode_release, encode_release, sign_release

from .factories import asset_register

AUTHORITY = SigningKey(b"\x61" * 32)
CONSUMER = SigningKey(b"\x62" * 32)
OTHER = SigningKey(b"\x63" * 32)
ACCESS = b"\xaa" * 32
SHARE = bytes(range(32))
ASSET = asset_register().cid


def test_a_release_round_trips_and_only_the_consumer_opens_it():
    release = sign_release(AUTHORITY, ACCESS, ASSET, 3, SHARE, CONSUMER.did)
    decoded = decode_release(encode_release(release))
    assert decoded == release and decoded.releaser == AUTHORITY.did
    assert open_sealed(CONSUMER, decoded.sealed_share) == SHARE
    assert open_sealed(OTHER, decoded.sealed_share) is None
    assert open_sealed(AUTHORITY, decoded.sealed_share) is None


@pytest.mark.parametrize("change", [{"index": 4}, {"access": b"\xbb" * 32}, {"releaser": OTHER.did}])
def test_invalid_release_with_a_field_changed_after_signing(change):
    release = replace(sign_release(AUTHORITY, ACCESS, ASSET, 3, SHARE, CONSUMER.did), **change)
    with pytest.raises(InvalidSignature):
        decode_release(encode_release(release))


def test_invalid_release_signed_for_another_domain():
    release = sign_release(AUTHORITY, ACCESS, ASSET, 3, SHARE, CONSUMER.did)
    forged = replace(release, sig=AUTHORITY.sign(Domain.EVENT, encode(release.unsigned_wire())))
    with pytest.raises(InvalidSignature):
        decode_release(encode_release(forged))


@pytest.mark.parametrize(
    "change, problem",
    [({"v": 2}, "version"), ({"index": 0}, "index"), ({"sealed_share": b"x"}, "sealed_share"), ({"extra": 1}, "unknown")],
)
def test_invalid_release_wire(change, problem):
    wire = {**sign_release(AUTHORITY, ACCESS, ASSET, 3, SHARE, CONSUMER.did).to_wire(), **change}
    with pytest.raises(InvalidRelease, match=problem):
        decode_release(encode(wire))
    with pytest.raises(InvalidRelease, match="over the limit"):
        decode_release(b"\x00" * 2000)
    assert decode(encode(wire))  # the bytes themselves are well-formed msgpack
