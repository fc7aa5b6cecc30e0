"""``audiera watch``: follow the node's live feed (new heads, finality, events) and print each as it comes."""

from __future__ import annotations

import argparse
import json
from typing import Any

from protocol.events import BODY_TYPES

from node.client import FeedClosed, FeedReader

from .context import Context
from .errors import CliError, UsageError
from .events_view import describe
from .output import short_id


def register_commands(commands: Any, common: list[argparse.ArgumentParser]) -> None:
    watch = commands.add_parser(
        "watch", parents=common, help="print new heads, finality and events as the node sees them",
        description="Follow the node's live feed. --kind, --account and --asset narrow the events "
        "(each may be given more than once; an event must match every option given). "
        "With --json, one JSON message per line.",
    )
    watch.add_argument("--kind", action="append", default=[], choices=sorted(BODY_TYPES), metavar="KIND",
                       help="only events of this kind")
    watch.add_argument("--account", action="append", default=[], metavar="DID", help="only events by or naming this account")
    watch.add_argument("--asset", action="append", default=[], metavar="CID", help="only events naming this asset")
    watch.add_argument("--events-only", action="store_true", help="print events only, not heads and finality")
    watch.add_argument("--count", type=int, default=0, metavar="N", help="stop after N lines (default: run until interrupted)")
    watch.set_defaults(handler=watch_feed)


def watch_feed(ctx: Context) -> None:
    args = ctx.args
    if args.count < 0:
        raise UsageError("--count must be 0 (no limit) or more")
    topics = ["events"] if args.events_only else []
    try:
        reader = FeedReader(ctx.client.url, topics=topics, kinds=args.kind, accounts=args.account, assets=args.asset)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    printed = 0
    with reader:
        # On stderr even with --json: a script learns the subscription stands before it acts.
        print(f"watching {ctx.client.url} (Ctrl-C to stop)", file=ctx.out.stderr, flush=True)
        try:
            for message in reader.messages():
                for line in _lines(message, ctx.out.json_mode):
                    ctx.out.stdout.write(line + "\n")
                    ctx.out.stdout.flush()
                    printed += 1
                    if args.count and printed >= args.count:
                        return
        except FeedClosed as closed:
            raise CliError(f"the node ended the feed: {closed.reason or f'code {closed.code}'}") from None


def _lines(message: dict[str, Any], json_mode: bool) -> list[str]:
    kind = message["type"]
    if kind == "events":
        if json_mode:
            return [json.dumps({"type": "event", "height": message["height"], "block": message["hash"], **event}) for event in message["events"]]
        return [
            f"event  {message['height']:>7} {event['kind']:<20} {short_id(event['id'])} by {event['author']}  {describe(event)}".rstrip()
            for event in message["events"]
        ]
    if json_mode:
        return [json.dumps(message)]
    if kind == "head":
        return [f"head   {message['height']:>7} {short_id(message['hash'])} by {message['proposer']} ({message['event_count']} events)"]
    if kind == "final":
        return [f"final  {message['height']:>7} {short_id(message['hash'])}"]
    if kind == "reorg":
        return [f"reorg  reverted {', '.join(str(block['height']) for block in message['reverted'])}"]
    return [json.dumps(message)]
