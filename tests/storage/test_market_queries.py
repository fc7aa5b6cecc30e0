"""The market's queries over a real LevelDB, on chains committed like the node commits them.

Search is checked against a brute-force filter of every asset for many queries, in both
orders and across pages, including pages cut short by the work budget; royalties,
usage and lineage against what the events did.
"""

from __future__ import annotations

import random

import pytest

from protocol.catalog import NEWEST, TITLE, fold, words
from protocol.events import (
    Access,
    AppRegister,
    AssetRegister,
    Event,
    ManifestEntry,
    Media,
    ModelRegister,
    ModelTermsSet,
    ParticipantRegister,
    Share,
    UsageRecord,
    manifest_leaf,
    sign_event,
)
from protocol.keys import SigningKey
from protocol.lineage_income import APP_SOURCE, MODEL_SOURCE
from protocol.model_terms import PER_USE, ModelTerms
from protocol.merkle import merkle_root
from protocol.records import AssetRecord, get_asset
from protocol.royalties import DAY_MS, day_of
from protocol.terms import ALLOWED, PER_ACCESS, PURCHASE, PURPOSES, Terms
from storage import catalog_search
from storage.catalog_search import CatalogQuery, search_catalog
from storage.lineage_reads import apps_using_works_of, manifest_page, model_chain, models_trained_on, people_of
from storage.royalty_reads import asset_usage, royalty_statement
from storage.usage_reads import lineage_statement, paid_through_asset, source_usage

from .chain_helpers import GENESIS_TS, asset_cid, build_block, commit, key, make_genesis

GENRES = ("ambient", "Techno", "jazz", "")
TYPES = ("track", "stem", "sample")
WORDS = ("night", "drive", "rain", "piano", "echo", "glass", "river", "dust")
TERMS = (
    Terms.make(),
    Terms.make({"ai_training": (ALLOWED, 0)}),
    Terms.make({"ai_training": (PURCHASE, 5), "data_mining": (ALLOWED, 0)}),
    Terms.make({"ai_training": (PER_ACCESS, 12), "ai_inference": (PURCHASE, 3)}),
    Terms.make({"ai_training": (PURCHASE, 2)}, expires=GENESIS_TS + 5_000),
)
CREATORS = [key(f"creator-{i}") for i in range(4)]
DEV, APP_DEV, FAN = key("dev"), key("app-dev"), key("fan")


class Chain:
    """Commits blocks of signed events on a ChainStore, one block per ``commit`` call."""

    def __init__(self, stores, allocations: dict[str, int]) -> None:
        self.store = stores.chain
        self.store.init_genesis(make_genesis(allocations=allocations))
        self.nonces: dict[str, int] = {}
        self.ts = GENESIS_TS

    def event(self, signer: SigningKey, body) -> Event:
        self.nonces[signer.did] = self.nonces.get(signer.did, 0) + 1
        return sign_event(signer, body, self.nonces[signer.did], self.ts)

    def commit(self, events: list[Event], *, ts: int | None = None) -> None:
        head = self.store.head()
        self.ts = max(self.ts + 1000, ts or 0)
        block, result = build_block(self.store, head.hash, head.height, head.state_root, events, ts=self.ts)
        commit(self.store, block, result, finalized_height=block.height)


def an_asset(rng: random.Random, n: int) -> AssetRegister:
    owner = CREATORS[n % len(CREATORS)]
    holders = (Share(owner.did, 10_000),) if n % 3 else (Share(owner.did, 7_000), Share(CREATORS[(n + 1) % 4].did, 3_000))
    title = " ".join(rng.sample(WORDS, 2)).title() + f" {n}"
    return AssetRegister(
        cid=asset_cid(f"q{n}"),
        size=1000,
        media=Media("wav", rng.choice([30_000, 90_000, 200_000]), 44_100, 2),
        title=title,
        description=" ".join(rng.sample(WORDS, 3)),
        asset_type=rng.choice(TYPES),
        genre=rng.choice(GENRES),
        tags=tuple(rng.sample(WORDS, 1)),
        isrc=f"USRC17{n:06d}" if n % 5 == 0 else "",
        iswc="",
        rights_holders=holders,
        parents=(),
        terms=rng.choice(TERMS),
        sealed_cid=asset_cid(f"q{n}-sealed"),
    )


