"""Network figures on a local testnet of real node processes (one authority, block period 1 s).

(a) events per second submitted across all nodes (in batches, round robin) that end up
    included on every node; (b) p50 / p99 latency from submission at one node to
    inclusion visible on all, observed by polling every node's blocks; (c) content
    transfer MB/s of a 100 MB asset fetched by one node from another, beside one bare
    libp2p stream between the same two nodes in the same run (three of each, in turns,
    medians reported: a single measurement varied by a third); (d) catch-up rate of a
    fresh node joining a chain of at least 50,000 events.

``--observers`` keeps, during the load, one live-feed subscriber per node (every topic,
reading everything) and scrapes every node's ``/metrics`` once a second, and counts both.

``--compare-observers`` measures only what the observers cost: on one testnet, in one
run, ``--rounds`` rounds of two load phases of ``--phase-events`` each, one without the
observers and one with them, the order turned every round (without-with, then
with-without) so that a slow drift (a growing chain, a machine getting busier) weighs
on both sides alike, after a warm-up load of half a phase that is not counted (the first
load on a fresh testnet is always the slowest). Each round gives a ratio, events/s with over events/s without;
the median is ``observer_cost_ratio`` (metrics and feeds may cost at most 5%, so at
least 0.95), reported with every round's ratio and their spread. Throughput only shows
a cost when the load saturates the nodes; at an offered rate they keep up with, the
inclusion latencies show it.

    python bench/network.py [--rate 1200] [--events 50000] [--content-mb 100] [--transfer-runs 3] [--observers]
    python bench/network.py --compare-observers [--rate 1200] [--rounds 3] [--phase-events 20000]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._nodes import BenchNode, MetricsScraper, emit, get, load, post, print_log_tails, sign_events, wait_for  # noqa: E402
from node.client import FeedClosed, FeedReader, RpcError  # noqa: E402
from node.files.network_files import scaffold_network  # noqa: E402

NODES = 5
LOADED_NODES = 4
"""Nodes that take the load; the last one joins later, to measure catch-up."""
BLOCK_PERIOD_MS = 1000
SCRAPE_PERIOD_S = 1.0
METRIC_EVERY_SCRAPE_HAS = "audiera_chain_head_height"
WARMUP_SHARE = 2
"""--compare-observers: a warm-up load of this fraction of a phase comes first and is not counted."""


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


@dataclass(frozen=True)
class ObserverCounts:
    """What the observers got during one load."""

    feed_messages: int
    feed_events_fewest: int
    """Events the feed with the fewest delivered: every feed should carry every included event."""
    feed_ends: tuple[str, ...]
    """Why a subscriber stopped reading before the load ended (a node ends a feed that falls behind)."""
    scrapes: int
    scrape_failures: int
    seconds: float
    cpu_seconds: float
    """CPU the observers' own process used: on a shared machine, taken from the nodes too."""


class Observers:
    """One live-feed subscriber per node reading every topic, and a ``/metrics`` scrape of every node each second.

    A subscriber reads until its node stops or its process ends (the reader blocks in the
    socket, and only the end of the connection wakes it); ``finish`` takes the counts.
    """

    def __init__(self, urls: list[str]) -> None:
        self.urls = urls
        self.stop = threading.Event()
        self._lock = threading.Lock()
        self._feed_messages = [0] * len(urls)
        self._feed_events = [0] * len(urls)
        self._feed_ends: list[str] = []
        self._scrapes = 0
        self._scrape_failures = 0
        self._readers = [FeedReader(url) for url in urls]
        self._scrapers = [threading.Thread(target=self._scrape, args=(url,), daemon=True) for url in urls]
        self._started = 0.0
        self._cpu_started = 0.0

    def start(self) -> None:
        for reader in self._readers:
            reader.connect()  # subscribed before the first event is offered
        for index in range(len(self.urls)):
            threading.Thread(target=self._read, args=(index,), daemon=True).start()
        for thread in self._scrapers:
            thread.start()
        self._started = time.monotonic()
        self._cpu_started = time.process_time()

    def _read(self, index: int) -> None:
        try:
            for message in self._readers[index].messages():
                with self._lock:
                    self._feed_messages[index] += 1
                    if message.get("type") == "events":
                        self._feed_events[index] += len(message["events"])
        except (FeedClosed, RpcError) as exc:
            if not self.stop.is_set():
                with self._lock:
                    self._feed_ends.append(f"{self.urls[index]}: {exc}")

    def _scrape(self, url: str) -> None:
        scraper = MetricsScraper(url)
        due = time.monotonic()
        while not self.stop.wait(max(0.0, due - time.monotonic())):
            try:
                text = scraper.scrape()
                if METRIC_EVERY_SCRAPE_HAS not in text:
                    raise RpcError(200, "not_metrics", f"the node at {url} answered /metrics without {METRIC_EVERY_SCRAPE_HAS}")
                with self._lock:
                    self._scrapes += 1
            except RpcError as exc:
                print(f"observers: {exc}", file=sys.stderr)
                with self._lock:
                    self._scrape_failures += 1
            # A scrape that came late does not make the next ones come faster.
            due = max(due + SCRAPE_PERIOD_S, time.monotonic())
        scraper.close()

    def finish(self) -> ObserverCounts:
        self.stop.set()
        for thread in self._scrapers:
            thread.join()
        with self._lock:
            return ObserverCounts(
                sum(self._feed_messages), min(self._feed_events), tuple(self._feed_ends),
                self._scrapes, self._scrape_failures, time.monotonic() - self._started,
                time.process_time() - self._cpu_started,
            )


