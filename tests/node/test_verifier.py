"""The signature verifier: batches checked by a helper process fail exactly as in process,
and a helper that is missing, killed or stopped never lets a bad signature through."""

from __future__ import annotations

import pytest

from node.chain.signature_worker import SignatureVerifier, first_failure
from protocol.blocks import OwedSignature
from protocol.errors import InvalidBlock, InvalidSignature
from protocol.keys import Domain, SignatureCheck
from tests.protocol.factories import key

SIGNER = key(7)


def owed_batch(count: int, bad: int | None = None) -> list[OwedSignature]:
    batch = []
    for index in range(count):
        message = f"event {index}".encode()
        signature = SIGNER.sign(Domain.EVENT, message) if index != bad else bytes(64)
        batch.append(OwedSignature(SignatureCheck(Domain.EVENT, message, signature, SIGNER.did), f"block.events[{index}]"))
    return batch


@pytest.fixture
async def verifier():
    verifier = SignatureVerifier(offload_min=10)
    yield verifier
    await verifier.close()


async def test_batches_checked_by_the_helper_pass_and_fail_in_order(verifier: SignatureVerifier) -> None:
    good = await verifier.start_checks(owed_batch(50))
    bad = await verifier.start_checks(owed_batch(50, bad=31))
    later = await verifier.start_checks(owed_batch(50))
    assert verifier._process is not None, "batches this large go to the helper"
    await good.wait()
    with pytest.raises(InvalidBlock, match=r"block\.events\[31\]: signature does not verify"):
        await bad.wait()
    await later.wait()


async def test_a_bad_header_signature_fails_as_in_process(verifier: SignatureVerifier) -> None:
    batch = owed_batch(20)
    header = batch[-1].check
    batch[-1] = OwedSignature(SignatureCheck(Domain.HEADER, header.message, header.signature, header.signer), None)
    checks = await verifier.start_checks(batch)
    with pytest.raises(InvalidSignature):
        await checks.wait()


async def test_small_batches_are_checked_in_process(verifier: SignatureVerifier) -> None:
    checks = await verifier.start_checks(owed_batch(3, bad=2))
    assert verifier._process is None
    with pytest.raises(InvalidBlock, match=r"block\.events\[2\]"):
        await checks.wait()


async def test_a_killed_helper_is_replaced_and_its_batches_are_checked_here(verifier: SignatureVerifier) -> None:
    await (await verifier.start_checks(owed_batch(20))).wait()
    first = verifier._process
    assert first is not None
    first.kill()
    await first.wait()
    # Written to a dead helper, or owed by it: either way checked, never waved through.
    with pytest.raises(InvalidBlock, match=r"block\.events\[5\]"):
        await (await verifier.start_checks(owed_batch(20, bad=5))).wait()
    await (await verifier.start_checks(owed_batch(20))).wait()
    with pytest.raises(InvalidBlock, match=r"block\.events\[9\]"):
        await (await verifier.start_checks(owed_batch(20, bad=9))).wait()
    assert verifier._process is not None and verifier._process is not first


async def test_close_stops_the_helper_and_pending_batches_are_checked_here() -> None:
    verifier = SignatureVerifier(offload_min=10)
    checks = await verifier.start_checks(owed_batch(400, bad=399))
    process = verifier._process
    assert process is not None
    await verifier.close()
    assert process.returncode == 0, "the helper exits by itself once its stdin closes"
    with pytest.raises(InvalidBlock, match=r"block\.events\[399\]"):
        await checks.wait()


def test_first_failure_names_the_first_bad_signature() -> None:
    wire = [(o.check.domain.value, o.check.message, o.check.signature, o.check.signer) for o in owed_batch(6, bad=4)]
    assert first_failure(wire) == 4
    assert first_failure(wire[:4]) is None
    assert first_failure([(b"no such domain", b"m", bytes(64), SIGNER.did)]) == 0
    assert first_failure([(Domain.EVENT.value, b"m", bytes(64), "did:key:not-a-key")]) == 0
