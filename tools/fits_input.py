"""Read FITS files into frames of stored integers (the camera's hand-off to the flight software).

Ground-support code (``tools/``): a real camera hands the flight software arrays, not FITS files, so astropy
is imported here and by the simulator's frame sources, never by the onboard codecs. Every image HDU with integer pixels
(BITPIX 8, 16, 32) becomes one frame per 2-D plane; the stored integers are kept exactly (no BZERO/BSCALE
scaling), with the HDU's axes and its header cards as the file holds them (the raw 80-character card images in
order, CONTINUE and HIERARCH cards included; only the structural keywords the ground rebuilds are left out). Every
HDU that gives no frame is named with the reason (``FitsInput.skipped``).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from flight.container import MAX_CARDS
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


def split_cards(block: str) -> list[str]:
    """80-character card images of a header block, up to (not including) END; trailing padding dropped."""
    cards = []
    for pos in range(0, len(block) - len(block) % 80, 80):
        card = block[pos : pos + 80]
        if card[:8] == "END     ":
            break
        cards.append(card)
    return cards


def keep_cards(images: list[str]) -> str:
    """The card images without the structural keywords (rebuilt on the ground), each kept byte for byte.

    A CONTINUE card goes with the card it continues: kept when that card is kept, dropped with it otherwise.
    """
    kept = []
    keeping = True
    for image in images:
        keyword = image[:8].rstrip()
        if keyword != "CONTINUE":
            keeping = not _is_structural(keyword)
        if keeping:
            kept.append(image)
    return "".join(kept)


def header_cards(header) -> str:
    """Non-structural cards of an astropy header as 80-character card images (CONTINUE cards included).

    Used where the file's own header bytes are not at hand (tile-compressed HDUs, whose image header astropy
    rebuilds); :func:`read_fits` takes the file's bytes otherwise.
    """
    images = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for card in header.cards:
            # The card as the file had it (astropy would "fix" non-standard cards on rendering); a long string
            # card's image spans its CONTINUE cards.
            image = getattr(card, "_image", None) or card.image
            images += [image[pos : pos + 80].ljust(80) for pos in range(0, len(image), 80)]
    return keep_cards(images)


def _raw_header(fh, hdu) -> str:
    """The HDU's header exactly as the file holds it (ASCII; a non-ASCII byte becomes U+FFFD, one per byte)."""
    fh.seek(hdu._header_offset)
    return fh.read(hdu._data_offset - hdu._header_offset).decode("ascii", errors="replace")


def _scaling(header) -> tuple[float | None, float | None, int | None]:
    """BZERO, BSCALE, BLANK of ``header`` as the container's binary fields (None where the card is absent)."""
    bzero = header.get("BZERO")
    bscale = header.get("BSCALE")
    blank = header.get("BLANK")
    return (
        float(bzero) if bzero is not None else None,
        float(bscale) if bscale is not None else None,
        int(blank) if blank is not None else None,
    )


@dataclass
class FitsInput:
    """What one FITS file gives the flight software: its frames, and every HDU that gave none, with the reason."""

    path: Path
    frames: list[Frame]
    skipped: list[tuple[int, str]] = field(default_factory=list)  # (HDU index, reason)


def _skip_reason(hdu, fits) -> str | None:
    """Why ``hdu`` yields no frame, or None when it holds integer pixels the container carries."""
    if not isinstance(hdu, (fits.PrimaryHDU, fits.ImageHDU, fits.CompImageHDU)):
        return f"{type(hdu).__name__}: a table, not an image"
    header = hdu.header
    naxis = int(header.get("NAXIS", 0))
    if naxis == 0:
        return "header only (NAXIS = 0, no pixels)"
    bitpix = int(header.get("BITPIX", 0))
    if bitpix < 0:
        return f"floating-point pixels (BITPIX {bitpix}): lossless float support is not provided"
    if bitpix == 64:
        return "64-bit integers (BITPIX 64): the container carries 8-, 16- and 32-bit integers only"
    if bitpix not in BITPIX_DTYPES:
        return f"BITPIX {bitpix} is not a FITS image type"
    zero = [f"NAXIS{k}" for k in range(1, naxis + 1) if int(header.get(f"NAXIS{k}", 0)) == 0]
    if zero:
        return f"empty image ({zero[0]} = 0, no pixels)"
    return None


def read_fits(path: str | Path) -> FitsInput:
    """Every integer plane of every image HDU in ``path`` as a Frame, and every other HDU named with the reason.

    Raises InputError (one line) when the file is missing, not FITS, truncated, or has no integer image at all
    (the reasons of every HDU then follow in the message), or when an HDU's header exceeds the container's
    ``MAX_CARDS`` bytes of cards (docs/formats.md, "Limits").
    """
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
    found: list[tuple[int, object, str, np.ndarray]] = []
    skipped: list[tuple[int, str]] = []
    try:
        with warnings.catch_warnings(record=True) as caught, open(path, "rb") as raw:
            warnings.simplefilter("always")
            with fits.open(path, do_not_scale_image_data=True, memmap=False, lazy_load_hdus=False) as hdul:
                for index, hdu in enumerate(hdul):
                    why = _skip_reason(hdu, fits)
                    if why is None and (hdu.data is None or hdu.data.size == 0):
                        why = "no pixels"
                    if why is not None:
                        skipped.append((index, why))
                        continue
                    if isinstance(hdu, fits.CompImageHDU):
                        cards = header_cards(hdu.header)
                    else:
                        cards = keep_cards(split_cards(_raw_header(raw, hdu)))
                    if len(cards) > MAX_CARDS:
                        raise InputError(f"{path}: HDU {index} has {len(cards) // 80} header cards, more than the "
                                         f"container carries ({MAX_CARDS // 80})")
                    found.append((index, hdu.header.copy(), cards, np.array(hdu.data)))
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
        why = "; ".join(f"HDU {i}: {r}" for i, r in skipped) if skipped else "no HDU"
        raise InputError(f"{path}: no integer image to compress ({why})")
    return FitsInput(path=path, frames=_frames(path.stem, found), skipped=skipped)


def read_fits_frames(path: str | Path) -> list[Frame]:
    """The frames of :func:`read_fits` (HDUs without any are dropped; InputError if the file has none)."""
    return read_fits(path).frames


def _frames(stem: str, found: list) -> list[Frame]:
    frames: list[Frame] = []
    several_hdus = len(found) > 1
    for index, header, cards, data in found:
        bitpix = int(header["BITPIX"])
        dtype = BITPIX_DTYPES[bitpix]
        axes = tuple(int(header[f"NAXIS{k}"]) for k in range(1, int(header["NAXIS"]) + 1))
        view = data.reshape(1, -1) if data.ndim == 1 else data
        planes = view.reshape((-1,) + view.shape[-2:])
        base = f"{stem}_h{index}" if several_hdus else stem
        bzero, bscale, blank = _scaling(header)
        width = len(str(planes.shape[0] - 1))
        for k in range(planes.shape[0]):
            name = f"{base}_p{k:0{width}d}" if len(axes) > 2 else base
            frames.append(
                Frame(name=name, pixels=np.ascontiguousarray(planes[k].astype(dtype)), bitpix=bitpix,
                      bzero=bzero, bscale=bscale, blank=blank, cards=cards, axes=axes, plane=k)
            )
    return frames
