"""Re-create the small FITS crops in this folder from ../shared/data/fits (see README.md for origin and licence).

Stored integers are copied exactly (read with ``do_not_scale_image_data``; the file is written byte by byte, since
astropy drops BZERO when an HDU is built from stored integers), scaling cards (BZERO/BSCALE/BLANK) are kept, and the
header is cut down to the cards that say what the data is, plus a HISTORY card naming the source file and region.
Run from the repository root: ``python tests/data/make_crops.py``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from astropy.io import fits

HERE = Path(__file__).resolve().parent
SHARED = HERE.parents[2] / "shared" / "data" / "fits"

# output name: (source file, plane index in C order over leading axes, rows slice, cols slice)
CROPS = {
    "crop_saao1m-ste3_u16.fits": ("g04_saao1m-ste3_a8280271.fits", 0, (80, 176), (440, 536)),
    "crop_jwst-fgs_u16.fits": ("s03_jwst-fgs-guider2_acq1_raw.fits", 0, (32, 128), (16, 112)),
    "crop_hinode-sot-fg_i16.fits": ("x05_hinode-sot-fg_magnetogram.fits", 0, (270, 334), (650, 778)),
    "crop_stereo-hi2_i32.fits": ("x07_stereo-secchi-hi2.fits", 0, (80, 176), (160, 256)),
    "crop_chandra-acis_i32.fits": ("s04_chandra-acis_m101_binned.fits", 0, (48, 112), (48, 112)),
}
KEEP = ("BZERO", "BSCALE", "BLANK", "BUNIT", "TELESCOP", "INSTRUME", "DETECTOR", "OBSERVAT", "ORIGIN",
        "DATE-OBS", "EXPTIME", "EXPOSURE", "FILTER", "OBJECT")


def make(name: str, source: str, plane: int, rows: tuple[int, int], cols: tuple[int, int]) -> None:
    with fits.open(SHARED / source, do_not_scale_image_data=True) as hdul:
        hdu = hdul[0]
        data = hdu.data.reshape(-1, *hdu.data.shape[-2:])[plane]
        crop = np.ascontiguousarray(data[rows[0] : rows[1], cols[0] : cols[1]])
        header = fits.Header([("SIMPLE", True), ("BITPIX", hdu.header["BITPIX"]), ("NAXIS", 2),
                              ("NAXIS1", crop.shape[1]), ("NAXIS2", crop.shape[0])])
        for key in KEEP:
            if key in hdu.header:
                header[key] = (hdu.header[key], hdu.header.comments[key])
    region = f"rows {rows[0]}:{rows[1]} cols {cols[0]}:{cols[1]}"
    header["HISTORY"] = f"astroflight test crop of {source} plane {plane} {region}"
    data_bytes = crop.astype(crop.dtype.newbyteorder(">")).tobytes()
    data_bytes += bytes(-len(data_bytes) % 2880)
    (HERE / name).write_bytes(header.tostring(padding=True).encode("ascii") + data_bytes)
    with fits.open(HERE / name, do_not_scale_image_data=True) as check:  # stored integers and cards survived
        assert np.array_equal(check[0].data, crop) and check[0].data.dtype == crop.dtype
        for key in ("BZERO", "BSCALE", "BLANK"):
            assert check[0].header.get(key) == header.get(key), key


if __name__ == "__main__":
    for name, spec in CROPS.items():
        make(name, *spec)
        print(name)