@pytest.fixture
def catalog(stores):
    rng = random.Random(5)
    chain = Chain(stores, {DEV.did: 10_000, FAN.did: 1_000})
    chain.commit([chain.event(person, ParticipantRegister("p", ("creator",))) for person in CREATORS])
    for start in range(0, 240, 40):
        chain.commit([chain.event(CREATORS[n % 4], an_asset(rng, n)) for n in range(start, start + 40)])
    return chain


def matches(record: AssetRecord, query: CatalogQuery, now: int) -> bool:
    r = record.registration
    text = set(words(" ".join([r["title"], *r["tags"], r["genre"], r["description"]])))
    if not set(words(query.text)) <= text:
        return False
    if query.asset_type and r["asset_type"] != query.asset_type:
        return False
    if query.genre and fold(r["genre"]) != fold(query.genre):
        return False
    if query.creator and query.creator not in record.holders:
        return False
    if query.isrc and r["isrc"] != query.isrc:
        return False
    duration = r["media"]["duration_ms"]
    if query.min_duration_ms is not None and duration < query.min_duration_ms:
        return False
    if query.max_duration_ms is not None and duration > query.max_duration_ms:
        return False
    if query.purpose:
        rule = record.terms["purposes"][query.purpose]
        expires = record.terms["expires"]
        if rule["mode"] == "denied" or (expires and now > expires):
            return False
        if query.max_price is not None and rule["price"] > query.max_price:
            return False
    return True


def brute_force(chain: Chain, query: CatalogQuery, now: int) -> list[str]:
    if not hasattr(chain, "records"):
        chain.records = [get_asset(chain.store, asset_cid(f"q{n}")) for n in range(240)]  # type: ignore[attr-defined]
    hits = [record for record in chain.records if record is not None and matches(record, query, now)]  # type: ignore[attr-defined]
    if query.order == NEWEST:
        hits.sort(key=lambda rec: (-rec.registered_at, rec.cid))
    else:
        hits.sort(key=lambda rec: (fold(rec.registration["title"]).encode()[:48], rec.cid))
    return [record.cid for record in hits]


def all_pages(chain: Chain, query: CatalogQuery, now: int) -> tuple[list[str], int]:
    found, pages, after = [], 0, None
    while True:
        with chain.store.scan_state() as scan:
            page = search_catalog(scan, CatalogQuery(**{**query.__dict__, "after": after}), now)
        found += [record.cid for record in page.assets]
        pages += 1
        if page.next is None:
            return found, pages
        after = page.next


def random_query(rng: random.Random) -> CatalogQuery:
    purpose = rng.choice([None, None, *PURPOSES])
    return CatalogQuery(
        text=" ".join(rng.sample(WORDS, rng.choice([0, 0, 1, 2]))),
        asset_type=rng.choice([None, None, *TYPES]),
        genre=rng.choice([None, None, "AMBIENT", "techno", "jazz"]),
        creator=rng.choice([None, None, None, CREATORS[1].did]),
        purpose=purpose,
        max_price=rng.choice([None, 0, 4, 20]) if purpose else None,
        min_duration_ms=rng.choice([None, None, 60_000]),
        max_duration_ms=rng.choice([None, None, 100_000]),
        order=rng.choice([NEWEST, TITLE]),
        limit=rng.choice([3, 7, 50]),
    )


def test_search_equals_brute_force(catalog) -> None:
    rng = random.Random(7)
    now = GENESIS_TS + 10_000  # the expiring terms have expired
    for _ in range(120):
        query = random_query(rng)
        found, _ = all_pages(catalog, query, now)
        assert found == brute_force(catalog, query, now), query


def test_search_by_isrc_and_all(catalog) -> None:
    now = GENESIS_TS
    found, _ = all_pages(catalog, CatalogQuery(isrc="USRC17000010"), now)
    assert found == brute_force(catalog, CatalogQuery(isrc="USRC17000010"), now) == [asset_cid("q10")]
    everything, pages = all_pages(catalog, CatalogQuery(limit=100), now)
    assert len(everything) == 240 and pages == 3


