"""The one boundary between the asyncio node and py-libp2p, which runs on trio.

A dedicated thread runs ``trio.run`` with the libp2p host, gossipsub and our stream
handlers. The rest of the node sees only this small asyncio interface: ``publish``,
``subscribe``, ``request``, ``serve`` (and their pipelined forms for bulk transfers),
``connect``, ``disconnect``, ``peers``, and connection callbacks. Nothing outside this
module and its trio-side helper ``streams`` imports trio.

Settings differ from py-libp2p's defaults, each for a measured reason (see LIBP2P.md):
noise is the only security transport (the defaults also accept plaintext); gossipsub
speaks /meshsub/1.1.0 (1.2's IDONTWANT halves throughput) with a 1 s heartbeat that
stays 1 s (its "adaptive gossip" stretches it to a minute on a small testnet) and no
per-peer rate limit (we validate and score peers ourselves); message ids are the hash
of the content, so the same event relayed by two nodes is one message; subscription
channels are drained at once into asyncio queues; and every stream handler is wrapped,
because a handler that raises takes the whole host down.

Validators return ACCEPT, IGNORE or REJECT (``gossip_validation``); py-libp2p hears yes
for ACCEPT and no for the others, and only a REJECT is reported, to score the forwarder.
Each asyncio call into trio is owned by its future: cancelling one cancels the other.
The perf protocol serves only the peer the operator allowed, up to MAX_PERF_BYTES.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Coroutine

import multiaddr
import trio
from libp2p import new_host
from libp2p.crypto.keys import KeyPair
from libp2p.crypto.x25519 import create_new_key_pair as create_x25519_key_pair
from libp2p.custom_types import TProtocol
from libp2p.abc import INotifee
from libp2p.peer.id import ID
from libp2p.peer.peerinfo import info_from_p2p_addr
from libp2p.protocol_muxer.exceptions import MultiselectClientError
from libp2p.pubsub import pubsub as pubsub_module
from libp2p.pubsub.gossipsub import GossipSub
from libp2p.pubsub.pubsub import Pubsub
from libp2p.security.noise.transport import PROTOCOL_ID as NOISE_PROTOCOL_ID
from libp2p.security.noise.transport import Transport as NoiseTransport
from libp2p.stream_muxer.yamux.yamux import YamuxStream
from libp2p.tools.anyio_service import background_trio_service

from .streams import Frames, P2PError, Pipe, answer_pipe, read_exactly, reset_quietly
from .gossip_validation import Validator, Verdict
from .library_logs import route_library_logs

log = logging.getLogger("audiera.p2p")

MESHSUB_1_1 = TProtocol("/meshsub/1.1.0")
MAX_FRAME = 8 * 1024 * 1024
"""Largest request or response frame on our stream protocols."""
STREAM_TIMEOUT_S = 30.0
PIPE_IDLE_S = 20.0
"""A requester stops using a pipe idle this long; the answering end closes it after 3×."""
# Messages waiting in one subscription channel before py-libp2p drops them silently;
# ours are drained at once, so this only has to cover a burst between two drains.
pubsub_module.SUBSCRIPTION_CHANNEL_SIZE = 4096


def _write_whole_messages() -> None:
    """Make a yamux stream write each message whole, never interleaved with another write.

    py-libp2p 0.8's YamuxStream.write takes its lock per frame, not per message: two tasks
    writing messages larger than the send window (256 KiB) to one stream (pubsub relays,
    publishes and heartbeats share a stream per peer) interleave their frames, and the
    peer reads a corrupt RPC (protobuf DecodeError), which killed its host. Seen under load
    with ~1 MB blocks. A per-stream lock around the whole write restores message framing.
    """
    original = YamuxStream.write

    async def write(self: YamuxStream, data: bytes) -> None:
        lock = self.__dict__.get("_whole_write_lock")
        if lock is None:
            lock = self.__dict__["_whole_write_lock"] = trio.Lock()
        async with lock:
            await original(self, data)

    YamuxStream.write = write  # type: ignore[method-assign]


_write_whole_messages()


class _NoStreamFailureReports(logging.Filter):
    """Drop py-libp2p's seven-line report of each stream it failed to open.

    The failure reaches the caller as a P2PError, which logs it in one line where it
    matters: a peer that does not serve a protocol we ask every 2 s filled the log.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Failed to open stream to peer")


