"""Building signed events and audio for functional tests, as a client library would."""

from __future__ import annotations

import io
import time

import numpy as np
import soundfile

from protocol.events import AssetRegister, Body, Media, Share, sign_event
from protocol.keys import SigningKey
from protocol.sealing import open_chunks
from protocol.terms import ALLOWED, PURCHASE, Terms

from .framework import NodeProcess


def make_wav(seconds: float = 1.0, *, sample_rate: int = 44_100, channels: int = 2, seed: int = 0) -> bytes:
    """A short stereo WAV of a sine tone plus noise (distinct per seed)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    tone = 0.3 * np.sin(2 * np.pi * (220 + 10 * seed) * t)
    samples = np.stack([tone + 0.01 * rng.standard_normal(t.size) for _ in range(channels)], axis=1)
    out = io.BytesIO()
    soundfile.write(out, samples, sample_rate, format="WAV", subtype="PCM_16")
    return out.getvalue()


class Client:
    """One account talking to one node: keeps its own nonce, as a wallet would."""

    def __init__(self, node: NodeProcess, key: SigningKey | None = None) -> None:
        self.node = node
        self.key = key or SigningKey.generate()
        self.nonce = 0

    @property
    def did(self) -> str:
        return self.key.did

    def sign(self, body: Body, nonce: int | None = None) -> bytes:
        if nonce is None:
            self.nonce += 1
            nonce = self.nonce
        return sign_event(self.key, body, nonce, int(time.time() * 1000)).raw

    def send(self, body: Body) -> str:
        return self.node.submit(self.sign(body))["id"]

    def upload(self, data: bytes, content_type: str = "audio/wav") -> dict:
        return self.node.request("POST", "/v1/content", body=data, content_type=content_type)


def asset_body(upload: dict, owner: str, *, title: str = "Test tone", holders: list[tuple[str, int]] | None = None) -> AssetRegister:
    media = upload["media"]
    return AssetRegister(
        cid=upload["cid"],
        size=upload["size"],
        media=Media(**media) if media else None,
        title=title,
        description="generated for a test",
        asset_type="track",
        genre="ambient",
        tags=("test", "sine"),
        isrc="",
        iswc="",
        rights_holders=tuple(Share(account, bps) for account, bps in (holders or [(owner, 10_000)])),
        parents=(),
        terms=Terms.make({"ai_training": (PURCHASE, 5), "data_mining": (ALLOWED, 0)}),
        sealed_cid=upload["sealed_cid"],
    )


def open_sealed(sealed: bytes, upload: dict) -> bytes:
    """The plain bytes of sealed content, opened with the content key its upload returned."""
    return b"".join(open_chunks(bytes.fromhex(upload["content_key"]), upload["cid"], [sealed]))
