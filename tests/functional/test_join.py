"""Joining a running network: ``audiera-node run --join`` and ``audiera testnet join``.

A node that knows one peer finds the others, keeps them across restarts, reconnects
within seconds after the network restarts, logs only in the node's format, serves
content it pulled under a license, and is stopped with the testnet.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from node.files.network_files import scaffold_network

from .framework import REPO, TIMEOUT_FACTOR, NodeProcess, sync_heads, wait_until
from .helpers import make_wav

pytestmark = pytest.mark.slow

LOG_LINE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR|CRITICAL) \S+: ")
PASSWORD = "join test passphrase"


def connected_to(node: NodeProcess, others: list[NodeProcess]) -> bool:
    peers = set(node.get("/v1/status")["peers"])
    return all(other.get("/v1/status")["node_id"] in peers for other in others)


def test_a_node_joins_by_rpc_url_finds_every_peer_and_reconnects_after_a_restart(tmp_path, nodes):
    _, scaffolded = scaffold_network(tmp_path / "net", nodes=3, block_period_ms=300)
    network = [NodeProcess(f"node{node.index}", tmp_path, config=node.config_path) for node in scaffolded]
    nodes.extend(network)
    for node in network:
        node.start()
    joiner_dir = tmp_path / "joiner"

    wrong = subprocess.run(
        [sys.executable, "-m", "node.main", "run", "--join", network[0].url, "--genesis-hash", "00" * 32, "--data-dir", str(joiner_dir)],
        cwd=REPO, capture_output=True, text=True, timeout=60,
    )
    assert wrong.returncode == 1 and "not the expected" in wrong.stderr, wrong.stderr
    assert not joiner_dir.exists(), "a refused join must write nothing"

    genesis_hash = network[0].get("/v1/status")["genesis_hash"]
    joiner = NodeProcess(
        "joiner", tmp_path, data_dir=joiner_dir, extra_args=("--join", network[0].url, "--genesis-hash", genesis_hash)
    )
    nodes.append(joiner)
    joiner.start()
    wait_until(lambda: connected_to(joiner, network), timeout=10 * TIMEOUT_FACTOR, what="the joiner connected to all three")
    sync_heads([*network, joiner], min_height=2)

    joiner.stop()
    known = json.loads((joiner_dir / "peers.json").read_text())["peers"]
    assert {peer["peer_id"] for peer in known} == {node.get("/v1/status")["node_id"] for node in network}

    # A later start needs no --join: the data directory holds the follower's config.
    again = NodeProcess("joiner-again", tmp_path, data_dir=joiner_dir)
    nodes.append(again)
    again.start()
    assert again.get("/v1/status")["genesis_hash"] == genesis_hash
    wait_until(lambda: connected_to(again, network), timeout=10 * TIMEOUT_FACTOR, what="the restarted joiner connected to all three")

    for node in network:
        node.stop()
    wait_until(lambda: not again.get("/v1/status")["peers"], what="the joiner noticing the network is gone")
    for node in network:
        node.start()
    restarted = time.monotonic()
    wait_until(lambda: connected_to(again, network), timeout=10 * TIMEOUT_FACTOR, what="the joiner reconnected to all three")
    reconnect_s = time.monotonic() - restarted
    print(f"reconnected to a restarted network in {reconnect_s:.2f} s")
    assert reconnect_s < 6 * TIMEOUT_FACTOR

    # Knowing only a peer address: the genesis comes over libp2p, checked against the hash given.
    peer_address = next(a for a in network[1].get("/v1/peers")["addresses"] if "/p2p/" in a)
    by_peer = NodeProcess(
        "by-peer", tmp_path, data_dir=tmp_path / "by-peer", extra_args=("--join", peer_address, "--genesis-hash", genesis_hash)
    )
    nodes.append(by_peer)
    by_peer.start()
    assert by_peer.get("/v1/status")["genesis_hash"] == genesis_hash
    wait_until(lambda: connected_to(by_peer, [*network, again]), timeout=10 * TIMEOUT_FACTOR, what="the peer-address joiner connected to all")

    raw = [line for line in (tmp_path / "joiner-again.log").read_text().splitlines() if line and not LOG_LINE.match(line)]
    assert not raw, f"lines outside the log format: {raw[:5]}"


def audiera(home: Path, *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    env = {**os.environ, "AUDIERA_HOME": str(home), "AUDIERA_PASSWORD": PASSWORD}
    env.pop("AUDIERA_NODE", None)
    return subprocess.run(
        [sys.executable, "-m", "node.cli.main", *args], cwd=REPO, capture_output=True, text=True, timeout=timeout, env=env
    )


def ok(result: subprocess.CompletedProcess) -> dict:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


class _ByUrl(NodeProcess):
    def __init__(self, name: str, url: str) -> None:
        super().__init__(name, REPO)
        self.url = url


def test_a_seventh_node_joins_a_six_node_testnet_and_serves_a_licensed_fetch_of_what_it_pulled(tmp_path):
    home = tmp_path / "home"
    directory = str(tmp_path / "testnet")
    for name in ("ada", "mia", "leo"):
        ok(audiera(home, "--json", "key", "new", name))
    started = audiera(home, "--json", "testnet", "up", "--nodes", "6", "--block-period-ms", "500", "--dir", directory, "--fund", "mia=1000")
    try:
        network = [_ByUrl(f"node{m['index']}", m["rpc"]) for m in ok(started)["nodes"]]
        joined = ok(audiera(home, "--json", "testnet", "join", "--dir", directory))
        follower = _ByUrl("follower", joined["rpc"])
        assert joined["joined"] and not joined["authority"]
        bootstrap = (Path(joined["config"]).read_text().split("bootstrap = [", 1)[1]).split("]", 1)[0]
        assert bootstrap.count("/p2p/") == 1, "the follower is given one peer, and finds the rest"
        wait_until(lambda: connected_to(follower, network), timeout=10 * TIMEOUT_FACTOR, what="the follower connected to all six")
        sync_heads([*network, follower], min_height=2)

        report = ok(audiera(home, "--json", "testnet", "status", "--dir", directory))["nodes"]
        assert len(report) == 7 and report[6]["running"] and report[6]["peers"] >= 6

        wav = tmp_path / "light.wav"
        wav.write_bytes(make_wav(1.0, seed=3))
        ok(audiera(home, "--json", "--node", network[0].url, "--key", "ada", "register", "--name", "Ada", "--roles", "creator"))
        asset = ok(
            audiera(home, "--json", "--node", network[0].url, "--key", "ada", "upload", str(wav), "--title", "First light",
                    "--holder", "ada=10000", "--price", "ai_training=5")
        )["asset"]
        ok(audiera(home, "--json", "--node", follower.url, "--key", "mia", "register", "--name", "Mia", "--roles", "consumer"))
        ok(audiera(home, "--json", "--node", follower.url, "--key", "mia", "license", "buy", asset, "--purpose", "ai_training"))
        pulled = ok(audiera(home, "--json", "--node", follower.url, "content", "pull", asset))
        assert pulled["pulled"] and pulled["cid"] == asset
        copy = tmp_path / "copy.wav"
        fetched = ok(
            audiera(home, "--json", "--node", follower.url, "--key", "mia", "fetch", asset, "--purpose", "ai_training", "-o", str(copy))
        )
        assert fetched["cid_verified"] and copy.read_bytes() == wav.read_bytes()

        # fetch at a node that lacks the content pulls it first
        drone = tmp_path / "drone.wav"
        drone.write_bytes(make_wav(1.0, seed=4))
        second = ok(
            audiera(home, "--json", "--node", network[1].url, "--key", "ada", "upload", str(drone), "--title", "Low drone",
                    "--price", "ai_training=5")
        )["asset"]
        assert audiera(home, "--node", follower.url, "content", "stat", second).returncode == 1
        ok(audiera(home, "--json", "--node", follower.url, "--key", "mia", "license", "buy", second, "--purpose", "ai_training"))
        ok(audiera(home, "--json", "--node", follower.url, "--key", "mia", "fetch", second, "--purpose", "ai_training",
                   "-o", str(tmp_path / "drone-copy.wav")))
        assert (tmp_path / "drone-copy.wav").read_bytes() == drone.read_bytes()

        # what the follower holds, as `ipfs pin ls`; rm drops its copy only, pull brings it back
        held = ok(audiera(home, "--json", "--node", follower.url, "content", "ls"))
        assert {asset, second} <= {item["cid"] for item in held["content"]}
        removed = ok(audiera(home, "--json", "--node", follower.url, "content", "rm", second))
        assert removed["removed"] and removed["cid"] == second
        assert second not in {item["cid"] for item in ok(audiera(home, "--json", "--node", follower.url, "content", "ls"))["content"]}
        assert audiera(home, "--node", follower.url, "content", "stat", second).returncode == 1
        assert audiera(home, "--node", follower.url, "content", "rm", second).returncode == 1
        assert ok(audiera(home, "--json", "--node", network[1].url, "content", "stat", second))["cid"] == second, "peers keep theirs"
        assert ok(audiera(home, "--json", "--node", follower.url, "content", "pull", second))["pulled"]

        # an upload the node would refuse to register stores nothing
        stray = tmp_path / "stray.wav"
        stray.write_bytes(make_wav(1.0, seed=5))
        refused = audiera(home, "--json", "--node", network[0].url, "--key", "leo", "upload", str(stray), "--title", "Stray")
        assert refused.returncode == 1 and "not a registered participant" in json.loads(refused.stderr)["error"]["message"]
        stray_cid = ok(audiera(home, "--json", "cid", str(stray)))["cid"]
        missing = audiera(home, "--json", "--node", network[0].url, "content", "stat", stray_cid)
        assert missing.returncode == 1 and json.loads(missing.stderr)["error"]["status"] == 404
    finally:
        stopped = audiera(home, "--json", "testnet", "down", "--dir", directory)
    assert ok(stopped)["stopped"] == 7


def test_invalid_start_on_a_data_directory_of_another_network_says_where_and_how_to_start_over(tmp_path, start_dev_node):
    dev = start_dev_node("dev")
    dev.stop()
    _, (other,) = scaffold_network(tmp_path / "net", nodes=1)
    refused = subprocess.run(
        [sys.executable, "-m", "node.main", "run", "--config", str(other.config_path), "--data-dir", str(tmp_path / "dev")],
        cwd=REPO, capture_output=True, text=True, timeout=60,
    )
    assert refused.returncode == 1
    assert str(tmp_path / "dev") in refused.stderr and "testnet up --reset" in refused.stderr, refused.stderr