logging.getLogger("libp2p.host.basic_host").addFilter(_NoStreamFailureReports())
route_library_logs()


class UnsupportedProtocol(P2PError):
    """The peer is connected but does not serve the protocol asked for (multiselect said "na")."""


def _refused_protocol(error: BaseException | None) -> bool:
    while error is not None:
        if isinstance(error, MultiselectClientError) and "not supported" in str(error):
            return True
        error = error.__cause__ or error.__context__
    return False

PERF_PROTOCOL = TProtocol("/audiera/perf/1")
MAX_PERF_BYTES = 256 * 1024 * 1024
"""The most one perf permission sends in all: a measurement, not an amplifier for strangers."""
PERF_WINDOW_S = 60.0
"""How long a perf permission lasts after the operator gives it."""
_PERF_BLOCK = bytes(256 * 1024)

RejectCallback = Callable[[str, str], None]
"""(forwarding peer, reason) for a REJECTed message; called on the network thread: must only schedule work."""
RequestHandler = Callable[[str, bytes], Awaitable[bytes]]
"""(peer id, request) -> response, run on the asyncio loop."""
BlockingHandler = Callable[[str, bytes], bytes]
"""(peer id, request) -> response, run in a worker thread: for answers read from storage."""
PeerCallback = Callable[[str], None]


@dataclass
class PerfPermission:
    """The one peer the perf protocol answers, how many bytes it may still take, and until when."""

    peer: str
    remaining: int
    until: float
    """trio.current_time() after which the permission is void."""


@dataclass(frozen=True)
class Message:
    peer: str
    """The peer that published it (its origin, signed by it; relaying does not change it)."""
    data: bytes


def is_peer_id(text: str) -> bool:
    """Whether ``text`` is a base58 peer id: a multihash, identity (0x00) or sha2-256 (0x12)."""
    try:
        raw = ID.from_base58(text).to_bytes()
    except Exception:
        return False
    return len(raw) > 2 and raw[0] in (0x00, 0x12) and raw[1] == len(raw) - 2


def content_message_id(message: Any) -> bytes:
    return hashlib.sha256(message.data).digest()


def new_gossip_router() -> GossipSub:
    """The gossipsub router every node runs, with the settings the module docstring explains."""
    return GossipSub(
        protocols=[MESHSUB_1_1],
        # Room for every peer of a testnet in the mesh. A smaller mesh (degree 2, high 3)
        # saved some relaying, but nodes then PRUNEd a newcomer's GRAFTs, which
        # py-libp2p's scorer penalized as a GRAFT flood.
        degree=6,
        degree_low=4,
        degree_high=12,
        heartbeat_interval=1,
        # "Adaptive gossip" rates the network every 30 s, and a mesh below the target
        # degree (every testnet of fewer than seven nodes) rates poor, on which it sets the
        # heartbeat to 30-60 s. The message cache then stops turning over: it grew to a
        # minute of traffic, and a peer that joined was sent all of it (a fresh node in
        # bench/network.py re-verified 21,600 already-included events while it caught up).
        adaptive_gossip_enabled=False,
        spam_protection_enabled=False,
    )