class ObserverProcess:
    """:class:`Observers` in a process of their own, as a real subscriber and scraper are.

    In the bench's process their decoding would hold the interpreter lock against the load
    clients and the inclusion watcher, and that delay would be counted as the node's cost.
    """

    def __init__(self, urls: list[str]) -> None:
        context = multiprocessing.get_context("spawn")
        self._pipe, child_end = context.Pipe()
        self._process = context.Process(target=_observe, args=(urls, child_end), daemon=True)

    def start(self) -> None:
        self._process.start()
        if not self._pipe.poll(60):
            self._process.kill()
            raise RuntimeError("the observers did not subscribe within 60 s")
        answer = self._pipe.recv()
        if isinstance(answer, str):
            raise RuntimeError(f"the observers could not start: {answer}")

    def finish(self) -> ObserverCounts:
        self._pipe.send("finish")
        counts = self._pipe.recv()
        self._process.join(30)
        return counts


def _observe(urls: list[str], pipe: "multiprocessing.connection.Connection") -> None:
    observers = Observers(urls)
    try:
        observers.start()
    except RpcError as exc:
        pipe.send(str(exc))
        return
    pipe.send(True)
    pipe.recv()
    pipe.send(observers.finish())


@dataclass(frozen=True)
class LoadFigures:
    submitted: dict[str, float]
    events_per_s: float
    p50: float
    p99: float
    observed: ObserverCounts | None
    load_average: float
    """The machine's one-minute load average as the phase ended: what else ran beside it."""


def start_testnet(workdir: Path, started: int) -> list[BenchNode]:
    """A fresh testnet of NODES in ``workdir``, the first ``started`` of them running in a full mesh."""
    workdir.mkdir(parents=True, exist_ok=True)
    _, scaffolded = scaffold_network(workdir / "net", nodes=NODES, authorities=1, block_period_ms=BLOCK_PERIOD_MS, replicate="none")
    nodes = [BenchNode(s.config_path, workdir, f"node{s.index}") for s in scaffolded]
    for node in nodes[:started]:
        node.start()
    urls = [node.url for node in nodes[:started]]
    wait_for(lambda: all(len(get(url, "/v1/status")["peers"]) >= started - 1 for url in urls), 60, "a full mesh")
    return nodes


def load_phase(urls: list[str], events: list[tuple[str, bytes]], rate: float, observe: bool) -> LoadFigures:
    """(a) and (b): offer ``events`` at ``rate`` and time their inclusion on every node."""
    watcher = InclusionWatcher(urls)
    watcher.start()
    observers = ObserverProcess(urls) if observe else None
    if observers:
        observers.start()
    print(f"offering {len(events)} events at {rate:.0f}/s{' with observers' if observe else ''}…", file=sys.stderr)
    started = time.monotonic()
    submitted = load(urls, events, rate)
    wait_for(lambda: all(watcher.on_all(e) is not None for e in submitted), 600, "every event on every node")
    watcher.stop.set()
    observed = observers.finish() if observers else None
    included_at = {event_id: watcher.on_all(event_id) for event_id in submitted}
    finished = max(included_at.values())  # type: ignore[type-var]
    latencies = sorted(included_at[e] - submitted[e] for e in submitted)  # type: ignore[operator]
    return LoadFigures(
        submitted,
        len(submitted) / (finished - started),  # type: ignore[operator]
        statistics.median(latencies),
        latencies[int(len(latencies) * 0.99) - 1],
        observed,
        os.getloadavg()[0],
    )


def stop_all(nodes: list[BenchNode]) -> None:
    for node in nodes:
        node.stop()


def _runs(figures: list[float]) -> str:
    return ", ".join(f"{figure:.0f}" for figure in figures)


