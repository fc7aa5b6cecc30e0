"""The README's story, as a user types it: key, register, upload, show, restart, still there."""

from __future__ import annotations

import json
import re
import os
import subprocess
import sys

import pytest

from protocol.unixfs import root_cid_of_file

from .framework import REPO
from .helpers import make_wav

pytestmark = pytest.mark.slow


def run_cli(node, home, *args: str, expect_ok: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "AUDIERA_HOME": str(home), "AUDIERA_PASSWORD": "correct horse battery staple", "AUDIERA_NODE": node.url}
    result = subprocess.run([sys.executable, "-m", "node.cli.main", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    if expect_ok:
        assert result.returncode == 0, f"audiera {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result


def cli_json(node, home, *args: str) -> dict:
    return json.loads(run_cli(node, home, "--json", *args).stdout)


def test_user_story_through_the_cli(start_local_node, tmp_path):
    node = start_local_node()
    home = tmp_path / "home"
    wav = tmp_path / "first-light.wav"
    wav.write_bytes(make_wav(3.0, seed=7))

    key = cli_json(node, home, "key", "new")
    did = key["did"]
    assert oct((home / "keys" / "default.json").stat().st_mode & 0o777) == "0o600"

    registered = cli_json(node, home, "register", "--name", "Ada Tone", "--roles", "creator,contributor")
    assert registered["event"]["status"] == "final"

    assert run_cli(node, home, "cid", str(wav)).stdout.strip() == root_cid_of_file(wav)
    uploaded = cli_json(
        node, home, "upload", str(wav), "--title", "First light", "--type", "track", "--genre", "ambient",
        "--tags", "calm,piano", "--allow", "data_mining", "--price", "ai_training=5",
    )
    cid = uploaded["asset"]
    assert cid == root_cid_of_file(wav)

    shown = cli_json(node, home, "asset", "show", cid)
    assert shown["asset"]["title"] == "First light"
    assert shown["asset"]["media"]["duration_ms"] == 3000
    assert shown["asset"]["terms"]["purposes"]["ai_training"] == {"mode": "purchase", "price": 5}
    history = shown["history"]["items"]
    assert [item["event"]["kind"] for item in history] == ["asset.register"] and history[0]["final"]

    human = run_cli(node, home, "asset", "show", cid).stdout
    assert "First light" in human and "asset.register" in human

    event_id = history[0]["event"]["id"]
    assert re.search(r"proof:\s+valid", run_cli(node, home, "event", "show", event_id).stdout)
    account = cli_json(node, home, "account", "show")
    assert account["account"]["did"] == did and account["account"]["name"] == "Ada Tone"
    block = cli_json(node, home, "block", "show", str(history[0]["height"]))
    assert event_id in [event["id"] for event in block["events"]]

    # A second registration of the same content is refused with one clear line.
    again = run_cli(node, home, "upload", str(wav), "--title", "Copy", expect_ok=False)
    assert again.returncode == 1 and again.stderr.startswith("audiera: ") and "already registered" in again.stderr

    # Restart: everything is still there.
    assert node.stop() == 0
    node.start()
    assert cli_json(node, home, "asset", "show", cid)["history"]["items"] == history
    assert cli_json(node, home, "account", "show")["account"]["name"] == "Ada Tone"
