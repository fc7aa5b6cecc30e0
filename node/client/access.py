"""Getting an asset's audio as an application does: a final access, k key releases, the sealed bytes.

    with NodeClient("http://127.0.0.1:8680") as client:
        result = fetch_asset(client, key, asset, "ai_training", Path("song.wav"), model=model_id)
        result.access, result.releases_used, result.cid_verified     # the file is on disk

``fetch_asset`` signs an ``access`` event, waits until it is final (an authority releases
nothing for less), collects the releases of at least k authorities for it (each
checked: the releaser's signature, that it holds the share index it names in the
asset's custody, and that the opened share matches its commitment, so a bad share is
named and left out), recovers the content key, streams the sealed content from the
node (which fetches it from a peer first if it lacks it) and decrypts it while it comes,
and keeps the file only if its plain root CID is the asset's. ``open_own_asset`` does the
same for a rights holder with the key copy sealed to it, with no access and no release.

Unlike the rest of node.client, this module needs protocol/ (pure, no I/O) and PyNaCl:
the key and the content are opened here, on the consumer's machine, and nowhere else.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from protocol.cid import cid_to_str
from protocol.errors import ProtocolError
from protocol.events import Access, AssetRegister, sign_event
from protocol.key_custody import BadShare, Custody, build_custody, check_share, open_holder_copy, open_sealed, parse_custody, recover_key
from protocol.keys import SigningKey
from protocol.releases import decode_release
from protocol.sealing import open_chunks
from protocol.unixfs import DagBuilder

from .rpc import NodeClient, RpcError, segment

POLL_SECONDS = 0.1
PIECE = 1024 * 1024

Progress = Callable[[int], None]
"""Told the number of plain bytes written by each step."""


class AccessFailed(Exception):
    """Why an access yielded no file: a refusal, a timeout, too few good releases, a wrong CID."""

    def __init__(self, message: str, *, access: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.access = access


@dataclass(frozen=True)
class Opened:
    asset: str
    path: Path
    size: int
    access: str | None
    """The final access event's id (None when a rights holder opened its own asset)."""
    releases_used: tuple[int, ...]
    """Share indices the key was recovered from."""
    bad_shares: tuple[int, ...]
    """Share indices whose release did not match the custody's commitments (named, then left out)."""
    cid_verified: bool = True


def fetch_asset(
    client: NodeClient,
    key: SigningKey,
    asset: str,
    purpose: str,
    output: Path,
    *,
    model: bytes | None = None,
    app: bytes | None = None,
    max_price: int | None = None,
    timeout: float = 60.0,
    progress: Progress | None = None,
    on_status: Callable[[str], None] | None = None,
) -> Opened:
    """Sign an access to ``asset``, wait for it to be final, and write the decrypted, CID-checked file to ``output``."""
    record = client.get(f"/v1/assets/{segment(asset)}", {"limit": 1})["asset"]
    custody = _custody_of(record, asset)
    if max_price is None:
        answer = client.post_json("/v1/preflight", {"assets": [asset], "purpose": purpose, "account": key.did})["items"][0]
        if not answer["allowed"]:
            raise AccessFailed(f"access to {asset} for {purpose} is not allowed: {answer.get('reason', 'no reason given')}")
        max_price = answer["price"]
    node_id = client.get("/v1/status")["node_id"]
    body = Access(asset=asset, purpose=purpose, model=model, app=app, node=node_id, bytes=record["size"], max_price=max_price)
    nonce = int(client.get(f"/v1/accounts/{segment(key.did)}")["account"]["next_nonce"])
    event = sign_event(key, body, nonce=nonce, ts=int(time.time() * 1000))
    access = event.id.hex()
    try:
        client.post_event(event.raw)
    except RpcError as exc:
        raise AccessFailed(f"the node refused the access: {exc.message}", access=access) from None
    deadline = time.monotonic() + timeout
    _wait_final(client, access, deadline, on_status)
    content_key, used, bad = _collect_key(client, key, asset, access, custody, deadline, on_status)
    size = _write_plain(client, content_key, asset, output, progress)
    return Opened(asset, output, size, access, used, bad)


def open_own_asset(client: NodeClient, key: SigningKey, asset: str, output: Path, *, progress: Progress | None = None) -> Opened:
    """A rights holder's own asset, opened with the key copy sealed to it in the custody."""
    record = client.get(f"/v1/assets/{segment(asset)}", {"limit": 1})["asset"]
    custody = _custody_of(record, asset)
    try:
        content_key = open_holder_copy(custody, key)
    except ProtocolError as exc:
        raise AccessFailed(exc.message) from None
    size = _write_plain(client, content_key, asset, output, progress)
    return Opened(asset, output, size, None, (), ())


