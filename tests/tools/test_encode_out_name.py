"""``tools.encode --out x.fits.fz`` would write a packet stream under a FITS name: refused, one line, exit 2, nothing
written (issue 12, section 3)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.shared_data import REPO, repo_fits_files


@pytest.mark.parametrize("name", ["x.fits.fz", "x.fits", "X.FIT", "x.fz", "x.fts", "x.fits.gz"])
def test_fits_out_name_is_refused(tmp_path: Path, name: str) -> None:
    out = tmp_path / name
    proc = subprocess.run([sys.executable, "-m", "tools.encode", str(repo_fits_files()[0]), "--out", str(out)],
                          capture_output=True, text=True, cwd=REPO, check=False)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr == (f"python -m tools.encode: error: --out {out}: a FITS file name, but python -m "
                           "tools.encode writes a CCSDS packet stream; name it e.g. pass.bin (FITS products come "
                           "from python -m ground.decode STREAM --out DIR [--fz])\n")
    assert list(tmp_path.iterdir()) == []


def test_stream_name_with_fits_inside_is_accepted(tmp_path: Path) -> None:
    out = tmp_path / "m31.fits.bin"
    proc = subprocess.run([sys.executable, "-m", "tools.encode", str(repo_fits_files()[0]), "--out", str(out),
                           "--first-frame-id", "1"], capture_output=True, text=True, cwd=REPO, check=False)
    assert proc.returncode == 0, proc.stderr
    assert out.stat().st_size > 0
