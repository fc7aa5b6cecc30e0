"""``audiera testnet up|status|down`` as a newcomer runs it: four nodes that agree, then gone."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from protocol.events import ParticipantRegister

from .framework import REPO, NodeProcess, sync_heads, wait_final_everywhere, wait_until
from .helpers import Client

pytestmark = pytest.mark.slow


def audiera(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "node.cli.main", *args], cwd=REPO, capture_output=True, text=True, timeout=120)


class _RunningNode(NodeProcess):
    """A node the testnet command started: reached by URL only."""

    def __init__(self, name: str, url: str) -> None:
        super().__init__(name, REPO)
        self.url = url


def test_testnet_up_status_down(tmp_path):
    directory = str(tmp_path / "testnet")
    started = audiera("--json", "testnet", "up", "--nodes", "4", "--block-period-ms", "200", "--dir", directory)
    try:
        assert started.returncode == 0, started.stderr
        members = json.loads(started.stdout)["nodes"]
        nodes = [_RunningNode(f"node{m['index']}", m["rpc"]) for m in members]
        wait_until(lambda: all(len(n.get("/v1/status")["peers"]) == 3 for n in nodes), what="a full mesh of 4")
        sync_heads(nodes, min_height=3)
        event_id = Client(nodes[3]).send(ParticipantRegister("testnet user", ("consumer",)))
        wait_final_everywhere(nodes, event_id)

        report = json.loads(audiera("--json", "testnet", "status", "--dir", directory).stdout)["nodes"]
        assert all(node["running"] and node["peers"] == 3 for node in report)
        again = audiera("testnet", "up", "--nodes", "4", "--dir", directory)
        assert again.returncode == 1 and "already running" in again.stderr
    finally:
        stopped = audiera("--json", "testnet", "down", "--dir", directory)
    assert stopped.returncode == 0 and json.loads(stopped.stdout)["stopped"] == 4
    pids = [m["pid"] for m in json.loads(started.stdout)["nodes"]]
    assert not any(os.path.exists(f"/proc/{pid}") and b"node.main" in open(f"/proc/{pid}/cmdline", "rb").read() for pid in pids)
    report = json.loads(audiera("--json", "testnet", "status", "--dir", directory).stdout)["nodes"]
    assert not any(node["running"] for node in report)

