"""FITS products on the ground: the stored integers and scaling cards exactly as the flight side read them."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from ground.reassembly import VERIFIED, FrameResult
from tools.files import atomic_output


def product_name(result: FrameResult) -> str:
    """File name of a frame's product: ``<name>.fits`` when verified, ``<name>.<status>.fits`` otherwise."""
    return f"{result.name}.fits" if result.status == VERIFIED else f"{result.name}.{result.status}.fits"


def write_product(result: FrameResult, folder: str | Path) -> Path | None:
    """Write the frame as FITS (atomically); None when nothing was decoded (no header, no pixels).

    A frame that is not verified is written only under a name that says so (``.incomplete.fits`` or
    ``.corrupt.fits``), with ``AFSTATUS`` in its header and a ``MASK`` extension marking decoded pixels, so a
    partial frame can never be mistaken for a verified one.
    """
    from astropy.io import fits

    if result.header is None or result.pixels is None:
        return None
    head = result.header
    hdu = fits.PrimaryHDU(data=result.pixels, do_not_scale_image_data=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cards = fits.Header.fromstring(head.cards) if head.cards else fits.Header()
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
        path = Path(folder) / product_name(result)
        with atomic_output(path) as fh:
            try:
                fits.HDUList(hdus).writeto(fh, output_verify="ignore")
            except Exception:
                fh.seek(0)
                fh.truncate()
                fits.HDUList(hdus).writeto(fh, output_verify="silentfix")
    return path


def _exact(cards, key: str, value: float):
    """Keep an integer-looking scaling value an integer card (BZERO = 32768, not 32768.0), as the source had it."""
    original = cards.get(key)
    if isinstance(original, int) and float(original) == value:
        return original
    if value == int(value) and abs(value) < 2**53 and original is None:
        return int(value)
    return value