class P2PHost:
    def __init__(self, key_pair: KeyPair, listen: str) -> None:
        self._key_pair = key_pair
        self._listen = listen
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._token: trio.lowlevel.TrioToken | None = None
        self._nursery: trio.Nursery | None = None
        self._stop: trio.Event | None = None
        self._host: Any = None
        self._pubsub: Pubsub | None = None
        self.stopped: asyncio.Future | None = None
        """Resolves when the network thread ends; with an exception if it crashed."""
        self.peer_id = ""
        self.addresses: list[str] = []
        self._on_connected: list[PeerCallback] = []
        self._on_disconnected: list[PeerCallback] = []
        self._pipes: dict[tuple[str, str], Pipe] = {}
        self._pipe_opening: dict[tuple[str, str], trio.Lock] = {}
        self._perf: PerfPermission | None = None
        self.calls_in_flight = 0
        """Calls from asyncio running on the trio side now (each owned by its caller's future)."""

    # --- lifecycle (asyncio side) -------------------------------------------------------

    async def start(self) -> None:
        """Start the network thread; again after it died, with fresh connections and state."""
        self._loop = asyncio.get_running_loop()
        self._host = self._pubsub = self._token = self._nursery = None
        self._pipes, self._pipe_opening, self._perf = {}, {}, None
        ready: asyncio.Future = self._loop.create_future()
        self.stopped = self._loop.create_future()
        self._thread = threading.Thread(target=self._thread_main, args=(ready,), name="libp2p", daemon=True)
        self._thread.start()
        await ready

    async def stop(self) -> None:
        if self._token is None or self.stopped is None or self.stopped.done():
            return
        try:
            self._token.run_sync_soon(self._stop.set)  # type: ignore[union-attr]
        except trio.RunFinishedError:
            return
        await asyncio.wait_for(asyncio.shield(self.stopped), timeout=10)

    def on_connected(self, callback: PeerCallback) -> None:
        self._on_connected.append(callback)

    def on_disconnected(self, callback: PeerCallback) -> None:
        self._on_disconnected.append(callback)

    # --- the asyncio-facing operations ---------------------------------------------------

    async def connect(self, address: str) -> str:
        """Dial a /ip4/…/tcp/…/p2p/<id> address; returns the peer id."""
        try:
            info = info_from_p2p_addr(multiaddr.Multiaddr(address))
        except Exception as exc:
            raise P2PError(f"{address!r} is not a peer address (/ip4/…/tcp/…/p2p/<peer id>): {exc}") from None
        await self._call(self._host.connect, info)
        return info.peer_id.to_base58()

    async def disconnect(self, peer: str) -> None:
        await self._call(self._host.disconnect, ID.from_base58(peer))

    def peers(self) -> list[str]:
        if self._host is None:
            return []
        return sorted(peer.to_base58() for peer in self._host.get_network().connections)

    async def publish(self, topic: str, data: bytes) -> None:
        await self._call(self._publish_trio, topic, data)

    async def subscribe(
        self, topic: str, validator: Validator, queue: asyncio.Queue[Message], on_reject: RejectCallback
    ) -> None:
        """Deliver the topic's messages that ``validator`` accepts into ``queue``; ``on_reject``
        hears of those it rejects (to score the forwarder)."""
        await self._call(self._subscribe_trio, topic, validator, queue, on_reject)

    async def serve(self, protocol: str, handler: RequestHandler) -> None:
        async def respond(peer: str, request: bytes) -> bytes:
            return await self._run_on_asyncio(handler(peer, request))

        await self._call(self._serve_trio, protocol, respond)

    async def request(self, peer: str, protocol: str, payload: bytes, *, timeout: float = STREAM_TIMEOUT_S) -> bytes:
        return await self._call(self._request_trio, peer, protocol, payload, timeout)

    async def serve_pipelined(self, protocol: str, handler: BlockingHandler) -> None:
        """Answer ``protocol`` as a pipe (streams.py): many requests a stream, answered in order
        from a worker thread, never through the asyncio loop. For bulk transfers."""

        async def respond(peer: str, request: bytes) -> bytes:
            return await trio.to_thread.run_sync(handler, peer, request)

        await self._call(self._serve_pipelined_trio, protocol, respond)

    async def request_pipelined(self, peer: str, protocol: str, payload: bytes, *, timeout: float = STREAM_TIMEOUT_S) -> bytes:
        """A request on the peer's pipe for ``protocol``: requests sent together are answered
        back to back on one stream. A failed pipe fails its waiting requests; the next opens anew."""
        return await self._call(self._request_pipelined_trio, peer, protocol, payload, timeout)

    async def serve_perf(self) -> None:
        """Answer PERF_PROTOCOL: send as many bytes as asked, on one bare stream (like libp2p perf),
        but only to the peer ``allow_perf`` named, and within its permission; others get a reset."""
        await self._call(self._serve_perf_trio)

    async def allow_perf(self, peer: str, max_bytes: int = MAX_PERF_BYTES) -> None:
        """Let ``peer`` (alone) measure a stream from here: up to ``max_bytes`` in all, for PERF_WINDOW_S."""
        if not 0 < max_bytes <= MAX_PERF_BYTES:
            raise P2PError(f"a perf permission is for 1 to {MAX_PERF_BYTES} bytes")
        if not is_peer_id(peer):
            raise P2PError(f"{peer!r} is not a peer id")
        await self._call(self._allow_perf_trio, peer, max_bytes)

    async def measure_stream(self, peer: str, size: int) -> float:
        """Seconds to receive ``size`` bytes from ``peer`` over one stream: the transport's ceiling."""
        if not 0 < size <= MAX_PERF_BYTES:
            raise P2PError(f"a perf transfer is 1 to {MAX_PERF_BYTES} bytes")
        return await self._call(self._measure_stream_trio, peer, size)

    async def blacklist(self, peer: str) -> None:
        """Drop a peer that misbehaved."""
        await self._call(self._blacklist_trio, peer)

    # --- crossing between the loops -------------------------------------------------------

    def _call(self, function: Callable[..., Awaitable[Any]], *args: Any) -> asyncio.Future:
        """Run ``function(*args)`` on the trio thread; an asyncio future for its result.

        The future owns the trio task: cancelling it (as cancelling the awaiting asyncio
        task does) cancels the task's scope, so nothing keeps running for a caller that left.
        """
        if self._token is None or self._nursery is None:
            raise P2PError("the network is not running")
        loop = self._loop
        assert loop is not None
        token = self._token
        future: asyncio.Future = loop.create_future()
        scope = trio.CancelScope()

        def cancel_if_abandoned(done: asyncio.Future) -> None:
            if done.cancelled():
                try:
                    token.run_sync_soon(scope.cancel)
                except trio.RunFinishedError:
                    pass

        future.add_done_callback(cancel_if_abandoned)

        async def run() -> None:
            self.calls_in_flight += 1
            try:
                with scope:
                    await run_in_scope()
            finally:
                self.calls_in_flight -= 1

        async def run_in_scope() -> None:
            try:
                result = await function(*args)
            except P2PError as exc:
                loop.call_soon_threadsafe(_resolve, future, None, exc)
            except Exception as exc:  # py-libp2p raises many types; callers handle one
                error = P2PError(f"{getattr(function, '__name__', 'network call')} failed: {exc}")
                error.__cause__ = exc
                loop.call_soon_threadsafe(_resolve, future, None, error)
            except BaseException:  # cancellation: the caller must not hang
                loop.call_soon_threadsafe(_resolve, future, None, P2PError("the network is shutting down"))
                raise
            else:
                loop.call_soon_threadsafe(_resolve, future, result, None)

        try:
            self._token.run_sync_soon(self._nursery.start_soon, run)
        except trio.RunFinishedError:
            raise P2PError("the network has stopped") from None
        return future

    async def _run_on_asyncio(self, coroutine: Coroutine[Any, Any, Any]) -> Any:
        """From the trio thread: run a coroutine on the asyncio loop and wait for it."""
        assert self._loop is not None and self._token is not None
        done = trio.Event()
        token = self._token
        concurrent = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        concurrent.add_done_callback(lambda _: _set_soon(token, done))
        await done.wait()
        return concurrent.result()

    def _emit(self, callbacks: list[PeerCallback], peer: str) -> None:
        assert self._loop is not None
        for callback in callbacks:
            self._loop.call_soon_threadsafe(callback, peer)

    # --- the trio side ------------------------------------------------------------------

    def _thread_main(self, ready: asyncio.Future) -> None:
        assert self._loop is not None and self.stopped is not None
        loop = self._loop
        try:
            trio.run(self._trio_main, ready)
        except BaseException as exc:
            log.error("the network thread crashed: %r", exc)
            loop.call_soon_threadsafe(_resolve, ready, None, P2PError(f"the network failed: {exc!r}"))
            loop.call_soon_threadsafe(_resolve, self.stopped, None, exc)
        else:
            loop.call_soon_threadsafe(_resolve, self.stopped, None, None)

    async def _trio_main(self, ready: asyncio.Future) -> None:
        noise = NoiseTransport(self._key_pair, noise_privkey=create_x25519_key_pair().private_key)
        host = new_host(key_pair=self._key_pair, sec_opt={NOISE_PROTOCOL_ID: noise}, muxer_preference="YAMUX")
        gossipsub = new_gossip_router()
        pubsub = Pubsub(host, gossipsub, msg_id_constructor=content_message_id, max_inbound_rpc_size=MAX_FRAME)
        for protocol in gossipsub.get_protocols():
            host.set_stream_handler(protocol, _guarded_pubsub_handler(pubsub))
        async with host.run([multiaddr.Multiaddr(self._listen)]):
            async with background_trio_service(pubsub), background_trio_service(gossipsub):
                await pubsub.wait_until_ready()
                # Seqnos start from the clock in ns, so a restarted node's messages are never "already seen".
                pubsub.counter = time.time_ns()
                self._host, self._pubsub = host, pubsub
                self._token = trio.lowlevel.current_trio_token()
                self._stop = trio.Event()
                host.get_network().register_notifee(_Notifee(self))
                # The swarm's auto-connector redials any peer in the peerstore to keep 50
                # connections: it would undo bans and the operator's peering switch. The
                # node keeps its own bootstrap peers connected instead.
                await host.get_network().auto_connector.stop()
                self.peer_id = host.get_id().to_base58()
                self.addresses = [str(address) for address in host.get_addrs()]
                async with trio.open_nursery() as nursery:
                    self._nursery = nursery
                    assert self._loop is not None
                    self._loop.call_soon_threadsafe(_resolve, ready, None, None)
                    await self._stop.wait()
                    nursery.cancel_scope.cancel()
        log.info("network stopped")

    async def _publish_trio(self, topic: str, data: bytes) -> None:
        assert self._pubsub is not None
        await self._pubsub.publish(topic, data)

    async def _subscribe_trio(
        self, topic: str, validator: Validator, queue: asyncio.Queue[Message], on_reject: RejectCallback
    ) -> None:
        assert self._pubsub is not None and self._nursery is not None and self._loop is not None
        local_peer = self.peer_id

        def validate(forwarder: ID, message: Any) -> bool:
            # py-libp2p knows only yes and no: ACCEPT is yes; IGNORE and REJECT are both no
            # (neither delivered nor relayed), and only REJECT blames the forwarder. Its own
            # peer scorer counts every no, but its thresholds are -inf: only our scores act.
            peer = forwarder.to_base58()
            if peer == local_peer:
                return True  # our own publish: validated before it was sent
            try:
                judgement = validator(peer, message.data)
            except Exception:
                log.exception("validator for %s raised; message ignored", topic)
                return False
            if judgement.verdict is Verdict.REJECT:
                on_reject(peer, judgement.reason)
            elif judgement.verdict is Verdict.IGNORE:
                log.debug("ignored a message on %s from %s: %s", topic, peer, judgement.reason)
            return judgement.verdict is Verdict.ACCEPT

        self._pubsub.set_topic_validator(topic, validate, False)
        subscription = await self._pubsub.subscribe(topic)
        loop = self._loop

        async def drain() -> None:
            while True:
                message = await subscription.get()
                sender = ID(message.from_id).to_base58() if message.from_id else ""
                if sender == local_peer:
                    continue
                loop.call_soon_threadsafe(queue.put_nowait, Message(peer=sender, data=message.data))

        self._nursery.start_soon(drain)

    async def _serve_trio(self, protocol: str, respond: RequestHandler) -> None:
        async def handle(stream: Any) -> None:
            peer = stream.muxed_conn.peer_id.to_base58()
            try:
                with trio.fail_after(STREAM_TIMEOUT_S):
                    frames = Frames(stream, MAX_FRAME)
                    request = await frames.read_msg()
                    response = await respond(peer, request)
                    await frames.write_msg(response)
                    await stream.close()
            except Exception as exc:  # a handler that raises would take the host down
                log.debug("%s request from %s failed: %r", protocol, peer, exc)
                await reset_quietly(stream)

        assert self._host is not None
        self._host.set_stream_handler(TProtocol(protocol), handle)

    async def _request_trio(self, peer: str, protocol: str, payload: bytes, timeout: float) -> bytes:
        assert self._host is not None
        try:
            with trio.fail_after(timeout):
                stream = await self._host.new_stream(ID.from_base58(peer), [TProtocol(protocol)])
                try:
                    frames = Frames(stream, MAX_FRAME)
                    await frames.write_msg(payload)
                    response = await frames.read_msg()
                finally:
                    with trio.move_on_after(1):
                        await stream.close()
                return response
        except trio.TooSlowError:
            raise P2PError(f"{protocol} request to {peer} timed out after {timeout:.0f}s") from None
        except Exception as exc:
            if _refused_protocol(exc):
                raise UnsupportedProtocol(f"{peer} does not serve {protocol}") from None
            raise P2PError(f"{protocol} request to {peer} failed: {exc!r}") from None

    async def _serve_pipelined_trio(self, protocol: str, respond: RequestHandler) -> None:
        async def handle(stream: Any) -> None:
            peer = stream.muxed_conn.peer_id.to_base58()
            try:
                await answer_pipe(stream, peer, respond, MAX_FRAME, idle_timeout=3 * PIPE_IDLE_S, write_timeout=STREAM_TIMEOUT_S)
            except Exception as exc:  # see _serve_trio: never let a handler raise
                log.debug("%s pipe from %s failed: %r", protocol, peer, exc)
                await reset_quietly(stream)

        assert self._host is not None
        self._host.set_stream_handler(TProtocol(protocol), handle)

    async def _request_pipelined_trio(self, peer: str, protocol: str, payload: bytes, timeout: float) -> bytes:
        pipe = await self._pipe(peer, protocol, timeout)
        return await pipe.request(payload, timeout)

    async def _pipe(self, peer: str, protocol: str, timeout: float) -> Pipe:
        """The open pipe to ``peer`` for ``protocol``, opened if there is none fit to use."""
        key = (peer, protocol)
        lock = self._pipe_opening.setdefault(key, trio.Lock())
        async with lock:  # requests sent together share one new pipe
            pipe = self._pipes.get(key)
            if pipe is not None and pipe.error is None and not (pipe.idle and trio.current_time() - pipe.last_used > PIPE_IDLE_S):
                return pipe
            if pipe is not None:
                await pipe.close()
            assert self._host is not None and self._nursery is not None
            try:
                with trio.fail_after(timeout):
                    stream = await self._host.new_stream(ID.from_base58(peer), [TProtocol(protocol)])
            except trio.TooSlowError:
                raise P2PError(f"opening {protocol} to {peer} timed out after {timeout:.0f}s") from None
            except Exception as exc:
                raise P2PError(f"opening {protocol} to {peer} failed: {exc!r}") from None
            pipe = self._pipes[key] = Pipe(stream, MAX_FRAME)

        async def read_answers() -> None:
            await pipe.read_answers()
            if self._pipes.get(key) is pipe:
                del self._pipes[key]

        self._nursery.start_soon(read_answers)
        return pipe

    async def _allow_perf_trio(self, peer: str, max_bytes: int) -> None:
        self._perf = PerfPermission(peer, max_bytes, trio.current_time() + PERF_WINDOW_S)

    def _take_perf_bytes(self, peer: str, size: int) -> None:
        """Count ``size`` bytes against ``peer``'s perf permission, or raise P2PError."""
        permission = self._perf
        if permission is None or permission.peer != peer or trio.current_time() > permission.until:
            raise P2PError(f"perf stream from {peer} refused: not switched on for it")
        if not 0 < size <= permission.remaining:
            raise P2PError(f"perf stream from {peer} refused: {size} bytes asked, {permission.remaining} allowed")
        permission.remaining -= size

    async def _serve_perf_trio(self) -> None:
        async def handle(stream: Any) -> None:
            try:
                with trio.fail_after(STREAM_TIMEOUT_S):
                    header = await read_exactly(stream, 8)
                size = int.from_bytes(header, "big")
                self._take_perf_bytes(stream.muxed_conn.peer_id.to_base58(), size)
                with trio.fail_after(STREAM_TIMEOUT_S * 10):
                    while size:
                        piece = _PERF_BLOCK[: min(size, len(_PERF_BLOCK))]
                        await stream.write(piece)
                        size -= len(piece)
                    await stream.close()
            except Exception as exc:  # see _serve_trio: never let a handler raise
                log.debug("perf stream failed: %r", exc)
                await reset_quietly(stream)

        assert self._host is not None
        self._host.set_stream_handler(PERF_PROTOCOL, handle)

    async def _measure_stream_trio(self, peer: str, size: int) -> float:
        assert self._host is not None
        with trio.fail_after(STREAM_TIMEOUT_S * 10):
            started = time.perf_counter()
            stream = await self._host.new_stream(ID.from_base58(peer), [PERF_PROTOCOL])
            await stream.write(size.to_bytes(8, "big"))
            received = 0
            while received < size:
                piece = await stream.read(1 << 20)
                if not piece:
                    raise P2PError(f"perf stream ended after {received} of {size} bytes")
                received += len(piece)
            elapsed = time.perf_counter() - started
            with trio.move_on_after(1):
                await stream.close()
        return elapsed

    async def _blacklist_trio(self, peer: str) -> None:
        # Not Pubsub.add_to_blacklist: its teardown raises KeyError (killing the host) when
        # the peer has already gone. Callers refuse a banned peer's connections and messages.
        assert self._host is not None
        with trio.move_on_after(2):
            await self._host.disconnect(ID.from_base58(peer))


