"""Market query latency on a large store: catalog search, asset history, model lineage, royalties.

Generation goes through the real apply path: every event is signed, blocks are applied
with protocol.state.apply_block, signed by the network's authority and committed with
ChainStore.commit_block, as the block producer does (only the content files are not
uploaded: that the content is on the registering node is checked at intake, which the
generator, as an authority importing its own blocks, does not pass through). Then a
real node starts on that data directory and each query is timed over a kept-alive HTTP
connection from this process; the node's resident memory is read from /proc.

    python bench/queries.py [--assets 100000] [--accesses 1000000] [--models 1000] [--uses 100000] [--runs 200] [--dir DIR] [--reuse DIR]

The store holds one asset with 10,000 events (history), a model with 1,000 training
assets on a base model (lineage), and a rights holder with 10,000 paid accesses
(royalties); the other accesses fall on random assets over 30 days of block time. The
holder of one open asset is paid through ``--models`` models trained on it by ``--uses``
usage records (lineage statement), and every asset carries a random fingerprint, looked
up as noisy trimmed copies through ``POST /v1/fingerprints/match`` (fingerprint lookup).
``--reuse DIR`` keeps the generated store in DIR and, when it is already there, skips
generation (it takes minutes at the default sizes).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import statistics
import sys
import tempfile
import time
import urllib.parse
from dataclasses import replace
from pathlib import Path
from typing import Callable

import nacl.signing

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._nodes import BenchNode, data_dir_of, emit  # noqa: E402
from node.client import NodeClient  # noqa: E402
from node.files.node_keys import read_key_file  # noqa: E402
from node.p2p.identity import load_or_create_node_key, peer_id_of  # noqa: E402
from node.files.network_files import scaffold_network  # noqa: E402
from protocol.blocks import MAX_BLOCK_BYTES, MAX_BLOCK_EVENTS, Block, Header, compute_events_root, sign_header  # noqa: E402
from protocol.cid import RAW, cid_to_str, make_cid  # noqa: E402
from protocol.events import (  # noqa: E402
    Access,
    AppRegister,
    AssetRegister,
    Body,
    Event,
    LicensePurchase,
    ManifestEntry,
    Media,
    ModelRegister,
    ModelTermsSet,
    ParticipantRegister,
    Share,
    UsageRecord,
    manifest_leaf,
)
from protocol.genesis import Genesis  # noqa: E402
from protocol.encoding import encode  # noqa: E402
from protocol.fingerprints import MIN_OVERLAP_FRAMES, pack_fingerprint  # noqa: E402
from protocol.model_terms import PER_USE, ModelTerms  # noqa: E402
from protocol.keys import Domain, SigningKey  # noqa: E402
from protocol.merkle import merkle_root  # noqa: E402
from protocol.records import get_asset  # noqa: E402
from protocol.state import BlockContext, apply_block  # noqa: E402
from protocol.terms import ALLOWED, PER_ACCESS, PURCHASE, Terms  # noqa: E402
from storage.database import open_stores  # noqa: E402

DAY_MS = 86_400_000
SPAN_DAYS = 30
PERIOD_MS = 1000
HOT_EVENTS = 10_000
HOLDER_PAID = 10_000
HOLDER_ASSETS = 100
MODEL_ASSETS = 1_000
BASE_ASSETS = 100
CREDITS = 10**12
FINGERPRINT_FRAMES = MIN_OVERLAP_FRAMES
"""Frames of the random fingerprint each generated asset carries (about 5 s: enough to be matched)."""
GENRES = ["ambient", "techno", "jazz", "hip-hop", "classical", "folk", "house", "drum-and-bass", "soul", "rock", "lofi", "cinematic"]
TYPES = ["track", "track", "track", "stem", "sample", "sound_effect"]
SYLLABLES = ["ka", "lo", "mi", "ra", "ne", "su", "to", "vi", "da", "po", "re", "shi", "an", "el", "or", "un"]
DONE_MARK = "bench-queries.json"


def word_list(count: int, rng: random.Random) -> list[str]:
    words: dict[str, None] = {}
    while len(words) < count:
        words["".join(rng.choice(SYLLABLES) for _ in range(rng.choice([2, 3, 3, 4])))] = None
    return list(words)


class Signer:
    """A person's key with its did and libsodium key made once (SigningKey derives them per use).

    ``sign`` builds exactly what protocol.events.sign_event builds, only faster: the
    generator signs a million events.
    """

    def __init__(self, label: str) -> None:
        self.key = SigningKey(hashlib.sha256(b"audiera-bench/" + label.encode()).digest())
        self.did = self.key.did
        self._nacl = nacl.signing.SigningKey(self.key.seed)

    def sign(self, body: Body, nonce: int, ts: int) -> Event:
        unsigned = Event(kind=body.KIND, author=self.did, nonce=nonce, ts=ts, body=body, sig=b"")
        sig = self._nacl.sign(Domain.EVENT.value + encode(unsigned.unsigned_wire())).signature
        return Event(kind=body.KIND, author=self.did, nonce=nonce, ts=ts, body=body, sig=sig)


def key_for(label: str) -> Signer:
    return Signer(label)


class ChainWriter:
    """Fills blocks with signed events and commits them as the producer does."""

    def __init__(self, stores, genesis: Genesis, authority: SigningKey, start_ts: int) -> None:
        self.chain = stores.chain
        self.genesis = genesis
        self.authority = authority
        self.nonces: dict[str, int] = {}
        self.pending: list[Event] = []
        self.pending_bytes = 0
        self.ts = start_ts
        self.target_ts = start_ts
        self.events = 0
        self.blocks = 0

    def send(self, signer: Signer, body: Body) -> Event:
        nonce = self.nonces.get(signer.did, 0) + 1
        self.nonces[signer.did] = nonce
        event = signer.sign(body, nonce, self.target_ts)
        cost = len(event.raw) + 5
        if len(self.pending) >= MAX_BLOCK_EVENTS or self.pending_bytes + cost > MAX_BLOCK_BYTES - 4096:
            self.flush()
        self.pending.append(event)
        self.pending_bytes += cost
        return event

    def flush(self) -> None:
        if not self.pending:
            return
        head = self.chain.head()
        ts = max(head.ts + PERIOD_MS, self.target_ts)
        ts -= (ts - self.genesis.timestamp) % PERIOD_MS
        if ts <= head.ts:
            ts = head.ts + PERIOD_MS
        result = apply_block(self.chain, self.pending, BlockContext(head.height + 1, ts), head.state_root)
        header = sign_header(
            self.authority,
            Header(head.height + 1, head.hash, ts, self.authority.did, compute_events_root(self.pending), result.state_root, 2),
        )
        block = Block(header, tuple(self.pending))
        # One authority's own chain carries no votes: each block keeps its parent's header finality.
        parent_finality = self.chain.block_finality(head.hash).finality
        self.chain.commit_block(block, replace(result, finality=parent_finality))
        self.chain.set_finalized(block.hash)
        self.events += len(self.pending)
        self.blocks += 1
        self.pending, self.pending_bytes = [], 0


def generate(data_dir: Path, genesis: Genesis, authority: SigningKey, people: dict, args, log: Callable[[str], None]) -> dict:
    rng = random.Random(42)
    words = word_list(3_000, rng)
    weights = [1 / (rank + 1) for rank in range(len(words))]  # Zipf-like: a few words are common
    node_id = peer_id_of(load_or_create_node_key(data_dir))
    stores = open_stores(data_dir)
    try:
        stores.chain.init_genesis(genesis)
        start = genesis.timestamp + PERIOD_MS
        writer = ChainWriter(stores, genesis, authority, start)
        creators, consumers = people["creators"], people["consumers"]
        holder, dev, app_dev = creators[0], people["dev"], people["app_dev"]
        for person in creators:
            writer.send(person, ParticipantRegister("creator " + person.did[-6:], ("creator", "contributor")))
        for person in consumers:
            writer.send(person, ParticipantRegister("consumer " + person.did[-6:], ("consumer",)))
        writer.send(dev, ParticipantRegister("Model Lab", ("model_developer", "consumer")))
        writer.send(app_dev, ParticipantRegister("App Studio", ("app_developer", "consumer")))

        # --- assets --------------------------------------------------------------------
        started = time.perf_counter()
        assets: list[tuple[str, str]] = []  # (cid, kind of terms)
        holder_assets, free_training = [], []
        isrc = ""
        for n in range(args.assets):
            writer.target_ts = start + int(n / args.assets * 5 * DAY_MS)
            if n < HOLDER_ASSETS:
                owner, holders, kind = holder, (Share(holder.did, 10_000),), "metered"
            else:
                owner = creators[1 + n % (len(creators) - 1)]
                others = [p for p in rng.sample(creators[2:], rng.choice([0, 0, 1, 2])) if p.did != owner.did]
                shares = [10_000 - 2_500 * len(others)] + [2_500] * len(others)
                holders = tuple(Share(person.did, bps) for person, bps in zip([owner, *others], shares))
                kind = "open" if n == HOLDER_ASSETS else rng.choices(["open", "metered", "sold", "closed"], [35, 30, 25, 10])[0]
            terms = {
                "open": Terms.make({"data_mining": (ALLOWED, 0), "ai_training": (ALLOWED, 0), "ai_inference": (PURCHASE, rng.randint(5, 50))}),
                "metered": Terms.make({"ai_inference": (PER_ACCESS, rng.randint(1, 5)), "data_mining": (ALLOWED, 0)}),
                "sold": Terms.make({"ai_training": (PURCHASE, rng.randint(5, 100)), "data_mining": (PER_ACCESS, 1)}),
                "closed": Terms.make({"application": (ALLOWED, 0)}),
            }[kind]
            title_words = rng.choices(words, weights, k=rng.randint(2, 4))
            body = AssetRegister(
                cid=cid_to_str(make_cid(RAW, f"bench-asset-{n}".encode())),
                size=rng.randint(500_000, 50_000_000),
                media=Media("wav", rng.randint(5_000, 400_000), 44_100, 2),
                title=" ".join(title_words).title(),
                description=" ".join(rng.choices(words, weights, k=rng.randint(6, 20))),
                asset_type=rng.choice(TYPES),
                genre=rng.choice(GENRES),
                tags=tuple(dict.fromkeys(rng.choices(words, weights, k=3))),
                isrc=f"QZ{rng.choice('ABCDEFGH')}{n % 100:02d}{n:07d}"[:12] if n % 4 == 0 else "",
                iswc="",
                rights_holders=holders,
                parents=(),
                terms=terms,
                sealed_cid=cid_to_str(make_cid(RAW, f"bench-sealed-{n}".encode())),
                fingerprint=random_fingerprint(rng),
            )
            writer.send(owner, body)
            assets.append((body.cid, kind))
            if body.isrc and not isrc:
                isrc = body.isrc
            if n < HOLDER_ASSETS:
                holder_assets.append(body.cid)
            elif kind == "open":
                free_training.append(body.cid)
            if (n + 1) % 20_000 == 0:
                log(f"  {n + 1} assets ({time.perf_counter() - started:.0f} s)")
        writer.flush()
        assets_s = time.perf_counter() - started

        # --- licenses bought for training ------------------------------------------------
        sold = [cid for cid, kind in assets if kind == "sold"]
        purchases: set[tuple[int, str]] = set()
        for _ in range(min(5_000, len(sold))):
            who, cid = rng.randrange(len(consumers)), rng.choice(sold)
            if (who, cid) not in purchases:
                purchases.add((who, cid))
                writer.send(consumers[who], LicensePurchase(cid, ("ai_training",), 1_000))
        bought = sorted(purchases)

        # --- accesses ----------------------------------------------------------------------
        hot, hot_purpose = assets[HOLDER_ASSETS][0], "data_mining"  # an "open" asset: data mining is free
        started = time.perf_counter()
        special = ["hot"] * min(HOT_EVENTS, args.accesses // 10) + ["holder"] * min(HOLDER_PAID, args.accesses // 10)
        plan = special + ["random"] * (args.accesses - len(special))
        rng.shuffle(plan)
        metered_purpose = {"open": "ai_training", "metered": "ai_inference", "sold": "data_mining", "closed": None}
        for n, what in enumerate(plan):
            writer.target_ts = start + 5 * DAY_MS + int(n / len(plan) * (SPAN_DAYS - 5) * DAY_MS)
            consumer = consumers[n % len(consumers)]
            if what == "hot":
                body = Access(hot, hot_purpose, None, None, node_id, 1, 10**9)
            elif what == "holder":
                body = Access(rng.choice(holder_assets), "ai_inference", None, None, node_id, 1, 10**9)
            elif bought and n % 50 == 0:
                who, cid = bought[rng.randrange(len(bought))]
                consumer = consumers[who]
                body = Access(cid, "ai_training", None, None, node_id, 1, 10**9)
            else:
                while True:
                    cid, kind = assets[rng.randrange(HOLDER_ASSETS, len(assets))]
                    if metered_purpose[kind] and cid != hot:
                        break
                body = Access(cid, metered_purpose[kind], None, None, node_id, 1, 10**9)
            writer.send(consumer, body)
            if (n + 1) % 100_000 == 0:
                log(f"  {n + 1} accesses ({time.perf_counter() - started:.0f} s)")
        writer.flush()
        accesses_s = time.perf_counter() - started

        # --- a model with 1,000 training assets on a base model, and an app ----------------
        def model(cids: list[str], base: bytes | None, name: str) -> ModelRegister:
            manifest = tuple(ManifestEntry(cid, None) for cid in sorted(cids))
            return ModelRegister(name, "1.0", base, manifest, merkle_root([manifest_leaf(entry) for entry in manifest]))

        picked = rng.sample(free_training, min(MODEL_ASSETS + BASE_ASSETS, len(free_training)))
        base = writer.send(dev, model(picked[MODEL_ASSETS:], None, "base-model"))
        writer.flush()
        trained = writer.send(dev, model(picked[:MODEL_ASSETS], base.id, "big-model"))
        writer.flush()
        writer.send(app_dev, AppRegister("bench-app", "1.0", (trained.id,)))
        writer.flush()
        # Not the hot asset (free_training[0]): every paid use lands in the history of the assets it pays.
        lineage_holder, uses_s = generate_model_use(writer, rng, people, free_training[-1], args, start, log)
        head = stores.chain.head()
        return {
            "assets": args.assets,
            "accesses": args.accesses,
            "events": writer.events,
            "blocks": writer.blocks,
            "height": head.height,
            "assets_s": round(assets_s, 1),
            "accesses_s": round(accesses_s, 1),
            "hot_asset": hot,
            "holder": holder.did,
            "model": trained.id.hex(),
            "model_assets": len(picked[:MODEL_ASSETS]),
            "words": [words[0], words[1], words[5], words[40], words[300]],
            "creator": creators[7].did,
            "isrc": isrc,
            "lineage_holder": lineage_holder,
            "uses_s": round(uses_s, 1),
            "fingerprint_queries": [f.hex() for f in fingerprint_queries(stores, assets, rng)],
        }
    finally:
        stores.close()


def random_fingerprint(rng: random.Random) -> bytes:
    return pack_fingerprint([rng.getrandbits(32) for _ in range(FINGERPRINT_FRAMES)])


def generate_model_use(writer: ChainWriter, rng: random.Random, people: dict, asset: str, args, start: int, log) -> tuple[str, float]:
    """``--models`` models trained on one open asset, each with terms, and ``--uses`` usage records over 25 days."""
    started = time.perf_counter()
    dev, consumers = people["dev"], people["consumers"]
    models = []
    for n in range(args.models):
        manifest = (ManifestEntry(asset, None),)
        registered = writer.send(dev, ModelRegister(f"use-model-{n}", "1.0", None, manifest, merkle_root([manifest_leaf(manifest[0])])))
        models.append(registered.id)
    writer.flush()
    terms = ModelTerms.make({"ai_inference": (PER_USE, 1)}, training_share_bps=3_000)
    for model_id in models:
        writer.send(dev, ModelTermsSet(model_id, terms))
    writer.flush()
    for n in range(args.uses):
        writer.target_ts = start + 5 * DAY_MS + int(n / args.uses * (SPAN_DAYS - 5) * DAY_MS)
        end = writer.target_ts - 2 * PERIOD_MS  # the block may round its time down to the period
        count = rng.randint(1, 1_000)
        writer.send(consumers[n % len(consumers)], UsageRecord(rng.choice(models), None, "ai_inference", count, end - 3_600_000, end, count))
        if (n + 1) % 50_000 == 0:
            log(f"  {n + 1} usage records ({time.perf_counter() - started:.0f} s)")
    writer.flush()
    return first_holder(writer, asset), time.perf_counter() - started


def first_holder(writer: ChainWriter, cid: str) -> str:
    with writer.chain.scan_state() as scan:
        record = get_asset(scan, cid)
    assert record is not None
    return record.holders[0]


def fingerprint_queries(stores, assets: list[tuple[str, str]], rng: random.Random) -> list[bytes]:
    """Registered fingerprints as a re-upload would give them: 10% of bits flipped, the first 40 frames trimmed."""
    queries = []
    with stores.chain.scan_state() as scan:
        for cid, _ in rng.sample(assets, min(20, len(assets))):
            words = [int.from_bytes(w, "big") for w in _chunks(scan.get(b"fpr/" + cid.encode()) or b"")]
            noisy = [word ^ sum(1 << bit for bit in range(32) if rng.random() < 0.1) for word in words[40:]]
            queries.append(pack_fingerprint(noisy))
    return queries


def _chunks(data: bytes) -> list[bytes]:
    return [data[i : i + 4] for i in range(0, len(data), 4)]


# --- measuring ------------------------------------------------------------------------------


class Http:
    """One kept-alive connection, so that a measurement is the node's time, not TCP setup's."""

    def __init__(self, url: str) -> None:
        self.client = NodeClient(url, timeout=60, keep_alive=True)

    def get(self, path: str) -> tuple[float, dict]:
        """Milliseconds the answer took, and the answer."""
        started = time.perf_counter()
        document = self.client.get(path)
        return (time.perf_counter() - started) * 1000, document

    def post(self, path: str, body: bytes) -> dict:
        return self.client.request("POST", path, body=body, content_type="application/octet-stream")


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def measure(client: Http, paths: list[str], runs: int, rng: random.Random) -> list[float]:
    for path in paths[:10]:
        client.get(path)  # warm the caches a first request would fill
    return [client.get(rng.choice(paths))[0] for _ in range(runs)]


def measure_fingerprints(client: Http, queries: list[str], runs: int) -> tuple[list[float], int]:
    """POST each noisy copy's fingerprint to the match endpoint; (timings, copies found)."""
    timings, found = [], set()
    for n in range(runs):
        body = bytes.fromhex(queries[n % len(queries)])
        started = time.perf_counter()
        answer = client.post("/v1/fingerprints/match", body)
        timings.append((time.perf_counter() - started) * 1000)
        if answer["match"] is not None:
            found.add(n % len(queries))
    return timings, len(found)


