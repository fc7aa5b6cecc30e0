"""Consensus figures on a local testnet of 4 real node processes, all 4 authorities (block period 1 s).

(1) events per second that end up final on every node: events submitted by several
    clients (in batches, spread over the nodes) divided by the time from the first
    submission until the last of them is final everywhere; (2) p50 / p99 latency from
    submission to final on all nodes, observed by polling every node's finalized height
    and reading each newly final block (a final block never changes, so an event is
    credited to the block that carries it when that block becomes final, whatever
    reorgs happened above it before); (3) Ed25519 signature verifications per second of
    one core, on the signatures of real signed events from the same run; (4) the ratio
    of (1) to (3).

Also: reorgs counted in the nodes' logs, and the p50 from submission to justified on all
nodes when the nodes report a ``justified_height`` in /v1/status (null otherwise).
``--sweep 800,1200,1600,2000`` runs a fresh testnet at each offered rate in turn and says
where finality latency starts to grow: the network's saturation point on this machine.

    python bench/consensus.py [--rate 1200] [--events 30000] [--clients 4] [--period-ms 1000] [--dir DIR]
    python bench/consensus.py --sweep 800,1200,1600,2000 [--events 30000] ...
"""

from __future__ import annotations

import argparse
import contextlib
import math
import signal
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._nodes import BenchNode, emit, get, load, print_log_tails, sign_events, wait_for  # noqa: E402
from node.client import RpcError  # noqa: E402
from node.files.network_files import scaffold_network  # noqa: E402
from protocol.encoding import encode  # noqa: E402
from protocol.events import decode_event  # noqa: E402
from protocol.keys import Domain, public_key_from_did, verify_signature  # noqa: E402

NODES = 4
VERIFY_SAMPLE = 4000
VERIFY_SECONDS = 2.0
LATENCY_GROWTH = 1.5
"""A sweep's rate where p50 to final exceeds this many times the lowest rate's is where it starts to grow."""


class FinalityWatcher(threading.Thread):
    """Polls every node's finalized height and reads each block as it becomes final there.

    For each node it keeps the hash of every final block it saw (to check that all nodes
    finalized the same blocks) and when each event's block was first seen final; once an
    event is final on every node, the latest of those times is when it became final everywhere.
    """

    def __init__(self, urls: list[str], poll_s: float) -> None:
        super().__init__(daemon=True)
        self.urls, self.poll_s = urls, poll_s
        self.next_height = [get(url, "/v1/status")["finalized_height"] + 1 for url in urls]
        self.final_hashes: list[dict[int, str]] = [{} for _ in urls]
        self.final_at: list[dict[str, float]] = [{} for _ in urls]
        self.final_height_of: list[dict[str, int]] = [{} for _ in urls]
        self.final_everywhere: dict[str, float] = {}
        self.justified_next = [0 for _ in urls]
        self.justified_at: list[dict[int, float]] = [{} for _ in urls]
        """Per node, when each height was first seen at or below its justified height."""
        self.reports_justified = False
        self.anomalies: list[str] = []
        self.errors = 0
        self.lock = threading.Lock()
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            for index, url in enumerate(self.urls):
                try:
                    self._poll(index, url)
                except (RpcError, ValueError, KeyError) as exc:  # a node too busy to answer this once: ask again
                    self.errors += 1
                    print(f"watcher: {url}: {exc!r}", file=sys.stderr)
            self.stop.wait(self.poll_s)

    def _poll(self, index: int, url: str) -> None:
        status = get(url, "/v1/status")
        finalized = status["finalized_height"]
        seen = time.monotonic()  # everything at or below ``finalized`` was final by now
        justified = status.get("justified_height")
        if justified is not None:
            with self.lock:
                self.reports_justified = True
                for height in range(self.justified_next[index], justified + 1):
                    self.justified_at[index].setdefault(height, seen)
                self.justified_next[index] = max(self.justified_next[index], justified + 1)
        while self.next_height[index] <= finalized:
            height = self.next_height[index]
            block = get(url, f"/v1/blocks/{height}")
            if not block["final"] or block["height"] != height:
                self._anomaly(f"node{index}: block {height} is not final (final height was {finalized}); finality went back?")
                return
            self._record(index, height, block, seen)
            self.next_height[index] += 1

    def _record(self, index: int, height: int, block: dict, seen: float) -> None:
        with self.lock:
            self.final_hashes[index][height] = block["hash"]
            for other, hashes in enumerate(self.final_hashes):
                if other != index and hashes.get(height, block["hash"]) != block["hash"]:
                    self._anomaly(f"final block {height} differs: node{index} {block['hash'][:12]}, node{other} {hashes[height][:12]}")
            for event_id in block["events"]:
                earlier = self.final_height_of[index].setdefault(event_id, height)
                if earlier != height:
                    self._anomaly(f"node{index}: event {event_id[:12]} is final in blocks {earlier} and {height}")
                    continue
                self.final_at[index].setdefault(event_id, seen)
                times = [final_at.get(event_id) for final_at in self.final_at]
                if all(t is not None for t in times):
                    self.final_everywhere.setdefault(event_id, max(times))  # type: ignore[type-var]

    def _anomaly(self, message: str) -> None:
        if len(self.anomalies) < 100:  # keep (and print) the first hundred
            self.anomalies.append(message)
            print(f"watcher: ANOMALY: {message}", file=sys.stderr)

    def justified_everywhere(self, height: int) -> float | None:
        """When every node had ``height`` justified, or None if one never reported it."""
        times = [justified_at.get(height) for justified_at in self.justified_at]
        return None if None in times else max(times)  # type: ignore[type-var]

    def missing(self, event_ids) -> int:
        with self.lock:
            return sum(1 for event_id in event_ids if event_id not in self.final_everywhere)


