"""Access to file: a 100 MB sealed asset on a 4-authority testnet (block period 1 s), through the client library.

Per run, a fresh asset (random bytes, registered as a dataset with its key shared 2-of-4
among the authorities) is uploaded to one node, and a consumer on another node runs
``node.client.access.fetch_asset``: sign the access, wait until final, collect the
releases, recover the key, pull the sealed content from the first node, decrypt it while
it streams and check the plain CID. Reported: the time from signing to the checked file
on disk (p50 of the runs); the sealed fetch plus decrypt throughput (the part of it from
asking for the content to the file on disk), beside one bare libp2p stream of the same
size between the same two nodes, taken in turns in the same run as bench/network.py does;
and their ratio. Replication is off, so each run's content moves at access time.

    python bench/access.py [--content-mb 100] [--runs 3] [--dir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._nodes import BenchNode, emit, get, post, print_log_tails, wait_for  # noqa: E402

from node.client import NodeClient, RpcError  # noqa: E402
from node.client.access import custody_for_upload, fetch_asset  # noqa: E402
from node.files.network_files import scaffold_network  # noqa: E402
from protocol.events import AssetRegister, LicenseGrant, ParticipantRegister, Share, sign_event  # noqa: E402
from protocol.keys import SigningKey  # noqa: E402
from protocol.terms import ALLOWED, Terms  # noqa: E402

AUTHORITIES = 4
BLOCK_PERIOD_MS = 1000


class Account:
    def __init__(self, url: str) -> None:
        self.url, self.key, self.nonce = url, SigningKey.generate(), 0

    def send(self, body) -> str:
        self.nonce += 1
        event = sign_event(self.key, body, self.nonce, int(time.time() * 1000))
        answer = post(self.url, "/v1/events", event.raw, "application/msgpack")
        return answer["id"]


def wait_final(url: str, event_id: str) -> None:
    def final() -> bool:
        try:
            return get(url, f"/v1/events/{event_id}")["status"] == "final"
        except RpcError:  # not gossiped to this node yet
            return False

    wait_for(final, 60, f"event {event_id[:12]} final")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--content-mb", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3, help="accesses and bare streams, taken in turns; medians reported")
    parser.add_argument("--dir", type=Path)
    args = parser.parse_args()
    if args.dir:
        args.dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=args.dir) as work:
        workdir = Path(work)
        _, scaffolded = scaffold_network(
            workdir / "net", nodes=AUTHORITIES, authorities=AUTHORITIES, block_period_ms=BLOCK_PERIOD_MS, replicate="none"
        )
        nodes = [BenchNode(s.config_path, workdir, f"node{s.index}") for s in scaffolded]
        try:
            for node in nodes:
                node.start()
            urls = [node.url for node in nodes]
            wait_for(lambda: all(len(get(url, "/v1/status")["peers"]) >= AUTHORITIES - 1 for url in urls), 60, "a full mesh")
            source, sink = nodes[1], nodes[2]
            owner, consumer = Account(source.url), Account(sink.url)
            wait_final(source.url, owner.send(ParticipantRegister("Owner", ("creator",))))
            wait_final(sink.url, consumer.send(ParticipantRegister("Consumer", ("consumer",))))
            source_peer = get(source.url, "/v1/status")["node_id"]
            sink_peer = get(sink.url, "/v1/status")["node_id"]
            totals, sealed, streams = [], [], []
            for run in range(args.runs):
                content = os.urandom(args.content_mb * 1_000_000)  # new bytes: the consumer's node has none of them
                upload = post(source.url, "/v1/content", content, "application/octet-stream")
                draft = AssetRegister(
                    cid=upload["cid"], sealed_cid=upload["sealed_cid"], size=upload["size"], media=None,
                    title=f"Bench dataset {run}", description="", asset_type="dataset", genre="", tags=(), isrc="", iswc="",
                    rights_holders=(Share(owner.key.did, 10_000),), parents=(), terms=Terms.make({"data_mining": (ALLOWED, 0)}),
                )  # fmt: skip
                with NodeClient(source.url) as client:
                    body = AssetRegister(**{**draft.__dict__, "custody": custody_for_upload(client, bytes.fromhex(upload["content_key"]), draft)})
                wait_final(sink.url, owner.send(body))
                wait_final(sink.url, owner.send(LicenseGrant(upload["cid"], consumer.key.did, ("data_mining",), 0, 0)))
                consumer.nonce += 1  # fetch_asset signs the access with the next nonce
                out = workdir / f"consumer-{run}.bin"
                t0 = time.monotonic()
                with NodeClient(sink.url) as client:
                    opened = fetch_asset(client, consumer.key, upload["cid"], "data_mining", out, timeout=120)
                totals.append(time.monotonic() - t0)
                sealed.append(len(content) / opened.transfer_s / 1e6)
                out.unlink()
                post(source.url, "/v1/admin/perf", json.dumps({"allow": sink_peer, "bytes": len(content)}).encode(), "application/json")
                stream = post(sink.url, "/v1/admin/perf", json.dumps({"peer": source_peer, "bytes": len(content)}).encode(), "application/json")
                streams.append(stream["mb_s"])
                print(
                    f"run {run + 1}: access to file {totals[-1]:.2f} s (transfer {opened.transfer_s:.2f} s, {sealed[-1]:.1f} MB/s); "
                    f"bare stream {streams[-1]:.1f} MB/s",
                    file=sys.stderr,
                )
        except BaseException:
            print_log_tails(nodes)
            raise
        finally:
            for node in nodes:
                node.stop()
    p50, sealed_mb_s, stream_mb_s = statistics.median(totals), statistics.median(sealed), statistics.median(streams)
    period_s = BLOCK_PERIOD_MS / 1000
    runs = lambda figures, unit: ", ".join(f"{f:.2f}{unit}" for f in figures)  # noqa: E731
    table = [
        ("testnet", f"{AUTHORITIES} authorities on 127.0.0.1, block period {period_s:g} s, key 2-of-4, replication off"),
        ("access to checked file", f"{p50:.2f} s p50 for {args.content_mb} MB (runs: {runs(totals, ' s')})"),
        ("sealed fetch + decrypt", f"{sealed_mb_s:.1f} MB/s (median; runs: {runs(sealed, '')})"),
        ("one bare libp2p stream", f"{stream_mb_s:.1f} MB/s (same two nodes, in turns; runs: {runs(streams, '')})"),
        ("sealed / stream", f"{sealed_mb_s / stream_mb_s:.2f}"),
        ("budget", f"3 block periods + transfer = {3 * period_s + statistics.median(args.content_mb / s for s in sealed):.2f} s"),
    ]
    emit(table, {
        "access_to_file_p50_s": round(p50, 3),
        "sealed_mb_s": round(sealed_mb_s, 1),
        "stream_mb_s": round(stream_mb_s, 1),
        "ratio": round(sealed_mb_s / stream_mb_s, 3),
        "block_period_s": period_s,
    })  # fmt: skip


if __name__ == "__main__":
    main()
