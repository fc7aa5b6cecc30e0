"""The node launcher: it fails fast with the log's tail when a node cannot start, and stops what it started."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from node.client.launcher import LaunchError, NodeProcess, log_tail, node_command, stop_pid

REPO = Path(__file__).resolve().parents[2]


def test_node_command_runs_this_interpreter_with_only_the_flags_given(tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    assert node_command(ready) == [sys.executable, "-m", "node.main", "run", "--ready-file", str(ready)]
    command = node_command(ready, config=tmp_path / "c.toml", data_dir=tmp_path / "d", rpc_port=0)
    assert command[-6:] == ["--rpc-port", "0", "--config", str(tmp_path / "c.toml"), "--data-dir", str(tmp_path / "d")]


def test_invalid_config_fails_fast_with_the_log_tail(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[rpc]\nport = 'not a number'\n")
    node = NodeProcess("node0", tmp_path / "ready", tmp_path / "node0.log", config=config, cwd=REPO)
    node.start()
    started = time.monotonic()
    with pytest.raises(LaunchError) as caught:
        node.wait_ready(60)
    assert time.monotonic() - started < 30, "it waited for the deadline instead of noticing the exit"
    assert "node0 exited with" in caught.value.message
    assert log_tail(tmp_path / "node0.log") in caught.value.message and "data_dir is required" in caught.value.message
    assert not node.running


def test_stop_pid_terminates_a_process_known_by_its_pid() -> None:
    process = subprocess.Popen([sys.executable, "-c", "import signal; signal.pause()"])
    try:
        started = time.monotonic()
        stop_pid(process.pid, 10, still_ours=lambda: process.poll() is None)
        # stop_pid reaps its child itself, so Popen no longer learns the signal: only that it is gone.
        assert process.poll() is not None and time.monotonic() - started < 5
    finally:
        process.kill()
        process.wait()


def test_stop_pid_kills_a_process_that_ignores_sigterm() -> None:
    ignoring = "import signal; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); signal.pause()"
    process = subprocess.Popen([sys.executable, "-c", ignoring], stdout=subprocess.PIPE)
    try:
        assert process.stdout is not None and process.stdout.readline() == b"ready\n"
        stop_pid(process.pid, 0.3, still_ours=lambda: process.poll() is None)
        assert process.poll() is not None
    finally:
        process.kill()
        process.wait()
