"""Read FITS files into frames of stored integers (the camera's hand-off to the flight software).

Ground-support code (``tools/``): a real camera hands the flight software arrays, not FITS files, so astropy
is imported here and by the simulator's frame sources, never by the onboard codecs. Every image HDU with integer pixels
(BITPIX 8, 16, 32) becomes one frame per 2-D plane; the stored integers are kept exactly (no BZERO/BSCALE
scaling), with the scaling cards and the other header cards the ground needs to rebuild the file.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from flight.errors import InputError
from flight.frame import BITPIX_DTYPES, Frame

STRUCTURAL = {"SIMPLE", "XTENSION", "BITPIX", "EXTEND", "PCOUNT", "GCOUNT", "CHECKSUM", "DATASUM", "END",
              "ZIMAGE", "ZBITPIX", "ZCMPTYPE", "ZTENSION", "ZPCOUNT", "ZGCOUNT", "ZQUANTIZ", "ZDITHER0",
              "ZSIMPLE", "ZEXTEND", "ZBLOCKED", "ZHECKSUM", "ZDATASUM", "THEAP", "TFIELDS"}


def _is_structural(key: str) -> bool:
    if key in STRUCTURAL:
        return True
    for prefix in ("NAXIS", "ZNAXIS", "ZTILE", "ZNAME", "ZVAL", "TTYPE", "TFORM", "TUNIT", "TDIM"):
        if key.startswith(prefix) and (key[len(prefix):].isdigit() or key == prefix):
            return True
    return False


def header_cards(header) -> str:
    """The header as 80-character cards without structural keywords (they are rebuilt on the ground)."""
    kept = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for card in header.cards:
            if _is_structural(card.keyword):
                continue
            # Keep the card exactly as the file had it (astropy would "fix" non-standard cards on rendering).
            image = getattr(card, "_image", None) or card.image
            kept.append(image[:80].ljust(80))
    return "".join(kept)


def _scaling(header) -> tuple[float | None, float | None, int | None]:
    bzero = header.get("BZERO")
    bscale = header.get("BSCALE")
    blank = header.get("BLANK")
    return (
        float(bzero) if bzero is not None else None,
        float(bscale) if bscale is not None else None,
        int(blank) if blank is not None else None,
    )


def read_fits_frames(path: str | Path) -> list[Frame]:
    """Every integer 2-D plane of every image HDU in ``path`` as a Frame; InputError says why if there is none."""
    from astropy.io import fits

    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        raise InputError(f"{path}: is a directory, expected a FITS file")
    try:
        with open(path, "rb") as fh:
            magic = fh.read(9)
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    if magic != b"SIMPLE  =":
        raise InputError(f"{path}: not a FITS file (does not start with SIMPLE)")
    found: list[tuple[int, object, np.ndarray]] = []
    skipped: list[str] = []
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with fits.open(path, do_not_scale_image_data=True, memmap=False, lazy_load_hdus=False) as hdul:
                for index, hdu in enumerate(hdul):
                    if not isinstance(hdu, (fits.PrimaryHDU, fits.ImageHDU, fits.CompImageHDU)):
                        continue
                    if hdu.header.get("NAXIS", 0) == 0 and not isinstance(hdu, fits.CompImageHDU):
                        continue
                    bitpix = int(hdu.header.get("BITPIX", 0))
                    if bitpix < 0:
                        skipped.append(f"HDU {index} has floating-point pixels (BITPIX {bitpix})")
                        continue
                    if bitpix not in BITPIX_DTYPES:
                        skipped.append(f"HDU {index} has BITPIX {bitpix}")
                        continue
                    data = hdu.data
                    if data is None or data.size == 0:
                        continue
                    found.append((index, hdu.header.copy(), np.array(data)))
        for w in caught:
            if "truncated" in str(w.message).lower():
                raise InputError(f"{path}: truncated FITS file ({w.message})")
    except InputError:
        raise
    except (OSError, ValueError, TypeError, IndexError, KeyError) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if "reshape" in detail or "truncated" in detail.lower():
            raise InputError(f"{path}: truncated FITS file (the data are shorter than the header says)") from exc
        raise InputError(f"{path}: cannot read as FITS ({detail})") from exc
    if not found:
        why = "; ".join(skipped) if skipped else "no image data"
        raise InputError(f"{path}: no integer image to compress ({why}); lossless float support is not provided")
    return _frames(path.stem, found)


def _frames(stem: str, found: list) -> list[Frame]:
    frames: list[Frame] = []
    several_hdus = len(found) > 1
    for index, header, data in found:
        bitpix = int(header["BITPIX"])
        dtype = BITPIX_DTYPES[bitpix]
        if data.ndim == 1:
            data = data.reshape(1, -1)
        planes = data.reshape((-1,) + data.shape[-2:])
        lead = data.shape[:-2]
        base = f"{stem}_h{index}" if several_hdus else stem
        cards = header_cards(header)
        bzero, bscale, blank = _scaling(header)
        width = len(str(planes.shape[0] - 1))
        for k in range(planes.shape[0]):
            name = base
            plane_cards = cards
            if lead:
                name = f"{base}_p{k:0{width}d}"
                where = ",".join(str(i) for i in np.unravel_index(k, lead))
                plane_cards += f"AFPLANE = '{where}'".ljust(30)[:80].ljust(80)
            frames.append(
                Frame(name=name, pixels=np.ascontiguousarray(planes[k].astype(dtype)), bitpix=bitpix,
                      bzero=bzero, bscale=bscale, blank=blank, cards=plane_cards)
            )
    return frames
