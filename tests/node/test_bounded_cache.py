"""The one bounded cache: at most ``capacity`` entries, the oldest forgotten first."""

from __future__ import annotations

import pytest

from node.bounded_cache import BoundedCache, BoundedSet


def test_the_oldest_entry_goes_first_when_full() -> None:
    cache: BoundedCache[str, int] = BoundedCache(3)
    for index, key in enumerate("abcd"):
        cache.put(key, index)
    assert len(cache) == 3
    assert cache.get("a") is None
    assert [cache.get(key) for key in "bcd"] == [1, 2, 3]


def test_putting_a_key_again_makes_it_the_newest() -> None:
    cache: BoundedCache[str, int] = BoundedCache(2)
    cache.put("a", 1)
    cache.put("b", 2)
    cache.put("a", 3)
    cache.put("c", 4)
    assert "b" not in cache
    assert cache.get("a") == 3 and cache.get("c") == 4


def test_put_many_keeps_the_newest_and_pop_takes_an_entry_out() -> None:
    cache: BoundedCache[int, str] = BoundedCache(100)
    cache.put_many((i, str(i)) for i in range(250))
    assert len(cache) == 100
    assert cache.get(149) is None and cache.get(150) == "150" and cache.get(249) == "249"
    assert cache.pop(200) == "200" and cache.pop(200) is None
    assert cache.frozen_keys() == frozenset(range(150, 250)) - {200}


def test_a_set_of_recent_keys_is_bounded_too() -> None:
    seen: BoundedSet[bytes] = BoundedSet(2)
    for key in (b"x", b"y", b"z"):
        seen.add(key)
    assert b"x" not in seen and b"y" in seen and b"z" in seen
    assert seen.frozen() == {b"y", b"z"}


def test_a_cache_holds_at_least_one_entry() -> None:
    with pytest.raises(ValueError):
        BoundedCache(0)
