"""Every route to an asset's bytes yields sealed content only, never plain audio.

A known clip is uploaded at a node that is not an authority and registered; then every
way to its bytes is tried: each RPC endpoint that returns content (at the uploading node,
at the authority it was replicated to, and at a node that fetched it on request), the
IPFS gateway, the libp2p content protocol spoken by a peer of the test's own, and every
file under each node's directory read directly. None holds a 4 KiB window of the clip's
file or of its decoded PCM; the sealed bytes they give do open to the clip with the key
its upload returned, so the check is on the real content.
"""

from __future__ import annotations

import asyncio
import io
import json
import urllib.error
import urllib.request
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile
from libp2p.crypto.ed25519 import create_new_key_pair

from node.p2p import messages
from node.p2p.host import P2PHost
from protocol.cid import RAW, cid_to_str, make_cid
from protocol.events import Access, ParticipantRegister
from protocol.terms import ALLOWED, Terms
from protocol.unixfs import CHUNK_SIZE, dag_of_bytes

from .framework import NodeProcess, wait_final_everywhere, wait_for_peers, wait_until
from .helpers import Client, asset_body, make_wav, open_sealed

pytestmark = pytest.mark.slow

WINDOW = 4096


def windows_of(data: bytes, count: int = 48) -> list[bytes]:
    """``count`` 4 KiB windows spread over ``data`` (first and last included)."""
    last = len(data) - WINDOW
    return [data[last * i // (count - 1) : last * i // (count - 1) + WINDOW] for i in range(count)]


def plain_windows(wav: bytes) -> list[bytes]:
    """Windows of the clip's file and of its PCM as a decoder gives it (16-bit and float)."""
    samples, _ = soundfile.read(io.BytesIO(wav), dtype="int16")
    floats, _ = soundfile.read(io.BytesIO(wav), dtype="float32")
    return windows_of(wav) + windows_of(np.ascontiguousarray(samples).tobytes()) + windows_of(floats.tobytes())


def dag_blocks(data: bytes) -> list[bytes]:
    """The CIDs of every block of ``data``'s UnixFS DAG: root, inner nodes, leaves."""
    dag = dag_of_bytes(data)
    leaves = [make_cid(RAW, data[i : i + CHUNK_SIZE]) for i in range(0, len(data), CHUNK_SIZE)]
    return list(dict.fromkeys([dag.root, *(cid for cid, _ in dag.nodes), *leaves]))


def leaked(blob: bytes, windows: list[bytes]) -> bool:
    return any(window in blob for window in windows)


def http(url: str, *, method: str = "GET", body: bytes | None = None, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def every_file_under(directory: Path) -> dict[str, bytes]:
    return {str(path): path.read_bytes() for path in directory.rglob("*") if path.is_file()}


def peer_address(node: NodeProcess) -> str:
    return next(address for address in node.get("/v1/peers")["addresses"] if "/tcp/" in address)


async def ask_for_blocks(node: NodeProcess, cids: list[bytes]) -> dict[bytes, bytes]:
    """What ``node`` answers a peer of the test's own on the content protocol."""
    genesis = node.get("/v1/genesis")
    genesis_hash = bytes.fromhex(genesis["hash"])
    tag = messages.network_tag(genesis_hash)
    status = messages.Status(genesis["network_id"], genesis_hash, 0, genesis_hash, 0, 0, genesis_hash, 0, genesis_hash)
    host = P2PHost(create_new_key_pair(), "/ip4/127.0.0.1/tcp/0")
    await host.start()
    try:

        async def answer_status(peer: str, request: bytes) -> bytes:
            return status.encode()

        await host.serve(messages.STATUS_PROTOCOL, answer_status)
        await host.connect(peer_address(node))
        found: dict[bytes, bytes] = {}
        for start in range(0, len(cids), messages.MAX_CONTENT_CIDS):
            request = messages.encode_content_request(cids[start : start + messages.MAX_CONTENT_CIDS])
            answer = await host.request_pipelined(node.get("/v1/status")["node_id"], messages.content_protocol(tag), request)
            found.update(messages.decode_content_blocks(answer))
        return found
    finally:
        await host.stop()


def test_no_route_to_an_asset_yields_plain_audio(start_network):
    authority, origin, bystander = start_network(3, authorities=1, replicate="authorities")
    network = [authority, origin, bystander]
    for node in network:
        wait_for_peers(node, 2)
    wav = make_wav(3.0, seed=42)  # about 530 KB: three leaves under a dag-pb root
    windows = plain_windows(wav)
    assert leaked(wav, windows) and leaked(wav[44:], windows[48:96]), "the windows find the clip and its PCM"
    creator, consumer = Client(origin), Client(origin)
    wait_final_everywhere(network, creator.send(ParticipantRegister("Ada", ("creator",))))
    wait_final_everywhere(network, consumer.send(ParticipantRegister("Erin", ("consumer",))))

    status, answer = http(f"{origin.url}/v1/content", method="POST", body=wav, headers={"Content-Type": "audio/wav"})
    assert status == 201
    upload = json.loads(answer)
    asset, sealed_cid = upload["cid"], upload["sealed_cid"]
    assert asset == cid_to_str(dag_of_bytes(wav).root) != sealed_cid
    body = replace(asset_body(upload, creator.did), terms=Terms.make({"data_mining": (ALLOWED, 0)}))
    wait_final_everywhere(network, creator.send(body))
    served: dict[str, bytes] = {"POST /v1/content": answer}

    # Replication: the authority holds the sealed content, under the same facts.
    replica = wait_until(lambda: _info(authority, asset), what="the authority to replicate the sealed content")
    assert replica["sealed_cid"] == sealed_cid and replica["size"] == len(wav)

    # A node that does not replicate fetches it on request, by the asset id.
    fetched = bystander.request("POST", f"/v1/content/{asset}/fetch", body=b"", content_type="application/json")
    assert fetched["sealed_cid"] == sealed_cid and fetched["cid"] == asset

    # Every RPC endpoint that returns content, at each node, by either CID.
    for node in network:
        for cid in (asset, sealed_cid):
            for path in (f"/v1/content/{cid}", f"/v1/content/{cid}/info"):
                status, blob = http(node.url + path)
                assert status == 200, (node.name, path, blob)
                served[f"{node.name} GET {path}"] = blob
    assert open_sealed(served[f"{bystander.name} GET /v1/content/{asset}"], upload) == wav
    assert open_sealed(served[f"{authority.name} GET /v1/content/{sealed_cid}"], upload) == wav

    # A licensed access, once final, has the authorities' releases on record, never content;
    # the old download route is gone.
    access = Access(asset, "data_mining", None, None, origin.get("/v1/status")["node_id"], len(wav), 0)
    access_id = consumer.send(access)
    wait_final_everywhere(network, access_id)
    for node in network:
        status, blob = http(f"{node.url}/v1/access/{access_id}/releases")
        assert status == 200, blob
        served[f"{node.name} GET /v1/access/{{id}}/releases"] = blob
    status, blob = http(
        f"{origin.url}/v1/access", method="POST", body=consumer.sign(access), headers={"Content-Type": "application/msgpack"}
    )
    assert status in (404, 405)
    served["POST /v1/access"] = blob

    # The IPFS gateway: the sealed DAG as a CAR and block by block; the plain CID is unknown.
    for node in network:
        status, blob = http(f"{node.url}/ipfs/{sealed_cid}?format=car")
        assert status == 200
        served[f"{node.name} /ipfs/sealed"] = blob
        assert http(f"{node.url}/ipfs/{asset}?format=car")[0] == 404
    sealed_blocks = dag_blocks(served[f"{origin.name} GET /v1/content/{sealed_cid}"])
    assert cid_to_str(sealed_blocks[0]) == sealed_cid
    plain_blocks = dag_blocks(wav)
    for cid in sealed_blocks:
        served[f"/ipfs/{cid_to_str(cid)}"] = _block(origin, cid)
    for cid in plain_blocks:
        assert http(f"{origin.url}/ipfs/{cid_to_str(cid)}?format=raw")[0] == 404

    # The content protocol, spoken by a peer of the test's own, at each node.
    for node in network:
        found = asyncio.run(ask_for_blocks(node, sealed_blocks + plain_blocks))
        assert set(found) == set(sealed_blocks), f"{node.name} serves exactly the sealed blocks"
        served[f"{node.name} content protocol"] = b"".join(found.values())

    for route, blob in served.items():
        assert not leaked(blob, windows), f"{route} gave plain audio"

    # Every file each node keeps, read directly: keys, config, database, content, logs.
    for node in network:
        assert node.stop() == 0
        files = every_file_under(node.config.parent)
        files[str(node.log_path)] = node.log_path.read_bytes()
        assert any(sealed_cid in path for path in files), f"{node.name} holds the sealed file"
        for path, blob in files.items():
            assert not leaked(blob, windows), f"{path} holds plain audio"
            assert upload["content_key"].encode() not in blob and bytes.fromhex(upload["content_key"]) not in blob, (
                f"{path} holds the content key"
            )


def _info(node: NodeProcess, cid: str) -> dict | None:
    status, blob = http(f"{node.url}/v1/content/{cid}/info")
    return json.loads(blob) if status == 200 else None


def _block(node: NodeProcess, cid: bytes) -> bytes:
    status, blob = http(f"{node.url}/ipfs/{cid_to_str(cid)}?format=raw")
    assert status == 200
    return blob
