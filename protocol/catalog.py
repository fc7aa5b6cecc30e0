"""The catalog's search indexes, written into state by the asset rules.

Every active asset has posting keys ``ix/c/<field> 0x00 <value> 0x00 <order> <sort key>``
for each searchable fact: ``all``; ``w`` (each word of its title, tags, genre and description);
``type``; ``genre``; ``tag``; ``holder`` (each rights holder); ``isrc``; ``iswc``; ``len``
(its duration band, see ``DURATION_BANDS_MS``); and ``use`` (``<purpose>:<price class>``
for each purpose its terms do not deny, see ``PRICE_CLASSES``). Each posting exists in
two orders: ``n`` (newest first: the inverted registration height, then the CID) and
``t`` (title, then the CID). A search intersects the posting lists of its filters in one
order (a range of durations or prices is the union of the bands or classes it overlaps),
so it reads only keys that can match (see storage/catalog_search.py). ``ix/f/<cid>``
holds the facts checked exactly after the intersection (duration, terms). Withdrawing an
asset removes its postings; new terms rewrite only the ``use`` postings and the facts.

Words are cut deterministically, independent of the Unicode tables of any Python
version (the rules of consensus must not change with an interpreter upgrade): ASCII
letters are lower-cased and ASCII letters and digits are word characters; other ASCII
characters, Latin-1 punctuation and the general and CJK punctuation blocks separate
words; every other character is a word character, kept as it is. Words of one ASCII
character are not indexed; at most ``MAX_WORDS`` distinct words per asset.
"""

from __future__ import annotations

import struct
from typing import Iterable

from .encoding import decode_stored, encode
from .records import AssetRecord, StateOverlay, StateView

CATALOG = b"ix/c/"
FACTS = b"ix/f/"
MAX_WORDS = 256
MAX_WORD_CHARS = 32
TITLE_KEY_BYTES = 48
NEWEST = "n"
TITLE = "t"
ORDERS = (NEWEST, TITLE)
FIELDS = ("all", "w", "type", "genre", "tag", "holder", "isrc", "iswc", "len", "use")
DURATION_BANDS_MS = (0, 10_000, 30_000, 60_000, 120_000, 240_000, 480_000)
"""Lower bounds of the duration bands (a band runs to the next bound; the last has none)."""
PRICE_CLASSES = (("free", 0, 0), ("1", 1, 1), ("10", 2, 10), ("100", 11, 100), ("1k", 101, 1_000), ("more", 1_001, None))
"""(name, lowest price, highest price): "free" is use the terms allow without payment."""


def _is_separator(char: str) -> bool:
    code = ord(char)
    if code < 128:
        return not char.isalnum()  # ASCII only here: the same answer in every Python
    return (
        0xA0 <= code <= 0xBF
        or code in (0xD7, 0xF7)
        or 0x2000 <= code <= 0x206F
        or 0x3000 <= code <= 0x303F
        or 0xFF01 <= code <= 0xFF0F
    )


def fold(text: str) -> str:
    """Lower-case ASCII letters only (str.lower would depend on the Unicode version)."""
    return text.translate(_ASCII_LOWER)


_ASCII_LOWER = {code: code + 32 for code in range(ord("A"), ord("Z") + 1)}


def words(text: str) -> list[str]:
    """The distinct words of ``text`` in order of first appearance (see the module docstring)."""
    found: dict[str, None] = {}
    current: list[str] = []
    for char in fold(text) + " ":
        if _is_separator(char):
            if current:
                word = "".join(current)[:MAX_WORD_CHARS]
                if len(word) > 1 or ord(word) >= 128:
                    found.setdefault(word, None)
                current = []
        else:
            current.append(char)
    return list(found)


def asset_words(registration: dict) -> list[str]:
    text = " ".join([registration["title"], *registration["tags"], registration["genre"], registration["description"]])
    return words(text)[:MAX_WORDS]


def postings(record: AssetRecord, terms: dict | None = None) -> list[tuple[str, str]]:
    """Every (field, value) an asset is findable by under ``terms`` (default: its terms in force)."""
    registration = record.registration
    terms = record.terms if terms is None else terms
    pairs = [("all", ""), ("type", registration["asset_type"])]
    pairs += [("w", word) for word in asset_words(registration)]
    if registration["genre"]:
        pairs.append(("genre", fold(registration["genre"])))
    pairs += [("tag", fold(tag)) for tag in registration["tags"]]
    pairs += [("holder", share["account"]) for share in registration["rights_holders"]]
    if registration["isrc"]:
        pairs.append(("isrc", registration["isrc"]))
    if registration["iswc"]:
        pairs.append(("iswc", registration["iswc"]))
    media = registration["media"]
    pairs.append(("len", duration_band(media["duration_ms"]) if media else "none"))
    pairs += [
        ("use", f"{purpose}:{price_class(rule['mode'], rule['price'])}")
        for purpose, rule in sorted(terms["purposes"].items())
        if rule["mode"] != "denied"
    ]
    return list(dict.fromkeys(pairs))


