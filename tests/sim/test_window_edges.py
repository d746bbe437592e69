"""Passes cut by the run's window: one under way at the start, one under way at the end, a window inside a pass.

The ``iss`` scenario is a TLE, so moving the start (``orbit.epoch``) moves the window, not the orbit. Its first
pass over Irvine (10 deg mask) from 2025-03-20 00:00 UTC runs 21373 s to 21772 s with a 87.5 deg culmination.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from sim.scenario import load_scenario
from sim.world.orbit import build_satellite, compute_geometry


def _elevation_deg(scenario, t_s: float) -> float:
    """Independent check: skyfield's topocentric elevation of the scenario's satellite at ``t_s`` after start."""
    from skyfield.api import EarthSatellite, load, wgs84

    ts = load.timescale(builtin=True)
    es = EarthSatellite.from_satrec(build_satellite(scenario.orbit, scenario.start), ts)
    st = scenario.stations[0]
    where = wgs84.latlon(st.lat_deg, st.lon_deg, elevation_m=st.alt_m)
    alt, _, _ = (es - where).at(ts.from_datetime(scenario.start + timedelta(seconds=t_s))).altaz()
    return float(alt.degrees)


@pytest.fixture(scope="module")
def first_pass():
    iss = load_scenario("iss")
    p = compute_geometry(iss, 86400.0, use_cache=False).passes[0]
    assert 21300 < p.start < 21450 and 21700 < p.end < 21850 and p.max_elevation_deg > 85
    return iss, p


def _starting_at(iss, t_s: float):
    start = iss.start + timedelta(seconds=t_s)
    return load_scenario("iss", {"orbit.epoch": start.isoformat().replace("+00:00", "Z")})


def test_window_starting_after_the_culmination(first_pass):
    iss, p = first_pass
    t = p.start + 0.75 * (p.end - p.start)
    s = _starting_at(iss, t)
    c = compute_geometry(s, 3600.0, use_cache=False).passes[0]
    assert c.start == 0.0 and c.end == pytest.approx(p.end - t, abs=1.0)
    # Descending: the highest point in the window is at its start (27 deg), not the mask (what it said before).
    assert c.max_elevation_deg == pytest.approx(_elevation_deg(s, 0.0), abs=0.01)
    assert 20 < c.max_elevation_deg < 35


def test_window_inside_one_pass_finds_it(first_pass):
    iss, p = first_pass
    s = _starting_at(iss, p.start + 0.25 * (p.end - p.start))
    passes = compute_geometry(s, 60.0, use_cache=False).passes  # no rise, culmination or set inside
    assert len(passes) == 1 and (passes[0].start, passes[0].end) == (0.0, 60.0)
    # Still rising toward the culmination: the window's highest point is its end.
    assert passes[0].max_elevation_deg == pytest.approx(_elevation_deg(s, 60.0), abs=0.01)
    assert passes[0].max_elevation_deg > _elevation_deg(s, 0.0) + 5


def test_window_ending_before_the_culmination(first_pass):
    iss, p = first_pass
    t = p.start + 0.25 * (p.end - p.start)
    c = compute_geometry(iss, t, use_cache=False).passes[-1]
    assert c.end == t and c.start == pytest.approx(p.start, abs=1.0)
    assert c.max_elevation_deg == pytest.approx(_elevation_deg(iss, t), abs=0.01)
    assert 20 < c.max_elevation_deg < 35
