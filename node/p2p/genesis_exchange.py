"""The genesis a node runs, asked for over libp2p: how a newcomer that knows only a peer
address learns which network it is joining (``audiera-node run --join /ip4/…/p2p/…``).

``/audiera/genesis/1`` is not tagged with the network: the asker does not know it yet.
The answer is the genesis's canonical encoding, parsed strictly; whoever asks should pin
the hash it expects (``--genesis-hash``), since the peer could be on any network.
"""

from __future__ import annotations

import asyncio

from libp2p.crypto.ed25519 import create_new_key_pair

from protocol.encoding import decode, encode
from protocol.errors import ProtocolError
from protocol.genesis import Genesis, parse_genesis

from .host import P2PError, P2PHost

GENESIS_PROTOCOL = "/audiera/genesis/1"
ASK_TIMEOUT_S = 10.0


class GenesisFetchError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


async def serve_genesis(host: P2PHost, genesis: Genesis) -> None:
    answer = encode(genesis.to_wire())

    async def respond(peer: str, request: bytes) -> bytes:
        return answer

    await host.serve(GENESIS_PROTOCOL, respond)


async def fetch_genesis(address: str, timeout: float = ASK_TIMEOUT_S) -> Genesis:
    """Dial ``address`` from a throwaway identity and ask for its genesis."""
    host = P2PHost(create_new_key_pair(), "/ip4/127.0.0.1/tcp/0")
    await host.start()
    try:
        peer = await asyncio.wait_for(host.connect(address), timeout)
        answer = await host.request(peer, GENESIS_PROTOCOL, b"", timeout=timeout)
        return parse_genesis(decode(answer))
    except (P2PError, asyncio.TimeoutError) as exc:
        raise GenesisFetchError(f"cannot ask {address} for its genesis: {getattr(exc, 'message', None) or 'no answer in time'}") from None
    except ProtocolError as exc:
        raise GenesisFetchError(f"{address} sent a genesis that is not valid: {exc.message}") from None
    finally:
        await host.stop()
