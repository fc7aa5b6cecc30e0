"""``audiera model register|prove|verify``, ``audiera app register`` and ``audiera lineage``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from protocol.errors import InvalidEvent
from protocol.events import AppRegister, ManifestEntry, ModelRegister, manifest_leaf
from protocol.keys import is_did
from protocol.merkle import merkle_root
from protocol.terms import TRAINING_PURPOSES

from node.client import NodeClient, segment

from .assets import asset_cid
from .chain import event_id
from .context import Context
from .errors import CliError, UsageError
from .events_view import event_outcome, short_did
from .list_files import read_list_file
from .manifest_proof import verify_proof_document
from .output import fields, table
from .royalties import render_by_source
from .submit import add_wait_options, submit_and_follow
from .usage import add_model_terms_command


def manifest_item(text: str) -> tuple[str, str | None]:
    """``CID`` or ``CID=LICENSE`` (an argparse type)."""
    cid, _, license_id = text.partition("=")
    return asset_cid(cid), event_id(license_id) if license_id else None


def lineage_ref(text: str) -> str:
    if is_did(text) or len(text) == 64:
        return text if is_did(text) else event_id(text)
    return asset_cid(text)


def register_commands(commands: Any, common: list[argparse.ArgumentParser]) -> None:
    model = commands.add_parser("model", parents=common, help="register a model; prove what it was trained on")
    actions = model.add_subparsers(dest="model_command", required=True, metavar="{register,terms,prove,verify}")
    register = actions.add_parser(
        "register", parents=common, help="register a trained model with its training manifest",
        description="Each --asset must be licensed to you for training; a license is looked up for you if none is named.",
    )
    register.add_argument("--name", required=True)
    register.add_argument("--version", required=True)
    register.add_argument("--base", type=event_id, metavar="MODEL", help="the registered base model it was built on")
    register.add_argument("--asset", action="append", default=[], type=manifest_item, metavar="CID[=LICENSE]",
                          help="a training asset, and the license it was used under (repeatable)")
    register.add_argument("--manifest", type=Path, metavar="FILE", help="training assets from FILE: one CID[=LICENSE] per line")
    add_wait_options(register)
    register.set_defaults(handler=register_model)
    add_model_terms_command(actions, common)

    prove = actions.add_parser("prove", parents=common, help="get and check a proof that an asset is, or is not, in a model's manifest")
    prove.add_argument("model", type=event_id, metavar="MODEL")
    prove.add_argument("asset", type=asset_cid, metavar="ASSET")
    prove.add_argument("-o", "--output", type=Path, metavar="FILE", help="also save the proof, to check later with: model verify FILE")
    prove.set_defaults(handler=prove_membership)

    verify = actions.add_parser("verify", parents=common, help="check a saved proof offline (no node needed)")
    verify.add_argument("file", type=Path, metavar="FILE")
    verify.set_defaults(handler=verify_saved_proof)

    app = commands.add_parser("app", parents=common, help="register an application and the models it uses")
    app_actions = app.add_subparsers(dest="app_command", required=True, metavar="{register}")
    app_register = app_actions.add_parser("register", parents=common, help="register an app built on registered models")
    app_register.add_argument("--name", required=True)
    app_register.add_argument("--version", required=True)
    app_register.add_argument("--model", action="append", required=True, type=event_id, metavar="MODEL", help="repeatable")
    add_wait_options(app_register)
    app_register.set_defaults(handler=register_app)

    lineage = commands.add_parser(
        "lineage", parents=common, help="what a model or app was built from, what an asset went into, which apps use a creator's works",
    )
    lineage.add_argument("ref", type=lineage_ref, metavar="MODEL|APP|ASSET|DID")
    lineage.add_argument("--limit", type=int, default=100, help="training assets per page (default 100)")
    lineage.add_argument("--after", metavar="MODEL:CID", help="next page of training assets")
    lineage.set_defaults(handler=show_lineage)


# ------------------------------------------------------------ model / app register


def _manifest_items(args: argparse.Namespace) -> list[tuple[str, str | None]]:
    items = list(args.asset)
    if args.manifest is not None:
        items += read_list_file(args.manifest, manifest_item)
    assets = [cid for cid, _ in items]
    if len(set(assets)) != len(assets):
        raise UsageError("the manifest names an asset twice")
    return items


def training_license(client: NodeClient, did: str, cid: str) -> str | None:
    """A license in force that the account holds on ``cid`` for training, if any."""
    page = client.get(f"/v1/accounts/{segment(did)}/licenses", {"asset": cid, "limit": 1000})
    for item in page["licenses"]["items"]:
        if item["status"] in ("in_force", "used_up") and set(item["purposes"]) & set(TRAINING_PURPOSES):
            return item["id"]
    return None


def register_model(ctx: Context) -> None:
    args = ctx.args
    items = _manifest_items(args)
    key = ctx.signing_key()
    entries = []
    for cid, license_id in items:
        chosen = license_id or training_license(ctx.client, key.did, cid)
        entries.append(ManifestEntry(cid, bytes.fromhex(chosen) if chosen else None))
    entries.sort(key=lambda entry: entry.asset)  # the rule: ascending asset id, so absence is provable
    root = merkle_root([manifest_leaf(entry) for entry in entries])
    try:
        body = ModelRegister.from_wire(
            {"name": args.name, "version": args.version, "base_model": bytes.fromhex(args.base) if args.base else None,
             "manifest": [entry.to_wire() for entry in entries], "manifest_root": root}
        )
    except InvalidEvent as exc:
        raise UsageError(exc.message) from None
    state = _submit(ctx, body)
    document = {
        "model": state["id"], "name": body.name, "version": body.version, "manifest_root": root.hex(),
        "manifest": [{"asset": e.asset, "license": e.license.hex() if e.license else None} for e in entries], "event": state,
    }
    ctx.out.emit(document, lambda d: fields([("model", d["model"]), ("name", f"{d['name']} {d['version']}"),
                                             ("training assets", len(d["manifest"])), ("manifest root", d["manifest_root"]),
                                             *event_outcome(d["event"])[1:]]))


def register_app(ctx: Context) -> None:
    args = ctx.args
    try:
        body = AppRegister.from_wire({"name": args.name, "version": args.version, "models": [bytes.fromhex(m) for m in dict.fromkeys(args.model)]})
    except InvalidEvent as exc:
        raise UsageError(exc.message) from None
    state = _submit(ctx, body)
    document = {"app": state["id"], "name": body.name, "version": body.version, "models": [m.hex() for m in body.models], "event": state}
    ctx.out.emit(document, lambda d: fields([("app", d["app"]), ("name", f"{d['name']} {d['version']}"),
                                             ("models", ", ".join(d["models"])), *event_outcome(d["event"])[1:]]))


def _submit(ctx: Context, body: Any) -> dict[str, Any]:
    return submit_and_follow(ctx.client, ctx.signing_key(), body, wait=not ctx.args.no_wait, timeout=ctx.args.timeout, out=ctx.out)


# ------------------------------------------------------------ lineage


def show_lineage(ctx: Context) -> None:
    document = ctx.client.get(f"/v1/lineage/{segment(ctx.args.ref)}", {"limit": ctx.args.limit, "after": ctx.args.after})
    ctx.out.emit(document, render_lineage)


def _people_table(people: list[dict[str, Any]]) -> str:
    rows = [(p["name"] or "?", ", ".join(p["roles"]) or "-", p["assets"], p["account"]) for p in people]
    return table(["NAME", "ROLES", "ASSETS", "ACCOUNT"], rows, indent="  ")


def _assets_table(assets: dict[str, Any]) -> str:
    rows = [
        (a["asset"], a["title"], ", ".join(short_did(h["account"]) for h in a["rights_holders"]), a["license"][:16] + "…" if a["license"] else "terms")
        for a in assets["items"]
    ]
    more = f"\n  … more: --after {assets['next']}" if assets.get("next") else ""
    return table(["ASSET", "TITLE", "RIGHTS HOLDERS", "LICENSE"], rows, indent="  ") + more


def _model_line(m: dict[str, Any]) -> str:
    return f"{m['name']} {m['version']} ({m['id']}) by {short_did(m['author'])}, {m['manifest_size']} training assets"


def _usage_line(totals: dict[str, Any]) -> str:
    return f"recorded use: {totals['units']} units in {totals['uses']} records, {totals['revenue']} credits charged"


def render_lineage(d: dict[str, Any]) -> str:
    kind = d["kind"]
    if kind == "model":
        lines = [f"model {_model_line(d['model'])}"]
        lines += [f"  built on {_model_line(m)}" for m in d["base_models"]]
        lines += ["people behind it:", _people_table(d["people"]), "training assets:", _assets_table(d["assets"])]
        lines += ["apps using it:", table(["APP", "NAME", "AUTHOR"], [(a["id"], a["name"], short_did(a["author"])) for a in d["apps"]], indent="  ")]
        lines.append(_usage_line(d["usage"]))
    elif kind == "app":
        app = d["app"]
        lines = [f"app {app['name']} {app['version']} ({app['id']}) by {short_did(app['author'])}", "models:"]
        lines += [f"  {'uses' if m['used_by_app'] else 'base'} {_model_line(m)}" for m in d["models"]]
        lines += ["people behind it:", _people_table(d["people"]), "training assets:", _assets_table(d["assets"])]
        lines.append(_usage_line(d["usage"]))
    elif kind == "asset":
        asset = d["asset"]
        lines = [f"asset {asset['title']!r} ({asset['id']}), {asset['status']}", "models trained on it:"]
        rows = [(m["id"], f"{m['name']} {m['version']}", short_did(m["author"]), m["via_base"] or "directly") for m in d["models"]]
        lines.append(table(["MODEL", "NAME", "AUTHOR", "VIA"], rows, indent="  "))
        lines += ["apps using those models:", table(["APP", "NAME", "MODEL"], [(a["id"], a["name"], a["via_model"]) for a in d["apps"]], indent="  ")]
        lines += ["models and apps whose use paid its rights holders:", render_by_source(d["paid_through"])]
    else:
        lines = [f"apps using works of {d['name'] or d['account']}:"]
        rows = [(a["id"], f"{a['name']} {a['version']}", a["via_model"][:16] + "…", a["via_asset"]) for a in d["apps"]]
        lines.append(table(["APP", "NAME", "MODEL", "ASSET"], rows, indent="  "))
    if d.get("complete") is False:
        lines.append("(stopped early: the walk reached its budget)")
    return "\n".join(lines)


# ------------------------------------------------------------ manifest proofs


def prove_membership(ctx: Context) -> None:
    args = ctx.args
    document = ctx.client.get(f"/v1/models/{args.model}/proof", {"asset": args.asset})
    result = verify_proof_document(document, model=args.model, asset=args.asset)
    if args.output is not None:
        try:
            args.output.write_text(json.dumps(document, indent=1) + "\n")
        except OSError as exc:
            raise CliError(f"cannot write {args.output}: {exc.strerror or exc}") from None
        result["saved"] = str(args.output)
    ctx.out.emit(result, render_proof_result)


def verify_saved_proof(ctx: Context) -> None:
    try:
        document = json.loads(ctx.args.file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CliError(f"cannot read a proof from {ctx.args.file}: {exc}") from None
    ctx.out.emit(verify_proof_document(document), render_proof_result)


def render_proof_result(r: dict[str, Any]) -> str:
    verdict = "IS in" if r["present"] else "is NOT in"
    return fields(
        [
            ("result", f"asset {r['asset']} {verdict} the training manifest of model {r['model']}"),
            ("proof", f"valid ({r['leaves']} leaf proof{'s' if r['leaves'] != 1 else ''} to manifest root {r['manifest_root'][:16]}…, {r['manifest_size']} assets)"),
            ("model event", f"in block {r['height']} {r['block_hash']}, under events root {r['events_root'][:16]}…"),
            ("header", f"signed by {r['proposer']}"),
            ("saved", r.get("saved")),
        ]
    )
