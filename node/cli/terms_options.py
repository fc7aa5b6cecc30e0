"""License terms from the command line: --allow, --price, --per-access and the flags.

Every purpose not named is denied, so terms given on the command line are always
complete: what you see in the command is everything the asset permits.
"""

from __future__ import annotations

import argparse
from datetime import datetime, timezone

from protocol.errors import InvalidEvent
from protocol.terms import ALLOWED, PER_ACCESS, PURCHASE, PURPOSES, Terms

from .errors import UsageError


def purpose_price(text: str) -> tuple[str, int]:
    """``PURPOSE=CREDITS`` (an argparse type)."""
    purpose, sep, credits = text.partition("=")
    if not sep or purpose not in PURPOSES or not (credits.isascii() and credits.isdigit()) or int(credits) < 1:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not PURPOSE=CREDITS with a positive whole price; purposes: {', '.join(PURPOSES)}"
        )
    return purpose, int(credits)


def expiry_ms(text: str) -> int:
    """Milliseconds since the epoch, or an ISO 8601 date/time (UTC unless it says otherwise)."""
    if text.isascii() and text.isdigit():
        return int(text)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is neither milliseconds since 1970 nor an ISO date like 2030-01-31 or 2030-01-31T12:00:00Z"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int(moment.timestamp() * 1000)


def add_terms_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("license terms (every purpose not named is denied)")
    group.add_argument(
        "--allow", action="append", default=[], choices=PURPOSES, metavar="PURPOSE",
        help=f"allow a purpose freely (repeatable); purposes: {', '.join(PURPOSES)}",
    )
    group.add_argument(
        "--price", action="append", default=[], type=purpose_price, metavar="PURPOSE=CREDITS",
        help="allow a purpose after buying a license at this price (repeatable)",
    )
    group.add_argument(
        "--per-access", action="append", default=[], type=purpose_price, metavar="PURPOSE=CREDITS",
        help="allow a purpose, paying this price on every access (repeatable)",
    )
    group.add_argument("--commercial", action="store_true", help="permit commercial use")
    group.add_argument("--no-attribution", action="store_true", help="do not require crediting the rights holders")
    group.add_argument("--derivatives", action="store_true", help="permit derivative works")
    group.add_argument(
        "--expires", type=expiry_ms, default=0, metavar="DATE|MS",
        help="no new use after this ISO date/time (UTC) or millisecond timestamp; default never",
    )


def terms_from_args(args: argparse.Namespace) -> Terms:
    modes: dict[str, tuple[str, int]] = {}
    named = [(p, (ALLOWED, 0)) for p in args.allow]
    named += [(p, (PURCHASE, price)) for p, price in args.price]
    named += [(p, (PER_ACCESS, price)) for p, price in args.per_access]
    for purpose, mode in named:
        if purpose in modes:
            raise UsageError(f"purpose {purpose} is given more than once in --allow, --price and --per-access")
        modes[purpose] = mode
    try:
        return Terms.make(
            modes,
            commercial=args.commercial,
            attribution=not args.no_attribution,
            derivatives=args.derivatives,
            expires=args.expires,
        )
    except InvalidEvent as exc:
        raise UsageError(exc.message) from None
