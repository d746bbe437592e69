"""Scenario files: shipped ones load, every number can be overridden, mistakes are one-line errors (exit 2)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sim.scenario import (
    ScenarioError,
    load_scenario,
    parse_duration,
    parse_overrides,
    schema_keys,
    shipped_scenarios,
)

REPO = Path(__file__).resolve().parents[2]


def test_shipped_scenarios_load():
    assert {"leo", "leo-svalbard", "iss", "l2"} <= set(shipped_scenarios())
    leo = load_scenario("leo")
    assert leo.radio.rate_bps == 2e6 and leo.storage.capacity_bytes == 32e9
    assert [s.name for s in leo.stations] == ["Irvine"]
    assert [s.name for s in load_scenario("leo-svalbard").stations] == ["Irvine", "Svalbard"]
    l2 = load_scenario("l2")
    assert l2.orbit.kind == "schedule" and l2.radio.rate_bps == 28e6 and l2.storage.capacity_bytes == 65e9
    assert load_scenario("iss").orbit.kind == "tle"
    # extends: the base's relative frame folder still points at the shipped frames
    assert Path(l2.camera.source) == REPO / "sim" / "frames"


def test_overrides_reach_every_kind_of_key():
    s = load_scenario("leo", parse_overrides([
        "radio.rate_bps=4e6", "stations.0.min_elevation_deg=5", "cpu.profile=cortex-a9", "radio.retransmit_first=false",
        "camera.synthetic.stars=10", "orbit.schedule_windows_s=[[0, 60]]", "orbit.raan_deg=30"]))
    assert s.radio.rate_bps == 4e6 and s.stations[0].min_elevation_deg == 5.0
    assert s.cpu.profile == "cortex-a9" and s.radio.retransmit_first is False
    assert s.camera.synthetic.stars == 10 and s.orbit.schedule_windows_s == [[0.0, 60.0]]
    assert s.orbit.raan_deg == 30.0


def test_scenario_file_by_path_with_extends(tmp_path):
    (tmp_path / "frames").mkdir()
    (tmp_path / "frames" / "a.fits").write_bytes((REPO / "sim" / "frames" / "hinode_xrt_512.fits").read_bytes())
    path = tmp_path / "mine.toml"
    path.write_text('extends = "leo"\nname = "mine"\n[camera]\nsource = "frames"\ncadence_s = 30.0\n')
    s = load_scenario(str(path))
    assert s.name == "mine" and s.camera.cadence_s == 30.0 and s.radio.rate_bps == 2e6
    assert Path(s.camera.source) == tmp_path / "frames"


@pytest.mark.parametrize(("overrides", "needle"), [
    ({"radio.rate_bsp": 1}, "radio.rate_bsp (did you mean radio.rate_bps?)"),
    ({"radio.rate_bps": -1}, "radio.rate_bps must be > 0"),
    ({"stations.0.min_elevation_deg": 95}, "stations.0.min_elevation_deg must be < 90"),
    ({"camera.source": "/no/such/folder"}, "camera.source: frame folder not found: /no/such/folder"),
    ({"camera.rows": 2.5}, "camera.rows must be an integer"),
    ({"radio.queue": "random"}, "radio.queue must be one of fifo, lifo, priority"),
    ({"link.packet_loss": 1.0}, "link.packet_loss must be < 1"),
    ({"stations.4.lat_deg": 1}, "stations.4: no item"),
    ({"orbit.schedule_windows_s": [[5, 1]]}, "orbit.schedule_windows_s must be a list of [start, end] pairs"),
])
def test_bad_values_name_the_key(overrides, needle):
    with pytest.raises(ScenarioError) as err:
        load_scenario("leo", overrides)
    assert needle in str(err.value) and "\n" not in str(err.value)


def test_typo_in_a_file_names_the_file_and_key(tmp_path):
    path = tmp_path / "typo.toml"
    path.write_text('extends = "leo"\n[radio]\nrate_bsp = 1e6\n')
    with pytest.raises(ScenarioError, match=r"typo.toml: unknown key radio.rate_bsp"):
        load_scenario(str(path))


def test_unknown_scenario_lists_the_shipped_ones():
    with pytest.raises(ScenarioError, match="unknown scenario 'leoo'.*leo-svalbard"):
        load_scenario("leoo")


def test_parse_duration():
    assert parse_duration("6h") == 21600 and parse_duration("30d") == 30 * 86400
    assert parse_duration("90min") == 5400 and parse_duration("45") == 45
    for bad in ("0h", "-1d", "6 parsecs", "h"):
        with pytest.raises(ScenarioError):
            parse_duration(bad)


def test_every_key_is_documented():
    doc = (REPO / "docs" / "simulator.md").read_text()
    missing = [key for key, *_ in schema_keys() if f"`{key}`" not in doc]
    assert not missing, f"keys not documented in docs/simulator.md: {missing}"


@pytest.mark.parametrize(("args", "needle"), [
    (["--orbit", "leo", "--set", "radio.rate_bps=-1"], "radio.rate_bps must be > 0"),
    (["--orbit", "leo", "--set", "stations.0.min_elevation_deg=91"], "stations.0.min_elevation_deg"),
    (["--orbit", "leo", "--set", "camera.source=/no/frames"], "frame folder not found: /no/frames"),
    (["--orbit", "leo", "--set", "radio.rate_bsp=1"], "unknown key radio.rate_bsp"),
])
def test_cli_errors_are_one_line_exit_2(args, needle):
    proc = subprocess.run([sys.executable, "-m", "sim.run", *args], capture_output=True, text=True, cwd=REPO,
                          timeout=120)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], proc.stderr


@pytest.mark.parametrize(("args", "needle"), [
    (["--orbit", "leo", "--duration", "soon"], "duration 'soon'"),
    (["--scenario", "/no/such.toml"], "scenario file /no/such.toml: not found"),
    (["--orbit", "leo", "--set", "radio"], "expected KEY=VALUE"),
])
def test_cli_errors_in_process(args, needle):
    from sim.run import run

    with pytest.raises(ScenarioError, match=needle):
        run(args)