def quietly(predicate: Callable[[], bool]) -> Callable[[], bool]:
    """``predicate``, but False while a node is too busy (or not yet ready) to answer."""

    def attempt() -> bool:
        try:
            return predicate()
        except (RpcError, ValueError, KeyError):
            return False

    return attempt


def wait_until_producing(nodes: list[BenchNode], timeout: float) -> list[str]:
    """Wait for a full mesh, and for every node's authority to have signed a block everyone has; the authorities."""
    urls = [node.url for node in nodes]
    wait_for(quietly(lambda: all(len(get(url, "/v1/status")["peers"]) >= len(urls) - 1 for url in urls)), timeout, "a full mesh")
    statuses = [get(url, "/v1/status") for url in urls]
    ours = [status["authority"] for status in statuses]
    if None in ours or len(set(ours)) != len(ours):
        raise RuntimeError(f"expected every node to be a distinct authority, got {ours}")
    start_heads = [status["head_height"] for status in statuses]

    def producing() -> bool:
        heads = [get(url, "/v1/status") for url in urls]
        if not all(head["head_height"] > start for head, start in zip(heads, start_heads)):
            return False
        if not all(head["finalized_height"] > 0 for head in heads):
            return False
        common = min(head["head_height"] for head in heads)
        proposers = {header["proposer"] for header in get(urls[0], f"/v1/headers?from=1&limit={min(common, 100)}")["headers"]}
        if common > 100:
            proposers |= {h["proposer"] for h in get(urls[0], f"/v1/headers?from={common - 99}&limit=100")["headers"]}
        return all(authority in proposers for authority in ours)

    wait_for(quietly(producing), timeout, "all 4 authorities to produce blocks and every node to finalize")
    return ours


def wait_until_final(watcher: FinalityWatcher, nodes: list[BenchNode], event_ids: list[str], stall_s: float) -> None:
    """Wait until every event is final on every node; fail if a node dies or nothing becomes final for ``stall_s``."""
    last_missing, last_progress, last_report = len(event_ids), time.monotonic(), 0.0
    while True:
        missing = watcher.missing(event_ids)
        now = time.monotonic()
        if missing == 0:
            return
        for node in nodes:
            if node.process is not None and node.process.poll() is not None:
                raise RuntimeError(f"{node.name} exited with {node.process.returncode} while waiting for finality")
        if missing < last_missing:
            last_missing, last_progress = missing, now
        elif now - last_progress > stall_s:
            raise RuntimeError(f"{missing} of {len(event_ids)} events not final on every node after {stall_s:.0f} s without progress")
        if now - last_report > 5:
            heights = [watcher.next_height[i] - 1 for i in range(len(nodes))]
            print(f"waiting: {missing} events not yet final everywhere; finalized heights {heights}", file=sys.stderr)
            last_report = now
        time.sleep(0.2)


def percentile(sorted_values: list[float], fraction: float) -> float:
    """The nearest-rank percentile of a sorted list."""
    return sorted_values[max(0, math.ceil(fraction * len(sorted_values)) - 1)]


def verify_rate(raws: list[bytes], seconds: float) -> tuple[float, int]:
    """protocol.keys.verify_signature calls per second in this one thread, on these events' signatures."""
    items = []
    for raw in raws:
        event = decode_event(raw, verify=False)
        items.append((encode(event.unsigned_wire()), event.sig, event.author))
        public_key_from_did(event.author)  # warm the did cache as a running node's would be
    for message, sig, author in items[:200]:  # warm up
        verify_signature(Domain.EVENT, message, sig, author)
    count = 0
    start = time.perf_counter()
    while True:
        for message, sig, author in items:
            verify_signature(Domain.EVENT, message, sig, author)
        count += len(items)
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return count / elapsed, count


