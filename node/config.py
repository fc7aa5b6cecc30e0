"""Node configuration: one frozen ``Config``, loaded once from TOML (or the embedded dev default).

Paths in a config file are relative to that file. Command-line flags override the file,
as geth and kubo users expect (``--data-dir``, ``--rpc-port``).
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any


class ConfigError(Exception):
    """A config that cannot be used; the message names the file and the setting."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


DEFAULT_RPC_PORT = 8680
DEFAULT_P2P_PORT = 4680


def default_home() -> Path:
    return Path(os.environ.get("AUDIERA_HOME") or Path.home() / ".audiera")


@dataclass(frozen=True)
class RpcConfig:
    host: str = "127.0.0.1"
    port: int = DEFAULT_RPC_PORT
    max_body_bytes: int = 1024 * 1024
    """Largest JSON or event request body."""
    max_upload_bytes: int = 4 * 1024**3
    """Largest content upload."""
    idle_timeout_s: int = 15
    """A connection that has not sent a whole request (headers) this long after opening or after its last answer is closed."""
    max_connections: int = 512
    """Open RPC connections; more are answered 503 and closed."""
    max_concurrent_uploads: int = 8
    """Uploads streamed at once; more are answered 429."""
    feed_subscribers: int = 64
    """Live feed (websocket) subscribers served at once."""
    feed_queue: int = 1024
    """Messages a feed subscriber may fall behind before it is dropped."""


@dataclass(frozen=True)
class ContentConfig:
    pending_ttl_s: int = 3600
    """Uploaded content that no asset.register names after this long is removed."""
    max_pending_bytes: int = 16 * 1024**3
    """Bytes of uploaded content not yet registered, node-wide; an upload past it gets 507."""
    max_pending_files: int = 1000
    """Uploaded files not yet registered, node-wide; an upload past it gets 429."""


@dataclass(frozen=True)
class MempoolConfig:
    max_events: int = 50_000
    max_future_nonces: int = 64
    """How far ahead of an author's next nonce an event may wait in the mempool."""


REPLICATE_CHOICES = ("authorities", "all", "none")


@dataclass(frozen=True)
class P2PConfig:
    listen: str = f"/ip4/127.0.0.1/tcp/{DEFAULT_P2P_PORT}"
    bootstrap: tuple[str, ...] = ()
    """Peer addresses (/ip4/…/tcp/…/p2p/<id>) to stay connected to."""
    replicate: str = "authorities"
    """Which nodes pull the content of every new asset: authorities, all, or none."""
    identity_seed: str | None = None
    """Derive the node identity from this text instead of a key file: public test networks only."""
    target_peers: int = 16
    """Peers the node dials until it is connected to this many (bootstrap peers are always kept)."""


@dataclass(frozen=True)
class Config:
    data_dir: Path
    genesis_file: Path | None
    """None: a single-node dev network created in the data directory on first start."""
    authority_key_file: Path | None
    """Key this node signs blocks with; None for a node that does not produce."""
    authority_seed: str | None = None
    """Derive the authority key from this text instead of a key file: public test networks only."""
    rpc: RpcConfig = field(default_factory=RpcConfig)
    mempool: MempoolConfig = field(default_factory=MempoolConfig)
    p2p: P2PConfig = field(default_factory=P2PConfig)
    content: ContentConfig = field(default_factory=ContentConfig)
    log_level: str = "info"

    @property
    def is_dev(self) -> bool:
        return self.genesis_file is None


def dev_config(data_dir: Path | None = None) -> Config:
    """The embedded default: a single-authority dev network, created on first start."""
    directory = data_dir or default_home() / "dev"
    return Config(
        data_dir=directory,
        genesis_file=None,
        authority_key_file=directory / "authority.key",
        p2p=P2PConfig(listen="/ip4/127.0.0.1/tcp/0"),
    )


_SECTIONS = {"node", "rpc", "mempool", "p2p", "content"}


