"""Orbit geometry cross-checks against the mission numbers in DESIGN.md (skyfield + SGP4, offline)."""

from __future__ import annotations

import pytest

from sim import cache
from sim.scenario import load_scenario
from sim.world.orbit import Contact, Geometry, compute_geometry, merge_contacts

DAYS = 30


@pytest.fixture(scope="module")
def leo30():
    return compute_geometry(load_scenario("leo"), DAYS * 86400.0, use_cache=False)


def test_leo_irvine_passes_and_minutes_per_day(leo30):
    passes = [p for p in leo30.passes if p.station == "Irvine"]
    per_day = len(passes) / DAYS
    minutes = sum(p.duration for p in passes) / 60.0 / DAYS
    assert per_day == pytest.approx(3.1, rel=0.10)
    assert minutes == pytest.approx(18.0, rel=0.10)
    assert all(p.max_elevation_deg >= 10.0 for p in passes)


def test_leo_eclipse_fraction_at_beta_zero(leo30):
    # A noon/midnight node at the equinox: beta ~ 0, so the cylindrical shadow covers asin(R/(R+h)) of the orbit.
    assert leo30.eclipse_fraction() == pytest.approx(0.375, abs=0.01)
    durations = [e - s for s, e in leo30.eclipses[1:-1]]
    assert min(durations) > 30 * 60 and max(durations) < 37 * 60
    assert leo30.in_eclipse(leo30.eclipses[3][0] + 1.0) and not leo30.in_eclipse(leo30.eclipses[3][1] + 1.0)


def test_svalbard_sees_a_polar_orbit_most_revolutions():
    geo = compute_geometry(load_scenario("leo-svalbard"), 7 * 86400.0, use_cache=False)
    sval = [p for p in geo.passes if p.station == "Svalbard"]
    assert len(sval) / 7 == pytest.approx(10.9, rel=0.10)
    assert sum(p.duration for p in sval) / 60 / 7 == pytest.approx(73.0, rel=0.10)
    assert len(geo.contacts) <= len(geo.passes)


def test_l2_schedule_and_no_eclipse():
    geo = compute_geometry(load_scenario("l2"), 2.5 * 86400.0)
    assert [(c.start / 3600, c.end / 3600) for c in geo.contacts] == [(2, 6), (14, 18), (26, 30), (38, 42),
                                                                       (50, 54)]
    assert geo.eclipses == []


def test_merge_contacts_joins_overlaps():
    merged = merge_contacts([Contact(0, 10, "A"), Contact(5, 20, "B"), Contact(30, 40, "A")])
    assert [(c.start, c.end, c.station) for c in merged] == [(0, 20, "A+B"), (30, 40, "A")]


def test_geometry_is_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("ASTROFLIGHT_CACHE", str(tmp_path))
    scenario = load_scenario("iss")
    first = compute_geometry(scenario, 86400.0)
    assert list((tmp_path / "geometry").glob("*.json"))
    again = compute_geometry(scenario, 86400.0)
    assert again.passes == first.passes and again.eclipses == first.eclipses
    assert cache.load("geometry", {"nothing": 1}) is None


def test_clip_cuts_windows():
    geo = Geometry(100.0, [Contact(10, 50, "A"), Contact(90, 120, "A")], [Contact(10, 50, "A")], [(80.0, 120.0)])
    cut = geo.clip(95.0)
    assert cut.passes[-1].end == 95.0 and cut.eclipses == [(80.0, 95.0)]
