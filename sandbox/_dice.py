"""Deterministic draws keyed by (seed, label, index).

``random.Random`` costs ~8 µs to seed; a 100,000-package world draws for every package at start-up, so draws come
from BLAKE2b digests instead (~1 µs each): the same key always gives the same numbers, on any machine.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Mapping, Sequence
from typing import TypeVar

T = TypeVar("T")

_SCALE = float(1 << 64)
_EIGHT_WORDS = struct.Struct("<8Q")


class Dice:
    """A small, reproducible stream of numbers for one key."""

    __slots__ = ("_key", "_round", "_values")

    def __init__(self, *key: object) -> None:
        self._key = ":".join(map(str, key)).encode()
        self._round = 0
        self._values: list[int] = []

    def _next(self) -> int:
        if not self._values:
            digest = hashlib.blake2b(self._key + b"#%d" % self._round, digest_size=64).digest()
            self._values = list(_EIGHT_WORDS.unpack(digest))
            self._round += 1
        return self._values.pop()

    def random(self) -> float:
        """A float in [0, 1)."""
        return self._next() / _SCALE

    def below(self, n: int) -> int:
        """An int in [0, n)."""
        return self._next() % n

    def between(self, low: int, high: int) -> int:
        """An int in [low, high], both included."""
        return low + self.below(high - low + 1)

    def chance(self, p: float) -> bool:
        """True with probability ``p``."""
        return self.random() < p

    def choice(self, items: Sequence[T]) -> T:
        """One element of ``items``."""
        return items[self.below(len(items))]

    def weighted(self, weights: Mapping[T, float]) -> T:
        """A key of ``weights``, drawn in proportion to its value."""
        total = sum(weights.values())
        point = self.random() * total
        for key, weight in weights.items():
            point -= weight
            if point < 0:
                return key
        return next(reversed(weights.keys()))

    def hex(self, length: int) -> str:
        """``length`` hex digits."""
        digits = ""
        while len(digits) < length:
            digits += f"{self._next():016x}"
        return digits[:length]
