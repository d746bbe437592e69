"""tools.encode checks the container's limits from the FITS headers before it allocates (issue 12, section 4).

Before: a 5 KB FITS file claiming 10^6 x 10^6 int16 pixels made numpy ask for 1.8 TiB (MemoryError traceback).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from flight.errors import InputError
from tools.fits_limits import check_fits_limits

REPO = Path(__file__).resolve().parents[2]


def _fits(path: Path, cards: list[str], data_blocks: int = 1, extra: bytes = b"") -> Path:
    header = "".join(c.ljust(80) for c in [*cards, "END"])
    header = header.ljust(-(-len(header) // 2880) * 2880)
    path.write_bytes(header.encode() + bytes(2880 * data_blocks) + extra)
    return path


def _primary(*axes: int, bitpix: int = 16) -> list[str]:
    cards = ["SIMPLE  =                    T", f"BITPIX  = {bitpix:20d}", f"NAXIS   = {len(axes):20d}"]
    return cards + [f"NAXIS{i}  = {n:20d}" for i, n in enumerate(axes, 1)]


def test_five_kilobytes_claiming_a_trillion_pixels_is_one_line_exit_2(tmp_path):
    src = _fits(tmp_path / "huge.fits", _primary(1_000_000, 1_000_000))
    assert src.stat().st_size == 5760
    out = tmp_path / "s.bin"
    proc = subprocess.run([sys.executable, "-m", "tools.encode", str(src), "--out", str(out)], capture_output=True,
                          text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and "1000000x1000000 pixels per plane" in proc.stderr
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["huge.fits"]


@pytest.mark.parametrize("axes, match", [
    ((70_000, 2), "2x70000 pixels per plane"),
    ((2, 65_537), "65537x2 pixels per plane"),
    ((40_000, 40_000), "40000x40000 pixels per plane"),  # each side fits, the product does not
    ((100, 100), "claims 20000 bytes of data but the file holds only 2880"),  # truncated
    ((10, 10, 100_000), "claims 20000000 bytes"),  # a cube of small planes, far more than the file holds
])
def test_limits_and_claims_beyond_the_file(tmp_path, axes, match):
    with pytest.raises(InputError, match=match):
        check_fits_limits(_fits(tmp_path / "x.fits", _primary(*axes)))


def test_a_hostile_second_hdu_is_found(tmp_path):
    good = tmp_path / "two.fits"
    fits.HDUList([fits.PrimaryHDU(np.zeros((4, 4), np.int16)), fits.ImageHDU(np.zeros((3, 3), np.int16))]).writeto(good)
    check_fits_limits(good)
    raw = good.read_bytes().replace(b"NAXIS1  =                    3", b"NAXIS1  =               999999")
    bad = tmp_path / "bad.fits"
    bad.write_bytes(raw)
    with pytest.raises(InputError, match="HDU 1 has 3x999999"):
        check_fits_limits(bad)


def test_real_files_pass(tmp_path):
    files = sorted((REPO / "tests" / "data").glob("*.fits"))
    assert files
    for f in files:
        check_fits_limits(f)
    check_fits_limits(tmp_path / "missing.fits")  # left to read_fits_frames, which names the problem