def count_in_logs(nodes: list[BenchNode], needle: str) -> list[int]:
    return [node.log.read_text(errors="replace").count(needle) if node.log.exists() else 0 for node in nodes]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=1200, help="events per second offered in total")
    parser.add_argument("--sweep", help="offered rates to run one after another, e.g. 800,1200,1600,2000")
    parser.add_argument("--events", type=int, default=30_000, help="events in the load")
    parser.add_argument("--clients", type=int, default=4, help="client threads, spread over the 4 nodes")
    parser.add_argument("--period-ms", type=int, default=1000, help="block period")
    parser.add_argument("--poll-s", type=float, default=0.1, help="how often the watcher asks each node")
    parser.add_argument("--stall-s", type=float, default=120, help="give up when nothing becomes final for this long")
    parser.add_argument("--dir", type=Path, help="work here instead of a temporary directory")
    args = parser.parse_args()
    if args.clients < 1 or args.events < 1 or args.rate <= 0:
        parser.error("--clients, --events and --rate must be positive")
    if args.sweep is not None:
        try:
            args.sweep = [float(rate) for rate in args.sweep.split(",")]
        except ValueError:
            parser.error("--sweep takes offered rates separated by commas, e.g. 800,1200,1600,2000")
        if not args.sweep or any(rate <= 0 for rate in args.sweep):
            parser.error("--sweep rates must be positive")
    return args


def main() -> None:
    args = parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the finally blocks: stop the nodes
    print(f"signing {args.events} events…", file=sys.stderr)
    events = sign_events(args.events)
    if args.sweep is None:
        table, result = run_once(args, args.rate, events)
        emit(table, result)
        return
    results = []
    for rate in args.sweep:
        table, result = run_once(args, rate, events)
        emit(table, result)
        results.append({"offered_per_s": rate, **result})
    emit(sweep_table(results), {"sweep": results, "latency_grows_at_per_s": latency_grows_at(results)})


def latency_grows_at(results: list[dict]) -> float | None:
    """The lowest offered rate whose p50 to final exceeds LATENCY_GROWTH times the lowest rate's."""
    ordered = sorted(results, key=lambda result: result["offered_per_s"])
    base = ordered[0]["final_p50_s"]
    for result in ordered[1:]:
        if result["final_p50_s"] > LATENCY_GROWTH * base:
            return result["offered_per_s"]
    return None


def sweep_table(results: list[dict]) -> list[tuple[str, str]]:
    rows = [
        (
            f"offered {result['offered_per_s']:.0f}/s",
            f"final {result['finalized_events_per_s']:.0f}/s, p50 {result['final_p50_s']:.2f} s, "
            f"p99 {result['final_p99_s']:.2f} s, justified p50 {_seconds(result['justified_p50_s'])}, reorgs {result['reorgs']}",
        )
        for result in results
    ]
    grows = latency_grows_at(results)
    rows.append((
        "finality latency grows",
        "not within the rates swept" if grows is None
        else f"from {grows:.0f}/s offered (p50 over {LATENCY_GROWTH:g}x the lowest rate's)",
    ))
    return rows


def _seconds(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f} s"


