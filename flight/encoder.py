"""Encode one frame: tile it, code every tile independently, escape to raw where coding expands, add checksums."""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

from flight.checksums import frame_digest, tile_crc32
from flight.codecs.base import OpCounts, TileCodec
from flight.codecs.raw import RawCodec
from flight.codecs.rice import RiceCodec
from flight.container import FrameHeader, pack_tile
from flight.frame import Frame

RAW_ID = RawCodec.codec_id  # the container's per-tile escape


@dataclass
class EncodedFrame:
    """A coded frame ready to packetize: item 0 (header) and one item per tile."""

    frame_id: int
    name: str
    header: bytes
    tiles: list[bytes]
    raw_bytes: int
    encode_s: float
    codec: str
    shape: tuple[int, int]
    bitpix: int
    escaped_tiles: int = 0
    note: str = ""
    ops: OpCounts = field(default_factory=OpCounts)

    @property
    def coded_bytes(self) -> int:
        """Bytes of all items (header + tiles): what has to cross the link before packet overhead."""
        return len(self.header) + sum(len(t) for t in self.tiles)

    @property
    def ratio(self) -> float:
        return self.raw_bytes / self.coded_bytes if self.coded_bytes else 0.0

    @property
    def dtype(self) -> str:
        return {8: "uint8", 16: "int16", 32: "int32"}[self.bitpix]


def encode_frame(
    frame: Frame,
    codec: TileCodec,
    tile_shape: tuple[int, int] | None = None,
    frame_id: int = 0,
) -> EncodedFrame:
    """Code ``frame`` with ``codec`` tile by tile; each tile falls back to raw if coding would expand it.

    ``tile_shape`` (rows, cols) is clipped to the plane; None takes ``codec.default_tile_shape``. A codec that
    cannot take this BITPIX (IDF on 32-bit data) is replaced by RICE for the frame (on the requested codec's
    tiles), and the reason is recorded in ``note`` (never fail a frame onboard for want of a codec).
    """
    t0 = time.perf_counter()
    note = ""
    rows, cols = frame.pixels.shape
    if tile_shape is None:
        trows, tcols = codec.default_tile_shape(rows, cols)
    else:
        trows, tcols = min(tile_shape[0], rows), min(tile_shape[1], cols)
    if not codec.supports(frame.bitpix):
        note = f"{codec.name} does not support BITPIX {frame.bitpix}; frame coded with rice"
        codec = RiceCodec()
    header = FrameHeader(
        frame_id=frame_id & 0xFFFFFFFF, bitpix=frame.bitpix, rows=rows, cols=cols, tile_rows=trows,
        tile_cols=tcols, codec_id=codec.codec_id, codec_params=codec.params(), model_hash=codec.model_hash(),
        checksum=bytes(16), bzero=frame.bzero, bscale=frame.bscale, blank=frame.blank,
        name=frame.name, cards=frame.cards, axes=frame.axes, plane=frame.plane,
    )
    header = replace(header, checksum=frame_digest(frame.pixels, header.identity()))
    raw = RawCodec()
    views = [frame.pixels[header.tile_slices(i)] for i in range(header.n_tiles)]
    payloads = [b""] * len(views) if codec.codec_id == RAW_ID else codec.encode_tiles(views)
    tiles: list[bytes] = []
    escaped = 0
    for tile, payload in zip(views, payloads, strict=True):
        raw_size = tile.size * tile.dtype.itemsize
        if codec.codec_id == RAW_ID or len(payload) >= raw_size:
            escaped += codec.codec_id != RAW_ID
            item = pack_tile(RAW_ID, tile_crc32(tile), raw.encode_tile(tile))
        else:
            item = pack_tile(codec.codec_id, tile_crc32(tile), payload)
        tiles.append(item)
    return EncodedFrame(
        frame_id=header.frame_id, name=frame.name, header=header.pack(), tiles=tiles, raw_bytes=frame.raw_bytes,
        encode_s=time.perf_counter() - t0, codec=codec.name, shape=(rows, cols), bitpix=frame.bitpix,
        escaped_tiles=escaped, note=note, ops=codec.ops_per_pixel(),
    )