def memory_mb(pid: int) -> dict[str, float]:
    """VmRSS, and its parts: RssAnon (the heap, LevelDB's block cache) and RssFile (mapped
    table files: LevelDB reads its files through mmap, so pages it touched count as resident
    while they stay in the page cache, shared and reclaimable)."""
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "RssAnon", "RssFile", "VmHWM"):
            found[name] = int(value.split()[0]) / 1024
    return found


def query_paths(client: Http, facts: dict) -> dict[str, list[str]]:
    w = facts["words"]
    q = urllib.parse.quote
    search = [
        f"/v1/catalog?q={w[0]}",
        f"/v1/catalog?q={w[1]}&purpose=ai_training&max_price=10",
        f"/v1/catalog?q={w[2]}+{w[0]}",
        f"/v1/catalog?q={w[3]}&genre=jazz",
        f"/v1/catalog?q={w[4]}",
        "/v1/catalog?genre=ambient&type=stem&sort=title",
        "/v1/catalog?purpose=ai_training&max_price=0&min_duration_ms=60000&max_duration_ms=120000",
        f"/v1/catalog?creator={q(facts['creator'])}&purpose=data_mining",
        "/v1/catalog?genre=techno&purpose=ai_inference&max_price=3&sort=title",
        f"/v1/catalog?isrc={facts['isrc']}",
        "/v1/catalog?type=sound_effect&genre=folk&q=" + w[1],
        "/v1/catalog?sort=title&limit=50",
        "/v1/catalog?min_duration_ms=180000&max_duration_ms=300000&purpose=ai_training&max_price=20",
        f"/v1/catalog?q={w[2]}&min_duration_ms=60000&sort=title",
    ]
    # Asset history: pages of 100 all through the hot asset's 10,000 events.
    history, after = [], None
    while True:
        path = f"/v1/assets/{facts['hot_asset']}?limit=100" + (f"&after={after}" if after else "")
        history.append(path)
        _, page = client.get(path)
        after = page["history"]["next"]
        if not after:
            break
    lineage = [f"/v1/lineage/{facts['model']}?limit=100"]
    _, first = client.get(lineage[0])
    cursor = first["assets"]["next"]
    while cursor and len(lineage) < 11:
        lineage.append(f"/v1/lineage/{facts['model']}?limit=100&after={cursor}")
        cursor = client.get(lineage[-1])[1]["assets"]["next"]
    holder = q(facts["holder"])
    royalties = [f"/v1/royalties/{holder}", f"/v1/royalties/{holder}?from=1970-01-01", f"/v1/royalties/{holder}"]
    lineage_holder = q(facts["lineage_holder"])
    lineage_statement = [f"/v1/royalties/{lineage_holder}/lineage", f"/v1/royalties/{lineage_holder}/lineage?from=1970-01-01"]
    return {"search": search, "history": history, "lineage": lineage, "royalties": royalties, "lineage_statement": lineage_statement,
            "_history_pages": [str(len(history))]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assets", type=int, default=100_000)
    parser.add_argument("--accesses", type=int, default=1_000_000)
    parser.add_argument("--consumers", type=int, default=2_000)
    parser.add_argument("--creators", type=int, default=1_000)
    parser.add_argument("--models", type=int, default=1_000, help="models whose use pays one holder")
    parser.add_argument("--uses", type=int, default=100_000, help="usage.record events over those models")
    parser.add_argument("--runs", type=int, default=200, help="timed requests per query kind")
    parser.add_argument("--dir", type=Path, help="work directory (default: a temporary one, removed after)")
    parser.add_argument("--reuse", type=Path, help="keep the generated store here; reuse it if already generated")
    args = parser.parse_args()

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    with tempfile.TemporaryDirectory(dir=args.dir) as work:
        root = args.reuse or Path(work) / "net"
        mark = root / DONE_MARK
        people = {
            "creators": [key_for(f"creator-{i}") for i in range(args.creators)],
            "consumers": [key_for(f"consumer-{i}") for i in range(args.consumers)],
            "dev": key_for("dev"),
            "app_dev": key_for("app-dev"),
        }
        if mark.exists():
            facts = json.loads(mark.read_text())
            config = root / "node0" / "config.toml"
            log(f"reusing the store in {root} ({facts['events']} events)")
        else:
            now = int(time.time() * 1000)
            allocations = {person.did: CREDITS for person in [*people["consumers"], people["dev"], people["app_dev"]]}
            genesis, (scaffolded,) = scaffold_network(
                root, nodes=1, block_period_ms=PERIOD_MS, allocations=allocations, clock=lambda: now - (SPAN_DAYS + 2) * DAY_MS
            )
            authority = read_key_file(scaffolded.directory / "authority.key")
            config = scaffolded.config_path
            log(f"generating {args.assets} assets and {args.accesses} accesses in {root} …")
            started = time.perf_counter()
            facts = generate(data_dir_of(config), genesis, authority, people, args, log)
            facts["generation_s"] = round(time.perf_counter() - started, 1)
            mark.write_text(json.dumps(facts))
            log(f"generated {facts['events']} events in {facts['blocks']} blocks in {facts['generation_s']} s")
        size_mb = sum(f.stat().st_size for f in (data_dir_of(config) / "chain").iterdir()) / 1e6
        node = BenchNode(config, Path(work)).start(timeout=120)
        try:
            client = Http(node.url)
            paths = query_paths(client, facts)
            rng = random.Random(7)
            kinds = ("search", "history", "lineage", "royalties", "lineage_statement")
            figures = {kind: measure(client, paths[kind], args.runs, rng) for kind in kinds}
            figures["fingerprint_lookup"], matched = measure_fingerprints(client, facts["fingerprint_queries"], args.runs)
            _, lineage_income = client.get(paths["lineage_statement"][0])
            memory = memory_mb(node.process.pid)
            _, statement = client.get(paths["royalties"][0])
            _, lineage = client.get(paths["lineage"][0])
        finally:
            node.stop()
    result: dict[str, float] = {}
    for kind, values in figures.items():
        result[f"{kind}_p50_ms"] = round(statistics.median(values), 2)
        result[f"{kind}_p99_ms"] = round(percentile(values, 0.99), 2)
    result["rss_mb"] = round(memory["VmRSS"], 1)
    table = [
        ("store", f"{facts['assets']} assets, {facts['accesses']} accesses: {facts['events']} events in {facts['blocks']} blocks, {size_mb:.0f} MB LevelDB"),
        ("generation", f"{facts.get('generation_s', '?')} s (assets {facts['assets_s']} s, accesses {facts['accesses_s']} s)"),
        ("search", f"p50 {result['search_p50_ms']} ms, p99 {result['search_p99_ms']} ms ({len(paths['search'])} queries, {args.runs} requests)"),
        ("asset history", f"p50 {result['history_p50_ms']} ms, p99 {result['history_p99_ms']} ms ({paths['_history_pages'][0]} pages of 100 of one asset's events)"),
        ("model lineage", f"p50 {result['lineage_p50_ms']} ms, p99 {result['lineage_p99_ms']} ms ({lineage['model']['manifest_size']} training assets + base, {len(lineage['people'])} people, pages of 100)"),
        ("royalty statement", f"p50 {result['royalties_p50_ms']} ms, p99 {result['royalties_p99_ms']} ms ({statement['totals']['paid_accesses']} paid accesses, {len(statement['items'])} assets)"),
        ("lineage statement", f"p50 {result['lineage_statement_p50_ms']} ms, p99 {result['lineage_statement_p99_ms']} ms "
                              f"({len(lineage_income['items'])} models, {lineage_income['totals']['uses']} use events)"),
        ("fingerprint lookup", f"p50 {result['fingerprint_lookup_p50_ms']} ms, p99 {result['fingerprint_lookup_p99_ms']} ms "
                               f"({facts['assets']} fingerprinted assets; {matched} of {len(facts['fingerprint_queries'])} noisy copies found)"),
        ("node RSS", f"{result['rss_mb']} MB: {memory['RssAnon']:.0f} MB heap and caches, {memory['RssFile']:.0f} MB mapped LevelDB files (peak {memory['VmHWM']:.0f} MB)"),
    ]
    emit(table, result)


if __name__ == "__main__":
    main()
