"""The gossipsub router keeps the heartbeat it is given (py-libp2p's adaptive gossip does not)."""

from __future__ import annotations

import trio
import trio.testing
from libp2p import new_host
from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.pubsub.pubsub import Pubsub
from libp2p.tools.anyio_service import background_trio_service

from node.p2p.host import new_gossip_router


def test_heartbeat_stays_one_second_on_a_mesh_below_the_target_degree() -> None:
    beats: list[float] = []

    async def run() -> None:
        router = new_gossip_router()
        enough = trio.Event()
        shift = router.mcache.shift

        def counted_shift() -> None:
            beats.append(trio.current_time())
            if len(beats) >= 18:
                enough.set()
            shift()

        router.mcache.shift = counted_shift  # type: ignore[method-assign]
        pubsub = Pubsub(new_host(key_pair=create_new_key_pair()), router)
        async with background_trio_service(pubsub), background_trio_service(router):
            await pubsub.wait_until_ready()
            await pubsub.subscribe("events")  # a mesh of no peers: the poorest rating there is
            router.last_health_update = 0  # the library's 30 s rating is due at the next beat
            # Each beat turns the message cache over; a stretched heartbeat leaves a minute of
            # traffic in it. The deadline is in the mock clock's time, reached at once.
            with trio.fail_after(20):
                await enough.wait()

    trio.run(run, clock=trio.testing.MockClock(autojump_threshold=0))
    assert len(beats) >= 18, f"{len(beats)} heartbeats in 20 s"
    assert max(b - a for a, b in zip(beats, beats[1:])) <= 1.5