def _inclusion(figures: LoadFigures, period_s: float) -> str:
    p50, p99 = figures.p50, figures.p99
    return f"p50 {p50:.2f} s, p99 {p99:.2f} s ({p50 / period_s:.2f} / {p99 / period_s:.2f} block periods)"


def _observers_row(counts: ObserverCounts, included: int) -> str:
    row = (
        f"{counts.feed_messages} feed messages on {LOADED_NODES} subscribers (fewest events on one feed: "
        f"{counts.feed_events_fewest} of {included}), {counts.scrapes} /metrics scrapes in {counts.seconds:.0f} s "
        f"({counts.scrape_failures} failed); the observers' process used {counts.cpu_seconds:.1f} s of CPU"
    )
    return row + (f"; feeds ended early: {'; '.join(counts.feed_ends)}" if counts.feed_ends else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=1200, help="events per second offered in total")
    parser.add_argument("--events", type=int, default=50_000, help="events in the load (and so in the chain)")
    parser.add_argument("--content-mb", type=int, default=100)
    parser.add_argument("--transfer-runs", type=int, default=3, help="transfers and bare streams, taken in turns; medians reported")
    parser.add_argument("--dir", type=Path)
    watching = parser.add_mutually_exclusive_group()
    watching.add_argument("--observers", action="store_true", help="a feed subscriber per node and a /metrics scrape a second during the load")
    watching.add_argument(
        "--compare-observers", action="store_true",
        help="only the observers' cost: load phases without and with them, alternating on one testnet, and the ratios",
    )
    parser.add_argument("--rounds", type=int, default=3, help="--compare-observers: rounds of one phase without and one with")
    parser.add_argument("--phase-events", type=int, default=20_000, help="--compare-observers: events offered in each phase")
    args = parser.parse_args()
    if args.dir:
        args.dir.mkdir(parents=True, exist_ok=True)
    if args.compare_observers:
        with tempfile.TemporaryDirectory(dir=args.dir) as work:
            compare_observers(Path(work), args.rate, args.phase_events, args.rounds)
        return
    print(f"signing {args.events} events…", file=sys.stderr)
    events = sign_events(args.events)
    with tempfile.TemporaryDirectory(dir=args.dir) as work:
        workdir = Path(work)
        nodes = start_testnet(workdir, LOADED_NODES)
        try:
            urls = [node.url for node in nodes[:LOADED_NODES]]
            plain = load_phase(urls, events, args.rate, args.observers)
            submitted = plain.submitted

            # (c) content transfer against one bare stream between the same two nodes, taken
            # in turns: a single measurement of either varied by a third between runs.
            source, sink = nodes[1], nodes[2]
            source_peer = get(source.url, "/v1/status")["node_id"]
            sink_peer = get(sink.url, "/v1/status")["node_id"]
            transfers, streams = [], []
            for _ in range(args.transfer_runs):
                content = os.urandom(args.content_mb * 1_000_000)  # new bytes: the sink has none of them
                cid = post(source.url, "/v1/content", content, "application/octet-stream")["sealed_cid"]  # nodes move content sealed
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
            stop_all(nodes)

    period_s = BLOCK_PERIOD_MS / 1000
    table = [
        ("testnet", f"{LOADED_NODES} nodes on 127.0.0.1, 1 authority, block period 1 s, 2 cores shared with the load"),
        ("events included on all nodes", f"{plain.events_per_s:.0f}/s ({len(submitted)} events offered at {args.rate:.0f}/s)"),
        ("submission -> on all nodes", _inclusion(plain, period_s)),
    ]
    if plain.observed:
        table.append(("observers during the load", _observers_row(plain.observed, len(submitted))))
    table += [
        ("content transfer", f"{transfer_mb_s:.1f} MB/s for {args.content_mb} MB (median; runs: {_runs(transfers)})"),
        ("one bare libp2p stream", f"{stream_mb_s:.1f} MB/s (same two nodes, in turns; runs: {_runs(streams)})"),
        ("transfer / stream", f"{transfer_mb_s / stream_mb_s:.2f}"),
        ("fresh node catch-up", f"{catchup_events_per_s:.0f} events/s ({chain_events} events, {target} blocks, {catchup_s:.1f} s)"),
    ]
    result = {
        "events_per_s": round(plain.events_per_s, 1),
        "inclusion_p50_s": round(plain.p50, 3),
        "inclusion_p99_s": round(plain.p99, 3),
        "block_period_s": period_s,
        "transfer_mb_s": round(transfer_mb_s, 1),
        "stream_mb_s": round(stream_mb_s, 1),
        "transfer_ratio": round(transfer_mb_s / stream_mb_s, 3),
        "catchup_events_per_s": round(catchup_events_per_s, 1),
    }
    if plain.observed:
        result.update(_observer_keys(plain.observed, ""))
    emit(table, result)


