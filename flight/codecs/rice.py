"""The ``rice`` codec (id 1): cfitsio-compatible RICE_1 (``flight.rice``), block size 32 by default, like fpack."""

from __future__ import annotations

import struct

import numpy as np

from flight.codecs.base import OpCounts, TileCodec
from flight.errors import FormatError
from flight.frame import BITPIX_DTYPES
from flight.rice import RiceDecodeError, rice_decode, rice_encode, rice_ops_per_pixel


class RiceCodec(TileCodec):
    """RICE_1 with block size 16 or 32; the frame header's codec parameters carry the block size (u16)."""

    codec_id = 1
    name = "rice"

    def __init__(self, blocksize: int = 32) -> None:
        if blocksize not in (16, 32):
            raise ValueError("RICE block size must be 16 or 32")
        self.blocksize = blocksize

    @classmethod
    def from_header(cls, params: bytes, model: str | None = None, kernels: str = "numba") -> RiceCodec:
        """The codec a frame header's parameters (the block size, u16) describe; FormatError if malformed."""
        if len(params) != 2:
            raise FormatError("rice parameters must be 2 bytes")
        (blocksize,) = struct.unpack(">H", params)
        if blocksize not in (16, 32):
            raise FormatError(f"rice block size {blocksize} not supported")
        return cls(blocksize)

    def params(self) -> bytes:
        return struct.pack(">H", self.blocksize)

    def encode_tile(self, tile: np.ndarray) -> bytes:
        return rice_encode(tile, self.blocksize)

    def decode_tile(self, payload: bytes, shape: tuple[int, int], bitpix: int) -> np.ndarray:
        try:
            out = rice_decode(payload, shape[0] * shape[1], abs(bitpix) // 8, self.blocksize)
        except RiceDecodeError as exc:
            raise FormatError(f"rice tile: {exc}") from exc
        return out.astype(BITPIX_DTYPES[bitpix], copy=False).reshape(shape)

    def ops_per_pixel(self) -> OpCounts:
        return rice_ops_per_pixel(2)
