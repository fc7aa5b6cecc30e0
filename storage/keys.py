"""The LevelDB key spaces. Every key the node writes starts with one of these prefixes.

Heights and positions are fixed-width big-endian so that key order is chain order.
"""

from __future__ import annotations

import struct

BLOCK = b"b/"  # block hash -> encoded block
CANONICAL = b"h/"  # height (8 bytes) -> block hash
EVENT = b"e/"  # event id -> encoded [height, index, block hash, event bytes]
ASSET_HISTORY = b"ia/"  # asset cid + 0x00 + height + index -> event id
ACCOUNT_HISTORY = b"ic/"  # did + 0x00 + height + index -> event id
STATE = b"s/"  # state key (see protocol.state) -> canonical state record
UNDO = b"u/"  # block hash -> previous values of every state key the block wrote
META = b"m/"  # node metadata: genesis, head, finalized
TREE = b"t/"  # block hash -> [height, parent hash, total difficulty], for every stored block, canonical or not
SIGNED = b"sg/"  # proposer did + 0x00 + height (8 bytes) + block hash -> b"" (who signed what, to spot equivocation)
EVIDENCE = b"ev/"  # proposer did + 0x00 + height (8 bytes) -> [header bytes, header bytes] of two blocks it signed
VOTE_EVIDENCE = b"ve/"  # voter did + 0x00 + height (8 bytes) + evidence hash -> encoded VoteEvidence
FINALITY = b"f/"  # block hash -> [justified height, hash, final height, hash, authorities that sign its child], validated blocks
CONTENT_LEAF = b"cl/"  # leaf cid -> [file root cid, offset, length]
CONTENT_NODE = b"cn/"  # dag-pb node cid -> node bytes
CONTENT_ROOT = b"cr/"  # root cid -> content facts (size, media)
CONTENT_PENDING = b"cp/"  # root cid -> {"at": upload ms, "size", "leaves"} for uploads no registration names yet
KEY_RELEASE = b"kr/"  # access event id + share index (1 byte) -> a signed key release (protocol/releases.py)
CONTENT_SEALED = b"cs/"  # asset (plain root) cid -> sealed root cid of its latest upload sealed here
COUNTED_VOTE = b"cv/"  # target height (8 bytes) + vote hash -> encoded vote the vote pool counted (above the final height)
CONTENT_LEAF_COPY = b"cc/"  # leaf cid + root cid -> [offset, length]: a leaf also held in a file other than CONTENT_LEAF's

HEAD = META + b"head"
FINALIZED = META + b"finalized"
GENESIS = META + b"genesis"
GENESIS_TIP = META + b"genesis_tip"
FORMAT = META + b"format"
RELEASED_UP_TO = META + b"releases_done"  # height up to which this node made its own key releases


def height_bytes(height: int) -> bytes:
    return struct.pack(">Q", height)


def position_bytes(height: int, index: int) -> bytes:
    return struct.pack(">QI", height, index)


def parse_position(raw: bytes) -> tuple[int, int]:
    return struct.unpack(">QI", raw)


def history_prefix(space: bytes, name: str) -> bytes:
    # 0x00 cannot occur in a CID or did, so one name's range never runs into another's.
    return space + name.encode() + b"\x00"


def signed_prefix(proposer: str, height: int) -> bytes:
    return history_prefix(SIGNED, proposer) + height_bytes(height)


def evidence_key(proposer: str, height: int) -> bytes:
    return history_prefix(EVIDENCE, proposer) + height_bytes(height)


def vote_evidence_key(voter: str, height: int, evidence_hash: bytes) -> bytes:
    return history_prefix(VOTE_EVIDENCE, voter) + height_bytes(height) + evidence_hash


def prefix_end(prefix: bytes) -> bytes:
    """The first key after every key that starts with ``prefix`` (for iterator stops)."""
    stripped = prefix.rstrip(b"\xff")
    return stripped[:-1] + bytes([stripped[-1] + 1])
