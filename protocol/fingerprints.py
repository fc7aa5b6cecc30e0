"""Acoustic fingerprints as the rules see them: compared, indexed and matched at registration.

A fingerprint is a run of 32-bit sub-fingerprints, one per 11.6 ms frame, big-endian
(computed from the audio by node/fingerprint.py, which says what it can and cannot
detect and why the registration's fingerprint is only the uploading node's word). Two
fingerprints are compared by bit error rate over their aligned frames: the same
recording re-encoded differs in a few bits per frame, unrelated audio in about half.

Matching a new registration against every registered asset goes through an index of
exact 24-bit keys (the top 24 bits of a sub-fingerprint), as AcoustID does: a frame is
indexed if its key's hash falls in one eighth of the hash space (the same frames are
then picked in the original and in a copy, whatever the copy's trim), each asset
indexes at most ``MAX_INDEXED`` keys, and a key's bucket ``fpx/<key>`` lists the first
``BUCKET_SIZE`` assets that indexed it (the earliest, so originals are kept). A copy
finds the original through the keys it shares with it at one alignment; the best few
candidates are then compared in full, over the alignment and its two neighbours. A
registration whose best match scores at least ``MATCH_SCORE_BPS`` (1 - bit error rate,
in basis points) over at least ``MIN_OVERLAP_FRAMES`` frames is flagged as a likely
re-upload of that asset. All arithmetic is on integers, so every node flags the same.

Limits: a bucket filled by crafted fingerprints hides later assets behind it (filling
one costs a registration each), and only assets registered with a fingerprint are found.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from .encoding import decode_stored, encode
from .records import StateOverlay, StateView

FRAME_HOP = 64
"""Samples at 5,512 Hz between frames (11.6 ms)."""
MAX_FRAMES = 2_600
"""About 30 s: the most a registration carries (10,400 bytes)."""
MIN_OVERLAP_FRAMES = 430
"""About 5 s of aligned audio before two fingerprints are compared."""
MATCH_SCORE_BPS = 6_500
"""Matching bits, in basis points, from which two fingerprints are the same recording."""
MAX_INDEXED = 256
BUCKET_SIZE = 8
CANDIDATES = 3
_SAMPLE_SHIFT = 29
"""A key is indexed when the top 3 bits of its 32-bit hash are zero: one key in eight."""
_BORING_KEYS = (0, 0xFFFFFF)
"""Silence and constant tones give these: they say nothing about a recording."""


def pack_fingerprint(words: list[int]) -> bytes:
    return struct.pack(f">{len(words)}I", *words)


def unpack_fingerprint(data: bytes) -> list[int]:
    return list(struct.unpack(f">{len(data) // 4}I", data))


def fingerprint_key(cid: str) -> bytes:
    return b"fpr/" + cid.encode()


def bucket_key(key: int) -> bytes:
    return b"fpx/" + key.to_bytes(3, "big")


def _is_sampled(key: int) -> bool:
    return key not in _BORING_KEYS and ((key * 0x9E3779B1) & 0xFFFFFFFF) >> _SAMPLE_SHIFT == 0


def sampled_keys(words: list[int]) -> list[tuple[int, int]]:
    """(24-bit key, first frame it appears at) of the indexed frames, in frame order."""
    found: dict[int, int] = {}
    for position, word in enumerate(words):
        key = word >> 8
        if key not in found and _is_sampled(key):
            found[key] = position
            if len(found) >= MAX_INDEXED:
                break
    return list(found.items())


def compare(query: list[int], reference: list[int], offset: int) -> tuple[int, int]:
    """(score in bps, frames compared) with query frame ``i`` aligned to reference frame ``i + offset``."""
    start, stop = max(0, -offset), min(len(query), len(reference) - offset)
    frames = stop - start
    if frames <= 0:
        return 0, 0
    errors = sum((query[i] ^ reference[i + offset]).bit_count() for i in range(start, stop))
    return 10_000 - errors * 10_000 // (32 * frames), frames


@dataclass(frozen=True)
class Match:
    asset: str
    score_bps: int
    """1 - bit error rate over the aligned frames, in basis points."""
    offset_ms: int
    """Where the new audio starts in the original (negative: it starts earlier)."""

    def to_wire(self) -> dict[str, object]:
        return {"asset": self.asset, "score_bps": self.score_bps, "offset_ms": self.offset_ms}


def find_match(state: StateView, fingerprint: bytes) -> Match | None:
    """The registered asset this fingerprint most likely re-uploads, or None."""
    words = unpack_fingerprint(fingerprint)
    votes: dict[tuple[str, int], int] = {}
    for key, position in sampled_keys(words):
        raw = state.get(bucket_key(key))
        for cid, reference_position in [] if raw is None else decode_stored(raw):
            vote = (cid, reference_position - position)
            votes[vote] = votes.get(vote, 0) + 1
    best: Match | None = None
    for (cid, offset), count in sorted(votes.items(), key=lambda item: (-item[1], item[0]))[:CANDIDATES]:
        if count < 2:
            break
        raw = state.get(fingerprint_key(cid))
        assert raw is not None, "a fingerprint bucket names an asset with no fingerprint"
        reference = unpack_fingerprint(raw)
        for shift in (offset - 1, offset, offset + 1):
            score, frames = compare(words, reference, shift)
            if frames >= min(MIN_OVERLAP_FRAMES, len(words)) and score >= MATCH_SCORE_BPS:
                if best is None or score > best.score_bps:
                    best = Match(cid, score, shift * FRAME_HOP * 1000 // 5_512)
    return best


def index_fingerprint(state: StateOverlay, cid: str, fingerprint: bytes) -> None:
    """Store an asset's fingerprint and add it to the buckets of its sampled keys that have room."""
    state.put(fingerprint_key(cid), fingerprint)
    for key, position in sampled_keys(unpack_fingerprint(fingerprint)):
        raw = state.get(bucket_key(key))
        bucket = [] if raw is None else list(decode_stored(raw))
        if len(bucket) < BUCKET_SIZE:
            state.put(bucket_key(key), encode([*bucket, [cid, position]]))
