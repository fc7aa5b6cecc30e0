"""Events a node answered as admitted survive a SIGKILL: they are journaled before the answer."""

from __future__ import annotations

import os
import threading
import time

import pytest

from node.p2p.messages import encode_event_batch
from protocol.events import ParticipantRegister, sign_event
from protocol.keys import SigningKey

from .framework import RpcError, event_status, wait_until

pytestmark = pytest.mark.slow

BATCH = 100
BATCHES = 10


def signed_batch(index: int) -> list[bytes]:
    now = int(time.time() * 1000)
    return [
        sign_event(SigningKey(os.urandom(32)), ParticipantRegister(f"listener {index}.{n}", ("consumer",)), 1, now).raw
        for n in range(BATCH)
    ]


def test_every_admitted_event_is_included_after_a_sigkill(start_local_node):
    node = start_local_node()
    batches = [signed_batch(index) for index in range(BATCHES)]
    admitted: list[str] = []

    def submit_batches() -> None:
        for batch in batches:
            try:
                answer = node.request("POST", "/v1/events/batch", body=encode_event_batch(batch), content_type="application/msgpack")
            except (OSError, RpcError):  # the node was killed under this batch: it was never answered
                return
            admitted.extend(result["id"] for result in answer["results"] if "id" in result)

    submitter = threading.Thread(target=submit_batches)
    submitter.start()
    wait_until(lambda: len(admitted) >= BATCH * BATCHES // 2, timeout=60, what="half the batches admitted")
    node.kill()  # while the submitter is sending the next batch
    submitter.join()
    answered = list(admitted)
    assert BATCH * BATCHES // 2 <= len(answered) < BATCH * BATCHES

    node.start()
    waiting = set(answered)

    def all_included() -> bool:
        waiting.difference_update([event_id for event_id in list(waiting) if event_status(node, event_id) in ("included", "final")])
        return not waiting

    wait_until(all_included, timeout=60, what=f"every admitted event included after the restart ({len(waiting)} not yet)")
    assert "re-admitted" in node.log_tail(200)
