"""``audiera upload`` and ``audiera asset show|terms|withdraw``."""

from __future__ import annotations

import argparse
import mimetypes
from dataclasses import replace
from pathlib import Path
from typing import Any

from protocol.cid import RAW, cid_from_str, cid_to_str, make_cid
from protocol.errors import InvalidCID, InvalidEvent, ProtocolError
from protocol.events import (
    ASSET_TYPES,
    AUDIO_ASSET_TYPES,
    PARENT_RELATIONS,
    TOTAL_SHARE_BPS,
    AssetRegister,
    AssetTerms,
    AssetWithdraw,
)

from node.client import segment
from node.client.access import custody_for_upload

from .asset_keys import register_asset_key_commands
from .asset_views import render_asset, render_terms
from .context import Context
from .key_names import account
from .errors import CliError, UsageError
from .events_view import event_outcome
from .paging import add_page_options
from .output import fields, format_bytes, format_media
from .progress import CountingReader, Progress
from .submit import add_wait_options, submit_and_follow
from .terms_options import add_terms_options, terms_from_args

# Stands in for the content's CID and media while the other fields are checked, so that
# a typo in --isrc is reported before a long upload rather than after it.
_PLACEHOLDER_CID = cid_to_str(make_cid(RAW, b""))
_PLACEHOLDER_SEALED_CID = cid_to_str(make_cid(RAW, b"sealed"))
_PLACEHOLDER_MEDIA = {"format": "wav", "duration_ms": 1, "sample_rate": 1, "channels": 1}


# ------------------------------------------------------------ argument types


def asset_cid(text: str) -> str:
    try:
        cid_from_str(text)
    except InvalidCID as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not an asset id (a CIDv1): {exc.message}") from None
    return text


def holder_share(text: str) -> dict[str, Any]:
    """``DID=BPS`` or ``KEY=BPS``: a rights holder and its share in basis points (10000 = 100%)."""
    holder, sep, bps = text.rpartition("=")
    if not sep or not (bps.isascii() and bps.isdigit()) or not 1 <= int(bps) <= TOTAL_SHARE_BPS:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not DID=BPS (a did:key or key name and a share from 1 to {TOTAL_SHARE_BPS} basis points)"
        )
    return {"account": account(holder), "share_bps": int(bps)}


def parent_link(text: str) -> dict[str, str]:
    """``CID:RELATION``, e.g. ``bafk…:remix_of``."""
    cid, sep, relation = text.rpartition(":")
    if not sep or relation not in PARENT_RELATIONS:
        raise argparse.ArgumentTypeError(f"{text!r} is not CID:RELATION with a relation from {', '.join(PARENT_RELATIONS)}")
    return {"asset": asset_cid(cid), "relation": relation}


def tag_list(text: str) -> list[str]:
    return [tag.strip() for tag in text.split(",") if tag.strip()]


# ------------------------------------------------------------ parsers


