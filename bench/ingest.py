"""Ingest throughput: a large WAV uploaded through the node's RPC, against raw hash-and-write.

Baseline (same run, same file, same data directory): read the file, sha2-256 it, write it
to a new file and fsync it, which is the least any content store must do. The node's
path adds HTTP streaming, 256 KiB chunking, a CID per leaf, the UnixFS DAG, media probing
and the LevelDB index, and also fsyncs. Each figure is the median of --runs runs.

    python bench/ingest.py [--size-mb 256] [--runs 3] [--dir DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._nodes import BenchNode, data_dir_of, emit  # noqa: E402
from node.client import NodeClient  # noqa: E402
from node.files.network_files import scaffold_network  # noqa: E402

PIECE = 1024 * 1024


def write_wav(path: Path, size_mb: int, seed: int) -> int:
    """A 16-bit stereo 44.1 kHz WAV of about ``size_mb`` MB of noise (incompressible, no repeated leaves)."""
    data_bytes = size_mb * 1024 * 1024
    rng = np.random.default_rng(seed)
    header = b"RIFF" + (36 + data_bytes).to_bytes(4, "little") + b"WAVEfmt "
    header += (16).to_bytes(4, "little") + (1).to_bytes(2, "little") + (2).to_bytes(2, "little")
    header += (44100).to_bytes(4, "little") + (44100 * 4).to_bytes(4, "little") + (4).to_bytes(2, "little")
    header += (16).to_bytes(2, "little") + b"data" + data_bytes.to_bytes(4, "little")
    with open(path, "wb") as file:
        file.write(header)
        left = data_bytes
        while left:
            n = min(left, 8 * PIECE)
            file.write(rng.integers(-(2**15), 2**15, n // 2, dtype=np.int16).tobytes())
            left -= n
        # Settle the writeback now, so that it does not slow whichever measurement comes next.
        file.flush()
        os.fsync(file.fileno())
    return path.stat().st_size


def baseline(source: Path, target_dir: Path, *, durable: bool = True) -> float:
    target = target_dir / "baseline.bin"
    started = time.perf_counter()
    digest = hashlib.sha256()
    with open(source, "rb") as reader, open(target, "wb") as writer:
        while piece := reader.read(PIECE):
            digest.update(piece)
            writer.write(piece)
        writer.flush()
        if durable:
            os.fsync(writer.fileno())
    elapsed = time.perf_counter() - started
    if not durable:
        os.sync()  # keep this run's writeback out of the next measurement
    target.unlink()
    return elapsed


def upload(url: str, source: Path) -> tuple[float, dict]:
    started = time.perf_counter()
    payload = NodeClient(url).upload(source, "audio/wav")
    return time.perf_counter() - started, payload


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=256)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--dir", type=Path, help="work directory (default: a temporary one, removed after)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as work:
        workdir = Path(work)
        _, (scaffolded,) = scaffold_network(workdir / "net", nodes=1)
        node = BenchNode(scaffolded.config_path, workdir).start()
        try:
            data_dir = data_dir_of(scaffolded.config_path)
            ingest_times, baseline_times, cached_times, size, cid = [], [], [], 0, ""
            for run in range(args.runs):
                # A different file per run: re-uploading the same bytes is (correctly) a no-op.
                source = workdir / f"input{run}.wav"
                size = write_wav(source, args.size_mb, seed=run)
                # Alternate the order so neither side always runs on a warmer machine.
                if run % 2:
                    elapsed, answer = upload(node.url, source)
                    baseline_times.append(baseline(source, data_dir))
                else:
                    baseline_times.append(baseline(source, data_dir))
                    elapsed, answer = upload(node.url, source)
                ingest_times.append(elapsed)
                cached_times.append(baseline(source, data_dir, durable=False))
                cid = answer["cid"]
                assert answer["size"] == size and answer["media"]["format"] == "wav", answer
                source.unlink()
        finally:
            node.stop()
    mb = size / 1e6
    ingest_mb_s = mb / statistics.median(ingest_times)
    baseline_mb_s = mb / statistics.median(baseline_times)
    cached_mb_s = mb / statistics.median(cached_times)
    emit(
        [
            ("file", f"{mb:.0f} MB WAV, {args.runs} runs (median)"),
            ("ingest via RPC", f"{ingest_mb_s:.0f} MB/s  (runs: {', '.join(f'{mb / t:.0f}' for t in ingest_times)})"),
            ("baseline sha256+write+fsync", f"{baseline_mb_s:.0f} MB/s  (runs: {', '.join(f'{mb / t:.0f}' for t in baseline_times)})"),
            ("ratio", f"{ingest_mb_s / baseline_mb_s:.2f}"),
            ("(baseline without fsync)", f"{cached_mb_s:.0f} MB/s, ratio {ingest_mb_s / cached_mb_s:.2f}: page cache only, not durable"),
            ("last root CID", cid),
        ],
        {"ingest_mb_s": round(ingest_mb_s, 1), "baseline_mb_s": round(baseline_mb_s, 1), "ratio": round(ingest_mb_s / baseline_mb_s, 3)},
    )


if __name__ == "__main__":
    main()
