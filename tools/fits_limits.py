"""The container's limits checked on a FITS file's headers before any pixel is read (``tools.encode``).

``astropy`` allocates what a header claims: a 5 KB file whose header says 10^6 x 10^6 pixels asks numpy for
1.8 TiB (a MemoryError traceback). :func:`check_fits_limits` walks the headers itself (2880-byte blocks of
80-character cards, FITS 4.0 sections 3 and 4) and raises InputError (one line, exit 2) when an image HDU breaks
``flight.container``'s limits (rows, cols <= MAX_SIDE, rows x cols <= MAX_PIXELS per plane), when its header is
longer than MAX_CARDS, or when it claims more pixel bytes than the file holds. Anything it cannot read is left to
``tools.fits_input.read_fits_frames``, which names the problem.
"""

from __future__ import annotations

import math
from pathlib import Path

from flight.container import MAX_CARDS, MAX_PIXELS, MAX_SIDE
from flight.errors import InputError

BLOCK = 2880  # FITS block (FITS 4.0, section 3.1)
CARD = 80
#: A tile-compressed image HDU may decompress to at most this many pixels (all its planes): the container's
#: per-plane limit, since the compressed size says nothing about what decompression allocates.
MAX_COMPRESSED_PIXELS = MAX_PIXELS


def _header(fh, path: Path, index: int) -> tuple[dict[str, str], int] | None:
    """(keyword -> raw value text, header bytes) of the next HDU, None at the end of the file."""
    cards: dict[str, str] = {}
    size = 0
    while True:
        block = fh.read(BLOCK)
        if not block:
            return None if size == 0 else ({}, -1)
        if len(block) < BLOCK:
            return ({}, -1)
        size += BLOCK
        if size > MAX_CARDS + BLOCK:
            raise InputError(f"{path}: header of HDU {index} is longer than the container's {MAX_CARDS} bytes")
        for start in range(0, BLOCK, CARD):
            card = block[start : start + CARD].decode("ascii", errors="replace")
            key = card[:8].strip()
            if key == "END":
                return cards, size
            if card[8:10] == "= ":
                cards.setdefault(key, card[10:].split("/")[0].strip())


def _int(cards: dict[str, str], key: str, default: int = 0) -> int:
    try:
        return int(cards.get(key, default))
    except ValueError:
        return default


def check_fits_limits(path: str | Path) -> None:
    """InputError (one line) when an image HDU of ``path`` breaks the container's limits or claims more pixel
    bytes than the file holds; returns quietly otherwise, or when the file is not readable FITS."""
    path = Path(path)
    try:
        fh = open(path, "rb")
        file_size = path.stat().st_size
    except OSError:
        return
    with fh:
        if fh.read(9) != b"SIMPLE  =":
            return
        fh.seek(0)
        index = 0
        while True:
            got = _header(fh, path, index)
            if got is None or got[1] < 0:
                return
            cards, _ = got
            bitpix, naxis = _int(cards, "BITPIX"), _int(cards, "NAXIS")
            axes = [_int(cards, f"NAXIS{i}") for i in range(1, naxis + 1)]
            pixels = math.prod(axes) if axes else 0
            data = abs(bitpix) // 8 * _int(cards, "GCOUNT", 1) * (_int(cards, "PCOUNT") + pixels)
            where = f"{path}: HDU {index}"
            compressed = cards.get("ZIMAGE") == "T"
            image = compressed or (naxis >= 1 and (index == 0 or cards.get("XTENSION", "").strip("' ") == "IMAGE"))
            if image and (bitpix > 0 or compressed):
                shape = axes
                if compressed:
                    shape = [_int(cards, f"ZNAXIS{i}") for i in range(1, _int(cards, "ZNAXIS") + 1)]
                    if math.prod(shape or [0]) > MAX_COMPRESSED_PIXELS:
                        raise InputError(f"{where} decompresses to {math.prod(shape)} pixels, more than the "
                                         f"{MAX_COMPRESSED_PIXELS} allowed")
                cols = shape[0] if shape else 0
                rows = shape[1] if len(shape) > 1 else 1
                if cols > MAX_SIDE or rows > MAX_SIDE or rows * cols > MAX_PIXELS:
                    raise InputError(f"{where} has {rows}x{cols} pixels per plane, beyond the container's limits "
                                     f"(rows, cols <= {MAX_SIDE}, rows x cols <= {MAX_PIXELS})")
            if data > file_size - fh.tell():
                raise InputError(f"{where} claims {data} bytes of data but the file holds only "
                                 f"{max(0, file_size - fh.tell())} more (truncated or hostile)")
            fh.seek(math.ceil(data / BLOCK) * BLOCK, 1)
            index += 1
