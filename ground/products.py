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
from flight.errors import FormatError
from ground.reassembly import VERIFIED, FrameResult
from tools.files import atomic_output

#: FITS 4.0, section 3.1: headers and data are written in blocks of 2880 bytes.
BLOCK = 2880


def status_suffix(result: FrameResult) -> str:
    """``.fits`` when verified, ``.<status>.fits`` otherwise."""
    return ".fits" if result.status == VERIFIED else f".{result.status}.fits"


def product_name(result: FrameResult) -> str:
    """File name of a frame's product: ``<name>.fits`` when verified, ``<name>.<status>.fits`` otherwise."""
    return result.name + status_suffix(result)


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


def padded(data: bytes, fill: bytes) -> bytes:
    """``data`` filled with ``fill`` to a whole number of 2880-byte FITS blocks."""
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
    parts = [padded(header, b" "), padded(pixels_be(result.pixels), b"\0")]
    if result.status != VERIFIED and result.mask is not None:
        mask = card("XTENSION", "IMAGE", "image extension") + card("BITPIX", 8) + card("NAXIS", 2)
        mask += card("NAXIS1", head.cols) + card("NAXIS2", head.rows) + card("PCOUNT", 0) + card("GCOUNT", 1)
        mask += card("EXTNAME", "MASK", "1 where the pixel was decoded and verified") + b"END".ljust(80)
        parts += [padded(mask, b" "), padded(result.mask.astype(np.uint8).tobytes(), b"\0")]
    return b"".join(parts)


def write_product(result: FrameResult, folder: str | Path, file_name: str | None = None) -> Path | None:
    """Write the frame as FITS (atomically); None when nothing was decoded (no header, no pixels).

    Raises FormatError when the cards or the file fail FITS verification, OSError when the file cannot be
    written; nothing is left under the product's name in either case.

    A frame that is not verified is written only under a name that says so (``.incomplete.fits`` or
    ``.corrupt.fits``), with ``AFSTATUS`` in its header and a ``MASK`` extension marking decoded pixels, so a
    partial frame can never be mistaken for a verified one. ``file_name`` (from ``ground.names.ProductNames``,
    unique in the run) replaces :func:`product_name`.
    """
    if result.header is None or result.pixels is None:
        return None
    path = Path(folder) / (file_name or product_name(result))
    data = product_bytes(result)
    with atomic_output(path) as fh:
        fh.write(data)
        fh.flush()
        check_read_back(fh.name, result)
    return path


def check_read_back(path: str, result: FrameResult, hdu: int = 0, what: str = "product",
                    compressed: bool = False) -> None:
    """FormatError unless astropy reads HDU ``hdu`` of the file at ``path`` back as the frame's stored pixels (any
    shape holding them in order, e.g. a 1-D image) and status: a product is never put in place if a reader would see
    other pixels. ``hdu`` 1 is the tile-compressed image of a ``.fits.fz`` product (``ground.fz``), which astropy
    decompresses (``compressed`` requires that it is one); ``what`` names the product in the message."""
    from astropy.io import fits

    try:
        with fits.open(path, do_not_scale_image_data=True, memmap=False) as hdul:
            data, status = hdul[hdu].data, hdul[hdu].header.get("AFSTATUS")
            same = ((not compressed or isinstance(hdul[hdu], fits.CompImageHDU)) and data is not None
                    and data.dtype.newbyteorder("=") == result.pixels.dtype.newbyteorder("=")
                    and data.size == result.pixels.size
                    and np.array_equal(data.reshape(result.pixels.shape), result.pixels))
    except Exception as exc:  # astropy raises several types on a file it cannot read
        raise FormatError(f"{what} does not read back as FITS: {exc}") from None
    if not same or status != result.status.upper():
        raise FormatError(f"{what} does not read back as the frame's pixels and status")
