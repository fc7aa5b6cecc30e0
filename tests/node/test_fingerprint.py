"""Acoustic fingerprints: the same recording re-encoded, trimmed and louder is found; other audio is not."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from node.fingerprint import fingerprint_file
from protocol.errors import InvalidEvent
from protocol.events import AssetRegister, ParticipantRegister
from protocol.fingerprints import MATCH_SCORE_BPS, compare, find_match, fingerprint_key, unpack_fingerprint
from protocol.records import get_asset
from tests.protocol.factories import key
from tests.protocol.market_world import ALICE, World, asset

from .clips import altered, music_clip, write_clip

CY = key(21)


@pytest.fixture(scope="module")
def prints(tmp_path_factory) -> dict[str, bytes]:
    folder: Path = tmp_path_factory.mktemp("clips")
    found = {}
    original = music_clip(1, 15.0)
    write_clip(folder / "original.wav", original)
    write_clip(folder / "other.wav", music_clip(2, 15.0))
    (folder / "copy.mp3").write_bytes(altered(original, trim_s=2.7, gain_db=3, format="MP3"))
    (folder / "copy.flac").write_bytes(altered(original, trim_s=4.1, gain_db=1, format="FLAC"))
    (folder / "not-audio.bin").write_bytes(b"\x00\x01" * 1000)
    for name in ("original.wav", "other.wav", "copy.mp3", "copy.flac", "not-audio.bin"):
        found[name] = fingerprint_file(folder / name)
    return found


def test_copies_agree_with_the_original_once_aligned(prints) -> None:
    original = unpack_fingerprint(prints["original.wav"])
    for name, trim_s in (("copy.mp3", 2.7), ("copy.flac", 4.1)):
        offset = round(trim_s * 5_512 / 64)
        score = max(compare(unpack_fingerprint(prints[name]), original, o)[0] for o in range(offset - 2, offset + 3))
        assert score >= MATCH_SCORE_BPS + 1_500, name
    assert compare(unpack_fingerprint(prints["other.wav"]), original, 0)[0] < MATCH_SCORE_BPS - 1_000


def test_unreadable_audio_has_no_fingerprint(prints) -> None:
    assert prints["not-audio.bin"] == b""


def registered(prints, name: str, tag: str, world: World, owner=ALICE) -> AssetRegister:
    body = replace(asset(tag, ((owner, 10_000),)), fingerprint=prints[name])
    world.send(owner, body)
    return body


def test_a_reupload_under_a_new_name_is_flagged_with_the_original(prints) -> None:
    world = World()
    world.send(CY, ParticipantRegister("Cy", ("creator",)))
    original = registered(prints, "original.wav", "ada-track", world)
    registered(prints, "other.wav", "other-track", world)
    for name, tag in (("copy.mp3", "cy-mp3"), ("copy.flac", "cy-flac")):
        registered(prints, name, tag, world, owner=CY)
        record = get_asset(world, asset(tag).cid)
        assert record is not None and record.reupload_of is not None, name
        assert record.reupload_of["asset"] == original.cid and record.reupload_of["score_bps"] >= MATCH_SCORE_BPS
    assert get_asset(world, asset("other-track").cid).reupload_of is None  # type: ignore[union-attr]
    assert get_asset(world, original.cid).reupload_of is None  # type: ignore[union-attr]
    assert world.get(fingerprint_key(original.cid)) == prints["original.wav"]
    assert find_match(world, prints["other.wav"]).asset == asset("other-track").cid  # type: ignore[union-attr]


def test_invalid_fingerprint_on_the_wire() -> None:
    wire = asset("x").to_wire()
    for bad in (b"\x00" * 5, "00" * 8, b"\x00" * 4 * 2_601):
        with pytest.raises(InvalidEvent, match="fingerprint must be bytes"):
            AssetRegister.from_wire({**wire, "fingerprint": bad})
