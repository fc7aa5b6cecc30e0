"""``audiera``: the entry point; builds the parser and turns expected failures into exit statuses."""

from __future__ import annotations

import argparse
import json
import os
import sys
from importlib import metadata
from pathlib import Path
from typing import NoReturn

from node.client import DEFAULT_NODE_URL, RpcError

from . import accounts, assets, chain, content, keys
from . import fetch, lineage, market, royalties, search, testnet, usage, watch
from .context import Context
from .key_names import resolve_key_names
from .keystore import default_keystore
from .errors import CliError, UsageError
from .output import Output

NODE_ENV = "AUDIERA_NODE"
COMMAND_MODULES = (keys, chain, accounts, assets, content, search, market, fetch, lineage, usage, royalties, testnet, watch)


class CliParser(argparse.ArgumentParser):
    """argparse, but a usage error is one ``audiera: …`` line (exit 2) instead of a usage dump."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see: {self.prog} --help)")


def global_options() -> CliParser:
    """Options accepted before the command and after it.

    Each is added to the top-level parser and to every subcommand with a SUPPRESSed default,
    so a value given anywhere survives, and ``apply_defaults`` fills in what was not given.
    """
    parser = CliParser(add_help=False)
    group = parser.add_argument_group("global options")
    group.add_argument(
        "--node", default=argparse.SUPPRESS, metavar="URL",
        help=f"node RPC URL (default: ${NODE_ENV} or {DEFAULT_NODE_URL})",
    )
    group.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="print one JSON document")
    group.add_argument(
        "--keystore", type=Path, default=argparse.SUPPRESS, metavar="DIR",
        help="key directory (default: $AUDIERA_HOME/keys, i.e. ~/.audiera/keys)",
    )
    group.add_argument("--key", default=argparse.SUPPRESS, metavar="NAME", help="key to sign with (default: default)")
    group.add_argument(
        "--password-file", type=Path, default=argparse.SUPPRESS, metavar="FILE",
        help="read the key's password from FILE (else $AUDIERA_PASSWORD, else ask)",
    )
    return parser


def apply_defaults(args: argparse.Namespace) -> None:
    defaults = {
        "node": os.environ.get(NODE_ENV) or DEFAULT_NODE_URL,
        "json": False,
        "keystore": None,
        "key": "default",
        "password_file": None,
    }
    for name, value in defaults.items():
        if not hasattr(args, name):
            setattr(args, name, value)


def build_parser() -> CliParser:
    common = [global_options()]
    parser = CliParser(
        prog="audiera", parents=common,
        description="Client for an Audiera node: keys, participants, assets and their provenance.",
    )
    parser.add_argument("--version", action="version", version=f"audiera {_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register_commands(commands, common)
    return parser


def _version() -> str:
    try:
        return metadata.version("audiera")
    except metadata.PackageNotFoundError:
        return "unknown"


def report_error(message: str, code: str, status: int | None, json_mode: bool) -> None:
    """One line for a person, or one JSON object for a script, on stderr."""
    if json_mode:
        print(json.dumps({"error": {"code": code, "message": message, "status": status}}), file=sys.stderr)
    else:
        print(f"audiera: {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    # Known before parsing, so that even a usage error reaches a script as JSON.
    json_mode = "--json" in (sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser().parse_args(argv)
        apply_defaults(args)
        resolve_key_names(args, args.keystore or default_keystore())
        args.handler(Context(args, Output(args.json)))
    except CliError as exc:
        report_error(exc.message, exc.code, None, json_mode)
        return exc.exit_code
    except RpcError as exc:  # the node refused, or could not be asked
        report_error(str(exc) if not json_mode else exc.message, exc.code, exc.status, json_mode)
        return 1
    except SystemExit as exc:  # --help and --version
        return exc.code if isinstance(exc.code, int) else 0
    except KeyboardInterrupt:
        print("\naudiera: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # Output piped into `head` and cut short: not worth a traceback. Point stdout at
        # /dev/null so the interpreter's final flush does not raise again.
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
