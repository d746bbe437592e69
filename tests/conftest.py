"""Shared fixtures: where the real frames are, and small frames built from them."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

# Bounded example counts in CI; HYPOTHESIS_PROFILE=campaign for a long local run.
settings.register_profile("ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("campaign", max_examples=3000, deadline=None, suppress_health_check=list(HealthCheck))
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

REPO = Path(__file__).resolve().parents[1]
SHARED_FITS = REPO.parent / "shared" / "data" / "fits"
TEST_DATA = REPO / "tests" / "data"


def shared_fits_files(kind: str = "int") -> list[Path]:
    """The real frames in ../shared/data/fits ('int': integer images, 'float': float ones); [] when absent."""
    if not SHARED_FITS.is_dir():
        return []
    files = sorted(SHARED_FITS.glob("*.fits"))
    return [f for f in files if (f.name.startswith("f") == (kind == "float"))]


def repo_fits_files() -> list[Path]:
    """Small real crops shipped in the repo (tests/data/*.fits), so a fresh clone tests without ../shared."""
    return sorted(TEST_DATA.glob("*.fits"))


needs_shared = pytest.mark.skipif(not SHARED_FITS.is_dir(), reason="../shared/data/fits not present")


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20261125)