def compare_observers(workdir: Path, rate: float, phase_events: int, rounds: int) -> None:
    """Load phases without and with observers, alternating on one testnet; the ratio of each round and their spread."""
    nodes = start_testnet(workdir, LOADED_NODES)
    urls = [node.url for node in nodes[:LOADED_NODES]]
    phases: dict[bool, list[LoadFigures]] = {False: [], True: []}
    try:
        # The first load on a fresh testnet ran at a fraction of the later ones' rate in
        # every run (87-421 events/s against 500-900): measured, it would weigh on
        # whichever side went first.
        warmup = load_phase(urls, sign_events(phase_events // WARMUP_SHARE), rate, False)
        for round_index in range(rounds):
            for observe in (False, True) if round_index % 2 == 0 else (True, False):
                # Signed just before the phase: each phase's events are fresh, and signing is outside its timing.
                events = sign_events(phase_events)
                phases[observe].append(load_phase(urls, events, rate, observe))
    except BaseException:
        print_log_tails(nodes)
        raise
    finally:
        stop_all(nodes)
    without, observed = phases[False], phases[True]
    ratios = [seen.events_per_s / unseen.events_per_s for unseen, seen in zip(without, observed)]
    ratio = statistics.median(ratios)
    spread = statistics.stdev(ratios) if len(ratios) > 1 else 0.0
    period_s = BLOCK_PERIOD_MS / 1000
    table = [
        ("testnet", f"{LOADED_NODES} nodes on 127.0.0.1, 1 authority, block period 1 s, 2 cores shared with the load"),
        ("phases", f"{rounds} rounds of {phase_events} events offered at {rate:.0f}/s without observers and with them, the order turned each round"),
        ("warm-up, not counted", f"{len(warmup.submitted)} events: {warmup.events_per_s:.0f}/s; load average {warmup.load_average:.1f}"),
    ]
    for index, (unseen, seen) in enumerate(zip(without, observed), 1):
        table += [
            (f"round {index} without observers", f"{unseen.events_per_s:.0f}/s; {_inclusion(unseen, period_s)}; load average {unseen.load_average:.1f}"),
            (f"round {index} with observers", f"{seen.events_per_s:.0f}/s; {_inclusion(seen, period_s)}; load average {seen.load_average:.1f}"),
            (f"round {index} observers", _observers_row(seen.observed, len(seen.submitted))),  # type: ignore[arg-type]
            (f"round {index} with / without", f"{ratios[index - 1]:.3f}"),
        ]
    table.append((
        "events/s with / without observers",
        f"median {ratio:.3f} (rounds {min(ratios):.3f}-{max(ratios):.3f}, stdev {spread:.3f}; at most 5% cost: at least 0.95)",
    ))
    result: dict[str, object] = {
        "warmup_events_per_s": round(warmup.events_per_s, 1),
        "observer_cost_ratio": round(ratio, 3),
        "observer_cost_ratio_min": round(min(ratios), 3),
        "observer_cost_ratio_max": round(max(ratios), 3),
        "observer_cost_ratio_stdev": round(spread, 3),
        "observer_cost_ratios": [round(value, 3) for value in ratios],
        "events_per_s_without": [round(figures.events_per_s, 1) for figures in without],
        "events_per_s_observed": [round(figures.events_per_s, 1) for figures in observed],
        "inclusion_p50_s_without": [round(figures.p50, 3) for figures in without],
        "inclusion_p50_s_observed": [round(figures.p50, 3) for figures in observed],
        "inclusion_p99_s_without": [round(figures.p99, 3) for figures in without],
        "inclusion_p99_s_observed": [round(figures.p99, 3) for figures in observed],
        "load_average_without": [round(figures.load_average, 1) for figures in without],
        "load_average_observed": [round(figures.load_average, 1) for figures in observed],
        "observer_cpu_s": [round(figures.observed.cpu_seconds, 1) for figures in observed],  # type: ignore[union-attr]
        "metrics_scrape_failures_observed": sum(figures.observed.scrape_failures for figures in observed),  # type: ignore[union-attr]
        "feeds_ended_early_observed": sum(len(figures.observed.feed_ends) for figures in observed),  # type: ignore[union-attr]
    }
    emit(table, result)


def _observer_keys(counts: ObserverCounts, suffix: str) -> dict[str, int]:
    return {
        f"feed_messages{suffix}": counts.feed_messages,
        f"metrics_scrapes{suffix}": counts.scrapes,
        f"metrics_scrape_failures{suffix}": counts.scrape_failures,
        f"feeds_ended_early{suffix}": len(counts.feed_ends),
    }


if __name__ == "__main__":
    main()
