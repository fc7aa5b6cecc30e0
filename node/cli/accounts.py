"""``audiera register`` and ``audiera account show``: participants and their activity."""

from __future__ import annotations

import argparse
from typing import Any

from protocol.errors import InvalidEvent
from protocol.events import ROLES, ParticipantRegister

from node.client import segment

from .context import Context
from .errors import UsageError
from .events_view import activity_table, event_outcome
from .paging import add_page_options, more_hint
from .output import fields
from .submit import add_wait_options, submit_and_follow


def roles_list(text: str) -> tuple[str, ...]:
    """``creator,contributor`` (an argparse type)."""
    roles = tuple(role.strip() for role in text.split(",") if role.strip())
    unknown = [role for role in roles if role not in ROLES]
    if not roles or unknown:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of roles from: {', '.join(ROLES)}")
    if len(set(roles)) != len(roles):
        raise argparse.ArgumentTypeError(f"{text!r} names a role twice")
    return roles


def register_commands(commands: Any, common: list[argparse.ArgumentParser]) -> None:
    register = commands.add_parser("register", parents=common, help="register the key as a participant")
    register.add_argument("--name", required=True, help="display name (1 to 64 characters)")
    register.add_argument(
        "--roles", required=True, type=roles_list, metavar="ROLE,…", help=f"comma-separated: {', '.join(ROLES)}"
    )
    add_wait_options(register)
    register.set_defaults(handler=register_participant)

    account = commands.add_parser("account", parents=common, help="show accounts")
    actions = account.add_subparsers(dest="account_command", required=True, metavar="{show}")
    show = actions.add_parser("show", parents=common, help="an account's name, roles, balance, nonce and activity")
    show.add_argument("did", nargs="?", help="did:key of the account (default: the --key's)")
    add_page_options(show, "activity entries")
    show.set_defaults(handler=show_account)


def register_participant(ctx: Context) -> None:
    args = ctx.args
    try:
        body = ParticipantRegister.from_wire({"name": args.name, "roles": list(args.roles)})
    except InvalidEvent as exc:
        raise UsageError(exc.message) from None
    key = ctx.signing_key()
    state = submit_and_follow(ctx.client, key, body, wait=not args.no_wait, timeout=args.timeout, out=ctx.out)
    document = {"did": key.did, "name": body.name, "roles": list(body.roles), "event": state}
    ctx.out.emit(document, render_registration)


def render_registration(d: dict[str, Any]) -> str:
    return fields([("did", d["did"]), ("name", d["name"]), ("roles", ", ".join(d["roles"])), *event_outcome(d["event"])])


def show_account(ctx: Context) -> None:
    did = ctx.args.did or ctx.key_did()
    document = ctx.client.get(f"/v1/accounts/{segment(did)}", {"limit": ctx.args.limit, "after": ctx.args.after})
    ctx.out.emit(document, render_account)


def render_account(document: dict[str, Any]) -> str:
    account = document["account"]
    registered = account["registered"]
    lines = fields(
        [
            ("did", account["did"]),
            ("name", account["name"] or None),
            ("roles", ", ".join(account["roles"]) if registered else None),
            ("registered", f"block {account['registered_at']}" if registered else "no"),
            ("balance", f"{account['balance']} credits"),
            ("nonce", f"{account['nonce']} (next {account['next_nonce']})"),
        ]
    )
    activity = document["activity"]
    more = more_hint(activity, f"audiera account show {account['did']}")
    return f"{lines}\nactivity:\n{activity_table(activity['items'], indent='  ')}{more}"

