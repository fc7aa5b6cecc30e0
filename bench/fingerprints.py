"""Fingerprint match rate and false-match rate on generated music (no node, no network).

Registers ``--clips`` distinct generated clips (fingerprint, index) on a dict state, then
looks up each clip altered as a re-upload would be: encoded to MP3 or FLAC (alternately),
trimmed by 1-5 s at the start and made 1-4 dB louder. A lookup that names the clip's
original counts as a match; one that names another asset as a false match. Then as many
other generated clips, never registered, are looked up: any match there is a false match.
Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from node.fingerprint import fingerprint_file  # noqa: E402
from protocol.fingerprints import find_match, index_fingerprint  # noqa: E402
from protocol.records import StateOverlay  # noqa: E402
from tests.node.clips import altered, music_clip, write_clip  # noqa: E402


class _Empty:
    def get(self, key: bytes) -> bytes | None:
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clips", type=int, default=60)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    state = StateOverlay(_Empty())
    matched = wrong = unrelated_matches = 0
    scores: list[int] = []
    lookup_ms: list[float] = []
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        clips = [music_clip(seed, args.seconds) for seed in range(args.clips)]
        for n, clip in enumerate(clips):
            path = folder / f"orig-{n}.wav"
            write_clip(path, clip)
            index_fingerprint(state, f"asset-{n}", fingerprint_file(path))
        for n, clip in enumerate(clips):
            path = folder / f"copy-{n}"
            path.write_bytes(altered(clip, trim_s=1 + (n % 9) / 2, gain_db=1 + (n % 4), format="MP3" if n % 2 == 0 else "FLAC"))
            fingerprint = fingerprint_file(path)
            started = time.perf_counter()
            match = find_match(state, fingerprint)
            lookup_ms.append((time.perf_counter() - started) * 1000)
            if match is not None and match.asset == f"asset-{n}":
                matched += 1
                scores.append(match.score_bps)
            elif match is not None:
                wrong += 1
        for n in range(args.clips):
            path = folder / f"other-{n}.wav"
            write_clip(path, music_clip(10_000 + n, args.seconds))
            if find_match(state, fingerprint_file(path)) is not None:
                unrelated_matches += 1
    lookup_ms.sort()
    print(json.dumps({
        "clips": args.clips,
        "match_rate": matched / args.clips,
        "copies_matched_to_another_asset": wrong,
        "unrelated_clips_matched": unrelated_matches,
        "false_match_rate": (wrong + unrelated_matches) / (2 * args.clips),
        "min_score_bps": min(scores) if scores else None,
        "median_score_bps": scores[len(scores) // 2] if scores else None,
        "lookup_p50_ms": round(lookup_ms[len(lookup_ms) // 2], 3),
    }))


if __name__ == "__main__":
    main()
