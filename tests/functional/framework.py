"""A harness for tests that run real node processes (after bitcoin's functional test framework).

``NodeProcess`` is one ``audiera-node`` process plus a small RPC client. Nodes listen on
127.0.0.1 with ports the OS picks (``--rpc-port 0``; the node writes its URL to a ready
file), each has its own data directory, and every wait is ``wait_until`` a condition
holds, with a deadline and a message that says what did not happen.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

from node.client import NodeClient, RpcError
from node.client import launcher
from node.client.launcher import LaunchError

TIMEOUT_FACTOR = float(os.environ.get("AUDIERA_TEST_TIMEOUT_FACTOR", "1"))
REPO = Path(__file__).resolve().parents[2]


def wait_until(predicate: Callable[[], Any], *, timeout: float = 30, what: str = "condition", poll: float = 0.05) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` seconds, naming ``what``."""
    deadline = time.monotonic() + timeout * TIMEOUT_FACTOR
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except Exception as exc:  # the node may be starting or briefly busy
            last_error = exc
        else:
            if value:
                return value
        time.sleep(poll)
    raise AssertionError(f"timed out after {timeout * TIMEOUT_FACTOR:.0f}s waiting for {what} (last error: {last_error})")


class NodeProcess:
    """One node process (started by the shared launcher) and an RPC client for it."""

    def __init__(
        self, name: str, workdir: Path, *, config: Path | None = None, data_dir: Path | None = None, extra_args: tuple[str, ...] = ()
    ) -> None:
        self.name = name
        self.workdir = workdir
        self.config = config
        self.data_dir = data_dir
        self.log_path = workdir / f"{name}.log"
        self.ready_file = workdir / f"{name}.ready"
        self._launched = launcher.NodeProcess(
            name, self.ready_file, self.log_path, config=config, data_dir=data_dir, rpc_port=0, cwd=REPO, extra_args=extra_args
        )
        self.url = ""

    @property
    def process(self) -> subprocess.Popen | None:
        return self._launched.process

    def command(self) -> list[str]:
        return self._launched.command

    def start(self, *, timeout: float = 30) -> "NodeProcess":
        assert not self.running, f"{self.name} is already running"
        self._launched.start()
        try:
            self.url = self._launched.wait_ready(timeout * TIMEOUT_FACTOR, serving=self._answers)
        except LaunchError as exc:
            self.kill()
            raise AssertionError(exc.message) from None
        return self

    def _answers(self, url: str) -> bool:
        self.url = url
        return self.status() is not None

    @property
    def running(self) -> bool:
        return self._launched.running

    def stop(self, *, timeout: float = 20) -> int:
        """SIGTERM, and the exit code once it stopped (SIGKILL if it does not within ``timeout``)."""
        try:
            return self._launched.stop(timeout * TIMEOUT_FACTOR)
        except LaunchError as exc:
            raise AssertionError(exc.message) from None

    def kill(self) -> None:
        self._launched.kill()

    def log_tail(self, lines: int = 40) -> str:
        return launcher.log_tail(self.log_path, lines)

    # --- RPC --------------------------------------------------------------------------

    @property
    def rpc(self) -> NodeClient:
        """A client for this node's RPC (its URL is known once it started)."""
        return NodeClient(self.url)

    def request(
        self, method: str, path: str, *, body: bytes | None = None, content_type: str | None = None, timeout: float = 30
    ) -> Any:
        """Any request; a refusal raises RpcError with the node's status, code and message."""
        return self.rpc.request(method, path, body=body, content_type=content_type, timeout=timeout)

    def get(self, path: str) -> Any:
        return self.rpc.get(path)

    def status(self) -> dict[str, Any] | None:
        try:
            return self.get("/v1/status")
        except RpcError:
            return None

    def submit(self, raw_event: bytes) -> dict[str, Any]:
        return self.rpc.post_event(raw_event)

    def head_hash(self) -> str:
        return self.get("/v1/status")["head_hash"]

    def set_peering(self, enabled: bool, only: list["NodeProcess"] | None = None) -> None:
        """The operator's peering switch: cut off, reconnect, or keep only the ``only`` nodes as peers."""
        body: dict[str, Any] = {"enabled": enabled}
        if only is not None:
            body["only"] = [peer.get("/v1/status")["node_id"] for peer in only]
        self.rpc.post_json("/v1/admin/peering", body)

    def wait_for_height(self, height: int, *, timeout: float = 30) -> None:
        wait_until(lambda: self.get("/v1/status")["head_height"] >= height, timeout=timeout, what=f"{self.name} at height {height}")

    def wait_final(self, event_id: str, *, timeout: float = 30) -> dict[str, Any]:
        def final() -> dict[str, Any] | None:
            status = self.get(f"/v1/events/{event_id}")
            if status["status"] == "rejected":
                raise AssertionError(f"event {event_id} was rejected: {status['reason']}")
            return status if status["status"] == "final" else None

        return wait_until(final, timeout=timeout, what=f"event {event_id} to be final on {self.name}")


def wait_for_peers(node: NodeProcess, count: int, *, timeout: float = 30) -> None:
    wait_until(lambda: len(node.get("/v1/status")["peers"]) >= count, timeout=timeout, what=f"{node.name} to have {count} peers")


def sync_heads(nodes: list[NodeProcess], *, min_height: int = 0, timeout: float = 60) -> int:
    """Wait until every node holds the same block at a common height of at least ``min_height``."""

    def agreed() -> int | None:
        heights = [node.get("/v1/status")["head_height"] for node in nodes]
        common = min(heights)
        if common < min_height:
            return None
        hashes = {node.get(f"/v1/blocks/{common}")["hash"] if common else "genesis" for node in nodes}
        return common if len(hashes) == 1 else None

    try:
        return wait_until(agreed, timeout=timeout, what=f"{len(nodes)} nodes to agree at height >= {min_height}")
    except AssertionError:
        tips = {node.name: node.status() for node in nodes}
        raise AssertionError(f"nodes did not agree; their status: {tips}") from None


def event_status(node: NodeProcess, event_id: str) -> str:
    try:
        return node.get(f"/v1/events/{event_id}")["status"]
    except RpcError:
        return "unknown"


def wait_final_everywhere(nodes: list[NodeProcess], event_id: str, timeout: float = 30) -> None:
    wait_until(
        lambda: all(event_status(node, event_id) == "final" for node in nodes),
        timeout=timeout,
        what=f"event {event_id[:12]} final on every node",
    )


def verify_store(config: Path) -> str:
    """Run ``audiera-node verify`` on a stopped node's store; its report, after asserting it is consistent."""
    result = subprocess.run(
        [sys.executable, "-m", "node.main", "verify", "--config", str(config)], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout
