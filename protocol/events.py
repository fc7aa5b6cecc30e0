"""Signed events: the envelope and one typed body per kind.

Envelope on the wire: ``{v, kind, author, nonce, ts, body, sig}``; the signature
covers ``Domain.EVENT`` + the canonical encoding of the envelope without ``sig``.
Every body field is required (absent values are written as nil, "" or []), so each
event has exactly one encoding. An event's id is sha2-256 of its signed encoding.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any, ClassVar

from .encoding import decode, encode, sha256
from .errors import InvalidEvent
from .fields import FieldReader
from .fingerprints import MAX_FRAMES
from .key_custody import Custody, parse_custody
from .keys import Domain, SignatureCheck, SigningKey
from .model_terms import ModelTerms, parse_model_terms
from .terms import PURPOSES, Terms, parse_terms

EVENT_VERSION = 1
MAX_EVENT_BYTES = 128 * 1024
"""Largest encoded event a node accepts (a 1,000-asset training manifest fits)."""

ROLES = ("creator", "contributor", "model_developer", "app_developer", "consumer")
ASSET_TYPES = ("track", "stem", "sample", "sound_effect", "dataset")
AUDIO_ASSET_TYPES = ("track", "stem", "sample", "sound_effect")
PARENT_RELATIONS = ("remix_of", "stem_of", "sample_of", "derived_from")
TOTAL_SHARE_BPS = 10_000

_NAME = {"max_len": 64, "min_len": 1}
_ISRC = r"[A-Z]{2}[A-Z0-9]{3}[0-9]{7}"
_ISWC = r"T[0-9]{10}"


class Body:
    """Base of the typed event bodies; ``KIND`` is the envelope's ``kind``."""

    KIND: ClassVar[str]

    def to_wire(self) -> dict[str, Any]:
        raise NotImplementedError

    @classmethod
    def from_wire(cls, value: Any) -> "Body":
        raise NotImplementedError


def _reader(value: Any, kind: str) -> FieldReader:
    return FieldReader(value, f"{kind} body", InvalidEvent)


@dataclass(frozen=True)
class ParticipantRegister(Body):
    KIND: ClassVar[str] = "participant.register"
    name: str
    roles: tuple[str, ...]

    def to_wire(self) -> dict[str, Any]:
        return {"name": self.name, "roles": list(self.roles)}

    @classmethod
    def from_wire(cls, value: Any) -> "ParticipantRegister":
        r = _reader(value, cls.KIND)
        body = cls(
            name=r.text("name", **_NAME),
            roles=r.items("roles", lambda v, w: r.check_choice("roles", v, ROLES), min_items=1, max_items=len(ROLES)),
        )
        r.done()
        return body


@dataclass(frozen=True)
class Media:
    """Facts read from the audio itself at upload."""

    format: str
    duration_ms: int
    sample_rate: int
    channels: int

    def to_wire(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "duration_ms": self.duration_ms,
            "sample_rate": self.sample_rate,
            "channels": self.channels,
        }


def parse_media(value: Any, where: str) -> Media:
    r = FieldReader(value, where, InvalidEvent)
    media = Media(
        format=r.text("format", min_len=1, max_len=32),
        duration_ms=r.integer("duration_ms", high=10**10),
        sample_rate=r.integer("sample_rate", low=1, high=10**7),
        channels=r.integer("channels", low=1, high=256),
    )
    r.done()
    return media


@dataclass(frozen=True)
class Share:
    account: str
    share_bps: int
    """Basis points of every payment; all shares of an asset sum to 10,000."""

    def to_wire(self) -> dict[str, Any]:
        return {"account": self.account, "share_bps": self.share_bps}


def parse_share(value: Any, where: str) -> Share:
    r = FieldReader(value, where, InvalidEvent)
    share = Share(account=r.did("account"), share_bps=r.integer("share_bps", low=1, high=TOTAL_SHARE_BPS))  # type: ignore[arg-type]
    r.done()
    return share


@dataclass(frozen=True)
class Parent:
    asset: str
    relation: str

    def to_wire(self) -> dict[str, Any]:
        return {"asset": self.asset, "relation": self.relation}


