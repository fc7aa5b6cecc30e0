"""The RPC's request and response bodies as typed models: the OpenAPI document is generated from them.

The models describe the JSON the handlers already produce (chain_views.py, market_views.py,
the *_api.py handlers); a view that is a free-form dict is modelled as one. Handlers keep
building plain dicts: the live node is checked against these models by the schemathesis
test, so the document and the answers cannot drift apart.

Why msgspec and not pydantic v2: building a model and serialising it to JSON, 10,000 times
on one core (Python 3.11), took per view

    =================  ===============  =========  ====================
    view               dict+json.dumps  msgspec    pydantic v2
    =================  ===============  =========  ====================
    status             10.5 µs          1.9 µs     10.6 µs (6.7 µs from a dict)
    event              4.9 µs           0.7 µs     5.4 µs
    =================  ===============  =========  ====================

so msgspec could serve the hot paths five times faster than today, where pydantic would
cost as much as the dicts it replaced; both give an OpenAPI-ready JSON Schema.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from msgspec import UNSET, Meta, Struct, UnsetType

from protocol.events import ASSET_TYPES
from protocol.terms import PURPOSES
from protocol.votes import Offence

from node.chain.importer import EXTENDED, KNOWN, REORG, SIDE
from node.chain.mempool import PENDING, QUEUED
from node.chain.vote_pool import VoteOutcome

from ..p2p.network import MAX_PERF_BYTES
from .license_api import MAX_PREFLIGHT_ASSETS

Purpose = Literal[PURPOSES]  # type: ignore[valid-type]
AssetType = Literal[ASSET_TYPES]  # type: ignore[valid-type]
Hex = Annotated[str, Meta(pattern="^[0-9a-f]*$")]
Id = Annotated[str, Meta(pattern="^[0-9a-f]{64}$", description="64 hex characters")]
Did = Annotated[str, Meta(description="An account: did:key:z6Mk…")]
FreeForm = dict[str, Any]


class ErrorBody(Struct):
    code: str
    message: str


class Error(Struct):
    """Every refusal: what went wrong, in a code for programs and a message for people."""

    error: ErrorBody


# Chain: status, genesis, peers, sync, admin switches.


class MempoolSize(Struct):
    pending: int
    queued: int


class Status(Struct):
    version: str
    network_id: str
    genesis_hash: Id
    head_height: int
    head_hash: Id
    head_time: int
    head_state_root: Id
    justified_height: int
    """The highest justified block on the head's chain (votes from headers and gossip)."""
    justified_hash: Id
    finalized_height: int
    finalized_hash: Id
    block_period_ms: int
    head_total_difficulty: int
    authorities: list[Did]
    authority: Did | None
    node_id: str
    peers: list[str]
    syncing: bool
    peering: bool
    peering_only: list[str] | None
    mempool: MempoolSize
    custody_at_risk: list["CustodyRisk"]
    """Assets whose key fewer than k authorities in force hold shares of (a rights holder should reshare)."""


class CustodyRisk(Struct):
    asset: str
    share_holders_left: int
    threshold: int


class Genesis(Struct):
    hash: Id
    network_id: str
    timestamp: int
    authorities: list[Did]
    block_period_ms: int
    allocations: dict[str, int]


class Peer(Struct):
    peer_id: str
    head_height: int | None
    head_hash: Id | None
    total_difficulty: int | None
    finalized_height: int | None
    score: float
    recent_strikes: list[Any]


class Peers(Struct):
    peer_id: str
    addresses: list[str]
    peers: list[Peer]


class Sync(Struct):
    syncing: bool
    head_height: int
    target_height: int
    best_peer: str | None


class PeeringRequest(Struct):
    enabled: bool
    only: list[str] | None = None


class Peering(Struct):
    peering: bool
    peers: list[str]


PerfBytes = Annotated[int, Meta(ge=1, le=MAX_PERF_BYTES)]


class PerfMeasureRequest(Struct):
    peer: str
    bytes: PerfBytes


class PerfAllowRequest(Struct):
    allow: str
    bytes: PerfBytes


class PerfAllowed(Struct):
    allowed: str
    bytes: int


class PerfMeasured(Struct):
    peer: str
    bytes: int
    seconds: float
    mb_s: float


# Events and blocks.


class EventView(Struct):
    id: Id
    kind: str
    author: Did
    nonce: int
    ts: int
    body: FreeForm
    sig: Hex


class EventSubmitted(Struct):
    id: Id
    status: Literal[PENDING, QUEUED]  # type: ignore[valid-type]
    known: bool


