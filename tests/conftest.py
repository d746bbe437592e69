"""Shared fixtures and the hypothesis profiles. Paths to test data: ``tests/shared_data.py``."""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

# Bounded example counts in CI, and the same examples on every run (derandomize): a CI result never depends on the
# draw. HYPOTHESIS_PROFILE=campaign for a long random local run.
settings.register_profile("ci", max_examples=60, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("campaign", max_examples=3000, deadline=None, suppress_health_check=list(HealthCheck))
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20261125)
