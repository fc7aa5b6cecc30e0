"""A node killed with SIGKILL mid-upload and mid-submission restarts consistent, losing nothing final."""

from __future__ import annotations

import http.client
import threading
import urllib.parse
from pathlib import Path

import pytest

from protocol.events import ParticipantRegister
from protocol.unixfs import root_cid_of_file

from .framework import RpcError, verify_store, wait_until
from .helpers import Client

pytestmark = pytest.mark.slow

UPLOAD_MB = 256


def write_big_file(path: Path, megabytes: int) -> None:
    block = bytes(range(256)) * 4096  # 1 MiB
    with open(path, "wb") as file:
        for index in range(megabytes):
            file.write(index.to_bytes(4, "big") + block[4:])  # no two MiB alike


def stream_upload(url: str, path: Path, outcome: dict) -> None:
    parts = urllib.parse.urlsplit(url)
    try:
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120, blocksize=256 * 1024)
        with open(path, "rb") as body:
            headers = {"Content-Type": "application/octet-stream", "Content-Length": str(path.stat().st_size)}
            connection.request("POST", "/v1/content", body=body, headers=headers)
            outcome["status"] = connection.getresponse().status
    except OSError as exc:  # expected: the node dies under us
        outcome["error"] = exc


def test_sigkill_during_upload_and_submissions(start_local_node, tmp_path):
    node = start_local_node()
    content_tmp = node.config.parent / "data" / "content" / "tmp"
    big = tmp_path / "big.bin"
    write_big_file(big, UPLOAD_MB)

    submitted: list[str] = []
    stop_submitting = threading.Event()

    def submit_forever() -> None:
        while not stop_submitting.is_set():
            try:
                submitted.append(Client(node).send(ParticipantRegister("listener", ("consumer",))))
            except (OSError, RpcError):
                return

    submitter = threading.Thread(target=submit_forever)
    submitter.start()
    wait_until(lambda: len(submitted) >= 50, what="50 events submitted")

    def final_now() -> list[str]:
        return [event_id for event_id in list(submitted) if node.get(f"/v1/events/{event_id}")["status"] == "final"]

    # 50 submissions can all fit inside one block period on a fast machine: wait for a block.
    final_before = wait_until(final_now, what="some events to be final before the kill")
    assert final_before, "some events were final before the kill"

    outcome: dict = {}
    uploader = threading.Thread(target=stream_upload, args=(node.url, big, outcome))
    uploader.start()
    wait_until(
        lambda: any(part.stat().st_size > 32 * 2**20 for part in content_tmp.iterdir()),
        what="the upload to be well under way",
        poll=0.005,
    )
    node.kill()
    stop_submitting.set()
    uploader.join(60)
    submitter.join(60)
    assert "status" not in outcome, "the upload should not have completed"

    report = verify_store(node.config)
    assert "consistent" in report

    node.start()
    assert list(content_tmp.iterdir()) == [], "the partial upload was cleaned up"
    for event_id in final_before:
        assert node.get(f"/v1/events/{event_id}")["status"] == "final"
    # The node works as before: the same upload now completes with the right CID.
    answer = node.request("POST", "/v1/content", body=big.read_bytes(), content_type="application/octet-stream", timeout=120)
    assert answer["cid"] == root_cid_of_file(big) and answer["size"] == UPLOAD_MB * 2**20
    node.wait_final(Client(node).send(ParticipantRegister("after the crash", ("consumer",))))
    assert node.stop() == 0
    verify_store(node.config)
