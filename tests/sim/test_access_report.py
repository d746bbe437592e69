"""contacts.csv as an STK-style access report: UTC AOS/LOS, azimuths, peak elevation, minimum range, bytes."""

from __future__ import annotations

import csv
import json
from datetime import timedelta

import numpy as np
import pytest

from sim.mission.engine import run_simulation
from sim.output.report import CONTACT_FIELDS, write_outputs
from sim.scenario import load_scenario
from sim.world.orbit import build_satellite

TINY = {"camera.rows": 128, "camera.cols": 128, "camera.cadence_s": 120, "codec.tile_rows": 16}


@pytest.fixture(scope="module")
def iss_day(tmp_path_factory):
    scenario = load_scenario("iss", TINY)
    result = run_simulation(scenario, "rice", duration_s=86400.0, seed=0, fidelity="statistical")
    out = tmp_path_factory.mktemp("iss") / "run"
    write_outputs(result, out)
    with open(out / "contacts.csv") as fh:
        rows = list(csv.DictReader(fh))
    return scenario, json.loads((out / "metrics.json").read_text()), rows


def test_columns_and_utc_times(iss_day):
    scenario, _, rows = iss_day
    assert list(rows[0]) == CONTACT_FIELDS and len(rows) == 4
    first = rows[0]
    # The first pass over Irvine: AOS 21373.47 s after 2025-03-20 00:00 UTC, 398 s long, culminating at 87.5 deg.
    assert first["aos_utc"] == "2025-03-20T05:56:13.473Z" and first["los_utc"] == "2025-03-20T06:02:51.826Z"
    assert float(first["duration_s"]) == pytest.approx(398.353, abs=1e-3)
    assert float(first["max_elevation_deg"]) == 87.52


def test_azimuth_and_range_against_skyfield(iss_day):
    from skyfield.api import EarthSatellite, load, wgs84

    scenario, _, rows = iss_day
    ts = load.timescale(builtin=True)
    es = EarthSatellite.from_satrec(build_satellite(scenario.orbit, scenario.start), ts)
    st = scenario.stations[0]
    topo = es - wgs84.latlon(st.lat_deg, st.lon_deg, elevation_m=st.alt_m)
    for row in rows:
        for key, col in (("start_s", "aos_azimuth_deg"), ("end_s", "los_azimuth_deg")):
            alt, az, _ = topo.at(ts.from_datetime(scenario.start + timedelta(seconds=float(row[key])))).altaz()
            assert float(row[col]) == pytest.approx(az.degrees, abs=0.01)
            assert alt.degrees == pytest.approx(10.0, abs=0.05)  # AOS and LOS on the 10 deg mask (find_events)
    # At 87.5 deg the range is about the 415 km altitude; at 11.7 deg peak it is over 1300 km. Each minimum
    # agrees with skyfield's range sampled every 0.05 s (5 s samples alone were up to 0.13 km high).
    assert 414 < float(rows[0]["min_range_km"]) < 418
    assert float(rows[1]["max_elevation_deg"]) < 12 and float(rows[1]["min_range_km"]) > 1300
    for row in rows:
        t = np.arange(float(row["start_s"]), float(row["end_s"]), 0.05)
        fine = topo.at(ts.from_datetime(scenario.start) + t / 86400.0).altaz()[2].km.min()
        assert float(row["min_range_km"]) == pytest.approx(fine, abs=0.015)


def test_bytes_per_pass_add_up_to_the_link_total(iss_day):
    _, m, rows = iss_day
    per_pass = [int(r["bytes_sent"]) for r in rows]
    assert all(b > 0 for b in per_pass) and sum(per_pass) == m["link"]["bytes_sent"]