def register_commands(commands: Any, common: list[argparse.ArgumentParser]) -> None:
    upload = commands.add_parser(
        "upload", parents=common, help="upload an audio file and register it as an asset",
        description="Stream FILE to the node, then sign and submit asset.register for it.",
    )
    upload.add_argument("file", type=Path, metavar="FILE")
    upload.add_argument("--only-upload", action="store_true", help="store the content on the node; register nothing")
    facts = upload.add_argument_group("asset facts")
    facts.add_argument("--title", help="title (required unless --only-upload)")
    facts.add_argument("--type", dest="asset_type", choices=ASSET_TYPES, default="track", help="default: track")
    facts.add_argument("--genre", default="")
    facts.add_argument("--tags", type=tag_list, default=[], metavar="A,B", help="comma-separated tags")
    facts.add_argument("--description", default="")
    facts.add_argument("--isrc", default="", help="ISRC without dashes, e.g. USRC17607839")
    facts.add_argument("--iswc", default="", help="ISWC as T + 10 digits, e.g. T0345246801")
    facts.add_argument(
        "--holder", action="append", type=holder_share, default=[], metavar="DID|KEY=BPS",
        help="a rights holder and share in basis points (repeatable; default: your key at 10000)",
    )
    facts.add_argument(
        "--parent", action="append", type=parent_link, default=[], metavar="CID:RELATION",
        help=f"a parent asset (repeatable); relations: {', '.join(PARENT_RELATIONS)}",
    )
    add_terms_options(upload)
    add_wait_options(upload)
    upload.set_defaults(handler=upload_asset)

    asset = commands.add_parser("asset", parents=common, help="show an asset, change its terms, withdraw it")
    actions = asset.add_subparsers(dest="asset_command", required=True, metavar="{show,terms,withdraw,open,reshare}")
    show = actions.add_parser("show", parents=common, help="an asset's facts, terms, status and history")
    show.add_argument("cid", type=asset_cid, metavar="CID")
    add_page_options(show, "history entries")
    show.set_defaults(handler=show_asset)

    terms = actions.add_parser(
        "terms", parents=common, help="replace an asset's license terms (you must be a rights holder)"
    )
    terms.add_argument("cid", type=asset_cid, metavar="CID")
    add_terms_options(terms)
    add_wait_options(terms)
    terms.set_defaults(handler=set_terms)

    withdraw = actions.add_parser("withdraw", parents=common, help="delist an asset (you must be a rights holder)")
    withdraw.add_argument("cid", type=asset_cid, metavar="CID")
    withdraw.add_argument("--reason", default="", help="why (up to 500 characters)")
    add_wait_options(withdraw)
    withdraw.set_defaults(handler=withdraw_asset)
    register_asset_key_commands(actions, common, asset_cid)


# ------------------------------------------------------------ upload


def content_type_of(path: Path) -> str:
    guessed, _ = mimetypes.guess_type(path.name)
    return guessed if guessed and guessed.startswith("audio/") else "application/octet-stream"


def upload_content(ctx: Context, path: Path) -> dict[str, Any]:
    """Stream ``path`` to the node with a progress bar on a terminal; returns {cid, size, media}."""
    if not path.is_file():
        raise CliError(f"{path} is not a readable file")
    stderr = ctx.out.stderr
    progress = Progress(path.stat().st_size, stderr, path.name, enabled=stderr.isatty())
    try:
        return ctx.client.upload(path, content_type_of(path), lambda file: CountingReader(file, progress))
    finally:
        progress.finish()


def draft_registration(ctx: Context) -> dict[str, Any]:
    """Every asset.register field that does not come from the node, checked before uploading."""
    args = ctx.args
    if not args.title:
        raise UsageError("upload needs --title (or --only-upload to store the file without registering it)")
    holders = args.holder or [{"account": ctx.key_did(), "share_bps": TOTAL_SHARE_BPS}]
    draft = {
        "title": args.title,
        "description": args.description,
        "asset_type": args.asset_type,
        "genre": args.genre,
        "tags": args.tags,
        "isrc": args.isrc,
        "iswc": args.iswc,
        "rights_holders": holders,
        "parents": args.parent,
        "terms": terms_from_args(args).to_wire(),
    }
    try:
        AssetRegister.from_wire({"cid": _PLACEHOLDER_CID, "sealed_cid": _PLACEHOLDER_SEALED_CID, "size": 1, "media": _PLACEHOLDER_MEDIA, "fingerprint": b"", **draft})
    except InvalidEvent as exc:
        raise UsageError(exc.message) from None
    return draft


def require_participant(ctx: Context, did: str) -> None:
    """Refuse before uploading when the registration would be refused: nothing gets stored."""
    account = ctx.client.get(f"/v1/accounts/{segment(did)}", {"limit": 1})["account"]
    # Events of this account still waiting in the mempool may register it: then let the node judge.
    if not account["registered"] and account["next_nonce"] == account["nonce"] + 1:
        raise CliError(
            f"{did} (key {ctx.key_name!r}) is not a registered participant, so the node would refuse the asset; "
            f"nothing was uploaded. Register first: audiera --key {ctx.key_name} register --name NAME --roles creator"
        )


