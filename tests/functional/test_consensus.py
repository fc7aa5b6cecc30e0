"""Four authorities on loopback: agreement under load, faults, partitions, ties and reorgs."""

from __future__ import annotations


import pytest

from protocol.consensus import BranchHead, fork_choice_key
from protocol.events import ParticipantRegister

from .blocks import authority_key, empty_block, genesis_parent, post_block
from .framework import NodeProcess, RpcError, sync_heads, verify_store, wait_final_everywhere, wait_for_peers, wait_until
from .helpers import Client

pytestmark = pytest.mark.slow

PERIOD_MS = 500


def test_an_equal_difficulty_tie_is_broken_alike_everywhere_and_the_chain_moves_on(start_network, tmp_path):
    # Six nodes, four authority keys: the two followers run first and the test signs the
    # blocks, so it decides exactly which branches exist.
    network = start_network(6, authorities=4, block_period_ms=PERIOD_MS, running=0)
    followers = network[4:]
    for node in followers:
        node.start()
    wait_for_peers(followers[0], 1)
    authorities = followers[0].get("/v1/status")["authorities"]
    key_of = {key.did: key for key in (authority_key(tmp_path / "net", index) for index in range(4))}

    first = empty_block(key_of[authorities[1]], genesis_parent(followers[0]), in_turn=True, period_ms=PERIOD_MS)
    post_block(followers[0], first)
    sync_heads(followers, min_height=1)

    # Two out-of-turn blocks at height 2 by different authorities: the same total
    # difficulty and height. Each follower sees only one of them first.
    for node in followers:
        node.set_peering(False)
    wait_until(lambda: all(node.get("/v1/status")["peers"] == [] for node in followers), what="followers apart")
    parent = followers[0].get("/v1/blocks/1")
    left = empty_block(key_of[authorities[0]], parent, in_turn=False, period_ms=PERIOD_MS)
    right = empty_block(key_of[authorities[3]], parent, in_turn=False, period_ms=PERIOD_MS)
    assert post_block(followers[0], left)["outcome"] == "extended"
    assert post_block(followers[1], right)["outcome"] == "extended"
    winner = max(
        (left, right),
        key=lambda block: fork_choice_key(BranchHead(3, 2, block.header.proposer, block.hash), authorities),
    )

    # Together again, both settle on the same block by EIP-3436's rules (plain Clique would
    # keep the first each saw, and sealers would wait on each other).
    for node in followers:
        node.set_peering(True)
    wait_until(
        lambda: all(node.head_hash() == winner.hash.hex() for node in followers),
        what="both followers on the tie's winner",
    )

    # The authorities start and build on the winner; blocks become final past the tie.
    for node in network[:4]:
        node.start()
    sync_heads(network, min_height=8)
    wait_until(lambda: all(node.get("/v1/status")["finalized_height"] >= 4 for node in network), what="finality past the tie")
    assert {node.get("/v1/blocks/2")["hash"] for node in network} == {winner.hash.hex()}
    assert all(node.get("/v1/evidence")["evidence"] == [] for node in network), "no authority signed twice"


def register(node: NodeProcess, name: str) -> str:
    """A new account's first event, sent to ``node``; its id."""
    return Client(node).send(ParticipantRegister(name, ("consumer",)))


def start_authorities(start_network, count: int = 4) -> list[NodeProcess]:
    network = start_network(count, authorities=count, block_period_ms=PERIOD_MS)
    for node in network:
        wait_for_peers(node, count - 1)
    return network


def finalized(node: NodeProcess) -> tuple[int, str]:
    status = node.get("/v1/status")
    return status["finalized_height"], status["finalized_hash"]


def still_canonical(nodes: list[NodeProcess], final: tuple[int, str]) -> bool:
    height, block_hash = final
    return height == 0 or all(node.get(f"/v1/blocks/{height}")["hash"] == block_hash for node in nodes)


def test_four_authorities_agree_on_head_and_state_under_steady_load(start_network):
    network = start_authorities(start_network)
    sent = []
    start = network[0].get("/v1/status")["head_height"]
    for round_ in range(8):
        sent += [register(node, f"{node.name} round {round_}") for node in network for _ in range(5)]
        network[0].wait_for_height(start + round_ + 1)
    for event_id in sent:
        wait_final_everywhere(network, event_id)
    height = sync_heads(network, min_height=start + 8)
    assert len({node.get(f"/v1/blocks/{height}")["state_root"] for node in network}) == 1
    proposers = {header["proposer"] for header in network[0].get("/v1/headers?from=1&limit=100")["headers"]}
    assert proposers == set(network[0].get("/v1/status")["authorities"]), "every authority signs blocks"