def parse_parent(value: Any, where: str) -> Parent:
    r = FieldReader(value, where, InvalidEvent)
    parent = Parent(asset=r.cid("asset"), relation=r.choice("relation", PARENT_RELATIONS))
    r.done()
    return parent


@dataclass(frozen=True)
class AssetRegister(Body):
    """A new asset; its id is its content's root CID."""

    KIND: ClassVar[str] = "asset.register"
    cid: str
    size: int
    media: Media | None
    """None only for datasets, which need not be audio."""
    title: str
    description: str
    asset_type: str
    genre: str
    tags: tuple[str, ...]
    isrc: str
    """ISO 3901 code, 12 characters without dashes, or ""."""
    iswc: str
    """ISO 15707 code as T + 10 digits, or ""."""
    rights_holders: tuple[Share, ...]
    parents: tuple[Parent, ...]
    terms: Terms
    sealed_cid: str
    """Root CID of the sealed stream of the content (protocol/sealing.py): what nodes store and move."""
    fingerprint: bytes = b""
    """Acoustic fingerprint the uploading node computed (protocol/fingerprints.py), or b"" if none."""
    custody: Custody | None = None
    """Who holds the content key (protocol/key_custody.py); absent on the wire when None."""

    def to_wire(self) -> dict[str, Any]:
        custody = {} if self.custody is None else {"custody": self.custody.to_wire()}
        return {
            **custody,
            "cid": self.cid,
            "sealed_cid": self.sealed_cid,
            "size": self.size,
            "media": None if self.media is None else self.media.to_wire(),
            "title": self.title,
            "description": self.description,
            "asset_type": self.asset_type,
            "genre": self.genre,
            "tags": list(self.tags),
            "isrc": self.isrc,
            "iswc": self.iswc,
            "rights_holders": [share.to_wire() for share in self.rights_holders],
            "parents": [parent.to_wire() for parent in self.parents],
            "terms": self.terms.to_wire(),
            "fingerprint": self.fingerprint,
        }

    @classmethod
    def from_wire(cls, value: Any) -> "AssetRegister":
        r = _reader(value, cls.KIND)
        body = cls(
            cid=r.cid("cid"),
            sealed_cid=r.cid("sealed_cid"),
            size=r.integer("size"),
            media=r.nested("media", parse_media, optional=True),
            title=r.text("title", min_len=1, max_len=200),
            description=r.text("description", max_len=2000),
            asset_type=r.choice("asset_type", ASSET_TYPES),
            genre=r.text("genre", max_len=64),
            tags=r.items("tags", lambda v, w: r.check_text("tags", v, min_len=1, max_len=32), max_items=32),
            isrc=r.text("isrc", max_len=12, pattern=f"({_ISRC})?", pattern_hint="an ISRC like USRC17607839"),
            iswc=r.text("iswc", max_len=11, pattern=f"({_ISWC})?", pattern_hint="an ISWC like T0345246801"),
            rights_holders=r.items("rights_holders", parse_share, min_items=1, max_items=16),
            parents=r.items("parents", parse_parent, max_items=16),
            terms=r.nested("terms", parse_terms),  # type: ignore[arg-type]
            fingerprint=_fingerprint(r),
            custody=_custody(r, value),
        )
        r.done()
        if len({share.account for share in body.rights_holders}) != len(body.rights_holders):
            raise InvalidEvent(f"{cls.KIND} body.rights_holders names an account twice")
        total = sum(share.share_bps for share in body.rights_holders)
        if total != TOTAL_SHARE_BPS:
            raise InvalidEvent(f"{cls.KIND} body.rights_holders shares sum to {total} bps, not {TOTAL_SHARE_BPS}")
        if body.media is None and body.asset_type in AUDIO_ASSET_TYPES:
            raise InvalidEvent(f"{cls.KIND} body.media is required for a {body.asset_type} (only datasets may omit it)")
        if any(parent.asset == body.cid for parent in body.parents):
            raise InvalidEvent(f"{cls.KIND} body.parents names the asset itself")
        if body.sealed_cid == body.cid:
            raise InvalidEvent(f"{cls.KIND} body.sealed_cid must name the sealed content, not the plain cid")
        return body


