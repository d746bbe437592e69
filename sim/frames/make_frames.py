"""Rebuild the sample frames in this folder from ../shared/data/fits (run once; the outputs are committed).

Each output keeps the source's stored integers exactly (no BZERO/BSCALE scaling), its scaling cards and its
other header cards, and gains HISTORY cards naming the source file and the crop. Usage:

    python sim/frames/make_frames.py [SHARED_FITS_DIR]
"""

from __future__ import annotations

import sys
from pathlib import Path

from astropy.io import fits

HERE = Path(__file__).resolve().parent
DEFAULT_SOURCE = HERE.parents[2] / "shared" / "data" / "fits"

#: output name -> (source file, (row0, row1, col0, col1) or None for the whole plane)
CROPS: dict[str, tuple[str, tuple[int, int, int, int] | None]] = {
    "saao1m_ste3_raw_512.fits": ("g04_saao1m-ste3_a8280271.fits", (4, 516, 12, 524)),
    "ctio4m_mosaic2_amp_400.fits": ("g09_ctio4m-mosaic2_rawamp_crop_tnx.fits", None),
    "panoptes_dslr_bayer_512.fits": ("g12_panoptes-dslr_bayer_crop.fits", (94, 606, 94, 606)),
    "hinode_xrt_512.fits": ("x03_hinode-xrt_512.fits", None),
}


def make(source_dir: Path) -> None:
    for out_name, (src_name, box) in CROPS.items():
        # Edit the opened HDU in place: a fresh PrimaryHDU would drop BZERO from unscaled int16 data.
        with fits.open(source_dir / src_name, do_not_scale_image_data=True) as hdul:
            hdu = hdul[0]
            if box is not None:
                hdu.data = hdu.data[box[0] : box[1], box[2] : box[3]].copy()
            hdu.header.add_history(f"astroflight sample frame from {src_name}")
            if box is not None:
                hdu.header.add_history(f"cropped to rows {box[0]}:{box[1]}, cols {box[2]}:{box[3]} (0-based)")
            hdul.writeto(HERE / out_name, overwrite=True, output_verify="silentfix")
            print(f"{out_name}: {hdu.data.shape} from {src_name}")


if __name__ == "__main__":
    make(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_SOURCE)
