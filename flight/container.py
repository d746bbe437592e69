"""Frame container, version 2: the frame header item, tile items and the tile grid (docs/formats.md).

This module is the one source of truth for these bytes: flight writes them, ground parses them with the same
functions. Every parser bounds what the wire claims before anything is allocated.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass

from flight.codecs.registry import CODEC_NAMES
from flight.errors import FormatError
from flight.frame import MAX_NAXIS, plane_shape, planes_of

MAGIC = b"AFRM"
#: 1: the first container (no axes; cards cut to 80 characters). 2: adds the source axes and plane index, and the
#: cards are the source's card images exactly (CONTINUE cards included). The ground reads version 2 only.
VERSION = 2

# Limits the ground enforces before it allocates (docs/formats.md, "Limits").
MAX_SIDE = 65536
MAX_PIXELS = 1 << 28
MAX_TILES = 1 << 20
MAX_NAME = 255
MAX_CARDS = 240_000_000  # 3,000,000 cards: under packets.MAX_ITEM_LENGTH (2^28) with room for the rest of item 0
MAX_AXIS = (1 << 31) - 1  # FITS NAXISn is a signed 32-bit integer in practice (cfitsio LONGLONG aside)
MAX_PARAMS = 1024
MAX_ITEM_OVERHEAD = 4096

_FIXED = struct.Struct(">4sBIbIIIIBH")  # magic .. codec parameter length
_SCALING = struct.Struct(">Bddq")
TILE_HEADER = struct.Struct(">BI")  # tile codec id, CRC-32 of the stored pixels


@dataclass(frozen=True)
class FrameHeader:
    """Item 0 of a frame: everything the ground needs to decode the tiles and rebuild the FITS file."""

    frame_id: int
    bitpix: int
    rows: int
    cols: int
    tile_rows: int
    tile_cols: int
    codec_id: int
    codec_params: bytes
    model_hash: bytes
    checksum: bytes
    bzero: float | None
    bscale: float | None
    blank: int | None
    name: str
    cards: str
    axes: tuple[int, ...] = ()
    plane: int = 0

    def __post_init__(self) -> None:
        if not self.axes:  # a plain 2-D plane
            object.__setattr__(self, "axes", (self.cols, self.rows))

    @property
    def bytepix(self) -> int:
        return abs(self.bitpix) // 8

    @property
    def grid(self) -> tuple[int, int]:
        """Tiles down and across."""
        return math.ceil(self.rows / self.tile_rows), math.ceil(self.cols / self.tile_cols)

    @property
    def n_tiles(self) -> int:
        g = self.grid
        return g[0] * g[1]

    def tile_slices(self, index: int) -> tuple[slice, slice]:
        """Row and column slices of tile ``index`` (row-major over the grid; edge tiles may be smaller)."""
        across = self.grid[1]
        r, c = divmod(index, across)
        r0, c0 = r * self.tile_rows, c * self.tile_cols
        return slice(r0, min(r0 + self.tile_rows, self.rows)), slice(c0, min(c0 + self.tile_cols, self.cols))

    def tile_shape(self, index: int) -> tuple[int, int]:
        rs, cs = self.tile_slices(index)
        return rs.stop - rs.start, cs.stop - cs.start

    def max_item_length(self, index: int) -> int:
        """Largest tile item the ground accepts for tile ``index`` (raw size x 2 + slack)."""
        h, w = self.tile_shape(index)
        return h * w * self.bytepix * 2 + MAX_ITEM_OVERHEAD

    def _axes_bytes(self) -> bytes:
        return struct.pack(f">H{len(self.axes)}II", len(self.axes), *self.axes, self.plane)

    def identity(self) -> bytes:
        """What the frame checksum covers besides the pixels: everything the ground writes into the product."""
        flags = (self.bzero is not None) | (self.bscale is not None) << 1 | (self.blank is not None) << 2
        name = self.name.encode("utf-8")
        cards = self.cards.encode("ascii", errors="replace")
        return b"".join([
            struct.pack(">bII", self.bitpix, self.rows, self.cols),
            _SCALING.pack(flags, self.bzero or 0.0, self.bscale if self.bscale is not None else 1.0, self.blank or 0),
            struct.pack(">H", len(name)), name, struct.pack(">I", len(cards)), cards, self._axes_bytes(),
        ])

    def pack(self) -> bytes:
        """Serialise as item 0 (docs/formats.md, "Item 0: frame header")."""
        name = self.name.encode("utf-8")
        cards = self.cards.encode("ascii", errors="replace")
        if len(name) > MAX_NAME:
            raise ValueError(f"frame name longer than {MAX_NAME} bytes: {self.name!r}")
        if len(cards) > MAX_CARDS or len(cards) % 80:
            raise ValueError("header cards too long for the frame header, or not whole 80-character cards")
        if not 1 <= len(self.axes) <= MAX_NAXIS or plane_shape(self.axes) != (self.rows, self.cols) \
                or not 0 <= self.plane < planes_of(self.axes):
            raise ValueError(f"axes {self.axes} / plane {self.plane} do not fit a {self.rows}x{self.cols} plane")
        if len(self.codec_params) > MAX_PARAMS:
            raise ValueError("codec parameters too long")
        if len(self.model_hash) != 32 or len(self.checksum) != 16:
            raise ValueError("model hash must be 32 bytes and checksum 16 bytes")
        flags = (self.bzero is not None) | (self.bscale is not None) << 1 | (self.blank is not None) << 2
        return b"".join(
            [
                _FIXED.pack(MAGIC, VERSION, self.frame_id, self.bitpix, self.rows, self.cols, self.tile_rows,
                            self.tile_cols, self.codec_id, len(self.codec_params)),
                self.codec_params,
                self.model_hash,
                self.checksum,
                _SCALING.pack(flags, self.bzero or 0.0, self.bscale if self.bscale is not None else 1.0,
                              self.blank or 0),
                struct.pack(">H", len(name)),
                name,
                struct.pack(">I", len(cards)),
                cards,
                self._axes_bytes(),
            ]
        )

    @classmethod
    def unpack(cls, data: bytes) -> FrameHeader:
        """Parse and bound-check item 0; raises FormatError naming the first field that is wrong."""
        view = memoryview(data)
        pos = 0

        def take(n: int) -> memoryview:
            nonlocal pos
            if pos + n > len(view):
                raise FormatError("frame header truncated")
            out = view[pos : pos + n]
            pos += n
            return out

        magic, version, frame_id, bitpix, rows, cols, trows, tcols, codec_id, plen = _FIXED.unpack(
            take(_FIXED.size)
        )
        if magic != MAGIC:
            raise FormatError("frame header: bad magic")
        if version != VERSION:
            raise FormatError(f"frame header: container version {version}; this ground reads version {VERSION} only")
        if bitpix not in (8, 16, 32):
            raise FormatError(f"frame header: BITPIX {bitpix} not supported")
        if not (1 <= rows <= MAX_SIDE and 1 <= cols <= MAX_SIDE) or rows * cols > MAX_PIXELS:
            raise FormatError(f"frame header: shape {rows}x{cols} out of bounds")
        if not (1 <= trows <= rows and 1 <= tcols <= cols):
            raise FormatError(f"frame header: tile {trows}x{tcols} out of bounds for {rows}x{cols}")
        if math.ceil(rows / trows) * math.ceil(cols / tcols) > MAX_TILES:
            raise FormatError("frame header: too many tiles")
        if codec_id not in CODEC_NAMES:
            raise FormatError(f"frame header: unknown codec id {codec_id}")
        if plen > MAX_PARAMS:
            raise FormatError("frame header: codec parameters too long")
        params = bytes(take(plen))
        model_hash = bytes(take(32))
        checksum = bytes(take(16))
        flags, bzero, bscale, blank = _SCALING.unpack(take(_SCALING.size))
        (nlen,) = struct.unpack(">H", take(2))
        if nlen > MAX_NAME:
            raise FormatError("frame header: name too long")
        try:
            name = bytes(take(nlen)).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise FormatError("frame header: name is not UTF-8") from exc
        (clen,) = struct.unpack(">I", take(4))
        if clen > MAX_CARDS or clen % 80:
            raise FormatError("frame header: cards too long or not whole 80-character cards")
        cards = bytes(take(clen)).decode("ascii", errors="replace")
        (naxis,) = struct.unpack(">H", take(2))
        if not 1 <= naxis <= MAX_NAXIS:
            raise FormatError(f"frame header: NAXIS {naxis} out of bounds (1..{MAX_NAXIS})")
        axes = struct.unpack(f">{naxis}I", take(4 * naxis))
        (plane,) = struct.unpack(">I", take(4))
        if not all(1 <= a <= MAX_AXIS for a in axes) or plane_shape(axes) != (rows, cols):
            raise FormatError(f"frame header: axes {list(axes[:8])} do not hold a {rows}x{cols} plane")
        if plane >= planes_of(axes):
            raise FormatError(f"frame header: plane {plane} beyond the {planes_of(axes)} planes of the axes")
        if pos != len(view):
            raise FormatError("frame header: trailing bytes")
        if not _safe_name(name):
            raise FormatError(f"frame header: unsafe frame name {name!r}")
        return cls(
            frame_id=frame_id, bitpix=bitpix, rows=rows, cols=cols, tile_rows=trows, tile_cols=tcols,
            codec_id=codec_id, codec_params=params, model_hash=model_hash, checksum=checksum,
            bzero=bzero if flags & 1 else None, bscale=bscale if flags & 2 else None,
            blank=blank if flags & 4 else None, name=name, cards=cards, axes=axes, plane=plane,
        )


def _safe_name(name: str) -> bool:
    """Names become file names on the ground: no path separators, no hidden files, printable only."""
    return bool(name) and "/" not in name and "\\" not in name and not name.startswith(".") and name.isprintable()


def pack_tile(codec_id: int, crc32: int, payload: bytes) -> bytes:
    """Tile item: codec id actually used (the frame's codec, or ``RawCodec.codec_id`` = 0 for the raw escape),
    CRC-32 of pixels, payload."""
    return TILE_HEADER.pack(codec_id, crc32) + payload


def unpack_tile(item: bytes) -> tuple[int, int, bytes]:
    """(codec id, CRC-32, payload) of a tile item; FormatError if it is too short or names an unknown codec."""
    if len(item) < TILE_HEADER.size:
        raise FormatError("tile item truncated")
    codec_id, crc = TILE_HEADER.unpack_from(item)
    if codec_id not in CODEC_NAMES:
        raise FormatError(f"tile codec id {codec_id} unknown")
    return codec_id, crc, item[TILE_HEADER.size :]
