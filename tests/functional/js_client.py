"""Running the JavaScript client in clients/js/ from a test: installed with ``npm ci`` on first use."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from .framework import REPO

JS_CLIENT = REPO / "clients" / "js"
CLI = JS_CLIENT / "bin" / "audiera-js.mjs"


def require_node() -> None:
    """Skip the calling test when Node.js or npm is not installed; install the package's dependencies once."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("Node.js and npm are not installed: the JavaScript client cannot run")
    if not (JS_CLIENT / "node_modules" / ".package-lock.json").exists():
        result = subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund"], cwd=JS_CLIENT, capture_output=True, text=True, timeout=300
        )
        assert result.returncode == 0, f"npm ci failed in {JS_CLIENT}:\n{result.stdout}{result.stderr}"


def run_js(script: Path, *args: str, timeout: float = 60) -> Any:
    """Run a Node.js script; its one line of JSON output, after asserting it succeeded."""
    result = subprocess.run(["node", str(script), *args], cwd=JS_CLIENT, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{script.name} {' '.join(args)} failed:\n{result.stdout}{result.stderr}"
    return json.loads(result.stdout)


def audiera_js(*args: str) -> Any:
    return run_js(CLI, *args)


def audiera_js_refused(*args: str) -> str:
    """Run the client expecting it to fail; what it printed on stderr."""
    result = subprocess.run(["node", str(CLI), *args], cwd=JS_CLIENT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1, f"expected a failure, got:\n{result.stdout}{result.stderr}"
    return result.stderr