class BatchItem(Struct):
    """One event of a batch: its id and status, or why it was refused."""

    id: Id | UnsetType = UNSET
    status: Literal[PENDING, QUEUED] | UnsetType = UNSET  # type: ignore[valid-type]
    error: ErrorBody | UnsetType = UNSET


class BatchSubmitted(Struct):
    results: list[BatchItem]
    accepted: int


class MerkleProof(Struct):
    index: int
    size: int
    path: list[Id]


class BlockRef(Struct):
    height: int
    hash: Id
    final: bool


class EventStatus(Struct):
    """An event in a block (with its proof), waiting in the mempool, or rejected (with the reason)."""

    id: Id
    status: Literal["final", "included", PENDING, QUEUED, "rejected"]  # type: ignore[valid-type]
    event: EventView | UnsetType = UNSET
    block: BlockRef | UnsetType = UNSET
    index: int | UnsetType = UNSET
    events_root: Id | UnsetType = UNSET
    proof: MerkleProof | UnsetType = UNSET
    reason: str | UnsetType = UNSET


class SignedVote(Struct):
    voter: Did
    sig: Hex


class JustificationView(Struct):
    """A quorum of finality votes for one link (source -> target), as a header carries it."""

    source_height: int
    source_hash: Id
    target_height: int
    target_hash: Id
    votes: list[SignedVote]


class HeaderView(Struct):
    v: int
    height: int
    hash: Id
    parent: Id
    ts: int
    proposer: Did
    events_root: Id
    state_root: Id
    difficulty: int
    justifications: list[JustificationView]
    sig: Hex
    final: bool


class CarriedJustification(JustificationView):
    carried_in: Id | None
    """The descendant whose header carries these votes; None: votes seen on gossip."""


class BlockView(HeaderView):
    """A block: its header, and its events in full (``?events=true``) or as ids."""

    event_count: int
    events: list[EventView | Id]
    justified: bool
    justified_by: list[CarriedJustification]
    """The votes that justify it (or, while it is not justified, those seen for it so far)."""


class Headers(Struct):
    headers: list[HeaderView]
    head_height: int


class BlockSubmitted(Struct):
    hash: Id
    height: int
    outcome: Literal[KNOWN, EXTENDED, SIDE, REORG]  # type: ignore[valid-type]
    head_height: int
    head_hash: Id


class Equivocation(Struct):
    proposer: Did
    height: int
    headers: list[HeaderView]
    encoded: Hex
    """The evidence's canonical MessagePack bytes: both signed headers."""


class FinalityVote(Struct):
    voter: Did
    source_height: int
    source_hash: Id
    target_height: int
    target_hash: Id
    sig: Hex


class VoteEvidence(Struct):
    voter: Did
    offence: Literal[tuple(o.value for o in Offence)]  # type: ignore[valid-type]
    height: int
    votes: list[FinalityVote]
    encoded: Hex
    """The evidence's canonical MessagePack bytes: both signed votes."""


class KeyReleaseView(Struct):
    index: Annotated[int, Meta(ge=1, le=255)]
    releaser: Did
    release: Annotated[Hex, Meta(description="The signed release's canonical MessagePack bytes (protocol/releases.py)")]


class AccessReleases(Struct):
    """The key shares released for one access: each sealed to its consumer and signed by its authority."""

    access: Id
    asset: str
    consumer: Did
    height: int
    final: bool
    threshold: int | None
    """How many releases recover the key (None: the asset has no custody)."""
    releases: list[KeyReleaseView]


class EvidenceList(Struct):
    evidence: list[Equivocation]
    vote_evidence: list[VoteEvidence]


class VoteSubmitted(Struct):
    voter: Did
    target_height: int
    target_hash: Id
    outcome: Literal[tuple(o.value for o in VoteOutcome)]  # type: ignore[valid-type]
    finalized_height: int


class Vote(Struct):
    candidate: Did
    voter: Did
    add: bool


class Authorities(Struct):
    head_height: int
    authorities: list[Did]
    with_evidence: list[Did]
    """Authorities against which this node holds evidence (double-signed headers or slashable votes)."""
    votes: list[Vote]


# Assets, accounts, content.


class HistoryItem(Struct):
    height: int
    index: int
    final: bool
    event: EventView
    key_releases: int | UnsetType = UNSET
    """For an access: how many key shares authorities released for it (that this node holds)."""


class HistoryPage(Struct):
    items: list[HistoryItem]
    next: str | None