def _custody(r: FieldReader, value: Any) -> Custody | None:
    """Absent means none: nil is refused, so each registration keeps exactly one encoding."""
    if "custody" not in value:
        return None
    return parse_custody(r.raw("custody"), f"{AssetRegister.KIND} body.custody", InvalidEvent)


def _fingerprint(r: FieldReader) -> bytes:
    value = r.raw("fingerprint")
    if not isinstance(value, bytes) or len(value) % 4 or len(value) > 4 * MAX_FRAMES:
        raise r.fail("fingerprint", f"must be bytes: whole 32-bit frames, at most {MAX_FRAMES} of them")
    return value


@dataclass(frozen=True)
class AssetTerms(Body):
    KIND: ClassVar[str] = "asset.terms"
    asset: str
    terms: Terms

    def to_wire(self) -> dict[str, Any]:
        return {"asset": self.asset, "terms": self.terms.to_wire()}

    @classmethod
    def from_wire(cls, value: Any) -> "AssetTerms":
        r = _reader(value, cls.KIND)
        body = cls(asset=r.cid("asset"), terms=r.nested("terms", parse_terms))  # type: ignore[arg-type]
        r.done()
        return body


@dataclass(frozen=True)
class AssetReshare(Body):
    """A rights holder's new custody of an asset's key, for the authority set in force."""

    KIND: ClassVar[str] = "asset.reshare"
    asset: str
    custody: Custody

    def to_wire(self) -> dict[str, Any]:
        return {"asset": self.asset, "custody": self.custody.to_wire()}

    @classmethod
    def from_wire(cls, value: Any) -> "AssetReshare":
        r = _reader(value, cls.KIND)
        body = cls(asset=r.cid("asset"), custody=parse_custody(r.raw("custody"), f"{cls.KIND} body.custody", InvalidEvent))
        r.done()
        return body


@dataclass(frozen=True)
class AssetWithdraw(Body):
    KIND: ClassVar[str] = "asset.withdraw"
    asset: str
    reason: str

    def to_wire(self) -> dict[str, Any]:
        return {"asset": self.asset, "reason": self.reason}

    @classmethod
    def from_wire(cls, value: Any) -> "AssetWithdraw":
        r = _reader(value, cls.KIND)
        body = cls(asset=r.cid("asset"), reason=r.text("reason", max_len=500))
        r.done()
        return body


def _purposes(r: FieldReader, field: str, max_items: int = len(PURPOSES)) -> tuple[str, ...]:
    return r.items(field, lambda v, w: r.check_choice(field, v, PURPOSES), min_items=1, max_items=max_items)


@dataclass(frozen=True)
class LicenseGrant(Body):
    """A license given by a rights holder; its id is this event's id."""

    KIND: ClassVar[str] = "license.grant"
    asset: str
    grantee: str
    purposes: tuple[str, ...]
    expires: int
    """Block time (ms) after which it no longer applies; 0 for never."""
    max_accesses: int
    """How many accesses it admits; 0 for no limit."""

    def to_wire(self) -> dict[str, Any]:
        return {
            "asset": self.asset,
            "grantee": self.grantee,
            "purposes": list(self.purposes),
            "expires": self.expires,
            "max_accesses": self.max_accesses,
        }

    @classmethod
    def from_wire(cls, value: Any) -> "LicenseGrant":
        r = _reader(value, cls.KIND)
        body = cls(
            asset=r.cid("asset"),
            grantee=r.did("grantee"),  # type: ignore[arg-type]
            purposes=_purposes(r, "purposes"),
            expires=r.integer("expires"),
            max_accesses=r.integer("max_accesses"),
        )
        r.done()
        return body


@dataclass(frozen=True)
class LicenseRevoke(Body):
    KIND: ClassVar[str] = "license.revoke"
    license: bytes
    """Id of the license.grant or license.purchase event."""

    def to_wire(self) -> dict[str, Any]:
        return {"license": self.license}

    @classmethod
    def from_wire(cls, value: Any) -> "LicenseRevoke":
        r = _reader(value, cls.KIND)
        body = cls(license=r.digest("license"))  # type: ignore[arg-type]
        r.done()
        return body


