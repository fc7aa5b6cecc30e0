"""Framing and pipelining on libp2p streams: the trio-side helpers of ``host``.

Only ``host`` imports this module; the rest of the node sees streams through the host's
asyncio interface.

A request/response protocol opens one stream per request. That costs a protocol
negotiation (a round trip behind whatever else the connection carries: 50-100 ms under a
content transfer, measured) and a fresh yamux receive window per stream, which starts
small and only grows on a long-lived stream. A *pipe* is one long-lived stream to a peer
carrying many requests, each answered in order; requests can be written before earlier
answers arrive, so a bulk transfer keeps the connection busy the way one bare stream does.
"""

from __future__ import annotations

from collections import deque
from typing import Any, Awaitable, Callable

import trio
from libp2p.io.msgio import VarIntLengthMsgReadWriter


class P2PError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Frames(VarIntLengthMsgReadWriter):
    """Length-prefixed frames on a stream, each read whole however many reads it takes.

    py-libp2p's ``read_exactly`` gives up after 100 reads, and a yamux stream yields at
    most 64 KiB a read: every frame over ~6.5 MB failed as "Connection closed during
    read operation" (sync responses near the frame limit never arrived, so a fresh node
    on a long chain never caught up).
    """

    async def read_msg(self) -> bytes:
        return await read_exactly(self.read_write_closer, await self.next_msg_len())


async def read_exactly(stream: Any, size: int) -> bytes:
    # Pieces joined once at the end: growing a bytearray piece by piece re-copied a 6 MiB
    # frame many times over and took a quarter of the network thread in a content fetch.
    pieces = []
    remaining = size
    while remaining:
        piece = await stream.read(remaining)
        if not piece:
            raise P2PError("stream ended early")
        pieces.append(piece)
        remaining -= len(piece)
    return b"".join(pieces)


async def reset_quietly(stream: Any) -> None:
    """Reset a stream we are giving up on; it may already be broken, which is fine."""
    with trio.move_on_after(1):
        try:
            await stream.reset()
        except Exception:
            pass


class _Answer:
    def __init__(self) -> None:
        self.done = trio.Event()
        self.response = b""
        self.error: P2PError | None = None


class Pipe:
    """The requesting end: requests written in order, answers matched to them in order.

    Any failure (a broken stream, a malformed frame, an answer too late) fails every
    request still waiting and ends the pipe: answers are matched by position, so after a
    missing one nothing on the stream can be trusted. The owner opens a new pipe.
    """

    def __init__(self, stream: Any, max_frame: int) -> None:
        self._stream = stream
        self._frames = Frames(stream, max_frame)
        self._waiting: deque[_Answer] = deque()
        self._write_lock = trio.Lock()
        self.error: P2PError | None = None
        self.last_used = trio.current_time()

    @property
    def idle(self) -> bool:
        return not self._waiting

    async def request(self, payload: bytes, timeout: float) -> bytes:
        if self.error is not None:
            raise self.error
        answer = _Answer()
        self.last_used = trio.current_time()
        try:
            with trio.fail_after(timeout):
                async with self._write_lock:  # the wire order of requests is the order of _waiting
                    self._waiting.append(answer)
                    await self._frames.write_msg(payload)
                await answer.done.wait()
        except trio.TooSlowError:
            await self.fail(P2PError(f"no answer within {timeout:.0f}s"))
        except P2PError as exc:
            await self.fail(exc)
        except Exception as exc:  # py-libp2p's stream errors
            await self.fail(P2PError(f"the stream broke: {exc!r}"))
        if not answer.done.is_set():  # failed before it was sent
            raise self.error or P2PError("the pipe failed")
        if answer.error is not None:
            raise answer.error
        return answer.response

    async def read_answers(self) -> None:
        """Run for the pipe's life: hand each answer to the request it belongs to."""
        try:
            while True:
                response = await self._frames.read_msg()
                if not self._waiting:
                    raise P2PError("the peer answered a request that was not sent")
                answer = self._waiting.popleft()
                answer.response = response
                answer.done.set()
        except P2PError as exc:
            await self.fail(exc)
        except Exception as exc:
            await self.fail(P2PError(f"the stream broke: {exc!r}"))

    async def close(self) -> None:
        await self.fail(P2PError("the pipe was closed"))

    async def fail(self, error: P2PError) -> None:
        if self.error is None:
            self.error = error
            await reset_quietly(self._stream)
        while self._waiting:
            answer = self._waiting.popleft()
            answer.error = self.error
            answer.done.set()


Respond = Callable[[str, bytes], Awaitable[bytes]]


async def answer_pipe(stream: Any, peer: str, respond: Respond, max_frame: int, idle_timeout: float, write_timeout: float) -> None:
    """The answering end: read requests, answer each in order, until the stream ends.

    The next answer is prepared while the previous one is being written, so the stream
    does not stand idle between answers. Idle for ``idle_timeout``: the stream is closed
    (a peer cannot hold streams open for nothing).
    """
    frames = Frames(stream, max_frame)
    send, receive = trio.open_memory_channel[bytes](1)

    async def prepare() -> None:
        async with send:
            while True:
                with trio.move_on_after(idle_timeout) as idle:
                    try:
                        request = await frames.read_msg()
                    except P2PError:
                        return  # the requester closed the pipe
                if idle.cancelled_caught:
                    return
                await send.send(await respond(peer, request))

    async def write() -> None:
        async with receive:
            async for response in receive:
                with trio.fail_after(write_timeout):
                    await frames.write_msg(response)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(prepare)
        nursery.start_soon(write)
    await stream.close()
