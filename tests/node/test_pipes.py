"""Pipes: many requests on one stream, each answered in order, and every way one fails."""

from __future__ import annotations

import random

import pytest
import trio
import trio.testing

from node.p2p.streams import P2PError, Pipe, answer_pipe

MAX_FRAME = 1 << 20


class LoopbackStream:
    """One end of an in-memory stream with the calls py-libp2p's streams offer."""

    def __init__(self, stream: trio.abc.Stream) -> None:
        self._stream = stream
        self.was_reset = False

    async def read(self, n: int | None = None) -> bytes:
        try:
            return await self._stream.receive_some(n or 65536)
        except trio.ClosedResourceError:
            return b""

    async def write(self, data: bytes) -> None:
        await self._stream.send_all(data)

    async def close(self) -> None:
        await self._stream.aclose()

    async def reset(self) -> None:
        self.was_reset = True
        await self._stream.aclose()


def stream_pair() -> tuple[LoopbackStream, LoopbackStream]:
    left, right = trio.testing.memory_stream_pair()
    return LoopbackStream(left), LoopbackStream(right)


async def echo_slowly(peer: str, request: bytes) -> bytes:
    await trio.sleep(random.random() / 100)  # answers take different times; order must hold
    if request == b"fail":
        raise ValueError("a request the handler cannot answer")
    return b"answer to " + request


async def with_pipe(test, respond=echo_slowly, idle_timeout: float = 60.0) -> None:
    requester, answerer = stream_pair()
    pipe = Pipe(requester, MAX_FRAME)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(pipe.read_answers)

        async def answer() -> None:
            try:
                await answer_pipe(answerer, "peer", respond, MAX_FRAME, idle_timeout=idle_timeout, write_timeout=5)
            except Exception:
                await answerer.reset()

        nursery.start_soon(answer)
        await test(pipe, requester, answerer)
        await pipe.close()
        nursery.cancel_scope.cancel()


def test_requests_sent_together_are_each_answered_with_their_own_answer() -> None:
    async def test(pipe: Pipe, requester, answerer) -> None:
        answers: dict[int, bytes] = {}

        async def ask(index: int) -> None:
            answers[index] = await pipe.request(b"%d" % index, timeout=5)

        async with trio.open_nursery() as nursery:
            for index in range(50):
                nursery.start_soon(ask, index)
        assert answers == {index: b"answer to %d" % index for index in range(50)}
        assert pipe.error is None and pipe.idle

    trio.run(with_pipe, test)


def test_a_failed_answer_fails_every_waiting_request_and_the_pipe() -> None:
    async def test(pipe: Pipe, requester, answerer) -> None:
        outcomes: dict[bytes, object] = {}

        async def ask(request: bytes) -> None:
            try:
                outcomes[request] = await pipe.request(request, timeout=5)
            except P2PError as exc:
                outcomes[request] = exc

        async with trio.open_nursery() as nursery:
            for request in (b"first", b"fail", b"after"):
                nursery.start_soon(ask, request)
                await trio.sleep(0.001)  # sent in this order
        assert outcomes[b"first"] == b"answer to first"
        assert isinstance(outcomes[b"fail"], P2PError) and isinstance(outcomes[b"after"], P2PError)
        assert pipe.error is not None
        with pytest.raises(P2PError):
            await pipe.request(b"again", timeout=5)  # a failed pipe is not reused

    trio.run(with_pipe, test)


def test_an_answer_too_late_fails_the_pipe() -> None:
    async def never(peer: str, request: bytes) -> bytes:
        await trio.sleep_forever()
        return b""

    async def test(pipe: Pipe, requester, answerer) -> None:
        with pytest.raises(P2PError, match="no answer within"):
            await pipe.request(b"anything", timeout=0.05)
        assert pipe.error is not None and requester.was_reset

    trio.run(with_pipe, test, never)


def test_an_answer_nobody_asked_for_fails_the_pipe() -> None:
    async def main() -> None:
        requester, answerer = stream_pair()
        pipe = Pipe(requester, MAX_FRAME)
        await answerer.write(b"\x05hello")  # a whole frame, unprompted
        await pipe.read_answers()
        assert pipe.error is not None and "not sent" in pipe.error.message
        with pytest.raises(P2PError):
            await pipe.request(b"late", timeout=1)

    trio.run(main)


def test_an_oversized_answer_fails_the_pipe() -> None:
    async def huge(peer: str, request: bytes) -> bytes:
        return bytes(MAX_FRAME + 1)

    async def test(pipe: Pipe, requester, answerer) -> None:
        with pytest.raises(P2PError):
            await pipe.request(b"anything", timeout=5)

    trio.run(with_pipe, test, huge)


def test_the_answering_end_closes_a_pipe_left_idle() -> None:
    async def test(pipe: Pipe, requester, answerer) -> None:
        assert await pipe.request(b"one", timeout=5) == b"answer to one"
        with trio.fail_after(5):
            while pipe.error is None:  # the answerer closed its end: the reader ends the pipe
                await trio.sleep(0.01)

    trio.run(with_pipe, test, echo_slowly, 0.2)
