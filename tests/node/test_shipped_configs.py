"""The configs in configs/ must load and agree with each other, so a newcomer can start them as shipped."""

from __future__ import annotations

from pathlib import Path

import pytest

from node.config import dev_config, load_config
from node.files.genesis_file import load_genesis
from node.files.node_keys import key_from_seed
from node.p2p.identity import load_or_create_node_key, peer_id_of

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
TESTNET = sorted((CONFIGS / "testnet").glob("node*/config.toml"))


def test_dev_config_loads_as_a_dev_network():
    config = load_config(CONFIGS / "dev.toml")
    assert config.is_dev and config.authority_key_file is not None


def test_dev_config_is_the_no_config_node(monkeypatch):
    monkeypatch.delenv("AUDIERA_HOME", raising=False)
    assert load_config(CONFIGS / "dev.toml") == dev_config()


def test_the_shipped_testnet_has_three_nodes_and_all_are_authorities():
    assert len(TESTNET) == 3
    configs = [load_config(path) for path in TESTNET]
    genesis = load_genesis(configs[0].genesis_file)
    assert sorted(key_from_seed(c.authority_seed).did for c in configs if c.authority_seed) == sorted(genesis.authorities)
    assert len(genesis.authorities) == 3


@pytest.mark.parametrize("path", TESTNET, ids=lambda p: p.parent.name)
def test_testnet_node_config_agrees_with_the_genesis_and_its_peers(path):
    config = load_config(path)
    genesis = load_genesis(config.genesis_file)
    if config.authority_seed is not None:
        assert key_from_seed(config.authority_seed).did in genesis.authorities
    own_id = peer_id_of(load_or_create_node_key(config.data_dir, config.p2p.identity_seed))
    expected_peers = set()
    for other in TESTNET:
        if other != path:
            other_config = load_config(other)
            expected_peers.add(peer_id_of(load_or_create_node_key(other_config.data_dir, other_config.p2p.identity_seed)))
    assert {address.rsplit("/p2p/", 1)[1] for address in config.p2p.bootstrap} == expected_peers
    assert own_id not in expected_peers


def test_testnet_ports_do_not_collide():
    configs = [load_config(path) for path in TESTNET]
    ports = [c.rpc.port for c in configs] + [int(c.p2p.listen.rsplit("/", 1)[1]) for c in configs]
    assert len(set(ports)) == len(ports)
