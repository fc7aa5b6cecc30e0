"""Reading and writing genesis files (TOML), and creating a dev network's genesis."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

from protocol.errors import ProtocolError
from protocol.genesis import Genesis, parse_genesis

from node.config import ConfigError


def load_genesis(path: Path) -> Genesis:
    try:
        with open(path, "rb") as file:
            raw = tomllib.load(file)
    except FileNotFoundError:
        raise ConfigError(f"genesis file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"genesis file {path} is not valid TOML: {exc}") from None
    try:
        return parse_genesis(raw)
    except ProtocolError as exc:
        raise ConfigError(f"genesis file {path}: {exc.message}") from None


def render_genesis(genesis: Genesis) -> str:
    # JSON string and list syntax is valid TOML for the simple values a genesis holds.
    lines = [
        "# Audiera genesis: its hash names the network. Every node of a network must use this exact file.",
        f"network_id = {json.dumps(genesis.network_id)}",
        f"timestamp = {genesis.timestamp}  # ms since the Unix epoch",
        f"block_period_ms = {genesis.block_period_ms}",
        "authorities = [",
        *(f"  {json.dumps(did)}," for did in genesis.authorities),
        "]",
        "",
        "[allocations]",
        *(f"{json.dumps(did)} = {amount}" for did, amount in genesis.allocations),
        "",
    ]
    return "\n".join(lines)


def write_genesis(path: Path, genesis: Genesis) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_genesis(genesis))
