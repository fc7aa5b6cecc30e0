"""Builders for real, signed chains over a ChainStore (shared by the storage tests
and by the child process of the kill test, which imports this module)."""

from __future__ import annotations

import hashlib

from dataclasses import replace

from protocol.blocks import Block, Header, compute_events_root, sign_header
from protocol.finality import HeaderFinality
from protocol.cid import RAW, cid_to_str, make_cid
from protocol.events import AssetRegister, AssetTerms, Event, Media, ParticipantRegister, Share, sign_event
from protocol.genesis import Genesis
from protocol.keys import SigningKey
from protocol.state import BlockContext, BlockResult, StateView, apply_block
from protocol.terms import ALLOWED, Terms

GENESIS_TS = 1_700_000_000_000
BLOCK_PERIOD_MS = 1000


def key(name: str) -> SigningKey:
    """A deterministic key per name, so runs are reproducible."""
    return SigningKey(hashlib.sha256(b"audiera-storage-test/" + name.encode()).digest())


AUTHORITY = key("authority")


def make_genesis(network_id: str = "storage-test", allocations: dict[str, int] | None = None) -> Genesis:
    allocations = allocations if allocations is not None else {key("alice").did: 1_000, key("bob").did: 500}
    return Genesis(
        network_id=network_id,
        timestamp=GENESIS_TS,
        authorities=(AUTHORITY.did,),
        block_period_ms=BLOCK_PERIOD_MS,
        allocations=tuple(sorted(allocations.items())),
    )


def asset_cid(label: str) -> str:
    return cid_to_str(make_cid(RAW, b"asset:" + label.encode()))


def register_participant(signer: SigningKey, nonce: int, name: str | None = None) -> Event:
    body = ParticipantRegister(name=name or f"user-{signer.did[-6:]}", roles=("creator",))
    return sign_event(signer, body, nonce, GENESIS_TS + nonce)


def register_asset(
    signer: SigningKey, nonce: int, cid: str, *, co_holder: SigningKey | None = None, parents: tuple = ()
) -> Event:
    if co_holder is None:
        holders = (Share(signer.did, 10_000),)
    else:
        holders = (Share(signer.did, 6_000), Share(co_holder.did, 4_000))
    body = AssetRegister(
        cid=cid,
        size=1234,
        media=Media(format="wav", duration_ms=1000, sample_rate=44100, channels=2),
        title=f"track {cid[-6:]}",
        description="",
        asset_type="track",
        genre="",
        tags=(),
        isrc="",
        iswc="",
        rights_holders=holders,
        parents=parents,
        terms=Terms.make(),
        sealed_cid=cid_to_str(make_cid(RAW, f"sealed {cid}".encode())),
    )
    return sign_event(signer, body, nonce, GENESIS_TS + nonce)


def change_terms(signer: SigningKey, nonce: int, cid: str) -> Event:
    body = AssetTerms(asset=cid, terms=Terms.make({"ai_training": (ALLOWED, 0)}))
    return sign_event(signer, body, nonce, GENESIS_TS + nonce)


def build_block(
    state: StateView, parent_hash: bytes, parent_height: int, parent_state_root: bytes, events: list[Event],
    *, proposer: SigningKey = AUTHORITY, ts: int | None = None, state_root: bytes | None = None,
    finality: HeaderFinality | None = None,
) -> tuple[Block, BlockResult]:
    """Apply ``events`` on ``state`` and wrap them in a signed block on the given parent."""
    height = parent_height + 1
    ts = GENESIS_TS + height * BLOCK_PERIOD_MS if ts is None else ts
    result = apply_block(state, events, BlockContext(height, ts), parent_state_root)
    header = Header(
        height=height,
        parent=parent_hash,
        ts=ts,
        proposer=proposer.did,
        events_root=compute_events_root(events),
        state_root=result.state_root if state_root is None else state_root,
        difficulty=2,
    )
    finality = carried(state, parent_hash) if finality is None else finality
    return Block(sign_header(proposer, header), tuple(events)), replace(result, finality=finality)


def carried(state: StateView, parent_hash: bytes) -> HeaderFinality | None:
    """The header finality after a block that carries no justification: its parent's, when
    ``state`` is a ChainStore that holds the parent's record (else None, which the store refuses)."""
    record = state.block_finality(parent_hash) if hasattr(state, "block_finality") else None
    return None if record is None else record.finality


def commit(chain, block: Block, result: BlockResult, *, finalized_height: int = 0):
    """Commit ``block`` on the head, then mark the canonical block at ``finalized_height`` final."""
    tip = chain.commit_block(block, result)
    finalize(chain, finalized_height)
    return tip


def switch(chain, revert, apply, *, finalized_height: int = 0):
    tip = chain.switch_branch(revert, apply)
    finalize(chain, finalized_height)
    return tip


def finalize(chain, height: int) -> None:
    height = min(height, chain.head().height)
    if height > chain.finalized().height:
        chain.set_finalized(chain.hash_at(height))


def next_block(chain, events: list[Event], **kwargs) -> tuple[Block, BlockResult]:
    """A block on ``chain``'s head (``chain`` is a ChainStore, used as the StateView)."""
    head = chain.head()
    return build_block(chain, head.hash, head.height, head.state_root, events, **kwargs)


def commit_next(chain, events: list[Event], *, finalized_height: int | None = None) -> Block:
    block, result = next_block(chain, events)
    commit(chain, block, result, finalized_height=block.height if finalized_height is None else finalized_height)
    return block


class Workload:
    """An endless, valid stream of blocks: new participants, their assets, term changes."""

    def __init__(self) -> None:
        self.nonces: dict[str, int] = {}
        self.assets: list[tuple[SigningKey, str]] = []
        self.users: list[SigningKey] = []
        self.counter = 0

    def _nonce(self, signer: SigningKey) -> int:
        self.nonces[signer.did] = self.nonces.get(signer.did, 0) + 1
        return self.nonces[signer.did]

    def events_for_next_block(self) -> list[Event]:
        self.counter += 1
        n = self.counter
        events: list[Event] = []
        user = key(f"user-{n}")
        events.append(register_participant(user, self._nonce(user)))
        self.users.append(user)
        cid = asset_cid(f"w-{n}")
        events.append(register_asset(user, self._nonce(user), cid))
        self.assets.append((user, cid))
        if len(self.assets) > 1:
            owner, old = self.assets[n % (len(self.assets) - 1)]
            events.append(change_terms(owner, self._nonce(owner), old))
        return events
