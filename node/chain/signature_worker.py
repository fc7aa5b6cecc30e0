"""Signature checks in a helper process, so that a node catching up imports one block
while the signatures of the next ones are being checked.

A node catching up spends about half its time checking Ed25519 signatures (one per
event) and the rest decoding and importing. Threads do not help: each check hands the
GIL back and forth with the importing thread, and catch-up got slower with them. A
helper process, started with the first large batch, checks them beside the node. It is
fed over its stdin and answers on its stdout; it exits when its stdin closes, so it
never outlives its node, even one killed with SIGKILL.

The helper only says which check failed first, if any; the error itself comes from
running that one check here, so a batch checked by the helper fails exactly as it would
have in process. Should the helper be unavailable, or disagree, the checks run here.

Run as ``python -m node.chain.signature_worker`` it is the helper: it imports only the signature check.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import struct
import sys
import threading
from collections import deque
from typing import BinaryIO, Sequence

import msgpack

from protocol.blocks import OwedSignature, check_signatures
from protocol.errors import ProtocolError
from protocol.keys import Domain, SignatureCheck

log = logging.getLogger("audiera.verifier")

OFFLOAD_MIN_CHECKS = 256
"""A block with fewer signatures to check, while no helper runs, is checked in process: a
node a few quiet blocks behind does not need one. The first busy block starts it."""
PIPE_BYTES = 1 << 20
"""The pipe to the helper is widened to this (Linux's default ceiling for a user), so that
a batch of checks is written at once instead of as the event loop gets a turn."""
_LENGTH = struct.Struct(">I")


class VerifierUnavailable(Exception):
    """The helper process could not be started or has gone away."""


class PendingChecks:
    """Signatures being checked; ``wait`` raises what the first failing one raises."""

    def __init__(self, owed: Sequence[OwedSignature], verdict: asyncio.Future[int | None] | None) -> None:
        self._owed = owed
        self._verdict = verdict

    async def wait(self) -> None:
        if self._verdict is None:
            check_signatures(self._owed)
            return
        try:
            failed = await self._verdict
        except VerifierUnavailable:
            check_signatures(self._owed)
            return
        if failed is None:
            return
        check_signatures(self._owed[failed:failed + 1])
        log.error("the verifier reported signature %d of a batch as bad, but it verifies here", failed)
        check_signatures(self._owed)

    def cancel(self) -> None:
        if self._verdict is not None and not self._verdict.done():
            self._verdict.cancel()


class SignatureVerifier:
    """Checks batches of signatures in a helper process, in the order they are given."""

    def __init__(self, offload_min: int = OFFLOAD_MIN_CHECKS) -> None:
        self._offload_min = offload_min
        self._process: asyncio.subprocess.Process | None = None
        self._verdicts: deque[asyncio.Future[int | None]] = deque()
        self._reader: asyncio.Task[None] | None = None

    async def start_checks(self, owed: Sequence[OwedSignature]) -> PendingChecks:
        """Begin checking ``owed``; small batches wait to be checked in process by ``wait``."""
        if len(owed) < self._offload_min and self._process is None:
            return PendingChecks(owed, None)
        try:
            process = await self._running()
            assert process.stdin is not None
            wire = [(o.check.domain.value, o.check.message, o.check.signature, o.check.signer) for o in owed]
            payload = msgpack.packb(wire, use_bin_type=True)
            process.stdin.write(_LENGTH.pack(len(payload)) + payload)
        except (OSError, VerifierUnavailable) as exc:
            log.warning("checking signatures in process: the verifier is unavailable (%s)", exc)
            await self.close()
            return PendingChecks(owed, None)
        verdict: asyncio.Future[int | None] = asyncio.get_running_loop().create_future()
        self._verdicts.append(verdict)
        return PendingChecks(owed, verdict)

    async def close(self) -> None:
        """Stop the helper (it exits as its stdin closes) and fail what it still owes."""
        process, self._process = self._process, None
        if self._reader is not None:
            self._reader.cancel()
            self._reader = None
        self._fail_pending(VerifierUnavailable("the verifier was stopped"))
        if process is None:
            return
        if process.stdin is not None:
            process.stdin.close()
        try:
            await asyncio.wait_for(process.wait(), 5)
        except asyncio.TimeoutError:
            process.kill()
            await process.wait()

    async def _running(self) -> asyncio.subprocess.Process:
        if self._process is not None and self._process.returncode is None:
            return self._process
        try:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "node.chain.signature_worker", stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE
            )
        except OSError as exc:
            raise VerifierUnavailable(f"could not start it: {exc}") from None
        assert process.stdin is not None
        _widen_pipe(process.stdin.get_extra_info("pipe"))
        log.info("checking signatures in a helper process (pid %d)", process.pid)
        self._process = process
        self._reader = asyncio.ensure_future(self._read_verdicts(process))
        return process

    async def _read_verdicts(self, process: asyncio.subprocess.Process) -> None:
        assert process.stdout is not None
        try:
            while True:
                (size,) = _LENGTH.unpack(await process.stdout.readexactly(_LENGTH.size))
                failed = msgpack.unpackb(await process.stdout.readexactly(size))
                if failed is not None and (not isinstance(failed, int) or isinstance(failed, bool)):
                    raise ValueError(f"the verifier answered {failed!r}")
                verdict = self._verdicts.popleft()
                if not verdict.done():
                    verdict.set_result(failed)
        except (asyncio.IncompleteReadError, ConnectionError, IndexError, ValueError, msgpack.UnpackException) as exc:
            log.warning("the verifier stopped answering (%r); checking signatures in process", exc)
            if self._process is process:
                self._process = None
            self._fail_pending(VerifierUnavailable("the verifier stopped answering"))
            if process.returncode is None:
                process.kill()

    def _fail_pending(self, error: VerifierUnavailable) -> None:
        while self._verdicts:
            verdict = self._verdicts.popleft()
            if not verdict.done():
                verdict.set_exception(error)


def _widen_pipe(pipe: object) -> None:
    try:
        import fcntl

        fcntl.fcntl(pipe.fileno(), fcntl.F_SETPIPE_SZ, PIPE_BYTES)  # type: ignore[attr-defined]
    except (ImportError, AttributeError, OSError):
        pass  # a narrower pipe only means the batch is written in more turns


# --- the helper process ----------------------------------------------------------------


def _read_batches(source: BinaryIO, batches: queue.Queue[bytes | None]) -> None:
    """Drain stdin as fast as it fills, so the node's writes never wait for a check."""
    try:
        while header := source.read(_LENGTH.size):
            (size,) = _LENGTH.unpack(header)
            batches.put(source.read(size))
    finally:
        batches.put(None)


def first_failure(wire: list[tuple[bytes, bytes, bytes, str]]) -> int | None:
    """The index of the first signature that does not verify, or None."""
    for index, (domain, message, signature, signer) in enumerate(wire):
        try:
            SignatureCheck(Domain(domain), message, signature, signer).run()
        except (ProtocolError, ValueError):
            return index
    return None


def main() -> None:
    batches: queue.Queue[bytes | None] = queue.Queue()
    threading.Thread(target=_read_batches, args=(sys.stdin.buffer, batches), daemon=True).start()
    out = sys.stdout.buffer
    while (payload := batches.get()) is not None:
        answer = msgpack.packb(first_failure(msgpack.unpackb(payload, use_list=True)))
        out.write(_LENGTH.pack(len(answer)) + answer)
        out.flush()


if __name__ == "__main__":
    main()