def duration_band(duration_ms: int) -> str:
    """The band's lower bound in seconds, e.g. "60s" for 60 to 120 seconds."""
    lower = max(bound for bound in DURATION_BANDS_MS if bound <= duration_ms)
    return f"{lower // 1000}s"


def duration_bands(low_ms: int | None, high_ms: int | None) -> list[str] | None:
    """The bands a duration range overlaps; None if it excludes none of them."""
    low, high = low_ms or 0, high_ms
    bands = []
    for index, bound in enumerate(DURATION_BANDS_MS):
        upper = DURATION_BANDS_MS[index + 1] if index + 1 < len(DURATION_BANDS_MS) else None
        if (upper is None or low < upper) and (high is None or bound <= high):
            bands.append(f"{bound // 1000}s")
    return None if len(bands) == len(DURATION_BANDS_MS) else bands


def price_class(mode: str, price: int) -> str:
    if mode == "allowed":
        return "free"
    return next(name for name, low, high in PRICE_CLASSES if low <= price and (high is None or price <= high))


def price_classes(max_price: int | None) -> list[str]:
    """The classes whose cheapest price is at most ``max_price`` (all for None)."""
    return [name for name, low, _ in PRICE_CLASSES if max_price is None or low <= max_price]


def posting_prefix(field: str, value: str, order: str) -> bytes:
    return CATALOG + field.encode() + b"\x00" + value.encode() + b"\x00" + order.encode()


def title_key(title: str) -> bytes:
    return fold(title).encode()[:TITLE_KEY_BYTES]


def sort_key(record: AssetRecord, order: str) -> bytes:
    """Where an asset sorts in a posting list; unique per asset (it ends with the CID)."""
    if order == NEWEST:
        return struct.pack(">Q", 2**64 - 1 - record.registered_at) + record.cid.encode()
    return title_key(record.registration["title"]) + b"\x00" + record.cid.encode()


def cid_of_sort_key(key: bytes, order: str) -> str:
    if order == NEWEST:
        return key[8:].decode()
    return key[key.rindex(b"\x00") + 1 :].decode()


def posting_keys(record: AssetRecord, pairs: Iterable[tuple[str, str]]) -> list[bytes]:
    return [posting_prefix(f, v, order) + sort_key(record, order) for f, v in pairs for order in ORDERS]


def facts_key(cid: str) -> bytes:
    return FACTS + cid.encode()


def asset_facts(record: AssetRecord) -> list:
    """[duration ms or -1, terms expiry, {purpose: [mode, price]}]: what search filters on after intersecting."""
    media = record.registration["media"]
    purposes = {purpose: [rule["mode"], rule["price"]] for purpose, rule in record.terms["purposes"].items()}
    return [media["duration_ms"] if media else -1, record.terms["expires"], purposes]


def get_facts(state: StateView, cid: str) -> list | None:
    raw = state.get(facts_key(cid))
    return None if raw is None else decode_stored(raw)


def index_asset(state: StateOverlay, record: AssetRecord) -> None:
    for key in posting_keys(record, postings(record)):
        state.put(key, b"")
    state.put(facts_key(record.cid), encode(asset_facts(record)))


def unindex_asset(state: StateOverlay, record: AssetRecord) -> None:
    for key in posting_keys(record, postings(record)):
        state.delete(key)
    state.delete(facts_key(record.cid))


def reindex_terms(state: StateOverlay, before: AssetRecord, after: AssetRecord) -> None:
    """Move an asset's ``use`` postings and facts from its old terms to its new ones."""
    old = set(posting_keys(before, postings(before)))
    new = set(posting_keys(after, postings(after)))
    for key in sorted(old - new):
        state.delete(key)
    for key in sorted(new - old):
        state.put(key, b"")
    state.put(facts_key(after.cid), encode(asset_facts(after)))


def expected_index(records: Iterable[AssetRecord]) -> dict[bytes, bytes]:
    """Every catalog key that the given active assets should have (for checks and tests)."""
    expected: dict[bytes, bytes] = {}
    for record in records:
        for key in posting_keys(record, postings(record)):
            expected[key] = b""
        expected[facts_key(record.cid)] = encode(asset_facts(record))
    return expected


# Every asset a did ever held (never removed): creator lineage walks it.
HELD_ASSETS = b"ix/ha/"


def held_asset_key(did: str, cid: str) -> bytes:
    return HELD_ASSETS + did.encode() + b"\x00" + cid.encode()
