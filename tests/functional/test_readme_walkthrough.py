"""The README's walkthroughs run as written: every ``sh`` block of its "Using it", "A local
testnet" and "Data market" sections, in order, in one shell, in a fresh HOME.

The shell is what a reader has: the node of the Quick start running (here on a free port,
named by ``AUDIERA_NODE``), the package's commands on PATH, and the recordings the text
names (``song.wav``, ``light.wav``, ``drone.wav``) in the working directory. ``text``
blocks are synopses and commands for several terminals, not scripts. Set
``AUDIERA_README`` to run another file's sections (a draft of the README, say).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .framework import REPO, TIMEOUT_FACTOR, NodeProcess
from .helpers import make_wav

pytestmark = pytest.mark.slow

SECTIONS = ("Using it", "A local testnet", "Data market")
RECORDINGS = {"song.wav": 0, "light.wav": 1, "drone.wav": 2}


def readme_path() -> Path:
    override = os.environ.get("AUDIERA_README")
    return (REPO / override) if override else REPO / "README.md"


def section(text: str, title: str) -> str:
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert match, f"{readme_path()} has no section '## {title}'"
    return match.group(1)


def shell_blocks(text: str) -> list[str]:
    return re.findall(r"^```sh\n(.*?)^```", text, re.S | re.M)


def walkthrough_script(text: str) -> str:
    parts = ["set -euo pipefail"]
    for title in SECTIONS:
        for number, block in enumerate(shell_blocks(section(text, title)), 1):
            parts.append(f"echo '### {title}, block {number}' >&2")
            parts.append(block)
    return "\n".join(parts) + "\n"


def test_the_sections_have_shell_blocks():
    text = readme_path().read_text()
    for title in SECTIONS:
        assert shell_blocks(section(text, title)), f"'## {title}' has no sh block to run"


@pytest.mark.skipif(shutil.which("jq") is None, reason="the walkthrough uses jq (apt-get install jq)")
def test_the_readme_walkthroughs_run_as_written(tmp_path):
    script = walkthrough_script(readme_path().read_text())
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    for name, seed in RECORDINGS.items():
        (work / name).write_bytes(make_wav(2.0, seed=seed))
    env = {
        key: value for key, value in os.environ.items()
        if not key.startswith("AUDIERA_") and key not in ("VIRTUAL_ENV", "PYTHONPATH")
    }
    env.update(HOME=str(home), PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}")
    dev_node = NodeProcess("dev", tmp_path, data_dir=home / ".audiera" / "dev")
    dev_node.start()
    try:
        env["AUDIERA_NODE"] = dev_node.url
        result = subprocess.run(
            ["bash", "-c", script], cwd=work, env=env, capture_output=True, text=True, timeout=900 * TIMEOUT_FACTOR
        )
    finally:
        dev_node.stop()
        subprocess.run(
            [sys.executable, "-m", "node.cli.main", "testnet", "down"], cwd=work, env=env, capture_output=True, timeout=120
        )
    tail = "\n".join(result.stderr.splitlines()[-30:])
    assert result.returncode == 0, f"the walkthrough stopped (exit {result.returncode}):\n{tail}"
    assert "refused, as it should be" in result.stdout
    assert "no license" in result.stderr
    assert (work / "light-copy.wav").read_bytes() == (work / "light.wav").read_bytes()
    running = subprocess.run(
        [sys.executable, "-m", "node.cli.main", "--json", "testnet", "status"], cwd=work, env=env, capture_output=True, text=True
    )
    assert '"running": true' not in running.stdout, "the walkthrough must stop what it started"
