"""The live feed of a real node: a filtered subscription over the RPC, and ``audiera watch`` printing it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from node.client import FeedReader
from protocol.events import ParticipantRegister

from .framework import REPO, TIMEOUT_FACTOR
from .helpers import Client, asset_body, make_wav

pytestmark = pytest.mark.slow


def next_of(messages, kind: str, deadline_s: float = 30) -> dict:
    deadline = time.monotonic() + deadline_s * TIMEOUT_FACTOR
    while time.monotonic() < deadline:
        message = next(messages)
        if message["type"] == kind:
            return message
    raise AssertionError(f"no {kind} message within {deadline_s}s")


def test_feed_tells_heads_finality_and_the_events_a_filter_asks_for(start_local_node):
    node = start_local_node()
    alice, bob = Client(node), Client(node)
    with FeedReader(node.url, accounts=[alice.did], timeout=30 * TIMEOUT_FACTOR) as feed:
        node.wait_final(bob.send(ParticipantRegister("Bob", ("creator",))))
        registered = alice.send(ParticipantRegister("Alice", ("creator",)))
        messages = feed.messages()
        events = next_of(messages, "events")
        assert [event["id"] for event in events["events"]] == [registered], "Bob's event is not Alice's"
        assert events["events"][0]["author"] == alice.did
        final = next_of(messages, "final")
        while final["height"] < events["height"]:
            final = next_of(messages, "final")
        assert node.get(f"/v1/blocks/{final['height']}")["hash"] == final["hash"]
        head = next_of(messages, "head")
        assert node.get(f"/v1/blocks/{head['height']}")["hash"] == head["hash"]


def test_audiera_watch_prints_the_events_it_was_asked_for(start_local_node, tmp_path):
    node = start_local_node()
    creator = Client(node)
    node.wait_final(creator.send(ParticipantRegister("Ada", ("creator",))))
    upload = creator.upload(make_wav(0.5, seed=4))
    env = {**os.environ, "AUDIERA_HOME": str(tmp_path / "home")}
    watch = subprocess.Popen(
        [sys.executable, "-m", "node.cli.main", "--node", node.url, "watch", "--json", "--asset", upload["cid"],
         "--kind", "asset.register", "--events-only", "--count", "1"],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert watch.stderr.readline().startswith("watching "), "audiera watch did not subscribe"
        registered = creator.send(asset_body(upload, creator.did))
        stdout, stderr = watch.communicate(timeout=60 * TIMEOUT_FACTOR)
    finally:
        if watch.poll() is None:
            watch.kill()
            watch.wait()
    assert watch.returncode == 0, stderr
    (line,) = stdout.splitlines()
    printed = json.loads(line)
    assert printed["type"] == "event" and printed["kind"] == "asset.register" and printed["id"] == registered
    assert printed["body"]["cid"] == upload["cid"]