class AssetView(Struct):
    """The registration as it was signed (bytes as hex), with what the chain knows of it since."""

    id: str
    terms: FreeForm | None
    terms_since: int | None
    status: str
    registrant: Did
    registered_at: int
    register_event: Id
    reupload_of: FreeForm | None
    custody: FreeForm | None
    """Who holds the content key (threshold, shares sealed to authorities, copies sealed to rights holders; bytes as hex)."""
    custody_since: int | None


class AssetWithHistory(Struct):
    asset: AssetView
    history: HistoryPage


class AccountView(Struct):
    did: Did
    registered: bool
    name: str
    roles: list[str]
    balance: int
    nonce: int
    next_nonce: int
    registered_at: int | None


class AccountWithActivity(Struct):
    account: AccountView
    activity: HistoryPage


class ContentInfo(Struct):
    cid: str | None
    """The asset id (plain root CID), when this node knows which asset the sealed content is."""
    size: int | None
    """Bytes of the plain file, when known."""
    sealed_cid: str
    sealed_size: int
    media: FreeForm | None


class Pins(Struct):
    content: list[ContentInfo]
    next: str | None
    """The sealed CID to pass as ``after`` for the next page, or null."""


class PinRemoved(ContentInfo):
    removed: bool


class Uploaded(ContentInfo):
    content_key: Hex
    """The content key the upload was sealed with: this node's only copy, handed out once."""
    fingerprint: Hex | None
    possible_reupload_of: FreeForm | None


class FingerprintMatch(Struct):
    frames: int
    match: FreeForm | None


# The data market.


class CatalogEntry(Struct):
    id: str
    title: str
    asset_type: AssetType
    genre: str
    tags: list[str]
    duration_ms: int | None
    size: int
    isrc: str | None
    iswc: str | None
    rights_holders: list[FreeForm]
    terms: FreeForm | None
    registered_at: int
    reupload_of: FreeForm | None


class CatalogPage(Struct):
    items: list[CatalogEntry]
    next: Hex | None
    complete: bool


class PreflightRequest(Struct):
    assets: Annotated[list[str], Meta(min_length=1, max_length=MAX_PREFLIGHT_ASSETS)]
    purpose: Purpose
    account: Did | None = None


class Preflight(Struct):
    purpose: Purpose
    account: Did | None
    at: int
    items: list[FreeForm]
    summary: dict[str, int]


class LicenseView(Struct):
    id: Id
    asset: str
    grantee: Did
    purposes: list[Purpose]
    source: str
    issuer: Did
    issued_at: int
    expires: int | None
    max_accesses: int | None
    used: int
    price: int
    revoked_at: int | None
    revoked_by: Did | None
    status: Literal["in_force", "revoked", "expired", "used_up"]


class LicensePage(Struct):
    items: list[LicenseView]
    next: Hex | None


class AccountLicenses(Struct):
    account: Did
    licenses: LicensePage


class AssetLicenses(Struct):
    asset: str
    licenses: LicensePage


class Lineage(Struct):
    """A model's, app's, asset's or account's lineage; the other fields depend on the kind."""

    kind: Literal["model", "app", "asset", "account"]


class ManifestProof(Struct):
    model: Id
    asset: str
    present: bool
    manifest_root: Id
    manifest_size: int
    leaves: list[FreeForm]
    event: Hex
    event_proof: MerkleProof
    block: BlockRef
    header: HeaderView


class Royalties(Struct):
    account: Did
    name: str
    period: FreeForm
    items: list[FreeForm]
    totals: FreeForm
    lineage: FreeForm
    by_source: dict[str, int]
    income: int
    balance: int
    earned_total: int
    spent_total: int


class AssetUsage(Struct):
    asset: str
    title: str
    period: FreeForm
    days: list[FreeForm]
    totals: FreeForm
    paid_through: FreeForm


class ModelTerms(Struct):
    model: Id
    name: str
    author: Did
    terms: FreeForm


class Quote(Struct):
    kind: str
    id: Id
    name: str
    author: Did
    purpose: Purpose
    count: int
    models: list[FreeForm]
    price: int


class Usage(Struct):
    kind: str
    id: Id
    name: str
    author: Did
    totals: FreeForm
    period: FreeForm
    days: list[FreeForm]


class LineageIncome(Struct):
    account: Did
    name: str
    period: FreeForm
    items: list[FreeForm]
    totals: FreeForm


class PaidThrough(Struct):
    asset: str
    title: str
    period: FreeForm
    items: list[FreeForm]
    totals: FreeForm


def schemas(models: list[Any], ref_template: str = "#/components/schemas/{name}") -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Each model's JSON Schema (references into the components) and the components they use."""
    return msgspec.json.schema_components(models, ref_template=ref_template)
