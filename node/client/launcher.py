"""Starting and stopping ``audiera-node run`` processes: for tests, benchmarks and the local testnet.

A node started with ``--ready-file`` writes its RPC URL there once it serves, so a
launcher waits for that file (with a deadline) instead of polling a port, and stops at
once, with the end of the node's log, if the process exits first. Stopping is SIGTERM
(the node shuts down cleanly), then SIGKILL if it has not exited within the timeout.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

READY_POLL_S = 0.05
"""How often the ready file is looked for: a node starts in about a second."""
STOP_POLL_S = 0.05
KILL_WAIT_S = 5.0
"""How long a SIGKILLed process may take to be gone."""


class LaunchError(Exception):
    """A node process that did not start, or did not stop when asked; the message ends with its log's tail."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def node_command(
    ready_file: Path,
    *,
    config: Path | None = None,
    data_dir: Path | None = None,
    rpc_port: int | None = None,
    extra_args: tuple[str, ...] = (),
) -> list[str]:
    """The command line that runs a node with this interpreter; flags left out keep the config's values.

    ``extra_args`` are more ``run`` flags, e.g. ``("--join", URL, "--genesis-hash", HEX)``.
    """
    command = [sys.executable, "-m", "node.main", "run", "--ready-file", str(ready_file), *extra_args]
    if rpc_port is not None:
        command += ["--rpc-port", str(rpc_port)]
    if config is not None:
        command += ["--config", str(config)]
    if data_dir is not None:
        command += ["--data-dir", str(data_dir)]
    return command


def log_tail(log_path: Path, lines: int = 40) -> str:
    """The last ``lines`` lines of a node's log, or ``(no log)``."""
    try:
        return "\n".join(log_path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


class NodeProcess:
    """One node process: started with :meth:`start`, waited for with :meth:`wait_ready`, ended with :meth:`stop`.

    Its output (stdout and stderr) is appended to ``log_path``. A ``detached`` node runs in
    a session of its own, so it outlives the command that started it and ignores its Ctrl-C.
    """

    def __init__(
        self,
        name: str,
        ready_file: Path,
        log_path: Path,
        *,
        config: Path | None = None,
        data_dir: Path | None = None,
        rpc_port: int | None = None,
        cwd: Path | None = None,
        detached: bool = False,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        self.name = name
        """How messages name this node (``node0``)."""
        self.ready_file = ready_file
        self.log_path = log_path
        self.command = node_command(ready_file, config=config, data_dir=data_dir, rpc_port=rpc_port, extra_args=extra_args)
        """The command line it runs."""
        self._cwd = cwd
        self._detached = detached
        self.process: subprocess.Popen[bytes] | None = None
        """The running (or exited) process, None before the first start."""

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        """Spawn the node (a stale ready file is removed first); :meth:`wait_ready` waits for it to serve."""
        if self.running:
            raise LaunchError(f"{self.name} is already running (pid {self.pid})")
        self.ready_file.unlink(missing_ok=True)
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONFAULTHANDLER": "1"}
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                self.command,
                cwd=self._cwd,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                start_new_session=self._detached,
            )

    def wait_ready(self, timeout: float, *, serving: Callable[[str], bool] | None = None) -> str:
        """The node's RPC URL once its ready file holds it (and ``serving(url)`` is true, if given).

        Raises LaunchError, with the log's tail, if the process exits first or ``timeout``
        seconds pass; a node that did not come up in time is killed, not left behind.
        """
        assert self.process is not None, "start() first"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise LaunchError(
                    f"{self.name} exited with {self.process.returncode} at start; its log {self.log_path} ends:\n{log_tail(self.log_path)}"
                )
            url = self._ready_url()
            if url and (serving is None or serving(url)):
                return url
            time.sleep(READY_POLL_S)
        self.kill()
        raise LaunchError(f"{self.name} did not start within {timeout:.0f}s; its log {self.log_path} ends:\n{log_tail(self.log_path)}")

    def stop(self, timeout: float) -> int:
        """SIGTERM, and the exit code once it stopped; after ``timeout`` seconds, SIGKILL and LaunchError."""
        if self.process is None:
            return 0
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                raise LaunchError(
                    f"{self.name} did not stop within {timeout:.0f}s of SIGTERM and was killed; its log {self.log_path} ends:\n"
                    + log_tail(self.log_path)
                ) from None
        return self.process.returncode

    def kill(self) -> None:
        """SIGKILL, as a crash would (a no-op if it is not running)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def _ready_url(self) -> str:
        try:
            return self.ready_file.read_text().strip()
        except FileNotFoundError:
            return ""


def stop_pid(pid: int, timeout: float, *, still_ours: Callable[[], bool]) -> None:
    """Stop a node started by an earlier command, known only by its pid: SIGTERM, then SIGKILL after ``timeout``.

    ``still_ours`` says whether ``pid`` is still that node (a pid is reused once its
    process is gone), and is asked before every signal.
    """
    if not still_ours():
        return
    os.kill(pid, signal.SIGTERM)
    if _gone_within(pid, timeout, still_ours):
        return
    os.kill(pid, signal.SIGKILL)
    _gone_within(pid, KILL_WAIT_S, still_ours)


def _gone_within(pid: int, timeout: float, still_ours: Callable[[], bool]) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        _reap(pid)
        if not still_ours():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(STOP_POLL_S)


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass  # not our child (started by an earlier command): init reaps it
