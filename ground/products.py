"""FITS products on the ground: the stored integers and scaling cards exactly as the flight side read them."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from flight.errors import FormatError
from ground.cards import check_cards
from ground.reassembly import VERIFIED, FrameResult
from tools.files import atomic_output


def status_suffix(result: FrameResult) -> str:
    """``.fits`` when verified, ``.<status>.fits`` otherwise."""
    return ".fits" if result.status == VERIFIED else f".{result.status}.fits"


def product_name(result: FrameResult) -> str:
    """File name of a frame's product: ``<name>.fits`` when verified, ``<name>.<status>.fits`` otherwise."""
    return result.name + status_suffix(result)


def write_product(result: FrameResult, folder: str | Path, file_name: str | None = None) -> Path | None:
    """Write the frame as FITS (atomically); None when nothing was decoded (no header, no pixels).

    Raises FormatError when the cards or the file fail FITS verification, OSError when the file cannot be
    written; nothing is left under the product's name in either case.

    A frame that is not verified is written only under a name that says so (``.incomplete.fits`` or
    ``.corrupt.fits``), with ``AFSTATUS`` in its header and a ``MASK`` extension marking decoded pixels, so a
    partial frame can never be mistaken for a verified one. ``file_name`` (from ``ground.names.ProductNames``,
    unique in the run) replaces :func:`product_name`.
    """
    from astropy.io import fits

    if result.header is None or result.pixels is None:
        return None
    head = result.header
    hdu = fits.PrimaryHDU(data=result.pixels, do_not_scale_image_data=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cards = check_cards(head.cards)  # FormatError for cards the product could not hold as sent
        for card in cards.cards:
            if card.keyword in ("BZERO", "BSCALE", "BLANK"):
                continue
            hdu.header.append(card, end=True)
        # Scaling cards from the binary fields, which the frame checksum's producer also wrote.
        if head.bzero is not None:
            hdu.header["BZERO"] = _exact(cards, "BZERO", head.bzero)
        if head.bscale is not None:
            hdu.header["BSCALE"] = _exact(cards, "BSCALE", head.bscale)
        if head.blank is not None:
            hdu.header["BLANK"] = head.blank
        hdu.header["AFSTATUS"] = (result.status.upper(), "astroflight ground verification")
        hdu.header["AFFRAME"] = (result.frame_id, "astroflight frame id")
        hdus = [hdu]
        if result.status != VERIFIED and result.mask is not None:
            hdus.append(fits.ImageHDU(data=result.mask.astype(np.uint8), name="MASK"))
        path = Path(folder) / (file_name or product_name(result))
        with atomic_output(path) as fh:
            # output_verify="exception" would refuse real headers with non-standard cards (GAIN.SPE = 4, X = NAN
            # in ../shared/data/fits) that the product must keep as captured; the written file is read back instead.
            fits.HDUList(hdus).writeto(fh, output_verify="ignore")
            fh.flush()
            _check_read_back(fh.name, result)
    return path


def _check_read_back(path: str, result: FrameResult) -> None:
    """FormatError unless the file at ``path`` reads back as the frame's stored pixels, shape and status."""
    from astropy.io import fits

    try:
        with fits.open(path, do_not_scale_image_data=True, memmap=False) as hdul:
            data, status = hdul[0].data, hdul[0].header.get("AFSTATUS")
            same = (data is not None and data.dtype.newbyteorder("=") == result.pixels.dtype.newbyteorder("=")
                    and data.shape == result.pixels.shape and np.array_equal(data, result.pixels))
    except Exception as exc:  # astropy raises several types on a file it cannot read
        raise FormatError(f"product does not read back as FITS: {exc}") from None
    if not same or status != result.status.upper():
        raise FormatError("product does not read back as the frame's pixels and status")


def _exact(cards, key: str, value: float):
    """Keep an integer-looking scaling value an integer card (BZERO = 32768, not 32768.0), as the source had it."""
    original = cards.get(key)
    if isinstance(original, int) and float(original) == value:
        return original
    if value == int(value) and abs(value) < 2**53 and original is None:
        return int(value)
    return value
