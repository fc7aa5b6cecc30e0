"""Distinct synthetic music clips, and the same clip re-encoded, trimmed and louder, for fingerprint tests."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import soundfile

RATE = 44_100


def music_clip(seed: int, seconds: float = 20.0, rate: int = RATE) -> np.ndarray:
    """A stereo clip of notes, chords and percussion that differs for every seed."""
    rng = np.random.default_rng(seed)
    total = int(seconds * rate)
    out = np.zeros(total)
    beat = int(rate * 60 / rng.uniform(80, 160))
    scale = 220.0 * 2 ** (np.array([0, 2, 3, 5, 7, 8, 10, 12, 14, 15]) / 12) * rng.choice([0.5, 1.0, 1.5])
    t = np.arange(beat * 2) / rate
    for start in range(0, total - beat * 2, beat):
        for _ in range(rng.integers(1, 4)):
            freq = rng.choice(scale) * rng.choice([1, 2])
            length = beat * rng.integers(1, 3)
            tone = sum(np.sin(2 * np.pi * freq * k * t[:length] + rng.uniform(0, 6)) / k for k in range(1, rng.integers(2, 6)))
            envelope = np.exp(-t[:length] * rng.uniform(2, 8)) * np.minimum(1, t[:length] * 200)
            out[start : start + length] += 0.2 * tone * envelope
        if rng.random() < 0.7:
            hit = min(beat, int(0.08 * rate))
            out[start : start + hit] += 0.3 * rng.standard_normal(hit) * np.exp(-np.arange(hit) / (0.015 * rate))
    out += 0.01 * rng.standard_normal(total)
    out /= max(1e-9, np.abs(out).max()) * 1.25
    return np.stack([out, np.roll(out, 30) * 0.9], axis=1).astype(np.float32)


def write_clip(path: Path, samples: np.ndarray, *, rate: int = RATE, format: str = "WAV") -> None:
    soundfile.write(str(path), samples, rate, format=format)


def altered(samples: np.ndarray, *, trim_s: float, gain_db: float, format: str, rate: int = RATE) -> bytes:
    """The clip trimmed at the start, made louder (clipped to full scale) and encoded as MP3 or FLAC."""
    changed = np.clip(samples[int(trim_s * rate) :] * 10 ** (gain_db / 20), -1, 1)
    buffer = io.BytesIO()
    soundfile.write(buffer, changed, rate, format=format, **({"subtype": "MPEG_LAYER_III"} if format == "MP3" else {}))
    return buffer.getvalue()
