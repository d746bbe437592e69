"""FITS products on the ground: the stored integers, axes and header cards exactly as the flight side read them.

The product is written byte by byte here rather than through astropy, because astropy re-renders cards: it
re-splits long strings over CONTINUE cards its own way and drops or moves BZERO/BSCALE when it writes stored
integers. The frame's cards (the source's 80-character card images, in order) go into the header unchanged,
after the structural cards this module rebuilds and before the status cards it adds (docs/formats.md, "Products").
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from flight.checksums import pixels_be
from ground.reassembly import VERIFIED, FrameResult
from tools.files import atomic_output

#: FITS 4.0, section 3.1: headers and data are written in blocks of 2880 bytes.
BLOCK = 2880


def product_name(result: FrameResult) -> str:
    """File name of a frame's product: ``<name>.fits`` when verified, ``<name>.<status>.fits`` otherwise."""
    return f"{result.name}.fits" if result.status == VERIFIED else f"{result.name}.{result.status}.fits"


def card(keyword: str, value: bool | int | str, comment: str = "") -> bytes:
    """One fixed-format 80-character card (FITS 4.0, section 4.2): logical and integer values right-justified
    to column 30, strings quoted from column 11 (at least 8 characters inside the quotes)."""
    if isinstance(value, bool):
        text = f"{'T' if value else 'F':>20s}"
    elif isinstance(value, int):
        text = f"{value:>20d}"
    else:
        text = f"{chr(39) + value.replace(chr(39), chr(39) * 2).ljust(8) + chr(39):20s}"
    image = f"{keyword:8s}= {text}" + (f" / {comment}" if comment else "")
    if len(image) > 80:
        raise ValueError(f"card {keyword} longer than 80 characters")
    return image.ljust(80).encode("ascii")


def _padded(data: bytes, fill: bytes) -> bytes:
    return data + fill * (-len(data) % BLOCK)


def status_cards(result: FrameResult) -> bytes:
    """The documented status cards the ground adds at the end of the product header: AFSTATUS, AFFRAME, and
    AFPLANE for one plane of a cube (its index along NAXISn..NAXIS3, as numpy indexes the cube)."""
    head = result.header
    out = card("AFSTATUS", result.status.upper(), "astroflight ground verification")
    out += card("AFFRAME", result.frame_id, "astroflight frame id")
    if head is not None and len(head.axes) > 2:
        where = np.unravel_index(head.plane, tuple(reversed(head.axes[2:])))
        out += card("AFPLANE", ",".join(str(int(i)) for i in where), "plane of the source cube")
    return out


def product_bytes(result: FrameResult) -> bytes:
    """The whole FITS file of a decoded frame (see :func:`write_product`); ``result`` must have header and pixels.

    Primary HDU: SIMPLE, BITPIX, NAXIS, NAXISn (the source's axes, or the plane's for one plane of a cube),
    EXTEND, the frame's cards unchanged, the status cards, END; then the stored pixels big-endian. A frame that is
    not verified also gets a ``MASK`` image extension (uint8, 1 where the pixel was decoded and its tile checked).
    """
    head = result.header
    if head is None or result.pixels is None:
        raise ValueError(f"frame {result.frame_id}: nothing decoded to write")
    axes = head.axes if len(head.axes) <= 2 else (head.cols, head.rows)
    header = card("SIMPLE", True, "conforms to FITS standard") + card("BITPIX", head.bitpix, "array data type")
    header += card("NAXIS", len(axes), "number of array dimensions")
    header += b"".join(card(f"NAXIS{k}", n) for k, n in enumerate(axes, 1))
    header += card("EXTEND", True)
    header += head.cards.encode("ascii", errors="replace") + status_cards(result) + b"END".ljust(80)
    parts = [_padded(header, b" "), _padded(pixels_be(result.pixels), b"\0")]
    if result.status != VERIFIED and result.mask is not None:
        mask = card("XTENSION", "IMAGE", "image extension") + card("BITPIX", 8) + card("NAXIS", 2)
        mask += card("NAXIS1", head.cols) + card("NAXIS2", head.rows) + card("PCOUNT", 0) + card("GCOUNT", 1)
        mask += card("EXTNAME", "MASK", "1 where the pixel was decoded and verified") + b"END".ljust(80)
        parts += [_padded(mask, b" "), _padded(result.mask.astype(np.uint8).tobytes(), b"\0")]
    return b"".join(parts)


def write_product(result: FrameResult, folder: str | Path) -> Path | None:
    """Write the frame as FITS (atomically); None when nothing was decoded (no header, no pixels).

    A frame that is not verified is written only under a name that says so (``.incomplete.fits`` or
    ``.corrupt.fits``), with ``AFSTATUS`` in its header and a ``MASK`` extension marking decoded pixels, so a
    partial frame can never be mistaken for a verified one.
    """
    if result.header is None or result.pixels is None:
        return None
    path = Path(folder) / product_name(result)
    data = product_bytes(result)
    with atomic_output(path) as fh:
        fh.write(data)
    return path
