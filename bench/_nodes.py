"""Starting and stopping real node processes for benchmarks (no pytest here)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from node.client import NodeClient, RpcError  # noqa: E402
from node.client import launcher  # noqa: E402
from node.p2p.messages import encode_event_batch  # noqa: E402
from protocol.events import ParticipantRegister, sign_event  # noqa: E402
from protocol.keys import SigningKey  # noqa: E402

BATCH = 50
"""Events per POST /v1/events/batch in the load."""
STOP_TIMEOUT_S = 30


class BenchNode:
    """One node process for a benchmark (started by the shared launcher) and its RPC."""

    def __init__(self, config: Path, workdir: Path, name: str = "node0") -> None:
        self.config, self.workdir, self.name = config, workdir, name
        self.ready = workdir / f"{name}.ready"
        self.log = workdir / f"{name}.log"
        self._launched = launcher.NodeProcess(name, self.ready, self.log, config=config, rpc_port=0, cwd=REPO)
        self.url = ""

    @property
    def process(self) -> subprocess.Popen | None:
        return self._launched.process

    def start(self, timeout: float = 30) -> "BenchNode":
        self._launched.start()
        self.url = self._launched.wait_ready(timeout)
        return self

    def get(self, path: str) -> dict:
        return get(self.url, path)

    def stop(self) -> None:
        try:
            self._launched.stop(STOP_TIMEOUT_S)
        except launcher.LaunchError as exc:
            print(f"bench: {exc.message}", file=sys.stderr)


def emit(table: list[tuple[str, str]], result: dict) -> None:
    """A table for people, then one JSON object for scripts as the last line."""
    width = max(len(name) for name, _ in table)
    for name, value in table:
        print(f"{name:<{width}}  {value}")
    sys.stdout.flush()
    print(json.dumps(result))


def data_dir_of(config: Path) -> Path:
    return config.parent / "data"


def cpu_count() -> int:
    return os.cpu_count() or 1


def post(url: str, path: str, body: bytes, content_type: str, timeout: float = 600) -> Any:
    return NodeClient(url, timeout=timeout).request("POST", path, body=body, content_type=content_type)


def get(url: str, path: str) -> Any:
    return NodeClient(url, timeout=60).get(path)


class MetricsScraper(NodeClient):
    """``GET /metrics`` on one kept connection, as a Prometheus server scrapes: the exposition text.

    The shared client answers JSON only; the metrics are text, so this reads the body itself.
    """

    def __init__(self, url: str, timeout: float = 10) -> None:
        super().__init__(url, timeout=timeout, keep_alive=True)

    def scrape(self) -> str:
        with self._exchange("GET", "/metrics", None, None, None, None) as response:
            data = self._read_all(response, "GET", "/metrics", None)
        if response.status != 200:
            self._decode(response.status, data, "GET", "/metrics")  # raises the node's RpcError if it sent one
            raise RpcError(response.status, "not_rpc", f"the node at {self.url} answered GET /metrics with HTTP {response.status}")
        return data.decode("utf-8", "replace")


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise RuntimeError(f"timed out waiting for {what}")


def print_log_tails(nodes: list[BenchNode], lines: int = 15) -> None:
    for node in nodes:
        text = node.log.read_text(errors="replace") if node.log.exists() else "(no log)"
        print(f"--- {node.name} log tail:\n" + "\n".join(text.splitlines()[-lines:]), file=sys.stderr)


def sign_events(count: int) -> list[tuple[str, bytes]]:
    """``count`` participant.register events, each by a fresh key: (id hex, signed bytes)."""
    events = []
    for index in range(count):
        event = sign_event(SigningKey(os.urandom(32)), ParticipantRegister(f"listener {index}", ("consumer",)), 1, int(time.time() * 1000))
        events.append((event.id.hex(), event.raw))
    return events


TEMPORARY_REJECTIONS = {"mempool_full"}
"""Per-event error codes in a batch answer that mean "try again later"."""


def submit_batch(url: str, batch: list[tuple[str, bytes]], attempts: int = 8) -> dict[str, str | None]:
    """POST ``batch`` to /v1/events/batch: for each event id, None if the node took it, else the error code.

    A node too busy to answer (connection refused or reset, timeout, 5xx) and events it
    turned away for now (a full mempool) are tried again with backoff. An event the node
    already holds or has included counts as taken, so a retry after a lost answer is safe.
    """
    outcome: dict[str, str | None] = {}
    pending = batch
    for attempt in range(attempts):
        last = attempt == attempts - 1
        try:
            answer = post(url, "/v1/events/batch", encode_event_batch([raw for _, raw in pending]), "application/msgpack")
        except RpcError as exc:
            # No answer at all, or a 5xx: the node is too busy now. A 4xx would only repeat.
            if (exc.status is not None and exc.status < 500) or last:
                raise
            print(f"load: {url}: {exc}, retrying", file=sys.stderr)
        else:
            retry = []
            for (event_id, raw), result in zip(pending, answer["results"]):
                code = None if "id" in result else result["error"]["code"]
                if code in TEMPORARY_REJECTIONS and not last:
                    retry.append((event_id, raw))
                else:
                    outcome[event_id] = None if code == "already_included" else code
            if not retry:
                return outcome
            pending = retry
        time.sleep(min(0.2 * 2**attempt, 5))
    return outcome


def load(
    urls: list[str],
    events: list[tuple[str, bytes]],
    rate: float,
    *,
    clients: int | None = None,
    batch: int = BATCH,
    stop: threading.Event | None = None,
) -> dict[str, float]:
    """Submit ``events`` at ``rate`` per second in total, in batches, from ``clients`` threads.

    Client ``c`` posts to node ``c % len(urls)`` (one client per node unless told
    otherwise); batch ``b`` goes to client ``b % clients``, due at ``b * batch / rate``
    seconds after the start. Returns when each accepted event was first sent.
    """
    clients = clients or len(urls)
    submitted: dict[str, float] = {}
    rejected: dict[str, int] = {}
    failures: list[BaseException] = []
    batches = [events[i:i + batch] for i in range(0, len(events), batch)]
    lock = threading.Lock()
    stop = stop or threading.Event()
    start = time.monotonic()

    def worker(client: int) -> None:
        url = urls[client % len(urls)]
        try:
            for batch_index in range(client, len(batches), clients):
                due = start + batch_index * batch / rate
                if stop.wait(max(0.0, due - time.monotonic())):
                    return
                sent = time.monotonic()
                outcome = submit_batch(url, batches[batch_index])
                with lock:
                    for event_id, code in outcome.items():
                        if code is None:
                            submitted[event_id] = sent
                        else:
                            rejected[code] = rejected.get(code, 0) + 1
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            failures.append(exc)
            stop.set()

    threads = [threading.Thread(target=worker, args=(client,), daemon=True) for client in range(clients)]
    for thread in threads:
        thread.start()
    try:
        for thread in threads:
            thread.join()
    finally:
        stop.set()
    if failures:
        raise RuntimeError(f"a load client failed: {failures[0]!r}") from failures[0]
    if rejected:
        print(f"load: {sum(rejected.values())} events rejected: {rejected}", file=sys.stderr)
    return submitted
