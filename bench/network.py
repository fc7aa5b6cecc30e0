"""Network figures on a local testnet of real node processes (one authority, block period 1 s).

(a) events per second submitted across all nodes (in batches, round robin) that end up
    included on every node; (b) p50 / p99 latency from submission at one node to
    inclusion visible on all, observed by polling every node's blocks; (c) content
    transfer MB/s of a 100 MB asset fetched by one node from another, beside one bare
    libp2p stream between the same two nodes in the same run (three of each, in turns,
    medians reported: a single measurement varied by a third); (d) catch-up rate of a
    fresh node joining a chain of at least 50,000 events.

    python bench/network.py [--rate 1200] [--events 50000] [--content-mb 100] [--transfer-runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._nodes import BenchNode, emit, get, load, post, print_log_tails, sign_events, wait_for  # noqa: E402
from node.client import RpcError  # noqa: E402
from node.files.network_files import scaffold_network  # noqa: E402

class InclusionWatcher:
    """Polls every node's new blocks and notes when each event first appears on each node.

    One thread per node: a node busy importing a block answers late, and with one thread
    for all, that delay was counted against the nodes polled after it.
    """

    def __init__(self, urls: list[str]) -> None:
        self.urls = urls
        self.seen: list[dict[str, float]] = [{} for _ in urls]
        self.first_height = [get(url, "/v1/status")["head_height"] + 1 for url in urls]
        self.stop = threading.Event()
        self._threads = [threading.Thread(target=self._watch, args=(index,), daemon=True) for index in range(len(urls))]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def _watch(self, index: int) -> None:
        url, seen = self.urls[index], self.seen[index]
        next_height = self.first_height[index]
        while not self.stop.is_set():
            try:
                head = get(url, "/v1/status")["head_height"]
                while next_height <= head:
                    block = get(url, f"/v1/blocks/{next_height}")
                    now = time.monotonic()
                    for event_id in block["events"]:
                        seen.setdefault(event_id, now)
                    next_height += 1
            except RpcError as exc:  # a node too busy to answer this once: ask again
                print(f"watcher: {url}: {exc!r}", file=sys.stderr)
            time.sleep(0.02)

    def on_all(self, event_id: str) -> float | None:
        times = [seen.get(event_id) for seen in self.seen]
        return None if any(t is None for t in times) else max(times)  # type: ignore[type-var]


def _runs(figures: list[float]) -> str:
    return ", ".join(f"{figure:.0f}" for figure in figures)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=1200, help="events per second offered in total")
    parser.add_argument("--events", type=int, default=50_000, help="events in the load (and so in the chain)")
    parser.add_argument("--content-mb", type=int, default=100)
    parser.add_argument("--transfer-runs", type=int, default=3, help="transfers and bare streams, taken in turns; medians reported")
    parser.add_argument("--dir", type=Path)
    args = parser.parse_args()
    print(f"signing {args.events} events…", file=sys.stderr)
    events = sign_events(args.events)
    if args.dir:
        args.dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=args.dir) as work:
        workdir = Path(work)
        genesis, scaffolded = scaffold_network(workdir / "net", nodes=5, authorities=1, block_period_ms=1000, replicate="none")
        nodes = [BenchNode(s.config_path, workdir, f"node{s.index}") for s in scaffolded]
        try:
            for node in nodes[:4]:
                node.start()
            urls = [node.url for node in nodes[:4]]
            wait_for(lambda: all(len(get(url, "/v1/status")["peers"]) >= 3 for url in urls), 60, "a full mesh")

            # (a) and (b)
            watcher = InclusionWatcher(urls)
            watcher.start()
            print(f"offering {args.events} events at {args.rate:.0f}/s…", file=sys.stderr)
            started = time.monotonic()
            submitted = load(urls, events, args.rate)
            wait_for(lambda: all(watcher.on_all(e) is not None for e in submitted), 600, "every event on every node")
            watcher.stop.set()
            included_at = {event_id: watcher.on_all(event_id) for event_id in submitted}
            finished = max(included_at.values())  # type: ignore[type-var]
            events_per_s = len(submitted) / (finished - started)  # type: ignore[operator]
            latencies = sorted(included_at[e] - submitted[e] for e in submitted)  # type: ignore[operator]
            p50 = statistics.median(latencies)
            p99 = latencies[int(len(latencies) * 0.99) - 1]

            # (c) content transfer against one bare stream between the same two nodes, taken
            # in turns: a single measurement of either varied by a third between runs.
            source, sink = nodes[1], nodes[2]
            source_peer = get(source.url, "/v1/status")["node_id"]
            sink_peer = get(sink.url, "/v1/status")["node_id"]
            transfers, streams = [], []
            for _ in range(args.transfer_runs):
                content = os.urandom(args.content_mb * 1_000_000)  # new bytes: the sink has none of them
                cid = post(source.url, "/v1/content", content, "application/octet-stream")["cid"]
                t0 = time.monotonic()
                post(sink.url, f"/v1/content/{cid}/fetch", b"", "application/json")
                transfers.append(len(content) / (time.monotonic() - t0) / 1e6)
                # The source answers the perf protocol only to a peer its operator named.
                post(source.url, "/v1/admin/perf", json.dumps({"allow": sink_peer, "bytes": len(content)}).encode(), "application/json")
                stream = post(sink.url, "/v1/admin/perf", json.dumps({"peer": source_peer, "bytes": len(content)}).encode(), "application/json")
                streams.append(stream["mb_s"])
            transfer_mb_s, stream_mb_s = statistics.median(transfers), statistics.median(streams)

            # (d) a fresh node joins the chain
            chain_events = sum(1 for _ in submitted)
            target = get(urls[0], "/v1/status")["head_height"]
            late = nodes[4].start()
            t0 = time.monotonic()
            wait_for(lambda: get(late.url, "/v1/status")["head_height"] >= target, 600, "the fresh node to catch up")
            catchup_s = time.monotonic() - t0
            catchup_events_per_s = chain_events / catchup_s
        except BaseException:
            print_log_tails(nodes)
            raise
        finally:
            for node in nodes:
                node.stop()
    period_s = genesis.block_period_ms / 1000
    emit(
        [
            ("testnet", "4 nodes on 127.0.0.1, 1 authority, block period 1 s, 2 cores shared with the load"),
            ("events included on all nodes", f"{events_per_s:.0f}/s ({len(submitted)} events offered at {args.rate:.0f}/s)"),
            ("submission -> on all nodes", f"p50 {p50:.2f} s, p99 {p99:.2f} s ({p50 / period_s:.2f} / {p99 / period_s:.2f} block periods)"),
            ("content transfer", f"{transfer_mb_s:.1f} MB/s for {args.content_mb} MB (median; runs: {_runs(transfers)})"),
            ("one bare libp2p stream", f"{stream_mb_s:.1f} MB/s (same two nodes, in turns; runs: {_runs(streams)})"),
            ("transfer / stream", f"{transfer_mb_s / stream_mb_s:.2f}"),
            ("fresh node catch-up", f"{catchup_events_per_s:.0f} events/s ({chain_events} events, {target} blocks, {catchup_s:.1f} s)"),
        ],
        {
            "events_per_s": round(events_per_s, 1),
            "inclusion_p50_s": round(p50, 3),
            "inclusion_p99_s": round(p99, 3),
            "block_period_s": period_s,
            "transfer_mb_s": round(transfer_mb_s, 1),
            "stream_mb_s": round(stream_mb_s, 1),
            "transfer_ratio": round(transfer_mb_s / stream_mb_s, 3),
            "catchup_events_per_s": round(catchup_events_per_s, 1),
        },
    )


if __name__ == "__main__":
    main()
