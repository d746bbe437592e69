"""Ground stations from a file (replace) and from ``--station`` (add, or replace by name)."""

from __future__ import annotations

import pytest

from sim.scenario import ScenarioError, load_scenario, parse_station


def test_parse_station_with_and_without_mask():
    assert parse_station("Kiruna=67.86,20.96,390,5") == {"name": "Kiruna", "lat_deg": 67.86, "lon_deg": 20.96,
                                                         "alt_m": 390.0, "min_elevation_deg": 5.0}
    assert parse_station("X=1,2,3") == {"name": "X", "lat_deg": 1.0, "lon_deg": 2.0, "alt_m": 3.0}


@pytest.mark.parametrize("text", ["Kiruna", "Kiruna=1,2", "=1,2,3", "K=a,2,3", "K=1,2,3,4,5"])
def test_bad_station_text(text):
    with pytest.raises(ScenarioError, match="--station"):
        parse_station(text)


def test_station_adds_and_replaces_by_name():
    s = load_scenario("leo", add_stations=["Kiruna=67.86,20.96,390,5"])
    assert [st.name for st in s.stations] == ["Irvine", "Kiruna"]
    assert s.stations[1].min_elevation_deg == 5.0 and s.stations[1].lat_deg == 67.86
    s = load_scenario("leo", add_stations=["Irvine=33.64,-117.84,50,3"])
    assert [st.name for st in s.stations] == ["Irvine"] and s.stations[0].min_elevation_deg == 3.0
    assert s.overrides == {"--station": ["Irvine=33.64,-117.84,50,3"]}


def test_set_reaches_an_added_station():
    s = load_scenario("leo", {"stations.1.min_elevation_deg": 7}, add_stations=["K=60,20,0"])
    assert s.stations[1].min_elevation_deg == 7.0


def test_out_of_range_station_names_the_key():
    with pytest.raises(ScenarioError, match=r"--station/--stations: stations.1.lat_deg must be <= 90"):
        load_scenario("leo", add_stations=["K=95,20,0"])


def test_stations_from_csv_replace(tmp_path):
    f = tmp_path / "gs.csv"
    f.write_text("name,lat_deg,lon_deg,alt_m,min_elevation_deg\nSvalbard,78.23,15.41,450,5\nTroll,-72.01,2.53,1270,\n")
    s = load_scenario("leo", stations_file=f)
    assert [(st.name, st.min_elevation_deg) for st in s.stations] == [("Svalbard", 5.0), ("Troll", 10.0)]
    assert s.stations[1].alt_m == 1270.0


def test_stations_from_toml_then_added(tmp_path):
    f = tmp_path / "gs.toml"
    f.write_text('[[stations]]\nname = "Svalbard"\nlat_deg = 78.23\nlon_deg = 15.41\nalt_m = 450.0\n')
    s = load_scenario("leo", stations_file=f, add_stations=["K=67.86,20.96,390"])
    assert [st.name for st in s.stations] == ["Svalbard", "K"]


@pytest.mark.parametrize(("text", "needle"), [
    ("name,lat_deg\nA,1\n", "missing lon_deg, alt_m"),
    ("name,lat_deg,lon_deg,alt_m,az\nA,1,2,3,4\n", "unknown column az"),
    ("name,lat_deg,lon_deg,alt_m\nA,1,x,3\n", "line 2: lon_deg must be a number"),
])
def test_bad_station_csv_is_one_line(tmp_path, text, needle):
    f = tmp_path / "gs.csv"
    f.write_text(text)
    with pytest.raises(ScenarioError, match=needle):
        load_scenario("leo", stations_file=f)


def test_cli_station_flags_reach_the_run(tmp_path):
    import json
    import subprocess
    import sys
    from pathlib import Path

    f = tmp_path / "gs.csv"
    f.write_text("name,lat_deg,lon_deg,alt_m\nSvalbard,78.23,15.41,450\n")
    proc = subprocess.run([sys.executable, "-m", "sim.run", "--stations", str(f), "--station", "Kiruna=67.86,20.96,390",
                           "--set", "camera.rows=128", "--set", "camera.cols=128", "--duration", "6h",
                           "--fidelity", "statistical", "--json"],
                          capture_output=True, text=True, cwd=Path(__file__).resolve().parents[2], timeout=300)
    assert proc.returncode == 0, proc.stderr
    m = json.loads(proc.stdout)
    assert set(m["contacts"]["per_station"]) == {"Svalbard", "Kiruna"}
    assert m["overrides"]["--stations"] == str(f) and m["overrides"]["--station"] == ["Kiruna=67.86,20.96,390"]