def run_once(args: argparse.Namespace, rate: float, events: list[tuple[str, bytes]]) -> tuple[list[tuple[str, str]], dict]:
    """One fresh 4-node testnet under ``rate`` events/s offered: the table and the JSON figures."""
    if args.dir:  # a fresh directory under it, kept afterwards (node logs and data)
        args.dir.mkdir(parents=True, exist_ok=True)
        where = contextlib.nullcontext(tempfile.mkdtemp(prefix="consensus-", dir=args.dir))
    else:
        where = tempfile.TemporaryDirectory()
    with where as work:
        print(f"working in {work}", file=sys.stderr)
        workdir = Path(work)
        genesis, scaffolded = scaffold_network(
            workdir / "net", nodes=NODES, authorities=NODES, block_period_ms=args.period_ms, replicate="none"
        )
        nodes = [BenchNode(s.config_path, workdir, f"node{s.index}") for s in scaffolded]
        stop_load = threading.Event()
        watcher: FinalityWatcher | None = None
        try:
            for node in nodes:
                node.start()
            urls = [node.url for node in nodes]
            print("waiting for a full mesh and all authorities producing…", file=sys.stderr)
            wait_until_producing(nodes, 120)

            # (1) and (2)
            watcher = FinalityWatcher(urls, args.poll_s)
            watcher.start()
            print(f"offering {args.events} events at {rate:.0f}/s from {args.clients} clients…", file=sys.stderr)
            submitted = load(urls, events, rate, clients=args.clients, stop=stop_load)
            if not submitted:
                raise RuntimeError("no event was accepted")
            load_s = max(submitted.values()) - min(submitted.values())
            event_ids = list(submitted)
            wait_until_final(watcher, nodes, event_ids, args.stall_s)
            watcher.stop.set()
            watcher.join(10)
            with watcher.lock:
                final_at = {event_id: watcher.final_everywhere[event_id] for event_id in event_ids}
                anomalies = list(watcher.anomalies)
                final_heights = {watcher.final_height_of[0][event_id] for event_id in event_ids}
            first_sent = min(submitted.values())
            finished = max(final_at.values())
            finalized_per_s = len(event_ids) / (finished - first_sent)
            latencies = sorted(final_at[e] - submitted[e] for e in event_ids)
            p50, p99 = statistics.median(latencies), percentile(latencies, 0.99)
            statuses = [get(url, "/v1/status") for url in urls]
            reorgs = count_in_logs(nodes, "reorg at height")
            justified_p50 = justified_median(watcher, submitted, event_ids)
            equivocations = count_in_logs(nodes, "equivocation:")
            side_blocks = count_in_logs(nodes, "on a side branch")
        except BaseException:
            stop_load.set()
            print_log_tails(nodes)
            raise
        finally:
            stop_load.set()
            if watcher is not None:
                watcher.stop.set()
            for node in nodes:
                node.stop()

    # (3) one core verifying signatures, with the nodes stopped
    print(f"timing signature checks on {min(VERIFY_SAMPLE, len(events))} events for {VERIFY_SECONDS:.0f} s…", file=sys.stderr)
    verify_per_s, verified = verify_rate([raw for _, raw in events[:VERIFY_SAMPLE]], VERIFY_SECONDS)
    ratio = finalized_per_s / verify_per_s
    period_s = genesis.block_period_ms / 1000
    heads = ", ".join(f"{s['head_height']}/{s['finalized_height']}" for s in statuses)
    return (
        [
            ("testnet", f"{NODES} nodes on 127.0.0.1, {NODES} authorities, block period {period_s:g} s, 2 cores shared with the load"),
            ("load", f"{len(event_ids)} of {args.events} events accepted, offered at {rate:.0f}/s by {args.clients} clients over {load_s:.1f} s"),
            ("events final on all nodes", f"{finalized_per_s:.0f}/s ({len(event_ids)} events in {finished - first_sent:.1f} s, {len(final_heights)} blocks)"),
            ("submission -> final on all", f"p50 {p50:.2f} s, p99 {p99:.2f} s ({p50 / period_s:.2f} / {p99 / period_s:.2f} block periods)"),
            ("Ed25519 verify, one core", f"{verify_per_s:.0f}/s ({verified} checks of real event signatures)"),
            ("final / verify", f"{ratio:.3f}"),
            ("head / finalized at end", heads),
            ("reorgs in logs", f"{sum(reorgs)} (per node {reorgs}); side-branch blocks {side_blocks}; equivocations {equivocations}"),
            ("submission -> justified on all", f"p50 {_seconds(justified_p50)}"),
            ("finality anomalies", "none (all nodes finalized the same blocks)" if not anomalies else f"{len(anomalies)}, first: {anomalies[0]}"),
        ],
        {
            "finalized_events_per_s": round(finalized_per_s, 1),
            "final_p50_s": round(p50, 3),
            "final_p99_s": round(p99, 3),
            "block_period_s": period_s,
            "verify_per_s": round(verify_per_s, 1),
            "ratio": round(ratio, 4),
            "reorgs": sum(reorgs),
            "justified_p50_s": None if justified_p50 is None else round(justified_p50, 3),
        },
    )


def justified_median(watcher: FinalityWatcher, submitted: dict[str, float], event_ids: list[str]) -> float | None:
    """p50 from submission to justified on all nodes, crediting each event to the block it is final in."""
    with watcher.lock:
        if not watcher.reports_justified:
            return None
        latencies = []
        for event_id in event_ids:
            justified = watcher.justified_everywhere(watcher.final_height_of[0][event_id])
            if justified is not None:
                latencies.append(justified - submitted[event_id])
    return statistics.median(latencies) if latencies else None


if __name__ == "__main__":
    main()
