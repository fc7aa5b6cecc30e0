"""Starting and stopping real node processes for benchmarks (no pytest here)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


class BenchNode:
    def __init__(self, config: Path, workdir: Path, name: str = "node0") -> None:
        self.config, self.workdir, self.name = config, workdir, name
        self.ready = workdir / f"{name}.ready"
        self.log = workdir / f"{name}.log"
        self.process: subprocess.Popen | None = None
        self.url = ""

    def start(self, timeout: float = 30) -> "BenchNode":
        self.ready.unlink(missing_ok=True)
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "node.main", "run", "--config", str(self.config), "--rpc-port", "0", "--ready-file", str(self.ready)],
                cwd=REPO,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited: see {self.log}")
            if self.ready.exists() and self.ready.read_text().strip():
                self.url = self.ready.read_text().strip()
                return self
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} did not start within {timeout}s: see {self.log}")

    def get(self, path: str) -> dict:
        with urllib.request.urlopen(self.url + path, timeout=30) as response:
            return json.loads(response.read())

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


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