def upload_asset(ctx: Context) -> None:
    args = ctx.args
    if args.only_upload:
        info = upload_content(ctx, args.file)
        ctx.out.emit(info, render_content)
        return
    draft = draft_registration(ctx)
    key = ctx.signing_key()  # before the upload, so a wrong password costs no transfer
    if key.did not in {share["account"] for share in draft["rights_holders"]}:
        raise UsageError(f"your key ({key.did}) must be one of the --holder rights holders")
    require_participant(ctx, key.did)
    info = upload_content(ctx, args.file)
    if info["media"] is None and args.asset_type in AUDIO_ASSET_TYPES:
        raise CliError(
            f"the node could not read {args.file} as audio, so it cannot be a {args.asset_type}; "
            f"register it with --type dataset (it is stored as {info['cid']})"
        )
    try:
        fingerprint = bytes.fromhex(info.get("fingerprint") or "")
        body = AssetRegister.from_wire({"cid": info["cid"], "sealed_cid": info["sealed_cid"], "size": info["size"], "media": info["media"], "fingerprint": fingerprint, **draft})
    except InvalidEvent as exc:
        raise CliError(exc.message) from None
    # The node sealed the upload and handed its key over once: give it to the authorities and holders, then forget it.
    try:
        body = replace(body, custody=custody_for_upload(ctx.client, bytes.fromhex(info.pop("content_key")), body))
    except ProtocolError as exc:
        raise CliError(f"cannot share the content key among the authorities: {exc.message}") from None
    state = submit_and_follow(ctx.client, key, body, wait=not args.no_wait, timeout=args.timeout, out=ctx.out)
    document = {"asset": info["cid"], "content": info, "event": state}
    ctx.out.emit(document, render_registered)


def render_content(info: dict[str, Any]) -> str:
    return fields(
        [
            ("cid", info["cid"]),
            ("sealed cid", info["sealed_cid"]),
            ("size", format_bytes(info["size"])),
            ("media", format_media(info["media"])),
        ]
    )


def render_registered(document: dict[str, Any]) -> str:
    info = document["content"]
    return fields(
        [
            ("asset", document["asset"]),
            ("size", format_bytes(info["size"])),
            ("media", format_media(info["media"])),
            *reupload_lines(info.get("possible_reupload_of")),
            *event_outcome(document["event"]),
        ]
    )


def reupload_lines(match: dict[str, Any] | None) -> list[tuple[str, Any]]:
    """A warning line when the audio is likely a registered recording again."""
    if not match:
        return []
    holders = ", ".join(share["account"] for share in match["rights_holders"])
    return [("WARNING", f"likely a re-upload of {match['asset']} {match['title']!r} by {holders} "
                        f"(score {match['score_bps'] / 100:g}%)")]


# ------------------------------------------------------------ asset show / terms / withdraw


def show_asset(ctx: Context) -> None:
    query = {"limit": ctx.args.limit, "after": ctx.args.after}
    document = ctx.client.get(f"/v1/assets/{segment(ctx.args.cid)}", query)
    ctx.out.emit(document, render_asset)


def set_terms(ctx: Context) -> None:
    args = ctx.args
    body = AssetTerms(asset=args.cid, terms=terms_from_args(args))
    key = ctx.signing_key()
    state = submit_and_follow(ctx.client, key, body, wait=not args.no_wait, timeout=args.timeout, out=ctx.out)
    document = {"asset": args.cid, "terms": body.terms.to_wire(), "event": state}
    ctx.out.emit(
        document,
        lambda d: "\n".join(
            [fields([("asset", d["asset"]), *event_outcome(d["event"])]), "terms:", render_terms(d["terms"])]
        ),
    )


def withdraw_asset(ctx: Context) -> None:
    args = ctx.args
    try:
        body = AssetWithdraw.from_wire({"asset": args.cid, "reason": args.reason})
    except InvalidEvent as exc:
        raise UsageError(exc.message) from None
    key = ctx.signing_key()
    state = submit_and_follow(ctx.client, key, body, wait=not args.no_wait, timeout=args.timeout, out=ctx.out)
    document = {"asset": args.cid, "event": state}
    ctx.out.emit(document, lambda d: fields([("asset", d["asset"]), *event_outcome(d["event"])]))