@dataclass(frozen=True)
class LicensePurchase(Body):
    KIND: ClassVar[str] = "license.purchase"
    asset: str
    purposes: tuple[str, ...]
    max_price: int
    """The most the buyer agrees to pay in total, so a change of terms cannot overcharge."""

    def to_wire(self) -> dict[str, Any]:
        return {"asset": self.asset, "purposes": list(self.purposes), "max_price": self.max_price}

    @classmethod
    def from_wire(cls, value: Any) -> "LicensePurchase":
        r = _reader(value, cls.KIND)
        body = cls(asset=r.cid("asset"), purposes=_purposes(r, "purposes"), max_price=r.integer("max_price"))
        r.done()
        return body


@dataclass(frozen=True)
class Access(Body):
    KIND: ClassVar[str] = "access"
    asset: str
    purpose: str
    model: bytes | None
    """Id of the model this use is for, if any."""
    app: bytes | None
    """Id of the app this use is for, if any."""
    node: str
    """libp2p peer id of the node that serves the content."""
    bytes: int
    max_price: int
    """The most the consumer agrees to pay for this access, so a change of terms cannot overcharge."""

    def to_wire(self) -> dict[str, Any]:
        return {
            "asset": self.asset,
            "purpose": self.purpose,
            "model": self.model,
            "app": self.app,
            "node": self.node,
            "bytes": self.bytes,
            "max_price": self.max_price,
        }

    @classmethod
    def from_wire(cls, value: Any) -> "Access":
        r = _reader(value, cls.KIND)
        body = cls(
            asset=r.cid("asset"),
            purpose=r.choice("purpose", PURPOSES),
            model=r.digest("model", optional=True),
            app=r.digest("app", optional=True),
            node=r.text("node", min_len=1, max_len=128),
            bytes=r.integer("bytes"),
            max_price=r.integer("max_price"),
        )
        r.done()
        return body


@dataclass(frozen=True)
class ManifestEntry:
    asset: str
    license: bytes | None
    """The license event it was used under; None where the terms allow training freely."""

    def to_wire(self) -> dict[str, Any]:
        return {"asset": self.asset, "license": self.license}


def parse_manifest_entry(value: Any, where: str) -> ManifestEntry:
    r = FieldReader(value, where, InvalidEvent)
    entry = ManifestEntry(asset=r.cid("asset"), license=r.digest("license", optional=True))
    r.done()
    return entry


@dataclass(frozen=True)
class ModelRegister(Body):
    """A trained model; its id is this event's id."""

    KIND: ClassVar[str] = "model.register"
    name: str
    version: str
    base_model: bytes | None
    manifest: tuple[ManifestEntry, ...]
    manifest_root: bytes
    """Merkle root over the manifest entries (see ``manifest_leaf``)."""

    def to_wire(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "base_model": self.base_model,
            "manifest": [entry.to_wire() for entry in self.manifest],
            "manifest_root": self.manifest_root,
        }

    @classmethod
    def from_wire(cls, value: Any) -> "ModelRegister":
        r = _reader(value, cls.KIND)
        body = cls(
            name=r.text("name", **_NAME),
            version=r.text("version", min_len=1, max_len=32),
            base_model=r.digest("base_model", optional=True),
            manifest=r.items("manifest", parse_manifest_entry, max_items=1000),
            manifest_root=r.digest("manifest_root"),  # type: ignore[arg-type]
        )
        r.done()
        if len({entry.asset for entry in body.manifest}) != len(body.manifest):
            raise InvalidEvent(f"{cls.KIND} body.manifest names an asset twice")
        from .merkle import merkle_root  # local: merkle imports nothing from here, kept acyclic

        expected = merkle_root([manifest_leaf(entry) for entry in body.manifest])
        if expected != body.manifest_root:
            raise InvalidEvent(f"{cls.KIND} body.manifest_root does not match the manifest")
        return body


def manifest_leaf(entry: ManifestEntry) -> bytes:
    """The Merkle leaf of one manifest entry, so that membership can be proven offline."""
    return sha256(encode(entry.to_wire()))


