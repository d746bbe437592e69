"""The memo behind exact fidelity's shortcuts: each distinct tile is coded (or decoded) once, in one batch.

:class:`MemoCodec` wraps a real tile codec for the onboard coder (``sim.mission.coding``) and the ground segment
(``sim.mission.groundseg``): it looks tiles up in a :class:`BatchMemo` and hands only the distinct misses to the
real codec, so the codec's batched API still sees one batch and every repeat costs a dictionary lookup. The bytes
and pixels are those of the real codec (tested against a direct encode).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import Any

import numpy as np

from flight.codecs.base import OpCounts, TileCodec, TileResult

MEMO_LIMIT_BYTES = 256 << 20  # per direction and codec: payloads plus pixels kept for repeats


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


class MemoCodec(TileCodec):
    """A tile codec that remembers: payloads by a tile's exact pixels (dtype, shape, bytes), decoded tiles by exact
    payload bytes, shape and BITPIX. Everything else is the wrapped ``codec``'s (id, name, parameters, model,
    tile shape, op counts), so frames coded through it are byte-identical to frames coded by ``codec``."""

    def __init__(self, codec: TileCodec, limit_bytes: int = MEMO_LIMIT_BYTES) -> None:
        self.codec = codec
        self.codec_id, self.name = codec.codec_id, codec.name
        self.encoded = BatchMemo(limit_bytes)
        self.decoded = BatchMemo(limit_bytes)

    # -- what the wrapped codec says ----------------------------------------------------------------------
    def default_tile_shape(self, rows: int, cols: int) -> tuple[int, int]:
        return self.codec.default_tile_shape(rows, cols)

    def params(self) -> bytes:
        return self.codec.params()

    def model_hash(self) -> bytes:
        return self.codec.model_hash()

    def supports(self, bitpix: int) -> bool:
        return self.codec.supports(bitpix)

    def ops_per_pixel(self) -> OpCounts:
        return self.codec.ops_per_pixel()

    # -- memoised coding ----------------------------------------------------------------------------------
    def encode_tile(self, tile: np.ndarray) -> bytes:
        return self.encode_tiles([tile])[0]

    def decode_tile(self, payload: bytes, shape: tuple[int, int], bitpix: int) -> np.ndarray:
        return self.decode_tiles([payload], [shape], bitpix)[0].unwrap()

    def encode_tiles(self, tiles: Sequence[np.ndarray]) -> list[bytes]:
        """Payloads from the memo where the pixels were seen; the rest coded in one batch by the wrapped codec's
        ``encode_tiles`` (IDF keeps its batched network calls)."""

        def compute(todo: list[int]) -> list[bytes]:
            return self.codec.encode_tiles([tiles[i] for i in todo])

        keys = [(t.dtype.str, t.shape, np.ascontiguousarray(t).tobytes()) for t in tiles]
        return self.encoded.get_many(keys, compute, lambda key, payload: len(key[2]) + len(payload))

    def decode_tiles(self, payloads: Sequence[bytes], shapes: Sequence[tuple[int, int]],
                     bitpix: int) -> list[TileResult]:
        """Tiles from the memo where the payload was seen; the rest decoded in one batch by the wrapped codec.
        Per tile: a result with a fresh array (callers may write into it), or with the error that tile raised
        (errors are not kept)."""
        keys = [(bytes(p), tuple(int(v) for v in s), bitpix) for p, s in zip(payloads, shapes, strict=True)]

        def compute(todo: list[int]) -> list[TileResult]:
            return self.codec.decode_tiles([payloads[i] for i in todo], [keys[i][1] for i in todo], bitpix)

        def size(key: tuple, result: TileResult) -> int | None:
            return None if result.pixels is None else result.pixels.nbytes + len(key[0])

        results = self.decoded.get_many(keys, compute, size)
        return [r if r.pixels is None else TileResult(pixels=r.pixels.copy()) for r in results]
