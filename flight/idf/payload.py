"""The IDF tile payload (codec id 2), byte for byte (docs/formats.md; the container adds the codec id and CRC-32).

All big-endian.  Byte 0's high nibble is the payload kind, chosen per tile by the encoder:

* kind 2, IDF::

    byte 0      0x20 | noise shift s (0..12)
    bytes 1-3   per network set 1, 2, 3: scale bias beta (3 bits) and mean blend alpha (3 bits); 6 zero bits
    bytes 4-5   tile offset m (lower median, int16)
    bytes 6-7   top: pixel (0, 0) (int16)
    bytes 8-    one rANS stream (``flight.rans``), absent for a 1x1 tile

  The stream holds, in decoding order, for each level from the coarsest to the finest and each phase b, c, d:
  the phase's latents (table ``k * 4 + phase`` of ``tables.npz``, window + escape), then for latents whose
  table index k exceeds KMAX their low bits in chunks of at most CHUNK_BITS (uniform tables).  See
  :mod:`flight.idf.spec` for the transform.
* kind 3, RICE fallback: ``0x30`` then cfitsio's RICE_1 stream of the tile (C order, block 32).
* kind 4, colour-filter (Bayer) split: ``0x40``, then the tile's four 2x2 sub-lattices (0,0), (0,1), (1,0),
  (1,1) as kind-2 or kind-3 payloads, the first three prefixed by their length (u16).

Every parser here raises :class:`FormatError` only.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

from flight.errors import FormatError
from flight.idf import spec as S
from flight.rice import RiceDecodeError, rice_decode, rice_encode

KIND_IDF, KIND_RICE, KIND_BAYER = 2, 3, 4
HEADER_BYTES = 8
CHUNK_BITS = 8  # bypass bits are coded in chunks of at most this many bits (uniform tables 1..CHUNK_BITS)
RICE_BLOCK = 32
_FIELD_BITS = S.BETA_BITS + S.ALPHA_BITS


def kind(payload: bytes) -> int:
    """The payload kind (high nibble of byte 0), -1 for an empty payload."""
    return payload[0] >> 4 if payload else -1


@dataclass(frozen=True)
class IdfHeader:
    """The 8-byte header of a kind-2 payload: noise shift, per network set (alpha, beta), offset and top."""

    s: int
    alphas: np.ndarray  # int64 [N_NETSETS]
    betas: np.ndarray  # int64 [N_NETSETS]
    m: int
    top: int

    def pack(self) -> bytes:
        packed = 0
        for a, b in zip(self.alphas, self.betas, strict=True):
            packed = (packed << _FIELD_BITS) | (int(b) << S.ALPHA_BITS) | int(a)
        packed <<= 24 - _FIELD_BITS * S.N_NETSETS
        return bytes([(KIND_IDF << 4) | self.s]) + packed.to_bytes(3, "big") + struct.pack(">hh", self.m, self.top)

    @classmethod
    def parse(cls, payload: bytes, shape: tuple[int, int]) -> IdfHeader:
        """The header of a kind-2 payload for a tile of ``shape``; FormatError if it is impossible."""
        if len(payload) < HEADER_BYTES:
            raise FormatError("IDF tile payload shorter than its header")
        s = payload[0] & 15
        if s > S.S_MAX:
            raise FormatError(f"IDF tile has noise shift {s} > {S.S_MAX}")
        packed = int.from_bytes(payload[1:4], "big") >> (24 - _FIELD_BITS * S.N_NETSETS)
        m, top = struct.unpack(">hh", payload[4:HEADER_BYTES])
        fields = [(packed >> (_FIELD_BITS * (S.N_NETSETS - 1 - i))) & ((1 << _FIELD_BITS) - 1)
                  for i in range(S.N_NETSETS)]
        alphas = [f & ((1 << S.ALPHA_BITS) - 1) for f in fields]
        betas = [f >> S.ALPHA_BITS for f in fields]
        if max(alphas) > S.ALPHA_CONST:
            raise FormatError(f"IDF tile has mean blend {max(alphas)} > {S.ALPHA_CONST}")
        if shape[0] * shape[1] == 1 and len(payload) != HEADER_BYTES:
            raise FormatError("IDF 1x1 tile with trailing bytes")
        return cls(s, np.array(alphas), np.array(betas), m, top)


def pack_rice(tile: np.ndarray) -> bytes:
    """Kind-3 payload of a tile: RICE_1, block RICE_BLOCK, C order."""
    return bytes([KIND_RICE << 4]) + rice_encode(np.ascontiguousarray(tile), RICE_BLOCK)


def parse_rice(payload: bytes, shape: tuple[int, int], bitpix: int) -> np.ndarray:
    """Pixels (int64 ``[shape]``) of a kind-3 payload; FormatError if the stream is bad."""
    try:
        v = rice_decode(payload[1:], shape[0] * shape[1], bitpix // 8, RICE_BLOCK)
    except RiceDecodeError as exc:
        raise FormatError(f"IDF tile (RICE fallback): {exc}") from exc
    return v.astype(np.int64).reshape(shape)


def mosaic_planes(tile: np.ndarray) -> list[np.ndarray]:
    """The four 2x2 sub-lattices (0,0), (0,1), (1,0), (1,1) of a tile, in payload order."""
    return [tile[0::2, 0::2], tile[0::2, 1::2], tile[1::2, 0::2], tile[1::2, 1::2]]


def join_mosaic(parts: list[np.ndarray], shape: tuple[int, int]) -> np.ndarray:
    """Inverse of :func:`mosaic_planes` (int64 ``[shape]``)."""
    plane = np.empty(shape, np.int64)
    plane[0::2, 0::2], plane[0::2, 1::2], plane[1::2, 0::2], plane[1::2, 1::2] = parts
    return plane


def pack_mosaic(parts: list[bytes]) -> bytes:
    """Kind-4 payload from the four sub-lattice payloads."""
    return bytes([KIND_BAYER << 4]) + b"".join(struct.pack(">H", len(p)) + p for p in parts[:3]) + parts[3]


def parse_mosaic(payload: bytes, shape: tuple[int, int]) -> list[tuple[bytes, tuple[int, int]]]:
    """(payload, shape) of the four sub-lattices of a kind-4 payload; FormatError if it is malformed."""
    h, w = shape
    if h < 4 or w < 4:
        raise FormatError("IDF mosaic split of a tile smaller than 4x4")
    shapes = [((h + 1) // 2, (w + 1) // 2), ((h + 1) // 2, w // 2), (h // 2, (w + 1) // 2), (h // 2, w // 2)]
    parts, pos = [], 1
    for q in range(3):
        if pos + 2 > len(payload):
            raise FormatError("IDF mosaic payload truncated")
        (n,) = struct.unpack(">H", payload[pos:pos + 2])
        parts.append((payload[pos + 2:pos + 2 + n], shapes[q]))
        pos += 2 + n
    parts.append((payload[pos:], shapes[3]))
    for p, _ in parts:
        if kind(p) not in (KIND_IDF, KIND_RICE):
            raise FormatError("IDF mosaic payload with a bad part")
    return parts