@dataclass(frozen=True)
class AppRegister(Body):
    KIND: ClassVar[str] = "app.register"
    name: str
    version: str
    models: tuple[bytes, ...]

    def to_wire(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "models": list(self.models)}

    @classmethod
    def from_wire(cls, value: Any) -> "AppRegister":
        r = _reader(value, cls.KIND)
        body = cls(
            name=r.text("name", **_NAME),
            version=r.text("version", min_len=1, max_len=32),
            models=r.items("models", lambda v, w: r.check_digest("models", v), min_items=1, max_items=64),
        )
        r.done()
        return body


@dataclass(frozen=True)
class ModelTermsSet(Body):
    """The terms of a model's use, set by its developer; they apply from the block they land in."""

    KIND: ClassVar[str] = "model.terms"
    model: bytes
    terms: ModelTerms

    def to_wire(self) -> dict[str, Any]:
        return {"model": self.model, "terms": self.terms.to_wire()}

    @classmethod
    def from_wire(cls, value: Any) -> "ModelTermsSet":
        r = _reader(value, cls.KIND)
        body = cls(model=r.digest("model"), terms=r.nested("terms", parse_model_terms))  # type: ignore[arg-type]
        r.done()
        return body


MAX_USE_COUNT = 10**12
"""Units one usage.record may count (a year of a million calls a second fits)."""


@dataclass(frozen=True)
class UsageRecord(Body):
    """Use of a model, or of an app (and so of each of its models), over a period: one batch, paid at once."""

    KIND: ClassVar[str] = "usage.record"
    model: bytes | None
    """The model used; None when the use is of an app."""
    app: bytes | None
    """The app used; None when the use is of a model directly."""
    purpose: str
    count: int
    """Units used (calls, seconds, tracks … as the model's terms price them)."""
    period_start: int
    """Block-time ms at which the counted use began (informative; paid when the event lands)."""
    period_end: int
    max_price: int
    """The most the payer agrees to pay for the whole batch, so a change of terms cannot overcharge."""

    def to_wire(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "app": self.app,
            "purpose": self.purpose,
            "count": self.count,
            "period_start": self.period_start,
            "period_end": self.period_end,
            "max_price": self.max_price,
        }

    @classmethod
    def from_wire(cls, value: Any) -> "UsageRecord":
        r = _reader(value, cls.KIND)
        body = cls(
            model=r.digest("model", optional=True),
            app=r.digest("app", optional=True),
            purpose=r.choice("purpose", PURPOSES),
            count=r.integer("count", low=1, high=MAX_USE_COUNT),
            period_start=r.integer("period_start"),
            period_end=r.integer("period_end"),
            max_price=r.integer("max_price"),
        )
        r.done()
        if (body.model is None) == (body.app is None):
            raise InvalidEvent(f"{cls.KIND} body must name exactly one of model and app")
        if body.period_start > body.period_end:
            raise InvalidEvent(f"{cls.KIND} body.period_start is after period_end")
        return body


@dataclass(frozen=True)
class AuthorityVote(Body):
    KIND: ClassVar[str] = "authority.vote"
    candidate: str
    add: bool
    """True to add the candidate to the authorities, False to remove it."""

    def to_wire(self) -> dict[str, Any]:
        return {"candidate": self.candidate, "add": self.add}

    @classmethod
    def from_wire(cls, value: Any) -> "AuthorityVote":
        r = _reader(value, cls.KIND)
        body = cls(candidate=r.did("candidate"), add=r.boolean("add"))  # type: ignore[arg-type]
        r.done()
        return body


BODY_TYPES: dict[str, type[Body]] = {
    cls.KIND: cls
    for cls in (
        ParticipantRegister,
        AssetRegister,
        AssetTerms,
        AssetWithdraw,
        AssetReshare,
        LicenseGrant,
        LicenseRevoke,
        LicensePurchase,
        Access,
        ModelRegister,
        AppRegister,
        ModelTermsSet,
        UsageRecord,
        AuthorityVote,
    )
}
"""The one table from a kind on the wire to its body type."""


