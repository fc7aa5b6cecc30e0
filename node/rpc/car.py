"""CARv1 framing and the choice of blocks a trustless-gateway CAR response carries.

A CARv1 stream is a header (a varint length, then the DAG-CBOR map ``{"roots": [cid],
"version": 1}``) followed by one section per block: a varint length, the binary CID, the
block's bytes. Blocks are chosen by walking the UnixFS file depth first, left to right
(``order=dfs``), limited to the root (``dag-scope=block``) or to the leaves a byte range
needs (``entity-bytes``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator

from protocol.cid import RAW, cid_codec, encode_uvarint
from protocol.unixfs import decode_file_node

BlockSource = Callable[[bytes], "bytes | None"]

SCOPE_BLOCK = "block"
SCOPE_ENTITY = "entity"
SCOPE_ALL = "all"
SCOPES = (SCOPE_BLOCK, SCOPE_ENTITY, SCOPE_ALL)


def _cbor_head(major: int, length: int) -> bytes:
    if length < 24:
        return bytes((major << 5 | length,))
    if length < 0x100:
        return bytes((major << 5 | 24, length))
    if length < 0x10000:
        return bytes((major << 5 | 25,)) + length.to_bytes(2, "big")
    return bytes((major << 5 | 26,)) + length.to_bytes(4, "big")


def car_header(root: bytes) -> bytes:
    """The length-prefixed CARv1 header naming ``root`` (a binary CID)."""
    link = b"\x00" + root  # DAG-CBOR links: tag 42 around the CID with a leading zero byte
    header = (
        b"\xa2"  # a map of two entries, keys in DAG-CBOR order (shorter first)
        + _cbor_head(3, 5) + b"roots"
        + b"\x81" + b"\xd8\x2a" + _cbor_head(2, len(link)) + link
        + _cbor_head(3, 7) + b"version"
        + b"\x01"
    )
    return encode_uvarint(len(header)) + header


def car_section(cid: bytes, data: bytes) -> bytes:
    return encode_uvarint(len(cid) + len(data)) + cid + data


@dataclass(frozen=True)
class ByteRange:
    """``entity-bytes=from:to`` as written: offsets may be negative (from the end), ``to`` None for ``*``."""

    start: int
    end: int | None

    @classmethod
    def parse(cls, text: str) -> "ByteRange":
        """Raises ValueError with a message for a malformed range."""
        start_text, colon, end_text = text.partition(":")
        if not colon or not _is_offset(start_text) or not (end_text == "*" or _is_offset(end_text)):
            raise ValueError(f"entity-bytes must be FROM:TO with whole numbers (negative counts from the end) or * for TO, not {text!r}")
        start, end = int(start_text), None if end_text == "*" else int(end_text)
        if end is not None and (start >= 0) == (end >= 0) and end < start:
            raise ValueError(f"entity-bytes {text!r} ends before it starts")
        return cls(start, end)

    def resolve(self, size: int) -> tuple[int, int]:
        """The inclusive offsets ``[first, last]`` this range covers in an entity of ``size`` bytes (empty if last < first)."""
        first = max(0, size + self.start) if self.start < 0 else self.start
        last = size - 1 if self.end is None else (size + self.end if self.end < 0 else min(self.end, size - 1))
        return first, last


def _is_offset(text: str) -> bool:
    digits = text[1:] if text.startswith("-") else text
    return digits.isdigit() and len(digits) <= 19


def file_size(root: bytes, root_block: bytes) -> int:
    """The bytes of the file a root block stands for."""
    if cid_codec(root) == RAW:
        return len(root_block)
    return decode_file_node(root_block).filesize


def select_blocks(
    get_block: BlockSource, root: bytes, root_block: bytes, *, scope: str, span: tuple[int, int] | None, dups: bool
) -> Iterator[tuple[bytes, bytes]]:
    """(cid, bytes) of each block the response carries, in depth-first order.

    ``span`` is the inclusive byte range an ``entity-bytes`` request needs, or None for the
    whole entity. A block the store lacks ends the walk (the client sees an incomplete
    CAR, as the specification requires once the status has been sent).
    """
    yield root, root_block
    if scope == SCOPE_BLOCK or cid_codec(root) == RAW or (span is not None and span[1] < span[0]):
        return
    seen = {root}
    # Each frame: the children of one node still to visit, with the offset each starts at.
    stack: list[Iterator[tuple[bytes, int, int]]] = [_children(root_block, 0)]
    while stack:
        child = next(stack[-1], None)
        if child is None:
            stack.pop()
            continue
        cid, offset, size = child
        if span is not None and (offset + size - 1 < span[0] or offset > span[1]):
            continue
        if not dups and cid in seen:
            continue
        data = get_block(cid)
        if data is None:
            return
        seen.add(cid)
        yield cid, data
        if cid_codec(cid) != RAW:
            stack.append(_children(data, offset))


def _children(node_block: bytes, offset: int) -> Iterator[tuple[bytes, int, int]]:
    node = decode_file_node(node_block)
    for (cid, _), size in zip(node.links, node.blocksizes):
        yield cid, offset, size
        offset += size
