"""The one canonical encoding: MessagePack with exactly one byte form per value.

Canonical means: maps with text keys sorted by their UTF-8 bytes, no floats, no
extension types, bytes as ``bin``, text as ``str``, integers in their smallest form.
The decoder re-encodes what it decoded and rejects input whose bytes differ, so one
object has one encoding and therefore one id (sha2-256 of the encoding).
"""

from __future__ import annotations

import hashlib
import threading
from typing import Any

import msgpack

from .errors import DecodeError

# Bounds applied to every decode, so that a hostile peer cannot make us allocate
# more than the message it sent: each container or string is at most the input size.
_MAX_DEPTH = 16


def _canonical(value: Any, depth: int = 0) -> Any:
    """Return ``value`` with maps sorted and tuples as lists, rejecting what has no canonical form."""
    if depth > _MAX_DEPTH:
        raise DecodeError(f"value nests deeper than {_MAX_DEPTH} levels")
    if value is None or isinstance(value, (bool, bytes)):
        return value
    if isinstance(value, str):
        _utf8(value)
        return value
    if isinstance(value, int):
        if not -(2**63) <= value < 2**64:
            raise DecodeError(f"integer {value} does not fit in 64 bits")
        return value
    if isinstance(value, (list, tuple)):
        return [_canonical(item, depth + 1) for item in value]
    if isinstance(value, dict):
        items = []
        for key, item in value.items():
            if not isinstance(key, str):
                raise DecodeError(f"map key {key!r} is not text")
            items.append((_utf8(key), key, _canonical(item, depth + 1)))
        items.sort(key=lambda entry: entry[0])
        return {key: item for _, key, item in items}
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    raise DecodeError(f"{type(value).__name__} values have no canonical encoding")


def _utf8(text: str) -> bytes:
    try:
        return text.encode()
    except UnicodeEncodeError:  # a lone surrogate: Python text that is not Unicode
        raise DecodeError("text contains a lone surrogate and has no UTF-8 form") from None


def _sorted_maps(value: Any, depth: int = 0) -> Any:
    """The fast path of ``_canonical``: sort maps, refuse what msgpack would accept but we do not.

    Text keys sorted as Python strings are sorted by their UTF-8 bytes too (UTF-8
    preserves code point order), so no per-key encoding is needed. Anything unusual
    (a non-text key, a big integer, a lone surrogate) makes msgpack or this raise, and
    ``encode`` then takes the slow path, whose error says exactly what is wrong.
    """
    kind = type(value)
    if kind is dict:
        if depth >= _MAX_DEPTH:
            raise _Unusual
        ordered = {}
        for key in sorted(value):
            if type(key) is not str:
                raise _Unusual
            item = value[key]
            # Leaves inline: a call per leaf was a third of the cost of encoding a record.
            ordered[key] = item if type(item) in _PLAIN_LEAVES else _sorted_maps(item, depth + 1)
        return ordered
    if kind is list or kind is tuple:
        if depth >= _MAX_DEPTH:
            raise _Unusual
        for item in value:
            if type(item) not in _PLAIN_LEAVES:
                return [item if type(item) in _PLAIN_LEAVES else _sorted_maps(item, depth + 1) for item in value]
        return value  # only leaves (most lists: records, undo pairs): nothing to copy
    if kind not in _PLAIN_LEAVES:
        raise _Unusual
    return value


class _Unusual(Exception):
    pass


_PLAIN_LEAVES = frozenset({str, bytes, int, bool, type(None)})


class _Packers(threading.local):
    """One reusable packer per thread: ``msgpack.packb`` builds a new one per call, which
    cost as much as the packing itself (the node encodes several records per event)."""

    def __init__(self) -> None:
        self.packer = msgpack.Packer(use_bin_type=True)


_packers = _Packers()


def _pack(value: Any) -> bytes:
    return _packers.packer.pack(value)


def encode(value: Any) -> bytes:
    """Encode ``value`` canonically. Raises DecodeError for values with no canonical form."""
    try:
        return _pack(_sorted_maps(value))
    except (_Unusual, TypeError, ValueError, OverflowError, UnicodeEncodeError):
        pass
    return _pack(_canonical(value))


def _reject_ext(code: int, data: bytes) -> Any:
    raise DecodeError(f"MessagePack extension type {code} is not allowed")


def decode(data: bytes) -> Any:
    """Decode canonical bytes strictly: malformed, trailing or non-canonical input is rejected."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise DecodeError("expected bytes to decode")
    data = bytes(data)
    if not data:
        raise DecodeError("empty input")
    limit = len(data)
    try:
        value = msgpack.unpackb(
            data,
            raw=False,
            use_list=True,
            strict_map_key=True,
            ext_hook=_reject_ext,
            max_str_len=limit,
            max_bin_len=limit,
            max_array_len=limit,
            max_map_len=limit,
        )
    except DecodeError:
        raise
    except msgpack.ExtraData:
        raise DecodeError("trailing bytes after the encoded value") from None
    except UnicodeDecodeError:
        raise DecodeError("text is not valid UTF-8") from None
    except Exception as exc:  # msgpack raises several unrelated types for bad input
        raise DecodeError(f"not valid MessagePack: {exc}") from None
    _check_values(value)
    # Maps keep the order their keys were read in, which _check_values found sorted, so
    # packing the value again as it is gives the canonical bytes: any other difference
    # (integer width, str against bin, a duplicate key) shows here.
    if _pack(value) != data:
        raise DecodeError("encoding is not canonical (map order, integer width or types differ)")
    return value


def decode_stored(data: bytes) -> Any:
    """Decode a state record this node encoded itself, without the canonical re-check.

    State records are only ever written by ``encode`` and read back from the node's own
    store, so re-encoding them on every read (as ``decode`` must for untrusted input)
    would only cost time: the rules read several records per event. Never use this for
    bytes from a client or a peer.
    """
    return msgpack.unpackb(data, raw=False, use_list=True, strict_map_key=True)


def _check_values(value: Any, depth: int = 0) -> None:
    """Refuse what msgpack decodes but we do not accept: maps whose keys are not text in
    order, floats, timestamps, deep nesting."""
    kind = type(value)
    if kind is dict:
        if depth >= _MAX_DEPTH:
            raise DecodeError(f"value nests deeper than {_MAX_DEPTH} levels")
        previous = None
        for key, item in value.items():
            if type(key) is not str:
                raise DecodeError(f"map key {key!r} is not text")
            if previous is not None and not previous < key:
                raise DecodeError("encoding is not canonical (map keys out of order)")
            previous = key
            if type(item) not in _PLAIN_LEAVES:
                _check_values(item, depth + 1)
    elif kind is list:
        if depth >= _MAX_DEPTH:
            raise DecodeError(f"value nests deeper than {_MAX_DEPTH} levels")
        for item in value:
            if type(item) not in _PLAIN_LEAVES:
                _check_values(item, depth + 1)
    elif kind is float:
        raise DecodeError("floating-point numbers are not allowed")
    elif kind not in _PLAIN_LEAVES:
        raise DecodeError(f"{kind.__name__} values are not allowed")


def sha256(data: bytes) -> bytes:
    """The hash used for every id in the protocol."""
    return hashlib.sha256(data).digest()


def object_id(value: Any) -> bytes:
    """The id of a value: sha2-256 of its canonical encoding."""
    return sha256(encode(value))