_SIG_ENTRY = b"\xa3sig\xc4\x40"
"""The ``sig`` entry of an event's map: the key, then a 64-byte bin."""


@dataclass(frozen=True)
class Event:
    """A signed event. Build with ``sign_event``; read with ``decode_event``."""

    kind: str
    author: str
    nonce: int
    """Per author, strictly increasing by one from 1."""
    ts: int
    """The author's clock in ms; informative only (blocks carry consensus time)."""
    body: Body
    sig: bytes
    v: int = EVENT_VERSION

    def unsigned_wire(self) -> dict[str, Any]:
        return {
            "v": self.v,
            "kind": self.kind,
            "author": self.author,
            "nonce": self.nonce,
            "ts": self.ts,
            "body": self.body.to_wire(),
        }

    @cached_property
    def raw(self) -> bytes:
        """The canonical signed encoding."""
        wire = self.unsigned_wire()
        wire["sig"] = self.sig
        return encode(wire)

    @cached_property
    def id(self) -> bytes:
        return sha256(self.raw)

    def verify(self) -> None:
        """Raise InvalidSignature unless the author signed this event."""
        self.signature_check().run()

    def signature_check(self) -> SignatureCheck:
        return SignatureCheck(Domain.EVENT, self._unsigned_bytes(), self.sig, self.author)

    def _unsigned_bytes(self) -> bytes:
        """What the author signed: the canonical encoding without ``sig``.

        Cut from ``raw`` rather than encoded again (a tenth of a signature check, once per
        event per node): in the canonical map the keys are sorted, so ``sig`` sits just
        before ``ts`` and ``v`` and dropping its entry, with the map's length one less,
        is exactly the unsigned encoding. Any other layout takes the slow path.
        """
        raw = self.raw
        entry = _SIG_ENTRY + self.sig
        tail = b"\xa2ts" + encode(self.ts) + b"\xa1v" + encode(self.v)
        cut = len(raw) - len(tail) - len(entry)
        if raw[:1] == b"\x87" and raw[cut:] == entry + tail:
            return b"\x86" + raw[1:cut] + tail
        return encode(self.unsigned_wire())


def sign_event(key: SigningKey, body: Body, nonce: int, ts: int) -> Event:
    unsigned = Event(kind=body.KIND, author=key.did, nonce=nonce, ts=ts, body=body, sig=b"")
    sig = key.sign(Domain.EVENT, encode(unsigned.unsigned_wire()))
    return Event(kind=body.KIND, author=key.did, nonce=nonce, ts=ts, body=body, sig=sig)


def parse_event(wire: Any) -> Event:
    """Check an envelope and its body; does not verify the signature (see Event.verify)."""
    r = FieldReader(wire, "event", InvalidEvent)
    version = r.integer("v")
    if version != EVENT_VERSION:
        raise InvalidEvent(f"event version {version} is not supported (this node speaks {EVENT_VERSION})")
    kind = r.text("kind", min_len=1, max_len=64)
    body_type = BODY_TYPES.get(kind)
    if body_type is None:
        raise InvalidEvent(f"unknown event kind {kind!r}; known: {', '.join(BODY_TYPES)}")
    author = r.did("author")
    nonce = r.integer("nonce", low=1)
    ts = r.integer("ts")
    body = body_type.from_wire(r.raw("body"))
    sig = r.raw("sig")
    if not isinstance(sig, bytes) or len(sig) != 64:
        raise InvalidEvent("event.sig must be 64 bytes")
    r.done()
    return Event(kind=kind, author=author, nonce=nonce, ts=ts, body=body, sig=sig, v=version)  # type: ignore[arg-type]


def decode_event(data: bytes, *, max_bytes: int = MAX_EVENT_BYTES, verify: bool = True) -> Event:
    """Strictly decode and check an event's bytes, and verify its signature.

    ``verify=False`` is only for bytes this node stored after verifying them itself.
    """
    if len(data) > max_bytes:
        raise InvalidEvent(f"event is {len(data)} bytes; the limit is {max_bytes}")
    event = parse_event(decode(data))
    event.__dict__["raw"] = bytes(data)  # decode() proved these are the canonical bytes
    if verify:
        event.verify()
    return event


