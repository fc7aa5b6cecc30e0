"""An acoustic fingerprint of the audio at upload, after the design Chromaprint and AcoustID
build on (Haitsma and Kalker's robust hash).

The audio is mixed to mono and resampled to 5,512 Hz; frames of 2,048 samples (0.37 s)
every 64 samples (11.6 ms) are windowed and their spectrum cut into 33 bands spaced
logarithmically from 300 to 2,000 Hz. Each frame gives one 32-bit sub-fingerprint: bit
``m`` says whether the energy difference between bands ``m`` and ``m+1`` grew or shrank
since the previous frame. Signs of differences of energies do not change with the gain,
and change little with lossy coding, so the same recording re-encoded to MP3 or FLAC,
made louder or quieter, or trimmed by a few seconds, gives sub-fingerprints that agree in
most bits once aligned (compared by bit error rate in protocol/fingerprints.py).

What it can detect: the same recording again, re-encoded, trimmed, with its level
changed. What it cannot: a new performance or cover of the same work, a remix or a
recording pitch-shifted or time-stretched, heavy added noise, or a short sample of it
inside another track (only the first ``SECONDS`` seconds are fingerprinted). The node
that uploads the audio computes it and the registration carries it as that node's word:
nodes that never saw the audio cannot check it, and an uploading node could lie about
it (send another fingerprint, or none), so a match is a flag for people to look at, and
the absence of one proves nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

import numpy as np
import soundfile

from protocol.fingerprints import FRAME_HOP, MAX_FRAMES, pack_fingerprint

SAMPLE_RATE = 5_512
FRAME = 2_048
SECONDS = 30
BANDS = 33
LOW_HZ, HIGH_HZ = 300.0, 2_000.0
_EDGES = np.geomspace(LOW_HZ, HIGH_HZ, BANDS + 1)
_BINS = np.clip(np.round(_EDGES * FRAME / SAMPLE_RATE).astype(int), 1, FRAME // 2)
_WINDOW = np.hanning(FRAME).astype(np.float32)


def fingerprint_file(source: Path | BinaryIO) -> bytes:
    """The fingerprint of the first ``SECONDS`` (and a few more for trimming slack) of an audio file; b"" if unreadable or too short.

    ``source`` is a path or a seekable file object (an upload's plain bytes opened from its sealed file).
    """
    try:
        with soundfile.SoundFile(str(source) if isinstance(source, Path) else source) as audio:
            rate = audio.samplerate
            samples = audio.read(frames=int(rate * (SECONDS + 2)), dtype="float32", always_2d=True)
    except (RuntimeError, soundfile.LibsndfileError, OSError, ValueError):
        return b""
    if rate <= 0 or len(samples) == 0:
        return b""
    return fingerprint_samples(samples.mean(axis=1), rate)


def fingerprint_samples(mono: np.ndarray, rate: int) -> bytes:
    signal = _resample(mono.astype(np.float64), rate)
    frames = 1 + (len(signal) - FRAME) // FRAME_HOP
    if frames < 2:
        return b""
    frames = min(frames, MAX_FRAMES + 1)
    index = np.arange(FRAME)[None, :] + FRAME_HOP * np.arange(frames)[:, None]
    spectrum = np.abs(np.fft.rfft(signal[index] * _WINDOW, axis=1)) ** 2
    cumulative = np.concatenate([np.zeros((frames, 1)), np.cumsum(spectrum, axis=1)], axis=1)
    energy = cumulative[:, _BINS[1:]] - cumulative[:, _BINS[:-1]]
    across = energy[:, :-1] - energy[:, 1:]
    bits = (across[1:] - across[:-1]) > 0
    words = (bits.astype(np.uint64) << np.arange(31, -1, -1, dtype=np.uint64)).sum(axis=1)
    return pack_fingerprint([int(word) for word in words])


def _resample(signal: np.ndarray, rate: int) -> np.ndarray:
    """To SAMPLE_RATE: a windowed-sinc low-pass below the new Nyquist, then linear interpolation."""
    if rate != SAMPLE_RATE:
        cutoff = 0.9 * (SAMPLE_RATE / 2) / rate
        taps = np.arange(-64, 65)
        kernel = 2 * cutoff * np.sinc(2 * cutoff * taps) * np.hamming(len(taps))
        signal = np.convolve(signal, kernel / kernel.sum(), mode="same")
        times = np.arange(0, len(signal) / rate, 1 / SAMPLE_RATE)
        signal = np.interp(times, np.arange(len(signal)) / rate, signal)
    return signal