def test_search_pages_cut_by_the_budget_resume_without_gaps(catalog, monkeypatch) -> None:
    monkeypatch.setattr(catalog_search, "MAX_WORK", 25)
    now = GENESIS_TS
    query = CatalogQuery(text="night", genre="jazz", purpose="ai_training", limit=50)
    with catalog.store.scan_state() as scan:
        first = search_catalog(scan, query, now)
    assert not first.complete and first.next is not None and first.work < 25 + 8  # + one union's seeks
    found, pages = all_pages(catalog, query, now)
    assert found == brute_force(catalog, query, now) and pages > 2


def test_unknown_word_finds_nothing_quickly(catalog) -> None:
    with catalog.store.scan_state() as scan:
        page = search_catalog(scan, CatalogQuery(text="night zzzz"), GENESIS_TS)
    assert page.assets == [] and page.next is None and page.work <= 3


# --- royalties, usage and lineage ------------------------------------------------------


def test_royalty_statement_and_usage_by_day(stores) -> None:
    chain = Chain(stores, {FAN.did: 1_000})
    alice, bob = CREATORS[0], CREATORS[1]
    chain.commit([chain.event(alice, ParticipantRegister("a", ("creator",))), chain.event(FAN, ParticipantRegister("f", ("consumer",)))])
    song = AssetRegister(asset_cid("song"), 1000, Media("wav", 1000, 44_100, 2), "Song", "", "track", "", (), "", "",
                         (Share(alice.did, 7_000), Share(bob.did, 3_000)), (), Terms.make({"ai_inference": (PER_ACCESS, 10)}), asset_cid("song-sealed"))
    chain.commit([chain.event(alice, song)])
    day_one = day_of(chain.ts)
    access = Access(song.cid, "ai_inference", None, None, "12D3KooWNode", 1000, 1000)
    chain.commit([chain.event(FAN, access) for _ in range(3)])
    chain.commit([chain.event(FAN, access)], ts=(day_one + 2) * DAY_MS + 5)
    with chain.store.scan_state() as scan:
        whole = royalty_statement(scan, alice.did, 0, day_one + 10)
        first_day = royalty_statement(scan, alice.did, day_one, day_one)
        later = royalty_statement(scan, bob.did, day_one + 1, day_one + 10)
        usage = asset_usage(scan, song.cid, 0, day_one + 10)
    assert whole.rows[song.cid].revenue == 28 and whole.rows[song.cid].accesses == {"ai_inference": 4}
    assert whole.totals.paid_accesses == 4
    assert first_day.totals.revenue == 21
    assert later.rows[song.cid].revenue == 3 and later.totals.accesses == {"ai_inference": 1}
    assert [(day - day_one, counters.revenue) for day, counters in usage] == [(0, 30), (2, 10)]


def test_lineage_reads(stores) -> None:
    chain = Chain(stores, {DEV.did: 100})
    alice = CREATORS[0]
    chain.commit([
        chain.event(alice, ParticipantRegister("a", ("creator",))),
        chain.event(DEV, ParticipantRegister("d", ("model_developer",))),
        chain.event(APP_DEV, ParticipantRegister("e", ("app_developer",))),
    ])
    free = Terms.make({"ai_training": (ALLOWED, 0)})
    rng = random.Random(1)
    assets = [AssetRegister(**{**an_asset(rng, n).__dict__, "rights_holders": (Share(alice.did, 10_000),), "terms": free}) for n in range(5)]
    chain.commit([chain.event(alice, body) for body in assets])

    def model(cids: list[str], base: bytes | None) -> ModelRegister:
        manifest = tuple(ManifestEntry(cid, None) for cid in sorted(cids))
        return ModelRegister("m", "1", base, manifest, merkle_root([manifest_leaf(entry) for entry in manifest]))

    base = chain.event(DEV, model([a.cid for a in assets[:3]], None))
    chain.commit([base])
    tuned = chain.event(DEV, model([assets[3].cid], base.id))
    chain.commit([tuned])
    app = chain.event(APP_DEV, AppRegister("radio", "1", (tuned.id,)))
    chain.commit([app])
    with chain.store.scan_state() as scan:
        assert [ident for ident, _ in model_chain(scan, tuned.id)] == [tuned.id, base.id]
        assert people_of(scan, [tuned.id, base.id]) == {alice.did: 4}
        page, cursor = manifest_page(scan, [tuned.id, base.id], None, 2)
        rest, end = manifest_page(scan, [tuned.id, base.id], cursor, 10)
        assert [item.asset for item in page + rest] == [assets[3].cid, *sorted(a.cid for a in assets[:3])] and end is None
        models, complete = models_trained_on(scan, assets[0].cid, 100)
        assert complete and [(ident, via) for ident, _, via in models] == [(base.id, None), (tuned.id, base.id)]
        assert models_trained_on(scan, assets[4].cid, 100) == ([], True)
        apps, complete = apps_using_works_of(scan, alice.did, 100)
        assert complete and [(ident, model_id) for ident, _, model_id, _ in apps] == [(app.id, tuned.id)]


