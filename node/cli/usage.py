"""``audiera model terms`` and ``audiera usage record|show``: paid use of models and apps.

``usage record`` signs, by default, the price the node quotes now as its ``max_price``:
if the model's developer raises the price before the event lands, the use is refused
and nothing is charged, instead of charging more than was shown.
"""

from __future__ import annotations

import argparse
from decimal import Decimal, InvalidOperation
from typing import Any

from protocol.errors import InvalidEvent
from protocol.events import ModelTermsSet, UsageRecord
from protocol.model_terms import ALLOWED, PER_USE, TOTAL_BPS, ModelTerms
from protocol.terms import PURPOSES

from .chain import event_id
from .context import Context
from .errors import UsageError
from .events_view import event_outcome, short_did
from .output import fields, table
from .royalties import day
from .submit import add_wait_options, submit_and_follow
from .terms_options import purpose_price


def percent_bps(text: str) -> int:
    """``40``, ``40%`` or ``12.5`` percent as basis points (an argparse type)."""
    try:
        value = Decimal(text.removesuffix("%")) * 100
    except InvalidOperation:
        value = Decimal(-1)
    if value != value.to_integral_value() or not 0 <= value <= TOTAL_BPS:
        raise argparse.ArgumentTypeError(f"{text!r} is not a percentage from 0 to 100 with at most two decimals")
    return int(value)


def add_model_terms_command(actions: Any, common: list[argparse.ArgumentParser]) -> None:
    terms = actions.add_parser(
        "terms", parents=common, help="show or set the terms of a model's use",
        description="Without options: show the model's terms. With any: set them (you must be its developer); "
        "every purpose not named is denied.",
    )
    terms.add_argument("model", type=event_id, metavar="MODEL")
    terms.add_argument("--allow", action="append", default=[], choices=PURPOSES, metavar="PURPOSE", help="allow a purpose freely (repeatable)")
    terms.add_argument("--per-use", action="append", default=[], type=purpose_price, metavar="PURPOSE=CREDITS",
                       help="allow a purpose at this price per unit used (repeatable)")
    terms.add_argument("--training-share", type=percent_bps, metavar="PERCENT",
                       help="of each payment, the part owed to the training data's rights holders")
    terms.add_argument("--derivative-share", type=percent_bps, metavar="PERCENT",
                       help="of each payment for a model built on this one, the part owed to this model")
    terms.add_argument("--deny-all", action="store_true", help="set terms that deny every use")
    add_wait_options(terms)
    terms.set_defaults(handler=model_terms)


def register_commands(commands: Any, common: list[argparse.ArgumentParser]) -> None:
    usage = commands.add_parser("usage", parents=common, help="record paid use of a model or app; show a model's or app's use")
    actions = usage.add_subparsers(dest="usage_command", required=True, metavar="{record,show}")
    record = actions.add_parser(
        "record", parents=common, help="record (and pay for) units of use of a model or app over a period",
        description="Signs a usage.record event; you pay the model's terms, split down its lineage.",
    )
    record.add_argument("ref", type=event_id, metavar="MODEL|APP")
    record.add_argument("--count", type=int, required=True, metavar="N", help="units used (calls, seconds …)")
    record.add_argument("--purpose", required=True, choices=PURPOSES, metavar="PURPOSE", help=", ".join(PURPOSES))
    record.add_argument("--max-price", type=int, metavar="CREDITS", help="pay at most this for the batch (default: the price quoted now)")
    record.add_argument("--from", dest="period_start", type=int, metavar="MS", help="when the counted use began (default: --to)")
    record.add_argument("--to", dest="period_end", type=int, metavar="MS", help="when it ended (default: the head block's time)")
    add_wait_options(record)
    record.set_defaults(handler=record_usage)
    show = actions.add_parser("show", parents=common, help="a model's or app's recorded use per day")
    show.add_argument("ref", type=event_id, metavar="MODEL|APP")
    show.add_argument("--from", dest="first", type=day, metavar="DATE", help="first UTC day (default: the beginning)")
    show.add_argument("--to", dest="last", type=day, metavar="DATE", help="last UTC day, inclusive (default: today)")
    show.set_defaults(handler=show_usage)


def _terms_given(args: argparse.Namespace) -> bool:
    return bool(args.allow or args.per_use or args.deny_all or args.training_share is not None or args.derivative_share is not None)


