"""P2PHost in-process, two or three hosts on loopback: a cancelled call stops its trio side,
and the perf protocol answers only the peer the operator named, within its permission."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from libp2p.crypto.ed25519 import create_new_key_pair

from node.p2p.host import P2PError, P2PHost

SILENT_PROTOCOL = "/audiera/test/never-answers/1"


async def until(predicate: Callable[[], bool], what: str, timeout: float = 10) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


@pytest.fixture
async def hosts() -> AsyncIterator[Callable[[], Awaitable[P2PHost]]]:
    started: list[P2PHost] = []

    async def start() -> P2PHost:
        host = P2PHost(create_new_key_pair(), "/ip4/127.0.0.1/tcp/0")
        await host.start()
        started.append(host)
        return host

    yield start
    for host in started:
        await host.stop()


def address_of(host: P2PHost) -> str:
    return next(address for address in host.addresses if "/tcp/" in address)


async def test_cancelling_a_request_in_flight_cancels_its_trio_side(hosts) -> None:
    requester, silent = await hosts(), await hosts()
    never = asyncio.Event()

    async def never_answer(peer: str, request: bytes) -> bytes:
        await never.wait()
        return b""

    await silent.serve(SILENT_PROTOCOL, never_answer)
    await requester.connect(address_of(silent))
    await until(lambda: requester.calls_in_flight == 0, "the connect call to finish")
    request = asyncio.create_task(requester.request(silent.peer_id, SILENT_PROTOCOL, b"hello", timeout=120))
    await until(lambda: requester.calls_in_flight == 1, "the request on the trio side")
    request.cancel()
    with pytest.raises(asyncio.CancelledError):
        await request
    await until(lambda: requester.calls_in_flight == 0, "the trio side of the cancelled request to end", timeout=5)


async def test_perf_answers_only_the_named_peer_and_at_most_its_allowance(hosts) -> None:
    source, named, stranger = await hosts(), await hosts(), await hosts()
    await source.serve_perf()
    for host in (named, stranger):
        await host.connect(address_of(source))
    size = 1 << 20

    with pytest.raises(P2PError):  # switched off: nobody gets anything
        await named.measure_stream(source.peer_id, size)
    await source.allow_perf(named.peer_id, 2 * size)
    with pytest.raises(P2PError):  # not named: its stream is reset
        await stranger.measure_stream(source.peer_id, size)
    with pytest.raises(P2PError):
        await named.measure_stream(source.peer_id, 3 * size)  # over the allowance: refused whole
    assert await named.measure_stream(source.peer_id, size) > 0
    assert await named.measure_stream(source.peer_id, size) > 0
    with pytest.raises(P2PError):  # the allowance is spent
        await named.measure_stream(source.peer_id, 1)


async def test_a_perf_permission_is_for_a_peer_id_and_a_bounded_size(hosts) -> None:
    source = await hosts()
    with pytest.raises(P2PError, match="not a peer id"):
        await source.allow_perf("nobody", 1)
    with pytest.raises(P2PError, match="perf permission"):
        await source.allow_perf(source.peer_id, 1 << 40)
