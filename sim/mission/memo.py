"""The memo behind exact fidelity's shortcuts: each distinct tile is coded (or decoded) once, in one batch.

Both the onboard encoder wrapper (``sim.mission.coding.MemoEncoder``) and the ground decoder wrapper
(``sim.mission.groundseg.MemoDecoder``) look keys up here and hand only the distinct misses to the real codec, so the
codec's batched API still sees one batch and every repeat costs a dictionary lookup.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any


class BatchMemo:
    """Values by key, bounded in bytes; counts what was computed and what came from the memo."""

    def __init__(self, limit_bytes: int) -> None:
        self.values: dict[Hashable, Any] = {}
        self.limit_bytes = limit_bytes
        self.held_bytes = 0
        self.computed = 0
        self.hits = 0

    def get_many(self, keys: list, compute: Callable[[list[int]], list],
                 size: Callable[[Hashable, Any], int | None]) -> list:
        """The value of every key: from the memo where known; the rest from ``compute(indices)``, called once with
        the index of the first occurrence of each unknown key and returning their values in that order.
        ``size(key, value)`` is the bytes a value holds, or None for a value not to keep (an error)."""
        first: dict[Hashable, int] = {}
        for i, key in enumerate(keys):
            if key not in self.values:
                first.setdefault(key, i)
        todo = list(first.values())
        new = dict(zip(first, compute(todo), strict=True)) if todo else {}
        self.computed += len(todo)
        self.hits += len(keys) - len(todo)
        for key, value in new.items():
            n = size(key, value)
            if n is not None and self.held_bytes + n <= self.limit_bytes:
                self.values[key] = value
                self.held_bytes += n
        return [new[k] if k in new else self.values[k] for k in keys]