def test_with_one_authority_stopped_the_chain_grows_and_finalizes_and_it_catches_up(start_network):
    network = start_authorities(start_network)
    sync_heads(network, min_height=2)
    down, live = network[3], network[:3]
    assert down.stop() == 0
    final_height, _ = finalized(live[0])
    sent = register(live[1], "while one authority is down")
    wait_until(lambda: all(finalized(node)[0] >= final_height + 6 for node in live), what="finality moving without one authority")
    wait_final_everywhere(live, sent)
    down.start()
    head = live[0].get("/v1/status")["head_height"]
    sync_heads(network, min_height=head + 2)
    wait_final_everywhere(network, sent)


def side_stalled(side: list[NodeProcess], authorities: set[str]) -> bool:
    """Both nodes of a side share a head whose last two blocks its two authorities signed:
    the signing limit (one of any three consecutive blocks) now stops them both."""
    heads = {node.head_hash() for node in side}
    if len(heads) != 1:
        return False
    height = side[0].get("/v1/status")["head_height"]
    if height < 2:
        return False
    last_two = {side[0].get(f"/v1/blocks/{h}")["proposer"] for h in (height - 1, height)}
    return last_two == authorities


def partition(network: list[NodeProcess]) -> tuple[list[NodeProcess], list[NodeProcess], list[str]]:
    """Split four authorities 2|2, send an event on each side, and wait until both sides stall.

    Each side gets one of the two latest signers, so that both can still sign (at most two
    blocks each) and the two sides fork.
    """
    node_of = {node.get("/v1/status")["authority"]: node for node in network}
    height = network[0].get("/v1/status")["head_height"]
    latest, before = (network[0].get(f"/v1/blocks/{h}")["proposer"] for h in (height, height - 1))
    free = [node for did, node in node_of.items() if did not in (latest, before)]
    left, right = [node_of[latest], free[0]], [node_of[before], free[1]]
    for side in (left, right):
        for node in side:
            node.set_peering(True, only=[other for other in side if other is not node])
    wait_until(lambda: all(len(node.get("/v1/status")["peers"]) <= 1 for node in network), what="a 2|2 partition")
    sent = [register(left[0], "left of the partition"), register(right[0], "right of the partition")]
    for side in (left, right):
        signers = {node.get("/v1/status")["authority"] for node in side}
        wait_until(lambda: side_stalled(side, signers), what=f"side {[n.name for n in side]} stalled by the signing limit")
    return left, right, sent


def holds(node: NodeProcess, height: int, block_hash: str) -> bool:
    try:
        return node.get(f"/v1/blocks/{height}")["hash"] == block_hash
    except RpcError:
        return False


def forked(left: list[NodeProcess], right: list[NodeProcess]) -> bool:
    """Whether each side's head is a block the other side does not hold (two real branches)."""
    tips = [(side, other, side[0].get("/v1/status")) for side, other in ((left, right), (right, left))]
    return all(not holds(other[0], tip["head_height"], tip["head_hash"]) for _, other, tip in tips)


def heal(network: list[NodeProcess]) -> None:
    for node in network:
        node.set_peering(True)


def test_a_2_2_partition_finalizes_nothing_the_other_side_could_revert_and_heals(start_network):
    network = start_authorities(start_network)
    sync_heads(network, min_height=3)
    left, right, sent = partition(network)
    finals = {node.name: finalized(node) for node in network}
    # Neither side finalized a block the other side does not hold: a side of two of four
    # authorities can never gather the three signers finality needs.
    for side, other in ((left, right), (right, left)):
        for node in side:
            assert still_canonical(other, finals[node.name]), f"{node.name} finalized a block the other side lacks"
    branches = forked(left, right)
    heal(network)
    top = max(node.get("/v1/status")["head_height"] for node in network)
    sync_heads(network, min_height=top + 2)
    for event_id in sent:
        wait_final_everywhere(network, event_id)  # the losing side's event is included again
    for final in finals.values():
        assert still_canonical(network, final), "a final block was reverted"
    if branches:
        assert any("reorg at height" in node.log_path.read_text() for node in network), "one side switched branch"


def test_a_node_killed_during_a_reorg_restarts_consistent(start_network):
    network = start_authorities(start_network)
    sent: list[str] = []
    for attempt in range(4):
        # A block landing while the split is made can leave one side unable to sign: then
        # there is no second branch to switch to, so split again.
        sync_heads(network, min_height=3)
        left, right, on_sides = partition(network)
        sent += on_sides
        if forked(left, right):
            break
        heal(network)
    else:
        pytest.fail("four partitions in a row left no two branches")
    logs = {node.name: len(node.log_path.read_text()) for node in network}
    heal(network)
    # SIGKILL the first node that starts switching branch, as soon as it says so.
    victim = wait_until(
        lambda: next((node for node in network if "reorg at" in node.log_path.read_text()[logs[node.name]:]), None),
        what="a node to start a reorg",
        poll=0.002,
    )
    victim.kill()
    verify_store(victim.config)
    victim.start()
    top = max(node.get("/v1/status")["head_height"] for node in network)
    sync_heads(network, min_height=top + 2)
    for event_id in sent:
        wait_final_everywhere(network, event_id)
    victim.stop()
    verify_store(victim.config)
