"""Reading wire maps into typed values, with errors that name the field at fault.

Every protocol object is parsed through a ``FieldReader``: it takes each expected
field once, checks its type and bounds, and finally refuses any field it did not
expect, so that two encodings of "the same" object cannot differ by extra fields.
"""

from __future__ import annotations

import re
from typing import Any, Callable, TypeVar

from .cid import cid_from_str
from .errors import InvalidCID, InvalidKey, ProtocolError
from .keys import public_key_from_did

T = TypeVar("T")

MAX_U64 = 2**64 - 1
_MISSING = object()
_CONTROL_CHARACTER = re.compile("[\x00-\x1f]")


class FieldReader:
    """Reads fields out of one wire map; raises ``error`` naming ``where.field``."""

    def __init__(self, value: Any, where: str, error: type[ProtocolError]) -> None:
        if not isinstance(value, dict):
            raise error(f"{where} must be a map")
        self._map = value
        self._where = where
        self._error = error
        self._taken: set[str] = set()

    def fail(self, field: str, problem: str) -> ProtocolError:
        return self._error(f"{self._where}.{field} {problem}")

    def _take(self, field: str, required: bool) -> Any:
        self._taken.add(field)
        value = self._map.get(field, _MISSING)
        if value is _MISSING and required:
            raise self.fail(field, "is missing")
        return value

    def integer(self, field: str, *, low: int = 0, high: int = MAX_U64, default: int | None = None) -> int:
        value = self._take(field, default is None)
        if value is _MISSING:
            return default  # type: ignore[return-value]
        if not isinstance(value, int) or isinstance(value, bool):
            raise self.fail(field, "must be an integer")
        if not low <= value <= high:
            raise self.fail(field, f"must be between {low} and {high}, not {value}")
        return value

    def boolean(self, field: str, *, default: bool | None = None) -> bool:
        value = self._take(field, default is None)
        if value is _MISSING:
            return default  # type: ignore[return-value]
        if not isinstance(value, bool):
            raise self.fail(field, "must be true or false")
        return value

    def text(
        self,
        field: str,
        *,
        max_len: int,
        min_len: int = 0,
        default: str | None = None,
        pattern: str | None = None,
        pattern_hint: str = "",
    ) -> str:
        value = self._take(field, default is None)
        if value is _MISSING:
            return default  # type: ignore[return-value]
        return self.check_text(field, value, max_len=max_len, min_len=min_len, pattern=pattern, pattern_hint=pattern_hint)

    def check_text(
        self, field: str, value: Any, *, max_len: int, min_len: int = 0, pattern: str | None = None, pattern_hint: str = ""
    ) -> str:
        if not isinstance(value, str):
            raise self.fail(field, "must be text")
        if not min_len <= len(value) <= max_len:
            raise self.fail(field, f"must have {min_len} to {max_len} characters, not {len(value)}")
        if _CONTROL_CHARACTER.search(value):
            raise self.fail(field, "must not contain control characters")
        if pattern is not None and not re.fullmatch(pattern, value):
            raise self.fail(field, f"{value!r} is not {pattern_hint or 'well formed'}")
        return value

    def choice(self, field: str, options: tuple[str, ...], *, default: str | None = None) -> str:
        value = self._take(field, default is None)
        if value is _MISSING:
            return default  # type: ignore[return-value]
        return self.check_choice(field, value, options)

    def check_choice(self, field: str, value: Any, options: tuple[str, ...]) -> str:
        if value not in options or not isinstance(value, str):
            raise self.fail(field, f"must be one of {', '.join(options)}; got {value!r}")
        return value

    def did(self, field: str, *, optional: bool = False) -> str | None:
        """An account; ``optional`` means it may be nil, never that it may be absent."""
        value = self._take(field, True)
        if optional and value is None:
            return None
        return self.check_did(field, value)

    def check_did(self, field: str, value: Any) -> str:
        try:
            public_key_from_did(value)
        except InvalidKey as exc:
            raise self.fail(field, f"is not a valid account: {exc.message}") from None
        return value

    def cid(self, field: str) -> str:
        return self.check_cid(field, self._take(field, True))

    def check_cid(self, field: str, value: Any) -> str:
        if not isinstance(value, str):
            raise self.fail(field, "must be a CID in text form")
        try:
            cid_from_str(value)
        except InvalidCID as exc:
            raise self.fail(field, f"is not a valid CID: {exc.message}") from None
        return value

    def digest(self, field: str, *, optional: bool = False) -> bytes | None:
        # Optional means "may be nil", never "may be absent": an absent field would give
        # the same event a second encoding (and id) under the same signature.
        value = self._take(field, True)
        if optional and value is None:
            return None
        return self.check_digest(field, value)

    def check_digest(self, field: str, value: Any) -> bytes:
        if not isinstance(value, bytes) or len(value) != 32:
            raise self.fail(field, "must be 32 bytes (a sha2-256 id)")
        return value

    def items(
        self,
        field: str,
        parse: Callable[[Any, str], T],
        *,
        max_items: int,
        min_items: int = 0,
        default: list | None = None,
        unique: bool = True,
    ) -> tuple[T, ...]:
        value = self._take(field, default is None)
        if value is _MISSING:
            value = default
        if not isinstance(value, list):
            raise self.fail(field, "must be a list")
        if not min_items <= len(value) <= max_items:
            raise self.fail(field, f"must have {min_items} to {max_items} items, not {len(value)}")
        parsed = tuple(parse(item, f"{self._where}.{field}[{index}]") for index, item in enumerate(value))
        if unique and len(set(parsed)) != len(parsed):
            raise self.fail(field, "must not repeat an item")
        return parsed

    def nested(self, field: str, parse: Callable[[Any, str], T], *, optional: bool = False) -> T | None:
        value = self._take(field, True)  # optional: may be nil, not absent (see digest)
        if optional and value is None:
            return None
        return parse(value, f"{self._where}.{field}")

    def raw(self, field: str) -> Any:
        return self._take(field, True)

    def done(self) -> None:
        extra = sorted(set(self._map) - self._taken)
        if extra:
            raise self._error(f"{self._where} has unknown field(s): {', '.join(map(str, extra))}")
