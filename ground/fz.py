"""Archive products: a verified frame as a standard tile-compressed FITS file (``<name>.fits.fz``), RICE_1.

The layout is the FITS tiled image compression convention (FITS 4.0 standard, section 10; Pence et al. 2010), as
``fpack -r`` writes it (checked with cfitsio's fpack 4.x, ``fitsverify`` and astropy's ``CompImageHDU``):

- primary HDU, header only: SIMPLE = T, BITPIX = 8, NAXIS = 0, EXTEND = T;
- a BINTABLE with one row per tile and one column ``COMPRESSED_DATA`` of format ``1PB(max)`` (a heap descriptor:
  big-endian int32 byte count, int32 heap offset), the tiles' RICE_1 bytes in the heap, tiles in the order of
  the tile grid (ZTILE1 direction fastest); header: ZIMAGE = T, ZTILEn, ZCMPTYPE = 'RICE_1', ZNAME1 =
  'BLOCKSIZE' / ZVAL1, ZNAME2 = 'BYTEPIX' / ZVAL2, ZSIMPLE, ZBITPIX, ZNAXIS, ZNAXISn, ZEXTEND, then the frame's
  cards unchanged (BZERO, BSCALE and BLANK stay ordinary cards, as fpack leaves them for integer images), the
  status cards of ``ground.products``, END.

A rice frame's tiles go into the heap exactly as downlinked (our RICE_1 payload is cfitsio's byte stream for the
tile's pixels in C order, and the convention's tiles are the frame's tiles, edge tiles smaller), whatever its tile
shape; only tiles the flight side raw-escaped are coded here. Raw and idf frames are coded here with
``flight.rice`` in one-row tiles (ZTILE1 = NAXIS1, fpack's default), block size 32. The file is read back with
astropy before it is put in place.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from flight.codecs.rice import RiceCodec
from flight.errors import FormatError
from flight.rice import rice_encode, rice_encode_tiles
from ground.products import BLOCK, card, check_read_back, padded, status_cards
from ground.reassembly import VERIFIED, FrameResult
from tools.files import atomic_output

FZ_SUFFIX = ".fits.fz"
#: fpack's default RICE_1 block size (cfitsio, fits_set_compression_type defaults), used when coding here.
BLOCKSIZE = 32
#: A 1PB descriptor holds a signed 32-bit heap offset (FITS 4.0, section 7.3.5); larger heaps would need 1QB.
MAX_HEAP = 2**31 - 1
#: Keywords the compressed HDU's header writes itself (FITS 4.0 sections 7.2, 7.3 and 10): a frame carrying one
#: cannot be written as .fits.fz without changing what a reader sees.
_FZ_RESERVED = re.compile(
    r"(TFIELDS|THEAP|T(TYPE|FORM|UNIT|SCAL|ZERO|NULL|DISP|DIM)1|ZIMAGE|ZCMPTYPE|ZBITPIX|ZNAXIS\d*|ZTILE\d+"
    r"|ZNAME\d+|ZVAL\d+|ZMASKCMP|ZSIMPLE|ZTENSION|ZEXTEND|ZBLOCKED|ZPCOUNT|ZGCOUNT|ZHECKSUM|ZDATASUM|ZQUANTIZ"
    r"|ZDITHER0|ZSCALE|ZZERO|ZBLANK)")


@dataclass
class FzTiles:
    """The RICE_1 tiles of one frame: ``payloads[t]`` for tile t (row-major over the grid), the tile shape
    (rows, cols), the block size, and how many payloads are the downlinked bytes (the rest coded here)."""

    payloads: list[bytes]
    tile_shape: tuple[int, int]
    blocksize: int
    downlinked: int


def fz_tiles(result: FrameResult, downlinked: dict[int, tuple[int, bytes]]) -> FzTiles:
    """The heap tiles of a decoded frame; ``downlinked`` is tile index -> (tile codec id, payload) as received
    (``Reassembler.tile_payloads``). A rice frame keeps its grid and its payloads; other frames are coded here."""
    head, pixels = result.header, result.pixels
    if head is None or pixels is None:
        raise ValueError(f"frame {result.frame_id}: nothing decoded to write")
    if head.codec_id == RiceCodec.codec_id:
        blocksize = RiceCodec.from_header(head.codec_params).blocksize
        payloads, kept = [], 0
        for t in range(head.n_tiles):
            got = downlinked.get(t)
            if got is not None and got[0] == RiceCodec.codec_id:
                payloads.append(got[1])
                kept += 1
            else:  # raw-escaped on board (coding would have expanded it): RICE_1 here
                rs, cs = head.tile_slices(t)
                payloads.append(rice_encode(pixels[rs, cs], blocksize))
        return FzTiles(payloads, (head.tile_rows, head.tile_cols), blocksize, kept)
    return FzTiles(rice_encode_tiles(pixels, None, BLOCKSIZE), (1, head.cols), BLOCKSIZE, 0)


def fz_card_problem(cards: str) -> str:
    """The first card (1-based) whose keyword the compressed header writes itself, as a sentence; "" if none."""
    for start in range(0, len(cards), 80):
        keyword = cards[start : start + 8].rstrip().upper()
        if _FZ_RESERVED.fullmatch(keyword):
            return f"header card {start // 80 + 1}: keyword {keyword} is one the tile-compressed header writes"
    return ""


def fz_bytes(result: FrameResult, tiles: FzTiles) -> bytes:
    """The whole ``.fits.fz`` file of a decoded frame with the given tiles (layout in the module docstring).

    Raises FormatError when a card clashes with the compressed header's own keywords or the heap exceeds 2 GiB.
    """
    head = result.header
    if head is None:
        raise ValueError(f"frame {result.frame_id}: nothing decoded to write")
    problem = fz_card_problem(head.cards)
    if problem:
        raise FormatError(problem)
    lengths = np.array([len(p) for p in tiles.payloads], dtype=np.int64)
    heap = b"".join(tiles.payloads)
    if len(heap) > MAX_HEAP:
        raise FormatError(f"{len(heap)} bytes of tiles exceed the 1PB heap limit of {MAX_HEAP}")
    descriptors = np.empty((lengths.size, 2), dtype=">i4")
    descriptors[:, 0] = lengths
    descriptors[:, 1] = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    axes = head.axes if len(head.axes) <= 2 else (head.cols, head.rows)
    trows, tcols = tiles.tile_shape
    primary = card("SIMPLE", True, "conforms to FITS standard") + card("BITPIX", 8) + card("NAXIS", 0)
    primary += card("EXTEND", True) + b"END".ljust(80)
    ext = card("XTENSION", "BINTABLE", "binary table extension") + card("BITPIX", 8) + card("NAXIS", 2)
    ext += card("NAXIS1", 8, "width of table in bytes") + card("NAXIS2", lengths.size, "number of tiles")
    ext += card("PCOUNT", len(heap), "size of the heap") + card("GCOUNT", 1) + card("TFIELDS", 1)
    ext += card("TTYPE1", "COMPRESSED_DATA") + card("TFORM1", f"1PB({int(lengths.max())})")
    ext += card("ZIMAGE", True, "extension contains compressed image")
    ext += card("ZTILE1", tcols, "size of tiles to be compressed")
    if len(axes) == 2:
        ext += card("ZTILE2", trows, "size of tiles to be compressed")
    ext += card("ZCMPTYPE", "RICE_1", "compression algorithm")
    ext += card("ZNAME1", "BLOCKSIZE", "compression block size") + card("ZVAL1", tiles.blocksize, "pixels per block")
    ext += card("ZNAME2", "BYTEPIX", "bytes per pixel") + card("ZVAL2", abs(head.bitpix) // 8, "bytes per pixel")
    if not any(head.cards[k : k + 8] == "EXTNAME " for k in range(0, len(head.cards), 80)):
        ext += card("EXTNAME", "COMPRESSED_IMAGE")
    ext += card("ZSIMPLE", True, "conforms to FITS standard") + card("ZBITPIX", head.bitpix, "array data type")
    ext += card("ZNAXIS", len(axes), "number of array dimensions")
    ext += b"".join(card(f"ZNAXIS{k}", n) for k, n in enumerate(axes, 1)) + card("ZEXTEND", True)
    ext += head.cards.encode("ascii", errors="replace") + status_cards(result) + b"END".ljust(80)
    out = [padded(primary, b" "), padded(ext, b" "), padded(descriptors.tobytes() + heap, b"\0")]
    data = b"".join(out)
    assert len(data) % BLOCK == 0
    return data


def write_fz_product(result: FrameResult, downlinked: dict[int, tuple[int, bytes]], folder: str | Path,
                     file_name: str) -> tuple[Path, FzTiles]:
    """Write a verified frame as ``folder/file_name`` (a ``.fits.fz``) atomically; the path and its tiles.

    Raises ValueError for a frame that is not verified, FormatError when it cannot be written as .fits.fz (a
    clashing card, a heap over 2 GiB) or does not read back (astropy) as the frame's pixels and status, OSError
    when the file cannot be written; nothing is left under the name in any of these cases.
    """
    if result.status != VERIFIED or result.pixels is None:
        raise ValueError(f"frame {result.frame_id}: only verified frames are written as .fits.fz")
    tiles = fz_tiles(result, downlinked)
    data = fz_bytes(result, tiles)
    path = Path(folder) / file_name
    with atomic_output(path) as fh:
        fh.write(data)
        fh.flush()
        check_read_back(fh.name, result, hdu=1, what=".fits.fz product", compressed=True)
    return path, tiles
