"""A bounded map whose entries expire: what the gateway process remembers for a short while (checked
API keys, public API answers). Least recently used out first; ``now`` is monotonic seconds."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

__all__ = ["Expiring"]

K = TypeVar("K")
V = TypeVar("V")


class Expiring(Generic[K, V]):
    """``key -> value`` for `ttl_s` seconds after it was put, at most `size` entries."""

    def __init__(self, ttl_s: float, size: int, now: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self.size = size
        self.now = now
        self._entries: OrderedDict[K, tuple[V, float]] = OrderedDict()

    def get(self, key: K) -> V | None:
        found = self._entries.get(key)
        if found is None:
            return None
        if found[1] <= self.now():
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return found[0]

    def put(self, key: K, value: V) -> None:
        self._entries[key] = (value, self.now() + self.ttl_s)
        self._entries.move_to_end(key)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)

    def pop(self, key: K) -> None:
        self._entries.pop(key, None)

    def clear(self) -> None:
        self._entries.clear()

    def items(self) -> Iterator[tuple[K, V]]:
        """The entries, expired ones included (for a scan that drops some)."""
        return ((k, v) for k, (v, _) in list(self._entries.items()))

    def __len__(self) -> int:
        return len(self._entries)
