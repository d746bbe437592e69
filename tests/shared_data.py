"""Where the test data lives: the repository, its small crops (tests/data) and the real frames of
``../shared/data/fits`` next to the repository (not part of a clone).

Set ``AF_SHARED_FITS=DIR`` to use another folder, e.g. ``AF_SHARED_FITS=/nonexistent`` to see what a fresh clone
runs: every test that needs those frames is then reported as skipped, with the reason, in pytest's ``-ra``
summary (never collected over an empty list, never passed without checking anything).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]  # tests/shared_data.py -> the repository
SHARED_FITS = Path(os.environ.get("AF_SHARED_FITS") or REPO.parent / "shared" / "data" / "fits")
SHARED_MISSING = f"{SHARED_FITS} not present (real frames of ../shared/data/fits; AF_SHARED_FITS overrides)"
TEST_DATA = REPO / "tests" / "data"


def shared_fits_files(kind: str = "int") -> list[Path]:
    """The real frames in SHARED_FITS ('int': integer images, 'float': float ones); [] when absent.

    Tests that need them are marked ``needs_shared``; a parametrization over them adds one skipped
    ``pytest.param`` with ``SHARED_MISSING`` as its reason when the list is empty (see tests/flight/test_rice.py).
    """
    if not SHARED_FITS.is_dir():
        return []
    files = sorted(SHARED_FITS.glob("*.fits"))
    return [f for f in files if (f.name.startswith("f") == (kind == "float"))]


def repo_fits_files() -> list[Path]:
    """Small real crops shipped in the repo (tests/data/*.fits), so a fresh clone tests without ../shared."""
    return sorted(TEST_DATA.glob("*.fits"))


needs_shared = pytest.mark.skipif(not shared_fits_files("int"), reason=SHARED_MISSING)