def custody_for_upload(client: NodeClient, content_key: bytes, registration: AssetRegister) -> Custody:
    """The custody of a fresh upload's key: shares for the authorities in force, a copy for each rights holder."""
    authorities = client.get("/v1/authorities")["authorities"]
    holders = [share.account for share in registration.rights_holders]
    return build_custody(content_key, registration.cid, authorities, holders)


def custody_from_view(record: dict[str, Any]) -> Custody | None:
    """The custody of an asset as GET /v1/assets/{cid} shows it, or None if it has none."""
    wire = record.get("custody")
    return None if wire is None else parse_custody(_from_json(wire))


def _custody_of(record: dict[str, Any], asset: str) -> Custody:
    custody = custody_from_view(record)
    if custody is None:
        raise AccessFailed(f"asset {asset} has no key custody: nobody can release its key")
    return custody


def _from_json(value: Any) -> Any:
    """The custody as the RPC shows it (bytes as hex strings in ``sealed`` and ``commitment``) back on the wire."""
    if isinstance(value, dict):
        return {k: bytes.fromhex(v) if k in ("sealed", "commitment") else _from_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_json(item) for item in value]
    return value


def _wait_final(client: NodeClient, access: str, deadline: float, on_status: Callable[[str], None] | None) -> None:
    last = None
    while True:
        state = client.get(f"/v1/events/{access}")
        status = state["status"]
        if status != last and on_status is not None:
            on_status(f"access {access[:16]}… {status}")
        last = status
        if status == "final":
            return
        if status == "rejected":
            raise AccessFailed(f"access {access} was rejected: {state.get('reason', 'no reason given')}", access=access)
        if time.monotonic() >= deadline:
            raise AccessFailed(f"access {access} is still {status}; no key is released before it is final", access=access)
        time.sleep(POLL_SECONDS)


def _collect_key(
    client: NodeClient, key: SigningKey, asset: str, access: str, custody: Custody, deadline: float, on_status
) -> tuple[bytes, tuple[int, ...], tuple[int, ...]]:
    """Poll the node's releases for ``access`` until ``custody.threshold`` good shares open; returns (key, used, bad)."""
    good: dict[int, bytes] = {}
    bad: set[int] = set()
    while True:
        answer = client.get(f"/v1/access/{access}/releases")
        for item in answer["releases"]:
            index = item["index"]
            if index in good or index in bad:
                continue
            share = _open_release(key, bytes.fromhex(item["release"]), access, asset, custody)
            if share is None:
                bad.add(index)
                if on_status is not None:
                    on_status(f"release of share {index} is bad: it does not match the custody's commitment; left out")
            else:
                good[index] = share
        if len(good) >= custody.threshold:
            chosen = dict(sorted(good.items())[: custody.threshold])
            return recover_key(asset, custody, chosen), tuple(chosen), tuple(sorted(bad))
        if time.monotonic() >= deadline:
            raise AccessFailed(
                f"access {access} is final, but only {len(good)} good key release(s) of the {custody.threshold} needed came"
                + (f" (bad: shares {', '.join(map(str, sorted(bad)))})" if bad else ""),
                access=access,
            )
        time.sleep(POLL_SECONDS)


def _open_release(key: SigningKey, raw: bytes, access: str, asset: str, custody: Custody) -> bytes | None:
    """The share in a release, if the release is for this access and asset, from its share's holder, and committed."""
    try:
        release = decode_release(raw)
    except ProtocolError:
        return None
    share = custody.share_at(release.index)
    if release.access.hex() != access or release.asset != asset or share is None or share.holder != release.releaser:
        return None
    value = open_sealed(key, release.sealed_share)
    if value is None:
        return None
    try:
        check_share(asset, share, value)
    except BadShare:
        return None
    return value


def _write_plain(client: NodeClient, content_key: bytes, asset: str, output: Path, progress: Progress | None) -> int:
    """Pull the sealed content to the node, stream it here, decrypt, and keep it only if its root CID is ``asset``."""
    try:
        client.request("POST", f"/v1/content/{segment(asset)}/fetch", timeout=600.0)
    except RpcError as exc:
        raise AccessFailed(f"no node has the sealed content of {asset}: {exc.message}") from None
    partial = output.with_name(f".{output.name}.part")
    written = 0
    try:
        builder = DagBuilder()
        with client.open_stream("GET", f"/v1/content/{segment(asset)}") as download, open(partial, "wb") as file:
            for leaf in open_chunks(content_key, asset, download.pieces(PIECE)):
                builder.add_leaf(leaf)
                file.write(leaf)
                written += len(leaf)
                if progress is not None:
                    progress(len(leaf))
        cid = cid_to_str(builder.finish().root)
        if cid != asset:
            raise AccessFailed(f"the decrypted content has root CID {cid}, not {asset}; nothing was saved")
        os.replace(partial, output)
    except ProtocolError as exc:
        raise AccessFailed(f"the sealed content of {asset} does not open: {exc.message}; nothing was saved") from None
    finally:
        partial.unlink(missing_ok=True)
    return written

