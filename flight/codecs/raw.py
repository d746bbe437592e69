"""The ``raw`` codec (id 0): big-endian stored pixels, the baseline and the per-tile escape of every codec."""

from __future__ import annotations

import numpy as np

from flight.codecs.base import OpCounts, TileCodec
from flight.errors import FormatError
from flight.frame import BITPIX_DTYPES


class RawCodec(TileCodec):
    """No compression: the tile's pixels big-endian in C order."""

    codec_id = 0
    name = "raw"

    def encode_tile(self, tile: np.ndarray) -> bytes:
        return np.ascontiguousarray(tile).astype(tile.dtype.newbyteorder(">"), copy=False).tobytes()

    def decode_tile(self, payload: bytes, shape: tuple[int, int], bitpix: int) -> np.ndarray:
        dtype = BITPIX_DTYPES[bitpix]
        if len(payload) != shape[0] * shape[1] * dtype.itemsize:
            raise FormatError(f"raw tile has {len(payload)} bytes, expected {shape[0] * shape[1] * dtype.itemsize}")
        return np.frombuffer(payload, dtype=dtype.newbyteorder(">")).astype(dtype).reshape(shape)

    def ops_per_pixel(self) -> OpCounts:
        """Byte swap and copy: one integer operation, one load and one store per pixel."""
        return OpCounts(int_ops=1.0, mem_ops=2.0)