def model_terms(ctx: Context) -> None:
    args = ctx.args
    if not _terms_given(args):
        ctx.out.emit(ctx.client.get(f"/v1/models/{args.model}/terms"), render_terms)
        return
    prices: dict[str, tuple[str, int]] = {}
    for purpose, mode in [*((p, (ALLOWED, 0)) for p in args.allow), *((p, (PER_USE, price)) for p, price in args.per_use)]:
        if purpose in prices:
            raise UsageError(f"purpose {purpose} is given more than once in --allow and --per-use")
        prices[purpose] = mode
    try:
        terms = ModelTerms.make(prices, training_share_bps=args.training_share or 0, derivative_share_bps=args.derivative_share or 0)
    except InvalidEvent as exc:
        raise UsageError(exc.message) from None
    body = ModelTermsSet(bytes.fromhex(args.model), terms)
    state = submit_and_follow(ctx.client, ctx.signing_key(), body, wait=not args.no_wait, timeout=args.timeout, out=ctx.out)
    document = {"model": args.model, "terms": {**terms.to_wire(), "since": (state.get("block") or {}).get("height")}, "event": state}
    ctx.out.emit(document, lambda d: "\n".join([render_terms(d), fields(event_outcome(d["event"]))]))


def _share(bps: int) -> str:
    return f"{bps / 100:g}%"


def render_terms(d: dict[str, Any]) -> str:
    terms = d["terms"]
    rows = [(p, t["mode"], t["price"] or "-") for p, t in terms["purposes"].items()]
    since = f"since block {terms['since']}" if terms.get("since") else "none set: every use is denied"
    return "\n".join(
        [
            f"terms of model {d['model']} ({since})",
            table(["PURPOSE", "MODE", "CREDITS PER UNIT"], rows, indent="  "),
            fields([("training share", _share(terms["training_share_bps"])), ("derivative share", _share(terms["derivative_share_bps"]))], indent="  "),
        ]
    )


def record_usage(ctx: Context) -> None:
    args = ctx.args
    client = ctx.client
    if not 1 <= args.count:
        raise UsageError("--count must be at least 1")
    quote = client.get(f"/v1/usage/{args.ref}/quote", {"purpose": args.purpose, "count": args.count})
    period_end = args.period_end if args.period_end is not None else int(client.get("/v1/status")["head_time"])
    period_start = args.period_start if args.period_start is not None else period_end
    ident = bytes.fromhex(args.ref)
    max_price = quote["price"] if args.max_price is None else args.max_price
    try:
        body = UsageRecord.from_wire(
            {"model": ident if quote["kind"] == "model" else None, "app": ident if quote["kind"] == "app" else None,
             "purpose": args.purpose, "count": args.count, "period_start": period_start, "period_end": period_end,
             "max_price": max_price}
        )
    except InvalidEvent as exc:
        raise UsageError(exc.message) from None
    state = submit_and_follow(client, ctx.signing_key(), body, wait=not args.no_wait, timeout=args.timeout, out=ctx.out)
    document = {"usage": state["id"], quote["kind"]: args.ref, "purpose": args.purpose, "count": args.count,
                "price": quote["price"], "max_price": max_price, "event": state}
    ctx.out.emit(document, lambda d: fields([("usage", d["usage"]), (quote["kind"], args.ref), ("units", f"{d['count']} of {d['purpose']}"),
                                             ("price", f"{d['price']} credits (max {d['max_price']})"), *event_outcome(d["event"])[1:]]))


def show_usage(ctx: Context) -> None:
    document = ctx.client.get(f"/v1/usage/{ctx.args.ref}", {"from": ctx.args.first, "to": ctx.args.last})
    ctx.out.emit(document, render_usage)


def render_usage(d: dict[str, Any]) -> str:
    rows = [(row["day"], row["uses"], row["units"], row["revenue"]) for row in d["days"]]
    totals = d["totals"]
    return "\n".join(
        [
            f"use of {d['kind']} {d['name']} ({d['id']}) by {short_did(d['author'])}, {d['period']['from']} to {d['period']['to']}",
            table(["DAY", "RECORDS", "UNITS", "CREDITS CHARGED"], rows, indent="  "),
            f"  total: {totals['units']} units in {totals['uses']} records, {totals['revenue']} credits",
        ]
    )

