"""What ``--join`` accepts and checks before it writes anything, and the follower's files."""

from __future__ import annotations

import pytest

from protocol.genesis import Genesis
from protocol.keys import SigningKey

from node.config import ConfigError, load_config
from node.files.genesis_file import load_genesis
from node.files.join_files import JoinedNetwork, discover_network, write_follower

GENESIS = Genesis("audiera-test", 1_000, (SigningKey.generate().did,), 500, ())
PEER = "/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWQPj3TP1Kpxwy5ac2XreTBy6uSE5JxWEpXT67f4FdZftQ"


@pytest.mark.parametrize(
    "addresses, fragment",
    [
        ([], "at least one address"),
        (["127.0.0.1:8681"], "neither an RPC URL"),
        (["/ip4/127.0.0.1/tcp/4001"], "neither an RPC URL"),
        ([PEER] * 17, "at most 16"),
    ],
)
def test_invalid_join_addresses_are_refused(addresses, fragment):
    with pytest.raises(ConfigError, match=fragment):
        discover_network(addresses, None, ask_peer=lambda address: GENESIS)


def test_a_peer_address_alone_asks_the_peer_and_checks_the_pinned_hash():
    asked = []
    joined = discover_network([PEER], GENESIS.hash.hex(), ask_peer=lambda address: asked.append(address) or GENESIS)
    assert asked == [PEER] and joined == JoinedNetwork(GENESIS, (PEER,))
    with pytest.raises(ConfigError, match="not the expected"):
        discover_network([PEER], "00" * 32, ask_peer=lambda address: GENESIS)


def test_invalid_join_by_peer_address_without_a_way_to_ask_it():
    with pytest.raises(ConfigError, match="RPC URL"):
        discover_network([PEER], None)


def test_a_follower_config_loads_as_a_non_authority_of_that_genesis(tmp_path):
    write_follower(tmp_path / "config.toml", tmp_path, JoinedNetwork(GENESIS, (PEER,)), rpc_port=0)
    config = load_config(tmp_path / "config.toml")
    assert config.data_dir.resolve() == tmp_path.resolve() and config.authority_key_file is None
    assert config.p2p.bootstrap == (PEER,) and config.rpc.port == 0
    assert load_genesis(config.genesis_file).hash == GENESIS.hash
