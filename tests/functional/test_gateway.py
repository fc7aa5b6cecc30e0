"""The IPFS trustless gateway, checked by an independent client: @ipld/car and multiformats from npm verify every block.

The gateway serves what the node holds: sealed content only. The sealed blocks verify in
any IPFS client, and open only with the asset's content key.
"""

from __future__ import annotations

import hashlib
import urllib.error
import urllib.request

import pytest

from protocol.unixfs import CHUNK_SIZE

from .helpers import Client, make_wav, open_sealed
from .js_client import JS_CLIENT, require_node, run_js

pytestmark = pytest.mark.slow

VERIFY = JS_CLIENT / "bin" / "ipfs-verify.mjs"
CAR_DFS = "application/vnd.ipld.car; version=1; order=dfs"


def fetch(url: str, *, accept: str | None = None, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, method=method, headers={"Accept": accept} if accept else {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def sealed_bytes(node, cid: str) -> bytes:
    status, _, body = fetch(f"{node.url}/v1/content/{cid}")
    assert status == 200, body
    return body


@pytest.fixture
def gateway_node(start_dev_node):
    require_node()
    return start_dev_node()


def test_probe_raw_blocks_and_whole_file_cars_verify_in_an_ipfs_client(gateway_node):
    node = gateway_node
    status, headers, body = fetch(f"{node.url}/ipfs/bafkqaaa?format=raw", accept="application/vnd.ipld.raw")
    assert (status, body, headers["Content-Type"]) == (200, b"", "application/vnd.ipld.raw")
    probe = run_js(VERIFY, "car", node.url, "bafkqaaa")
    assert probe["roots"] == ["bafkqaaa"] and probe["blocks"] == 0
    assert fetch(f"{node.url}/ipfs/bafkqaaa?format=raw", method="HEAD")[0] == 200

    wav = make_wav(4.0)  # about 700 KB: a dag-pb root over three leaves
    upload = Client(node).upload(wav)
    cid = upload["sealed_cid"]
    sealed = sealed_bytes(node, cid)
    assert open_sealed(sealed, upload) == wav
    whole = run_js(VERIFY, "car", node.url, cid)
    assert whole["content_type"] == "application/vnd.ipld.car; version=1; order=dfs; dups=n"
    assert whole["roots"] == [cid] and whole["order"][0] == cid
    assert whole["blocks"] == 1 + -(-len(sealed) // CHUNK_SIZE)
    assert whole["rebuilt_sha256"] == hashlib.sha256(sealed).hexdigest() and whole["size"] == len(sealed)
    assert fetch(f"{node.url}/ipfs/{upload['cid']}?format=car")[0] == 404, "the plain file is not held, so not served"

    for block in (cid, whole["order"][1]):
        assert run_js(VERIFY, "raw", node.url, block)["verified"]
    status, headers, body = fetch(f"{node.url}/ipfs/{cid}", accept="application/vnd.ipld.raw")
    assert headers["Content-Disposition"] == f'attachment; filename="{cid}.bin"'
    assert headers["ETag"] == f'"{cid}.raw"' and "immutable" in headers["Cache-Control"]
    status, headers, body = fetch(f"{node.url}/ipfs/{cid}", accept="application/vnd.ipld.raw", method="HEAD")
    assert status == 200 and body == b"" and int(headers["Content-Length"]) > 0


def test_dag_scope_and_entity_bytes_send_only_the_blocks_needed(gateway_node):
    node = gateway_node
    upload = Client(node).upload(make_wav(4.0, seed=1))
    cid = upload["sealed_cid"]
    wav = sealed_bytes(node, cid)  # the entity the gateway serves: the sealed stream
    block_only = run_js(VERIFY, "car", node.url, cid, "dag-scope=block")
    assert block_only["order"] == [cid]

    first, last = CHUNK_SIZE + 10, 2 * CHUNK_SIZE + 10  # across the second and third leaves
    middle = run_js(VERIFY, "car", node.url, cid, f"entity-bytes={first}:{last}")
    assert middle["blocks"] == 3 and middle["order"][0] == cid
    assert middle["rebuilt_sha256"] == hashlib.sha256(wav[first : last + 1]).hexdigest()

    tail = run_js(VERIFY, "car", node.url, cid, "entity-bytes=-1000:*")
    assert tail["blocks"] == 2 and tail["rebuilt_sha256"] == hashlib.sha256(wav[-1000:]).hexdigest()

    status, _, body = fetch(f"{node.url}/ipfs/{cid}?format=car&entity-bytes={len(wav)}:*")
    assert status == 400 and b"entity-bytes" in body


def test_dups_y_is_answered_as_asked(gateway_node):
    # Sealed leaves never repeat (each is sealed under its own nonce), so both answers
    # carry every block once; which blocks a repeated leaf gives is tests/node/test_car.py's.
    node = gateway_node
    cid = Client(node).upload(b"\x00" * (3 * CHUNK_SIZE) + b"end", "application/octet-stream")["sealed_cid"]
    once = run_js(VERIFY, "car", node.url, cid)
    assert once["blocks"] == 5 and once["rebuilt_sha256"] == hashlib.sha256(sealed_bytes(node, cid)).hexdigest()
    status, headers, body = fetch(f"{node.url}/ipfs/{cid}?format=car", accept=CAR_DFS + "; dups=y")
    assert status == 200 and headers["Content-Type"].endswith("dups=y")
    assert b"\x00" * 1024 not in body, "the zeros went out sealed"


def test_requests_the_gateway_cannot_answer_are_refused_with_reasons(gateway_node):
    node = gateway_node
    cid = Client(node).upload(make_wav(0.5, seed=2))["sealed_cid"]
    unknown = "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy"
    cases = [
        (f"/ipfs/{cid}", None, 400),  # no Accept and no format: a trustless gateway says which to ask for
        (f"/ipfs/{cid}", "text/html", 406),
        (f"/ipfs/{cid}?format=tar", None, 400),
        (f"/ipfs/{unknown}?format=raw", None, 404),
        ("/ipfs/QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG?format=raw", None, 400),
        ("/ipfs/not-a-cid?format=raw", None, 400),
        (f"/ipfs/{cid}?format=car&dag-scope=deep", None, 400),
        (f"/ipfs/{cid}?format=car&entity-bytes=9:2", None, 400),
        (f"/ipfs/{cid}?format=car&car-version=2", None, 406),
        (f"/ipfs/{cid}/cover.jpg?format=car", None, 404),
    ]
    for path, accept, expected in cases:
        status, headers, body = fetch(node.url + path, accept=accept)
        assert status == expected, (path, status, body)
        assert b'"message"' in body, (path, body)
    request = urllib.request.Request(f"{node.url}/ipfs/{unknown}?format=raw", headers={"Cache-Control": "only-if-cached"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 412
    assert node.get("/v1/status")["head_height"] >= 0, "the node still answers"
