"""What every command handler receives: parsed options, output, and lazily the node and the key."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from protocol.keys import SigningKey

from node.client import DEFAULT_NODE_URL, NodeClient

from . import keystore
from .keystore import KeystoreError
from .errors import CliError, UsageError
from .output import Output
from .password import read_password


@dataclass
class Context:
    args: argparse.Namespace
    out: Output
    _key: SigningKey | None = field(default=None, repr=False)

    @cached_property
    def client(self) -> NodeClient:
        try:
            return NodeClient(self.args.node)
        except ValueError:
            raise UsageError(f"--node must be a URL like {DEFAULT_NODE_URL}, not {self.args.node!r}") from None

    @property
    def keystore(self) -> Path:
        return self.args.keystore or keystore.default_keystore()

    @property
    def key_name(self) -> str:
        return self.args.key

    def signing_key(self) -> SigningKey:
        """The --key, opened with its password (asked for at most once per run)."""
        if self._key is None:
            password = read_password(self.args.password_file, self.key_name, new=False)
            try:
                self._key = keystore.load_key(self.keystore, self.key_name, password)
            except KeystoreError as exc:
                raise self._keystore_error(exc) from None
        return self._key

    def key_did(self) -> str:
        """The --key's did, read without its password."""
        try:
            return keystore.read_did(self.keystore, self.key_name)
        except KeystoreError as exc:
            raise self._keystore_error(exc) from None

    def _keystore_error(self, exc: KeystoreError) -> CliError:
        try:
            missing = not keystore.key_path(self.keystore, self.key_name).exists()
        except KeystoreError:
            missing = False  # a bad name: the message already says so
        hint = f"; create it with: audiera key new {self.key_name}" if missing else ""
        return CliError(exc.message + hint)