def test_lineage_income_statement_paid_through_and_source_usage(stores) -> None:
    chain = Chain(stores, {APP_DEV.did: 10_000})
    alice, bob = CREATORS[0], CREATORS[1]
    chain.commit([
        chain.event(alice, ParticipantRegister("a", ("creator",))),
        chain.event(DEV, ParticipantRegister("d", ("model_developer",))),
        chain.event(APP_DEV, ParticipantRegister("e", ("app_developer",))),
    ])
    song = AssetRegister(asset_cid("song"), 1000, Media("wav", 1000, 44_100, 2), "Song", "", "track", "", (), "", "",
                         (Share(alice.did, 7_000), Share(bob.did, 3_000)), (), Terms.make({"ai_training": (ALLOWED, 0)}), asset_cid("song-sealed"))
    chain.commit([chain.event(alice, song)])
    manifest = (ManifestEntry(song.cid, None),)
    trained = chain.event(DEV, ModelRegister("m", "1", None, manifest, merkle_root([manifest_leaf(e) for e in manifest])))
    chain.commit([trained])
    app = chain.event(APP_DEV, AppRegister("radio", "1", (trained.id,)))
    terms = ModelTerms.make({"ai_inference": (PER_USE, 2)}, training_share_bps=5_000)
    chain.commit([app, chain.event(DEV, ModelTermsSet(trained.id, terms))])
    day_one = day_of(chain.ts + 1000)

    def use(count: int, via_app: bool) -> Event:
        body = UsageRecord(None if via_app else trained.id, app.id if via_app else None, "ai_inference", count, 0, chain.ts, 2 * count)
        return chain.event(APP_DEV, body)

    chain.commit([use(100, True), use(10, False)])
    chain.commit([use(1000, True)], ts=(day_one + 1) * DAY_MS + 5)
    app_source, model_source = APP_SOURCE + app.id, MODEL_SOURCE + trained.id
    with chain.store.scan_state() as scan:
        whole = lineage_statement(scan, alice.did, 0, day_one + 10)
        first_day = lineage_statement(scan, bob.did, day_one, day_one)
        developer = lineage_statement(scan, DEV.did, 0, day_one + 10)
        through = paid_through_asset(scan, song.cid, day_one + 1, day_one + 1)
        app_days = source_usage(scan, app_source, 0, day_one + 10)
    # Each use pays 2 a call: half to the song (Alice 70%, Bob 30%), half kept by the developer.
    assert {s: (c.uses, c.units, c.revenue) for s, c in whole.rows.items()} == {app_source: (2, 1100, 770), model_source: (1, 10, 7)}
    assert (first_day.totals.units, first_day.totals.revenue) == (110, 33)
    assert developer.totals.revenue == 1110
    assert {s: c.revenue for s, c in through.rows.items()} == {app_source: 1000}
    assert [(day - day_one, c.units, c.revenue) for day, c in app_days] == [(0, 100, 200), (1, 1000, 2000)]
