"""``audiera license grant|revoke|buy|list|show`` and ``audiera preflight``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from protocol.errors import InvalidEvent
from protocol.events import LicenseGrant, LicensePurchase, LicenseRevoke
from protocol.terms import PURPOSES

from node.client import NodeClient, segment

from .assets import asset_cid
from .chain import event_id
from .context import Context
from .list_files import read_list_file
from .errors import CliError, UsageError
from .key_names import account
from .events_view import event_outcome, short_did
from .output import fields, format_time, table
from .submit import add_wait_options, submit_and_follow
from .terms_options import expiry_ms


def account_did(text: str) -> str:
    """An account option: a did:key, or a key name resolved once the line is parsed."""
    return account(text)


def register_commands(commands: Any, common: list[argparse.ArgumentParser]) -> None:
    license_ = commands.add_parser("license", parents=common, help="grant, revoke, buy and list licenses")
    actions = license_.add_subparsers(dest="license_command", required=True, metavar="{grant,revoke,buy,list,show}")

    grant = actions.add_parser("grant", parents=common, help="license an asset you hold rights in to an account")
    grant.add_argument("cid", type=asset_cid, metavar="CID")
    grant.add_argument("--to", dest="grantee", required=True, type=account_did, metavar="DID|KEY", help="the account licensed (a did or a key name)")
    grant.add_argument("--purpose", action="append", required=True, choices=PURPOSES, metavar="PURPOSE",
                       help=f"a purpose it covers (repeatable): {', '.join(PURPOSES)}")
    grant.add_argument("--expires", type=expiry_ms, default=0, metavar="DATE|MS", help="no use after this time; default never")
    grant.add_argument("--max-accesses", type=int, default=0, metavar="N", help="how many accesses it admits; default no limit")
    add_wait_options(grant)
    grant.set_defaults(handler=grant_license)

    revoke = actions.add_parser("revoke", parents=common, help="revoke a license on an asset you hold rights in")
    revoke.add_argument("license", type=event_id, metavar="LICENSE")
    add_wait_options(revoke)
    revoke.set_defaults(handler=revoke_license)

    buy = actions.add_parser("buy", parents=common, help="buy a license at the price the asset's terms ask")
    buy.add_argument("cid", type=asset_cid, metavar="CID")
    buy.add_argument("--purpose", action="append", required=True, choices=PURPOSES, metavar="PURPOSE", help="repeatable")
    buy.add_argument("--max-price", type=int, metavar="CREDITS", help="pay at most this (default: the price asked now)")
    add_wait_options(buy)
    buy.set_defaults(handler=buy_license)

    listing = actions.add_parser("list", parents=common, help="licenses an account holds (default: yours)")
    listing.add_argument("did", nargs="?", type=account_did, metavar="DID")
    listing.add_argument("--asset", type=asset_cid, metavar="CID", help="only licenses on this asset")
    listing.add_argument("--limit", type=int, default=50)
    listing.set_defaults(handler=list_licenses)

    show = actions.add_parser("show", parents=common, help="one license and whether it is in force")
    show.add_argument("license", type=event_id, metavar="LICENSE")
    show.set_defaults(handler=show_license)

    preflight = commands.add_parser(
        "preflight", parents=common, help="before buying: which assets a purpose may use, at what price, crediting whom",
        description="A dataset bill of materials: per asset, allowed or not and why, price, attribution owed.",
    )
    preflight.add_argument("cids", nargs="*", type=asset_cid, metavar="CID")
    preflight.add_argument("--file", type=Path, metavar="FILE", help="read asset ids from FILE, one per line")
    preflight.add_argument("--purpose", required=True, choices=PURPOSES, metavar="PURPOSE", help=", ".join(PURPOSES))
    preflight.add_argument("--account", type=account_did, metavar="DID", help="whose licenses count (default: your key's)")
    preflight.set_defaults(handler=run_preflight)


# ------------------------------------------------------------ grant / revoke / buy


def grant_license(ctx: Context) -> None:
    args = ctx.args
    try:
        body = LicenseGrant.from_wire(
            {"asset": args.cid, "grantee": args.grantee, "purposes": list(dict.fromkeys(args.purpose)),
             "expires": args.expires, "max_accesses": args.max_accesses}
        )
    except InvalidEvent as exc:
        raise UsageError(exc.message) from None
    state = submit_and_follow(ctx.client, ctx.signing_key(), body, wait=not args.no_wait, timeout=args.timeout, out=ctx.out)
    document = {"license": state["id"], "asset": args.cid, "grantee": args.grantee, "purposes": list(body.purposes), "event": state}
    ctx.out.emit(document, lambda d: fields([("license", d["license"]), ("asset", d["asset"]), ("to", d["grantee"]),
                                             ("purposes", ", ".join(d["purposes"])), *event_outcome(d["event"])[1:]]))


def revoke_license(ctx: Context) -> None:
    args = ctx.args
    body = LicenseRevoke(license=bytes.fromhex(args.license))
    state = submit_and_follow(ctx.client, ctx.signing_key(), body, wait=not args.no_wait, timeout=args.timeout, out=ctx.out)
    ctx.out.emit({"license": args.license, "event": state}, lambda d: fields([("revoked", d["license"]), *event_outcome(d["event"])]))


def preflight_answer(client: NodeClient, cids: list[str], purpose: str, account: str | None) -> dict[str, Any]:
    return client.post_json("/v1/preflight", {"assets": cids, "purpose": purpose, "account": account})


def buy_license(ctx: Context) -> None:
    args = ctx.args
    purposes = list(dict.fromkeys(args.purpose))
    key = ctx.signing_key()
    price = 0
    for purpose in purposes:
        answer = preflight_answer(ctx.client, [args.cid], purpose, key.did)["items"][0]
        if answer["allowed"]:
            raise CliError(f"no need to buy {purpose} of {args.cid}: {answer['reason']}")
        if answer["status"] != "purchase":
            raise CliError(f"cannot buy {purpose} of {args.cid}: {answer['reason']}")
        price += answer["price"]
    max_price = price if args.max_price is None else args.max_price
    body = LicensePurchase(asset=args.cid, purposes=tuple(purposes), max_price=max_price)
    state = submit_and_follow(ctx.client, key, body, wait=not args.no_wait, timeout=args.timeout, out=ctx.out)
    document = {"license": state["id"], "asset": args.cid, "purposes": purposes, "price": price, "event": state}
    ctx.out.emit(document, lambda d: fields([("license", d["license"]), ("asset", d["asset"]), ("purposes", ", ".join(d["purposes"])),
                                             ("price", f"{d['price']} credits"), *event_outcome(d["event"])[1:]]))


# ------------------------------------------------------------ list / show


def list_licenses(ctx: Context) -> None:
    did = ctx.args.did or ctx.key_did()
    document = ctx.client.get(f"/v1/accounts/{segment(did)}/licenses", {"asset": ctx.args.asset, "limit": ctx.args.limit})
    ctx.out.emit(document, render_licenses)


def render_licenses(document: dict[str, Any]) -> str:
    rows = [
        (item["id"], item["status"], item["source"], item["asset"], ", ".join(item["purposes"]),
         f"{item['used']}/{item['max_accesses'] or '∞'}", format_time(item["expires"]) or "never")
        for item in document["licenses"]["items"]
    ]
    return f"licenses of {document['account']}:\n" + table(["LICENSE", "STATUS", "SOURCE", "ASSET", "PURPOSES", "USED", "EXPIRES"], rows, indent="  ")


def show_license(ctx: Context) -> None:
    ctx.out.emit(ctx.client.get(f"/v1/licenses/{ctx.args.license}"), render_license)


def render_license(d: dict[str, Any]) -> str:
    return fields(
        [
            ("license", d["id"]),
            ("status", d["status"]),
            ("asset", d["asset"]),
            ("holder", d["grantee"]),
            ("purposes", ", ".join(d["purposes"])),
            ("source", f"{d['source']} by {d['issuer']} in block {d['issued_at']}"),
            ("price", f"{d['price']} credits" if d["source"] == "purchase" else None),
            ("expires", format_time(d["expires"]) or "never"),
            ("accesses", f"{d['used']} of {d['max_accesses'] or 'unlimited'}"),
            ("revoked", f"in block {d['revoked_at']} by {d['revoked_by']}" if d["revoked_at"] else None),
        ]
    )


# ------------------------------------------------------------ preflight


def _cids_from(args: argparse.Namespace) -> list[str]:
    cids = list(args.cids)
    if args.file is not None:
        cids += read_list_file(args.file, asset_cid)
    if not cids:
        raise UsageError("preflight needs asset ids: give CIDs or --file FILE")
    return cids


def run_preflight(ctx: Context) -> None:
    args = ctx.args
    account = args.account
    if account is None:
        try:
            account = ctx.key_did()
        except CliError:
            account = None  # no key: judge as someone holding no license
    document = preflight_answer(ctx.client, _cids_from(args), args.purpose, account)
    ctx.out.emit(document, render_preflight)


def render_preflight(d: dict[str, Any]) -> str:
    rows = []
    for item in d["items"]:
        credit = item.get("attribution", {})
        owed = ", ".join(c["name"] or short_did(c["account"]) for c in credit.get("credit", [])) if credit.get("required") else "-"
        rows.append((item["asset"], item.get("title", "?"), item["status"], item["price"] or "-", owed))
    s = d["summary"]
    who = d["account"] or "an account with no licenses"
    lines = [
        f"preflight for {d['purpose']} by {who}:",
        table(["ASSET", "TITLE", "STATUS", "PRICE", "ATTRIBUTION OWED TO"], rows, indent="  "),
        fields(
            [
                ("usable now", f"{s['usable_now']} of {s['assets']}"),
                ("to buy", f"{s['to_buy']} for {s['purchase_total']} credits"),
                ("per access", f"{s['per_access_total']} credits per access of each per-access asset"),
                ("refused", s["refused"]),
            ],
            indent="  ",
        ),
    ]
    refused = [f"  - {item['asset']}: {item['reason']}" for item in d["items"] if item["status"] not in ("allowed", "per_access", "purchase")]
    return "\n".join(lines + (["why refused:", *refused] if refused else []))
