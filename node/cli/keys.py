"""``audiera key new|list|show``: people's signing keys in the encrypted keystore."""

from __future__ import annotations

import argparse
from typing import Any

from . import keystore
from .keystore import KeystoreError
from .context import Context
from .errors import CliError
from .output import fields, table
from .password import read_password


def register_commands(commands: Any, common: list[argparse.ArgumentParser]) -> None:
    key = commands.add_parser("key", parents=common, help="create and list signing keys")
    actions = key.add_subparsers(dest="key_command", required=True, metavar="{new,list,show}")
    new = actions.add_parser("new", parents=common, help="create a key, sealed with a password")
    new.add_argument("name", nargs="?", help="key name (default: --key, i.e. 'default')")
    new.set_defaults(handler=new_key)
    listing = actions.add_parser("list", parents=common, help="list keys (no password needed)")
    listing.set_defaults(handler=list_keys)
    show = actions.add_parser("show", parents=common, help="a key's did and file (no password needed)")
    show.add_argument("name", nargs="?", help="key name (default: --key, i.e. 'default')")
    show.set_defaults(handler=show_key)


def new_key(ctx: Context) -> None:
    name = ctx.args.name or ctx.key_name
    try:
        keystore.check_name(name)
        if keystore.key_path(ctx.keystore, name).exists():
            raise KeystoreError(f"a key named {name!r} already exists at {keystore.key_path(ctx.keystore, name)}")
        # Checked before asking for a password, so nobody types one twice for nothing.
        password = read_password(ctx.args.password_file, name, new=True)
        key = keystore.create_key(ctx.keystore, name, password)
    except KeystoreError as exc:
        raise CliError(exc.message) from None
    document = {"name": name, "did": key.did, "path": str(keystore.key_path(ctx.keystore, name))}
    ctx.out.emit(document, lambda d: fields([("name", d["name"]), ("did", d["did"]), ("file", d["path"])]))


def show_key(ctx: Context) -> None:
    name = ctx.args.name or ctx.key_name
    try:
        path = keystore.key_path(ctx.keystore, name)
        if not path.exists():
            raise KeystoreError(f"no key named {name!r} in {ctx.keystore}; create it with: audiera key new {name}")
        did = keystore.read_did(ctx.keystore, name)
    except KeystoreError as exc:
        raise CliError(exc.message) from None
    document = {"name": name, "did": did, "path": str(path)}
    ctx.out.emit(document, lambda d: fields([("name", d["name"]), ("did", d["did"]), ("file", d["path"])]))


def list_keys(ctx: Context) -> None:
    try:
        found = keystore.list_keys(ctx.keystore)
    except KeystoreError as exc:
        raise CliError(exc.message) from None
    document = {"keystore": str(ctx.keystore), "keys": [{"name": name, "did": did} for name, did in found]}

    def render(d: dict[str, Any]) -> str:
        if not d["keys"]:
            return f"no keys in {d['keystore']}; create one with: audiera key new"
        return table(["NAME", "DID"], [(k["name"], k["did"]) for k in d["keys"]])

    ctx.out.emit(document, render)