def load_config(path: Path) -> Config:
    try:
        with open(path, "rb") as file:
            raw = tomllib.load(file)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    unknown = set(raw) - _SECTIONS
    if unknown:
        raise ConfigError(f"{path}: unknown section(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(_SECTIONS))}")
    base = path.parent.resolve()
    node = _Section(raw.get("node", {}), path, "node")
    data_dir = node.path("data_dir", base)
    if data_dir is None:
        raise ConfigError(f"{path}: [node] data_dir is required")
    genesis = node.path("genesis", base)
    authority_key = node.path("authority_key", base)
    if genesis is None and authority_key is None:
        # No genesis: a dev network, whose key is created in the data directory (as with no config).
        authority_key = data_dir / "authority.key"
    log_level = node.text("log_level", "info")
    authority_seed = node.optional_text("authority_seed")
    node.done()
    rpc = _Section(raw.get("rpc", {}), path, "rpc")
    rpc_config = RpcConfig(
        host=rpc.text("host", RpcConfig.host),
        port=rpc.integer("port", RpcConfig.port, 0, 65535),
        max_body_bytes=rpc.integer("max_body_bytes", RpcConfig.max_body_bytes, 1024, 2**31),
        max_upload_bytes=rpc.integer("max_upload_bytes", RpcConfig.max_upload_bytes, 1, 2**50),
        idle_timeout_s=rpc.integer("idle_timeout_s", RpcConfig.idle_timeout_s, 1, 3600),
        max_connections=rpc.integer("max_connections", RpcConfig.max_connections, 1, 100_000),
        max_concurrent_uploads=rpc.integer("max_concurrent_uploads", RpcConfig.max_concurrent_uploads, 1, 1024),
        feed_subscribers=rpc.integer("feed_subscribers", RpcConfig.feed_subscribers, 0, 10_000),
        feed_queue=rpc.integer("feed_queue", RpcConfig.feed_queue, 1, 1_000_000),
    )
    rpc.done()
    mempool = _Section(raw.get("mempool", {}), path, "mempool")
    mempool_config = MempoolConfig(
        max_events=mempool.integer("max_events", MempoolConfig.max_events, 1, 10**7),
        max_future_nonces=mempool.integer("max_future_nonces", MempoolConfig.max_future_nonces, 0, 10_000),
    )
    mempool.done()
    p2p = _Section(raw.get("p2p", {}), path, "p2p")
    p2p_config = P2PConfig(
        listen=p2p.text("listen", P2PConfig.listen),
        bootstrap=tuple(p2p.text_list("bootstrap")),
        replicate=p2p.choice("replicate", P2PConfig.replicate, REPLICATE_CHOICES),
        identity_seed=p2p.optional_text("identity_seed"),
        target_peers=p2p.integer("target_peers", P2PConfig.target_peers, 0, 1000),
    )
    p2p.done()
    content = _Section(raw.get("content", {}), path, "content")
    content_config = ContentConfig(
        pending_ttl_s=content.integer("pending_ttl_s", ContentConfig.pending_ttl_s, 1, 10**8),
        max_pending_bytes=content.integer("max_pending_bytes", ContentConfig.max_pending_bytes, 1, 2**60),
        max_pending_files=content.integer("max_pending_files", ContentConfig.max_pending_files, 1, 10**7),
    )
    content.done()
    return Config(
        data_dir=data_dir,
        genesis_file=genesis,
        authority_key_file=authority_key,
        authority_seed=authority_seed,
        rpc=rpc_config,
        mempool=mempool_config,
        p2p=p2p_config,
        content=content_config,
        log_level=log_level,
    )


def with_overrides(config: Config, *, data_dir: Path | None = None, rpc_port: int | None = None) -> Config:
    if data_dir is not None:
        old = config.data_dir
        key = config.authority_key_file
        # A dev node keeps its generated key inside its data directory: move it along.
        if config.is_dev and key is not None and key.parent == old:
            key = data_dir / key.name
        config = replace(config, data_dir=data_dir, authority_key_file=key)
    if rpc_port is not None:
        config = replace(config, rpc=replace(config.rpc, port=rpc_port))
    return config


class _Section:
    def __init__(self, values: Any, path: Path, name: str) -> None:
        if not isinstance(values, dict):
            raise ConfigError(f"{path}: [{name}] must be a table")
        self._values, self._path, self._name = values, path, name
        self._taken: set[str] = set()

    def _get(self, key: str) -> Any:
        self._taken.add(key)
        return self._values.get(key)

    def _fail(self, key: str, problem: str) -> ConfigError:
        return ConfigError(f"{self._path}: [{self._name}] {key} {problem}")

    def text(self, key: str, default: str) -> str:
        value = self._get(key)
        if value is None:
            return default
        if not isinstance(value, str):
            raise self._fail(key, "must be a string")
        return value

    def text_list(self, key: str) -> list[str]:
        value = self._get(key)
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise self._fail(key, "must be a list of strings")
        return value

    def optional_text(self, key: str) -> str | None:
        value = self._get(key)
        if value is not None and (not isinstance(value, str) or not value):
            raise self._fail(key, "must be a non-empty string")
        return value

    def choice(self, key: str, default: str, options: tuple[str, ...]) -> str:
        value = self.text(key, default)
        if value not in options:
            raise self._fail(key, f"must be one of {', '.join(options)}, not {value!r}")
        return value

    def integer(self, key: str, default: int, low: int, high: int) -> int:
        value = self._get(key)
        if value is None:
            return default
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise self._fail(key, f"must be an integer from {low} to {high}")
        return value

    def path(self, key: str, base: Path) -> Path | None:
        value = self._get(key)
        if value is None:
            return None
        if not isinstance(value, str) or not value:
            raise self._fail(key, "must be a path")
        candidate = Path(os.path.expanduser(value))
        return candidate if candidate.is_absolute() else base / candidate

    def done(self) -> None:
        unknown = set(self._values) - self._taken
        if unknown:
            raise ConfigError(f"{self._path}: [{self._name}] has unknown setting(s) {', '.join(sorted(unknown))}")