class _Notifee(INotifee):
    """Connection events, handed to the asyncio side."""

    def __init__(self, host: P2PHost) -> None:
        self._host = host

    async def opened_stream(self, network: Any, stream: Any) -> None:
        pass

    async def closed_stream(self, network: Any, stream: Any) -> None:
        pass

    async def connected(self, network: Any, conn: Any) -> None:
        self._host._emit(self._host._on_connected, conn.muxed_conn.peer_id.to_base58())

    async def disconnected(self, network: Any, conn: Any) -> None:
        peer = conn.muxed_conn.peer_id
        # A peer can hold several connections; it is gone when the last one is.
        if not network.connections.get(peer):
            self._host._emit(self._host._on_disconnected, peer.to_base58())

    async def listen(self, network: Any, multiaddr: Any) -> None:
        pass

    async def listen_close(self, network: Any, multiaddr: Any) -> None:
        pass


def _guarded_pubsub_handler(pubsub: Pubsub) -> Any:
    """Pubsub's own stream handler, but one that cannot take the host down.

    py-libp2p's handler lets a malformed RPC's protobuf DecodeError escape, and an escaping
    error kills the whole host (seen under load: a peer's RPC that does not parse). Here the
    stream is reset and the connection closed, as for a read error.
    """

    async def handle(stream: Any) -> None:
        try:
            await pubsub.stream_handler(stream)
        except Exception as exc:
            peer_id = stream.muxed_conn.peer_id
            log.warning("dropping the connection to %s after a bad pubsub stream: %r", peer_id, exc)
            await reset_quietly(stream)
            # A fresh connection gets fresh pubsub streams; the node redials its peers.
            with trio.move_on_after(5):
                try:
                    await pubsub.host.disconnect(peer_id)
                except Exception:
                    pass

    return handle


def _resolve(future: asyncio.Future, result: Any, error: BaseException | None) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


def _set_soon(token: trio.lowlevel.TrioToken, event: trio.Event) -> None:
    try:
        token.run_sync_soon(event.set)
    except trio.RunFinishedError:
        pass
