"""Frame container v1: header round trip, tile grid, and bounds checked before anything is allocated."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from flight.codecs.raw import RawCodec
from flight.codecs.rice import RiceCodec
from flight.container import FrameHeader, pack_tile, unpack_tile
from flight.encoder import encode_frame
from flight.errors import FormatError
from flight.frame import Frame


def _header(**kw) -> FrameHeader:
    base = dict(frame_id=9, bitpix=16, rows=100, cols=37, tile_rows=16, tile_cols=10, codec_id=1,
                codec_params=struct.pack(">H", 32), model_hash=bytes(32), checksum=bytes(range(16)), bzero=32768.0,
                bscale=1.0, blank=None, name="g04_frame_p1", cards="OBJECT  = 'M31'".ljust(80))
    base.update(kw)
    return FrameHeader(**base)


def test_header_round_trip():
    h = _header()
    assert FrameHeader.unpack(h.pack()) == h
    h2 = _header(bzero=None, bscale=None, blank=-32768, codec_id=0, codec_params=b"")
    assert FrameHeader.unpack(h2.pack()) == h2


def test_tile_grid_covers_the_plane_once():
    h = _header()
    assert h.grid == (7, 4) and h.n_tiles == 28
    cover = np.zeros((h.rows, h.cols), int)
    for i in range(h.n_tiles):
        rs, cs = h.tile_slices(i)
        cover[rs, cs] += 1
    assert (cover == 1).all()
    assert h.tile_shape(27) == (100 - 96, 37 - 30)


@pytest.mark.parametrize(
    "field,value",
    [("rows", 1_000_000), ("cols", 1_000_000), ("tile_rows", 0), ("tile_rows", 101), ("bitpix", 64)],
)
def test_hostile_headers_are_rejected_before_allocation(field, value):
    raw = bytearray(_header().pack())
    offsets = {"bitpix": (9, ">b"), "rows": (10, ">I"), "cols": (14, ">I"), "tile_rows": (18, ">I")}
    off, fmt = offsets[field]
    struct.pack_into(fmt, raw, off, value)
    with pytest.raises(FormatError):
        FrameHeader.unpack(bytes(raw))


def test_truncated_or_padded_header_is_rejected():
    raw = _header().pack()
    for cut in (0, 5, 30, len(raw) - 1):
        with pytest.raises(FormatError):
            FrameHeader.unpack(raw[:cut])
    with pytest.raises(FormatError):
        FrameHeader.unpack(raw + b"\0")
    with pytest.raises(FormatError):
        FrameHeader.unpack(b"XFRM" + raw[4:])


def test_unsafe_names_are_rejected_on_the_ground():
    for name in ("../etc/passwd", ".hidden", "a/b"):
        with pytest.raises(FormatError):
            FrameHeader.unpack(_header(name=name).pack())


def test_tile_item_round_trip_and_bounds():
    assert unpack_tile(pack_tile(RawCodec.codec_id, 0xDEADBEEF, b"xyz")) == (0, 0xDEADBEEF, b"xyz")
    with pytest.raises(FormatError):
        unpack_tile(b"\0\0")
    with pytest.raises(FormatError):
        unpack_tile(bytes([7, 0, 0, 0, 0]))


def test_expanding_tiles_escape_to_raw(rng):
    noise = rng.integers(-32768, 32767, (8, 64), endpoint=True).astype(np.int16)
    enc = encode_frame(Frame("noise", noise, 16), RiceCodec(), (8, 64))
    codec_id, _, payload = unpack_tile(enc.tiles[0])
    assert codec_id == RawCodec.codec_id and len(payload) == noise.nbytes and enc.escaped_tiles == 1


def test_raw_codec_is_big_endian_c_order():
    tile = np.array([[1, -2], [3, 4]], np.int16)
    assert RawCodec().encode_tile(tile) == b"\x00\x01\xff\xfe\x00\x03\x00\x04"
    assert (RawCodec().decode_tile(RawCodec().encode_tile(tile), (2, 2), 16) == tile).all()
