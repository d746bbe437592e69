"""Tile codecs and their registry.

A tile codec turns one 2-D tile of stored integers into bytes and back. It knows nothing about frames,
packets or checksums: the container (``flight.encoder``) adds those, and falls back to ``raw`` per tile when a
codec's payload would be larger than the raw tile.
"""

from __future__ import annotations

import struct
from typing import Protocol

import numpy as np

from flight.container import CODEC_IDF, CODEC_RAW, CODEC_RICE
from flight.errors import FormatError, InputError
from flight.frame import BITPIX_DTYPES

NO_MODEL = bytes(32)


class TileCodec(Protocol):
    """What every codec offers the container and the simulator."""

    codec_id: int
    name: str

    def params(self) -> bytes: ...

    def encode_tile(self, tile: np.ndarray) -> bytes: ...

    def decode_tile(self, payload: bytes, shape: tuple[int, int], bitpix: int) -> np.ndarray: ...

    def model_hash(self) -> bytes: ...

    def supports(self, bitpix: int) -> bool: ...

    def ops_per_pixel(self) -> dict: ...


class RawCodec:
    """No compression: big-endian stored pixels. The baseline, and the per-tile escape of every codec."""

    codec_id = CODEC_RAW
    name = "raw"

    def params(self) -> bytes:
        return b""

    def encode_tile(self, tile: np.ndarray) -> bytes:
        return np.ascontiguousarray(tile).astype(tile.dtype.newbyteorder(">"), copy=False).tobytes()

    def decode_tile(self, payload: bytes, shape: tuple[int, int], bitpix: int) -> np.ndarray:
        dtype = BITPIX_DTYPES[bitpix]
        if len(payload) != shape[0] * shape[1] * dtype.itemsize:
            raise FormatError(f"raw tile has {len(payload)} bytes, expected {shape[0] * shape[1] * dtype.itemsize}")
        return np.frombuffer(payload, dtype=dtype.newbyteorder(">")).astype(dtype).reshape(shape)

    def model_hash(self) -> bytes:
        return NO_MODEL

    def supports(self, bitpix: int) -> bool:
        return bitpix in BITPIX_DTYPES

    def ops_per_pixel(self) -> dict:
        # Byte swap and copy: one load and one store per pixel.
        return {"int_ops": 1.0, "mem_ops": 2.0, "macs": 0.0, "lookups": 0.0}


class RiceCodec:
    """cfitsio-compatible RICE_1 (``flight.rice``), block size 32 by default, like fpack."""

    codec_id = CODEC_RICE
    name = "rice"

    def __init__(self, blocksize: int = 32) -> None:
        if blocksize not in (16, 32):
            raise ValueError("RICE block size must be 16 or 32")
        self.blocksize = blocksize

    @classmethod
    def from_params(cls, params: bytes) -> RiceCodec:
        if len(params) != 2:
            raise FormatError("rice parameters must be 2 bytes")
        (blocksize,) = struct.unpack(">H", params)
        if blocksize not in (16, 32):
            raise FormatError(f"rice block size {blocksize} not supported")
        return cls(blocksize)

    def params(self) -> bytes:
        return struct.pack(">H", self.blocksize)

    def encode_tile(self, tile: np.ndarray) -> bytes:
        from flight.rice import rice_encode

        return rice_encode(tile, self.blocksize)

    def decode_tile(self, payload: bytes, shape: tuple[int, int], bitpix: int) -> np.ndarray:
        from flight.rice import rice_decode

        try:
            out = rice_decode(payload, shape[0] * shape[1], abs(bitpix) // 8, self.blocksize)
        except ValueError as exc:
            raise FormatError(f"rice tile: {exc}") from exc
        return out.astype(BITPIX_DTYPES[bitpix], copy=False).reshape(shape)

    def model_hash(self) -> bytes:
        return NO_MODEL

    def supports(self, bitpix: int) -> bool:
        return bitpix in BITPIX_DTYPES

    def ops_per_pixel(self) -> dict:
        from flight.rice import rice_ops_per_pixel

        return rice_ops_per_pixel(2)


CODEC_CHOICES = ("raw", "rice", "idf")


def get_codec(name: str, model: str | None = None) -> TileCodec:
    """The codec called ``name`` ("raw", "rice", "idf"); ``model`` is the IDF bundle folder (default bundle if None)."""
    if name == "raw":
        return RawCodec()
    if name == "rice":
        return RiceCodec()
    if name == "idf":
        try:
            from flight.idf_codec import IdfCodec
        except ImportError as exc:
            raise InputError(f"codec 'idf' is not available in this build ({exc})") from exc
        return IdfCodec(model)
    raise InputError(f"unknown codec {name!r} (choose from {', '.join(CODEC_CHOICES)})")


def codec_for_header(codec_id: int, params: bytes, model_hash: bytes, idf_model: str | None = None) -> TileCodec:
    """The decoder for a frame header's codec; for IDF, refuses a bundle whose hash differs from the frame's."""
    if codec_id == CODEC_RAW:
        return RawCodec()
    if codec_id == CODEC_RICE:
        return RiceCodec.from_params(params)
    if codec_id == CODEC_IDF:
        codec = get_codec("idf", idf_model)
        held = codec.model_hash()
        if held != model_hash:
            raise InputError(
                f"frame was coded with model bundle {model_hash.hex()[:16]}..., "
                f"but the ground holds bundle {held.hex()[:16]}...; refusing to decode with another model"
            )
        return codec
    raise FormatError(f"unknown codec id {codec_id}")
