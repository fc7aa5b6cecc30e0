"""Key names wherever an account is asked for: ``--holder ada=7000``, ``--to leo``, ``--fund mia=1000``.

argparse reads an account before it knows which ``--keystore`` applies (it may come
later on the line), so a name is parsed into a ``KeyName`` and resolved to its did
once the whole line is read, by ``resolve_key_names``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from protocol.keys import is_did

from . import keystore
from .errors import UsageError
from .keystore import KeystoreError


class KeyName(str):
    """An account given by the name of a key in the keystore, not yet looked up."""


def account(text: str) -> str:
    """An argparse type: a did:key as it is, or a key name to resolve."""
    if is_did(text):
        return text
    if keystore.NAME_PATTERN.fullmatch(text) and not text.startswith("did:"):
        return KeyName(text)
    raise argparse.ArgumentTypeError(f"{text!r} is not an account: give a did:key:z6Mk… or the name of a key (audiera key list)")


def resolve(name: str, directory: Path) -> str:
    """The did of ``name`` (a did is returned as it is)."""
    if not isinstance(name, KeyName):
        return name
    try:
        return keystore.read_did(directory, name)
    except KeystoreError:
        raise UsageError(
            f"{name!r} is neither an account (did:key:…) nor a key in {directory}; see: audiera key list"
        ) from None


def resolve_key_names(args: argparse.Namespace, directory: Path) -> None:
    """Replace every ``KeyName`` among the parsed options (alone, in lists, in ``{"account": …}`` maps) by its did."""
    for option, value in vars(args).items():
        setattr(args, option, _resolved(value, directory))


def _resolved(value: Any, directory: Path) -> Any:
    if isinstance(value, KeyName):
        return resolve(value, directory)
    if isinstance(value, list):
        return [_resolved(item, directory) for item in value]
    if isinstance(value, tuple):
        return tuple(_resolved(item, directory) for item in value)
    if isinstance(value, dict):
        return {key: _resolved(item, directory) for key, item in value.items()}
    return value
