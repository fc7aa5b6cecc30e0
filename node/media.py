"""Media facts read from the audio itself (never taken from the uploader's word)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, BinaryIO

import mutagen
import soundfile


def probe_media(source: Path | BinaryIO) -> dict[str, Any] | None:
    """Format, duration, sample rate and channels of an audio file; None if it is not audio we can read.

    ``source`` is a path or a seekable file object: an upload is probed through a reader
    that opens its sealed file, since the plain audio is never written out.
    libsndfile (soundfile) reads WAV, FLAC, OGG/Vorbis, AIFF and more exactly from their
    headers; mutagen covers the compressed formats it does not (MP3, MP4/AAC).
    """
    target: Any = str(source) if isinstance(source, Path) else source
    try:
        info = soundfile.info(target)
    except (RuntimeError, soundfile.LibsndfileError, OSError):
        info = None
    if not isinstance(source, Path):
        source.seek(0)
    if info is not None and info.samplerate > 0 and info.channels > 0:
        return {
            "format": info.format.lower(),
            "duration_ms": info.frames * 1000 // info.samplerate,
            "sample_rate": int(info.samplerate),
            "channels": int(info.channels),
        }
    try:
        audio = mutagen.File(target)
    except (mutagen.MutagenError, OSError):
        audio = None
    if audio is None or audio.info is None:
        return None
    sample_rate = int(getattr(audio.info, "sample_rate", 0) or 0)
    channels = int(getattr(audio.info, "channels", 0) or 0)
    if sample_rate <= 0 or channels <= 0:
        return None
    return {
        "format": type(audio).__name__.lower(),
        "duration_ms": int(round(audio.info.length * 1000)),
        "sample_rate": sample_rate,
        "channels": channels,
    }
