"""Checksums used on the link: CRC-16/IBM-3740 per packet, CRC-32 per tile, SHA-256/128 per frame.

Pixels are always hashed as big-endian bytes in C order, so the value does not depend on host byte order.
"""

from __future__ import annotations

import binascii
import hashlib
import zlib

import numpy as np


def crc16_ccsds(data: bytes | memoryview) -> int:
    """CRC-16/IBM-3740 (poly 0x1021, init 0xFFFF): the CCSDS packet error control; 0x29B1 on b'123456789'."""
    return binascii.crc_hqx(data, 0xFFFF)


def pixels_be(pixels: np.ndarray) -> bytes:
    """Stored pixels as big-endian bytes in C order (the form every checksum and the raw codec use)."""
    return np.ascontiguousarray(pixels).astype(pixels.dtype.newbyteorder(">"), copy=False).tobytes()


def tile_crc32(pixels: np.ndarray) -> int:
    """CRC-32 (ISO-HDLC, zlib) of a tile's stored pixels; names the tile that failed on the ground."""
    return zlib.crc32(pixels_be(pixels)) & 0xFFFFFFFF


def frame_digest(pixels: np.ndarray, identity: bytes = b"") -> bytes:
    """First 16 bytes of SHA-256 over ``identity`` then the stored pixels: what makes a frame 'verified'.

    ``identity`` (``FrameHeader.identity()``) binds the name, shape, BITPIX, scaling values and header cards to
    the pixels, so a verified product is right in its metadata as well as in every pixel.
    """
    h = hashlib.sha256(identity)
    h.update(pixels_be(pixels))
    return h.digest()[:16]
