"""Signing an event with the next nonce, submitting it, and following it until it is final."""

from __future__ import annotations

import argparse
import time
from typing import Any

from protocol.events import Body, sign_event
from protocol.keys import SigningKey

from node.client import NodeClient, segment

from .errors import CliError
from .output import Output

POLL_SECONDS = 0.25
"""A quarter of the dev network's block period: a final event is seen within one poll."""
DONE_STATUSES = ("final", "rejected")


def add_wait_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-wait", action="store_true", help="return once the node accepts the event")
    parser.add_argument(
        "--timeout", type=float, default=60.0, metavar="S", help="how long to wait for finality (default 60 s)"
    )


def next_nonce(client: NodeClient, did: str) -> int:
    """The node's view of the author's next nonce, counting the author's events still in its mempool."""
    return int(client.get(f"/v1/accounts/{segment(did)}")["account"]["next_nonce"])


def submit_body(client: NodeClient, key: SigningKey, body: Body) -> dict[str, Any]:
    """Sign ``body`` with the next nonce and submit it; returns the node's 202 answer."""
    nonce = next_nonce(client, key.did)
    event = sign_event(key, body, nonce=nonce, ts=int(time.time() * 1000))
    return client.post_event(event.raw)


def wait_until_final(client: NodeClient, event_id: str, timeout: float, out: Output) -> dict[str, Any]:
    """Poll the event until it is final; a rejection or a timeout is a CliError."""
    deadline = time.monotonic() + timeout
    last_status = None
    while True:
        state = client.get(f"/v1/events/{event_id}")
        status = state["status"]
        if status != last_status:
            out.notice(f"event {event_id[:16]}… {status}")
            last_status = status
        if status == "final":
            return state
        if status == "rejected":
            raise CliError(f"event {event_id} was rejected: {state.get('reason', 'no reason given')}")
        if time.monotonic() >= deadline:
            raise CliError(
                f"event {event_id} is still {status} after {timeout:g} s; follow it with: audiera event show {event_id}"
            )
        time.sleep(POLL_SECONDS)


def submit_and_follow(
    client: NodeClient, key: SigningKey, body: Body, *, wait: bool, timeout: float, out: Output
) -> dict[str, Any]:
    """Submit, then (unless ``wait`` is False) follow to final; returns the event's latest state."""
    answer = submit_body(client, key, body)
    if not wait:
        return {"id": answer["id"], "status": answer["status"]}
    return wait_until_final(client, answer["id"], timeout, out)
