"""File DAGs identical to ``ipfs add --cid-version=1 --raw-leaves`` (kubo defaults).

Why: a file's root CID is the name under which provenance records refer to the
audio. Making it the very CID IPFS computes lets anyone check a record against a
file with stock IPFS tools (``ipfs add -n --cid-version=1 --raw-leaves FILE``)
and lets the blocks be served to / fetched from IPFS unchanged.

Layout (go-unixfs ``importer/balanced``, reproduced exactly):

* the file is cut into fixed 262144-byte chunks (the last one may be shorter);
  each chunk is a *raw* block (codec raw, CID ``bafkrei...``);
* a one-chunk file's root IS that raw leaf; an empty file is the raw CID of b"";
* otherwise leaves are grouped, in order, into dag-pb nodes of at most 174
  children; those nodes are grouped again by 174, and so on until one node is
  left. Every leaf is at the same depth, and only the right-most node of each
  level can be partly filled. (kubo builds this depth-first - "the first leaf is
  the root; when a DAG of depth d is full it becomes the first child of a new
  root of depth d+1" - which yields the same tree as this level-by-level view.)

Internal node encoding (boxo ``merkledag.marshalImmutable`` + ``unixfs.FSNode``):
PBNode fields Links (2) *before* Data (1); every PBLink carries Hash, an empty
but present Name and Tsize (encoded size of the child's whole sub-DAG: a raw
leaf's length, or node bytes + its links' Tsizes). Data is UnixFS
``{Type=File, filesize, blocksizes...}`` with one non-packed blocksize per child
(the file bytes below that child) and no inline data.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from os import PathLike
from typing import BinaryIO, NamedTuple

from protocol.cid import (
    DAG_PB,
    RAW,
    cid_codec,
    cid_to_str,
    decode_uvarint,
    encode_uvarint,
    is_valid_block,
    make_cid,
    validate_cid,
)
from protocol.errors import DecodeError, InvalidCID

CHUNK_SIZE = 262144
MAX_LINKS = 174

_UNIXFS_FILE = 2

# Protobuf wire types.
_VARINT = 0
_LEN = 2


# ---------------------------------------------------------------- chunking


class Chunker:
    """Re-cut a stream arriving in arbitrary pieces into fixed-size leaves.

    A partial leaf waits in one preallocated buffer that is filled in place
    (never resized), and whole leaves are sliced straight from the input, so
    each byte is copied at most twice whatever the piece sizes.
    """

    def __init__(self, chunk_size: int = CHUNK_SIZE) -> None:
        if chunk_size <= 0:
            raise ValueError("chunk_size must be positive")
        self._size = chunk_size
        self._buf = bytearray(chunk_size)
        self._fill = 0

    def feed(self, data: bytes) -> list[bytes]:
        """Add ``data``; return the full leaves it completed (possibly none)."""
        view = memoryview(data).cast("B")
        size = self._size
        leaves: list[bytes] = []
        pos = 0
        if self._fill:
            pos = min(size - self._fill, len(view))
            self._buf[self._fill : self._fill + pos] = view[:pos]
            self._fill += pos
            if self._fill < size:
                return leaves
            leaves.append(bytes(self._buf))
            self._fill = 0
        while len(view) - pos >= size:
            leaves.append(bytes(view[pos : pos + size]))
            pos += size
        rest = len(view) - pos
        self._buf[:rest] = view[pos:]
        self._fill = rest
        return leaves

    @property
    def pending(self) -> int:
        """Bytes of a partial leaf waiting for more data."""
        return self._fill

    def flush(self) -> bytes | None:
        """Return the pending partial leaf, or None when nothing is pending."""
        if not self._fill:
            return None
        leaf = bytes(memoryview(self._buf)[: self._fill])
        self._fill = 0
        return leaf


# ---------------------------------------------------------------- encoding


@dataclass(frozen=True)
class FileNode:
    """An internal (dag-pb UnixFS File) node, as decoded or to be encoded."""

    links: tuple[tuple[bytes, int], ...]  # (child cid, child Tsize)
    blocksizes: tuple[int, ...]  # file bytes under each child
    filesize: int


def _len_field(tag: int, payload: bytes) -> bytes:
    return bytes((tag,)) + encode_uvarint(len(payload)) + payload


def _varint_field(tag: int, value: int) -> bytes:
    return bytes((tag,)) + encode_uvarint(value)


def encode_file_node(node: FileNode) -> bytes:
    """Canonical dag-pb bytes of ``node`` (exactly what kubo writes)."""
    unixfs = [_varint_field(0x08, _UNIXFS_FILE), _varint_field(0x18, node.filesize)]
    unixfs += [_varint_field(0x20, size) for size in node.blocksizes]
    parts = [
        _len_field(0x12, _len_field(0x0A, cid) + b"\x12\x00" + _varint_field(0x18, tsize))
        for cid, tsize in node.links
    ]
    parts.append(_len_field(0x0A, b"".join(unixfs)))
    return b"".join(parts)


class _Reader:
    """Protobuf field cursor that raises DecodeError on any malformation."""

    def __init__(self, data: bytes, what: str) -> None:
        self.data = data
        self.pos = 0
        self.what = what

    def done(self) -> bool:
        return self.pos >= len(self.data)

    def varint(self) -> int:
        try:
            value, self.pos = decode_uvarint(self.data, self.pos)
        except DecodeError as exc:
            raise DecodeError(f"{self.what}: {exc.message}") from None
        if value >> 64:
            raise self.fail("varint does not fit in 64 bits")
        return value

    def tag(self) -> tuple[int, int]:
        key = self.varint()
        return key >> 3, key & 7

    def payload(self) -> bytes:
        length = self.varint()
        end = self.pos + length
        if end > len(self.data):
            raise DecodeError(f"{self.what}: field length {length} runs past the end")
        value = bytes(self.data[self.pos : end])
        self.pos = end
        return value

    def fail(self, message: str) -> DecodeError:
        return DecodeError(f"{self.what}: {message}")


def _expect(reader: _Reader, field: int, wire: int, name: str) -> None:
    got_field, got_wire = reader.tag()
    if (got_field, got_wire) != (field, wire):
        raise reader.fail(f"expected {name} (field {field}), found field {got_field}/{got_wire}")


def _decode_link(data: bytes) -> tuple[bytes, int]:
    reader = _Reader(data, "PBLink")
    _expect(reader, 1, _LEN, "Hash")
    cid = reader.payload()
    try:
        validate_cid(cid)
    except InvalidCID as exc:
        raise reader.fail(f"bad Hash: {exc.message}") from None
    field, wire = reader.tag() if not reader.done() else (0, 0)
    if (field, wire) == (2, _LEN):  # Name: optional, but file chunks have none
        if reader.payload():
            raise reader.fail("file links must have an empty Name")
        field, wire = reader.tag() if not reader.done() else (0, 0)
    if (field, wire) != (3, _VARINT):
        raise reader.fail("missing or misplaced Tsize")
    tsize = reader.varint()
    if not reader.done():
        raise reader.fail("unexpected data after Tsize")
    return cid, tsize


def _split_pbnode(data: bytes) -> tuple[list[bytes], bytes]:
    """Split a PBNode into link payloads and Data, enforcing Links-then-Data."""
    reader = _Reader(data, "PBNode")
    links: list[bytes] = []
    while not reader.done():
        field, wire = reader.tag()
        if (field, wire) == (2, _LEN):
            links.append(reader.payload())
        elif (field, wire) == (1, _LEN):
            unixfs = reader.payload()
            if not reader.done():
                raise reader.fail("fields after Data (Links must come before Data)")
            return links, unixfs
        else:
            raise reader.fail(f"unexpected field {field} with wire type {wire}")
    raise reader.fail("missing Data (not a UnixFS node)")


def _decode_unixfs_file(data: bytes) -> tuple[int, tuple[int, ...]]:
    """Return (filesize, blocksizes) of a UnixFS File message without inline data."""
    reader = _Reader(data, "UnixFS Data")
    _expect(reader, 1, _VARINT, "Type")
    node_type = reader.varint()
    if node_type != _UNIXFS_FILE:
        raise reader.fail(f"type {node_type} is not File ({_UNIXFS_FILE})")
    filesize: int | None = None
    blocksizes: list[int] = []
    last_field = 1
    while not reader.done():
        field, wire = reader.tag()
        # Fields must be ascending; only blocksizes may repeat.
        if field < last_field or (field == last_field and field != 4):
            raise reader.fail(f"field {field} out of order or repeated")
        last_field = field
        if (field, wire) == (2, _LEN):
            if reader.payload():
                raise reader.fail("inline file data is not supported (leaves must be raw)")
        elif (field, wire) == (3, _VARINT):
            filesize = reader.varint()
        elif (field, wire) == (4, _VARINT):
            blocksizes.append(reader.varint())
        else:
            raise reader.fail(f"unsupported field {field} with wire type {wire}")
    if filesize is None:
        raise reader.fail("missing filesize")
    return filesize, tuple(blocksizes)


def decode_file_node(data: bytes) -> FileNode:
    """Strictly parse a dag-pb UnixFS File node (raises DecodeError)."""
    raw_links, unixfs = _split_pbnode(data)
    links = tuple(_decode_link(link) for link in raw_links)
    filesize, blocksizes = _decode_unixfs_file(unixfs)
    if not links:
        raise DecodeError("UnixFS File node has no links")
    if len(blocksizes) != len(links):
        raise DecodeError(f"{len(links)} links but {len(blocksizes)} blocksizes")
    if filesize != sum(blocksizes):
        raise DecodeError(f"filesize {filesize} is not the sum of blocksizes {sum(blocksizes)}")
    for (cid, tsize), size in zip(links, blocksizes):
        if size == 0:
            raise DecodeError("zero blocksize")
        if cid_codec(cid) == RAW and tsize != size:
            raise DecodeError(f"raw leaf Tsize {tsize} differs from its blocksize {size}")
    return FileNode(links=links, blocksizes=blocksizes, filesize=filesize)


# ---------------------------------------------------------------- building


@dataclass(frozen=True)
class DagResult:
    root: bytes  # binary CID
    size: int  # file bytes
    # (cid, encoded dag-pb node) for every internal node, children before
    # parents; the raw leaves are not repeated here.
    nodes: tuple[tuple[bytes, bytes], ...]


class _Child(NamedTuple):
    cid: bytes
    tsize: int
    filesize: int


class DagBuilder:
    """Incremental balanced-layout builder fed one leaf at a time.

    It keeps, per tree level, the completed children not yet grouped under a
    parent (fewer than ``max_links`` each), so memory is O(depth x max_links)
    small tuples plus the encoded internal nodes - never leaf data.

    Grouping is eager: once a level holds ``max_links`` children they become one
    node a level up. kubo would only build that parent once it knows more data
    follows, but when none follows the eager node is exactly its root, so the
    result is the same.
    """

    def __init__(self, *, chunk_size: int = CHUNK_SIZE, max_links: int = MAX_LINKS) -> None:
        if chunk_size <= 0 or max_links < 2:
            raise ValueError("chunk_size must be positive and max_links at least 2")
        self._chunk_size = chunk_size
        self._max_links = max_links
        self._levels: list[list[_Child]] = [[]]
        self._nodes: list[tuple[bytes, bytes]] = []
        self._size = 0
        self._leaves = 0
        self._short_leaf_seen = False
        self._finished = False

    def add_leaf(self, data: bytes) -> bytes:
        """Add the next chunk of the file; return its raw-leaf CID."""
        self._check_next_leaf(len(data))
        cid = make_cid(RAW, data)
        self._append_leaf(cid, len(data))
        return cid

    def add_verified_leaf(self, cid: bytes, length: int) -> None:
        """Add the next chunk by its raw-leaf CID, for a chunk already checked against it.

        A fetch checks every block against its CID as it arrives; hashing it again here
        would only repeat that work.
        """
        if cid_codec(cid) != RAW:
            raise ValueError("a leaf must be a raw block")
        self._check_next_leaf(length)
        self._append_leaf(cid, length)

    def _check_next_leaf(self, length: int) -> None:
        if self._finished:
            raise ValueError("finish() was already called")
        if length > self._chunk_size:
            raise ValueError(f"leaf of {length} bytes exceeds the chunk size {self._chunk_size}")
        if self._short_leaf_seen:
            raise ValueError("only the last leaf may be shorter than the chunk size")
        if length == 0 and self._leaves:
            raise ValueError("an empty leaf is only allowed as the single leaf of an empty file")

    def _append_leaf(self, cid: bytes, length: int) -> None:
        self._short_leaf_seen = length < self._chunk_size
        self._leaves += 1
        self._size += length
        self._push(0, _Child(cid, length, length))

    def finish(self) -> DagResult:
        """Close every open level and return the root (call once)."""
        if self._finished:
            raise ValueError("finish() was already called")
        self._finished = True
        if not self._leaves:
            return DagResult(root=make_cid(RAW, b""), size=0, nodes=())
        levels = self._levels
        top = max(i for i, row in enumerate(levels) if row)
        for level in range(top):
            # A partial lower level still hangs under a node of every level
            # above it, even a one-child node: all leaves sit at the same depth.
            if levels[level]:
                levels[level + 1].append(self._make_node(levels[level]))
                levels[level].clear()
        row = levels[top]
        root = row[0] if len(row) == 1 else self._make_node(row)
        return DagResult(root=root.cid, size=self._size, nodes=tuple(self._nodes))

    def _push(self, level: int, child: _Child) -> None:
        while True:
            if level == len(self._levels):
                self._levels.append([])
            row = self._levels[level]
            row.append(child)
            if len(row) < self._max_links:
                return
            child = self._make_node(row)
            row.clear()
            level += 1

    def _make_node(self, children: Sequence[_Child]) -> _Child:
        node = FileNode(
            links=tuple((c.cid, c.tsize) for c in children),
            blocksizes=tuple(c.filesize for c in children),
            filesize=sum(c.filesize for c in children),
        )
        encoded = encode_file_node(node)
        cid = make_cid(DAG_PB, encoded)
        self._nodes.append((cid, encoded))
        tsize = len(encoded) + sum(c.tsize for c in children)
        return _Child(cid, tsize, node.filesize)


def dag_of_bytes(data: bytes) -> DagResult:
    """Build the DAG of an in-memory file."""
    builder = DagBuilder()
    view = memoryview(data)
    for start in range(0, len(view), CHUNK_SIZE):
        builder.add_leaf(view[start : start + CHUNK_SIZE])
    return builder.finish()


def root_cid_of_stream(fileobj: BinaryIO) -> tuple[str, int]:
    """(root CID text, size in bytes) of everything readable from ``fileobj``."""
    chunker = Chunker()
    builder = DagBuilder()
    while piece := fileobj.read(CHUNK_SIZE):
        for leaf in chunker.feed(piece):
            builder.add_leaf(leaf)
    tail = chunker.flush()
    if tail is not None:
        builder.add_leaf(tail)
    result = builder.finish()
    return cid_to_str(result.root), result.size


def root_cid_of_file(path: str | PathLike[str]) -> str:
    """Root CID text of the file at ``path`` (what ``audiera cid FILE`` prints)."""
    with open(path, "rb") as fileobj:
        return root_cid_of_stream(fileobj)[0]


# ---------------------------------------------------------------- walking


def iter_leaf_cids(
    get_node: Callable[[bytes], bytes], root: bytes, root_size: int | None = None
) -> Iterator[tuple[bytes, int]]:
    """Yield (leaf cid, leaf size) in file order, fetching internal nodes lazily.

    ``get_node(cid)`` returns a block's bytes; each internal node is checked
    against its CID and its filesize against the parent's blocksize, so the
    sizes yielded can be trusted to check each leaf against once fetched. A raw
    root is the single leaf: its size is ``root_size`` if given, else the length
    of ``get_node(root)``.
    """
    if cid_codec(root) == RAW:
        yield root, root_size if root_size is not None else len(get_node(root))
        return
    # Explicit stack of child iterators: depth-first, left to right, no recursion.
    stack: list[Iterator[tuple[bytes, int | None]]] = [iter([(root, root_size)])]
    while stack:
        item = next(stack[-1], None)
        if item is None:
            stack.pop()
            continue
        cid, expected_size = item
        if cid_codec(cid) == RAW:
            assert expected_size is not None  # raw children always come with a blocksize
            yield cid, expected_size
            continue
        node = _load_file_node(get_node, cid)
        if expected_size is not None and node.filesize != expected_size:
            raise DecodeError(
                f"node {cid_to_str(cid)} holds {node.filesize} bytes, parent says {expected_size}"
            )
        stack.append(zip((child for child, _ in node.links), node.blocksizes))


def _load_file_node(get_node: Callable[[bytes], bytes], cid: bytes) -> FileNode:
    data = get_node(cid)
    if not is_valid_block(cid, data):
        raise DecodeError(f"block {cid_to_str(cid)} does not match its CID")
    return decode_file_node(data)
