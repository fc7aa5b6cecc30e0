"""ContentExchange between real content stores, with the network replaced by direct calls."""

from __future__ import annotations

import random

import pytest

from node.p2p.content_exchange import AssetFacts, ContentExchange, FetchError
from node.p2p.content_server import ContentServer
from node.p2p.messages import decode_content_blocks, decode_content_request, encode_content_blocks
from node.p2p.peers import PENALTY_BAD_RESPONSE
from protocol.cid import DAG_PB, RAW, cid_from_str, cid_to_str, make_cid
from protocol.sealing import new_content_key, open_chunks
from protocol.unixfs import CHUNK_SIZE, MAX_LINKS, FileNode, decode_file_node, encode_file_node
from storage.database import open_stores

LIMIT = 1 << 30
MEDIA = {"format": "wav", "duration_ms": 1000, "sample_rate": 44100, "channels": 2}


class Network:
    """Peers by name, each serving from its own store; records penalties."""

    def __init__(self) -> None:
        self.serve: dict[str, object] = {}
        self.penalties: list[tuple[str, int]] = []
        self.requests: dict[str, int] = {}

    async def request(self, peer: str, payload: bytes) -> bytes:
        self.requests[peer] = self.requests.get(peer, 0) + 1
        return self.serve[peer](peer, payload)  # type: ignore[operator]

    async def penalize(self, peer: str, amount: int, reason: str) -> None:
        self.penalties.append((peer, amount))


@pytest.fixture
def stores(tmp_path):
    opened = {name: open_stores(tmp_path / name) for name in ("source", "sink")}
    yield opened
    for store in opened.values():
        store.close()


def upload(store, data: bytes) -> str:
    ingest = store.content.start_ingest(LIMIT)
    ingest.write(data)
    ingest.close_file()
    return ingest.finish(None).cid


def exchange(stores, network: Network, peers: list[str]) -> ContentExchange:
    return ContentExchange(stores["sink"].content, network.request, network.penalize, lambda: peers, LIMIT)


async def test_a_file_of_several_levels_is_fetched_whole(stores):
    # More leaves than one node links to, so the leaf list needs a second level.
    data = random.Random(1).randbytes((MAX_LINKS + 3) * CHUNK_SIZE + 777)
    root = upload(stores["source"], data)
    network = Network()
    network.serve["a"] = ContentServer(stores["source"].content).serve
    info = await exchange(stores, network, ["a"]).fetch(root)
    assert info.cid == root and info.size == len(data)
    assert stores["sink"].content.path_of(root).read_bytes() == data
    assert network.penalties == []


async def test_a_peer_sending_wrong_blocks_is_penalized_and_another_serves(stores):
    data = random.Random(2).randbytes(3 * CHUNK_SIZE)
    root = upload(stores["source"], data)
    network = Network()
    honest = ContentServer(stores["source"].content).serve

    def corrupt(peer: str, payload: bytes) -> bytes:
        blocks = decode_content_blocks(honest(peer, payload))
        return encode_content_blocks([(cid, block if cid == cid_from_str(root) else block[:-1] + b"!") for cid, block in blocks])

    network.serve["liar"], network.serve["honest"] = corrupt, honest
    info = await exchange(stores, network, ["liar", "honest"]).fetch(root)
    assert stores["sink"].content.path_of(info.cid).read_bytes() == data
    assert ("liar", PENALTY_BAD_RESPONSE) in network.penalties
    assert all(peer == "liar" for peer, _ in network.penalties)


async def test_a_dag_this_node_would_not_build_is_refused_and_nothing_kept(stores):
    # A root whose first leaf is short: every block matches its CID, but the layout is not
    # the one this node builds, so its leaves cannot be stored under that root.
    short, full = b"short", random.Random(3).randbytes(CHUNK_SIZE)
    leaves = {make_cid(RAW, short): short, make_cid(RAW, full): full}
    node = encode_file_node(FileNode(links=tuple((cid, len(block)) for cid, block in leaves.items()), blocksizes=(len(short), len(full)), filesize=len(short) + len(full)))
    root_cid = make_cid(DAG_PB, node)
    assert decode_file_node(node).blocksizes == (5, CHUNK_SIZE)
    blocks = {root_cid: node, **leaves}

    def serve(peer: str, payload: bytes) -> bytes:
        return encode_content_blocks([(cid, blocks[cid]) for cid in decode_content_request(payload) if cid in blocks])

    network = Network()
    network.serve["odd"] = serve
    with pytest.raises(FetchError, match="chunking"):
        await exchange(stores, network, ["odd"]).fetch(cid_to_str(root_cid))
    assert list((stores["sink"].content._tmp).iterdir()) == []
    assert stores["sink"].content.info(cid_to_str(root_cid)) is None


async def test_a_sealed_upload_fetched_for_its_asset_keeps_the_asset_facts(stores):
    plain = random.Random(9).randbytes(2 * CHUNK_SIZE + 5)
    key = new_content_key()
    ingest = stores["source"].content.start_ingest(LIMIT, key=key)
    ingest.write(plain)
    ingest.close_file()
    uploaded = ingest.finish(MEDIA)
    network = Network()
    network.serve["a"] = ContentServer(stores["source"].content).serve
    facts = AssetFacts(uploaded.asset, uploaded.cid, len(plain), MEDIA)
    info = await exchange(stores, network, ["a"]).fetch(uploaded.cid, facts)
    assert (info.cid, info.size, info.asset, info.asset_size, info.media) == (uploaded.cid, uploaded.size, uploaded.asset, len(plain), MEDIA)
    stored = stores["sink"].content.path_of(info.cid).read_bytes()
    assert plain[:4096] not in stored and b"".join(open_chunks(key, uploaded.asset, [stored])) == plain
    assert stores["sink"].content.info(uploaded.asset) == info, "the asset id finds the sealed copy"
