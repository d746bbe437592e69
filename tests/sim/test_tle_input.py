"""TLE input: checksums per line, the epoch, ``--tle`` and ``orbit.tle_file``, and the start at the TLE epoch."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sim.output.report import run_context
from sim.scenario import ScenarioError, load_scenario
from sim.tle import TleError, parse_tle, read_tle_file, tle_checksum

REPO = Path(__file__).resolve().parents[2]

# The ISS TLE of Wikipedia's "Two-line element set" article (its checksums are 7 and 7).
ISS_1 = "1 25544U 98067A   08264.51782528 -.00002182  00000-0 -11606-4 0  2927"
ISS_2 = "2 25544  51.6416 247.4627 0006703 130.5360 325.0288 15.72125391563537"
# A 525 km SSO element set dated 2026-10-27 06:00 UTC (day 300.25), written by sgp4's exporter.
SAT26_1 = "1 12345U          26300.25000000  .00000000  00000-0  00000+0 0    05"
SAT26_2 = "2 12345  97.5000 200.0000 0001000   0.0000   0.0000 15.13676342    09"


def test_checksum_is_mod_10_of_digits_with_minus_as_one():
    assert tle_checksum(ISS_1) == 7 and tle_checksum(ISS_2) == 7
    assert tle_checksum("1 -" + "0" * 65) == 2  # '1' + one '-'


def test_epoch_and_three_line_form():
    tle = parse_tle(f"ISS (ZARYA)\n{ISS_1}\n{ISS_2}\n", "x")
    assert tle.name == "ISS (ZARYA)"
    # Day 264 of 2008 (leap year) is 20 September; 0.51782528 d = 12:25:40.104192.
    assert tle.epoch == datetime(2008, 9, 20, 12, 25, 40, 104192, tzinfo=UTC)
    assert parse_tle(f"{SAT26_1}\n{SAT26_2}", "x").epoch == datetime(2026, 10, 27, 6, tzinfo=UTC)


@pytest.mark.parametrize(("text", "needle"), [
    (f"{ISS_1[:-1]}8\n{ISS_2}", "TLE line 1 checksum is 8, the line sums to 7"),
    (f"{ISS_1}\n{ISS_2[:-1]}0", "TLE line 2 checksum is 0, the line sums to 7"),
    (f"{ISS_1}\n{ISS_2[:30]}", "TLE line 2 has 30 columns"),
    (f"{ISS_2}\n{ISS_1}", "TLE line 1 must start with '1 '"),
    (ISS_1, "expected a two- or three-line TLE"),
    (f"{ISS_1}\n{SAT26_2}", "different satellites"),
])
def test_bad_tle_is_one_line_naming_the_line(text, needle):
    with pytest.raises(TleError, match=needle) as err:
        parse_tle(text, "TLE file t.tle")
    assert "\n" not in str(err.value) and str(err.value).startswith("TLE file t.tle: ")


@pytest.fixture
def tle26(tmp_path):
    path = tmp_path / "sat26.tle"
    path.write_text(f"CUBESAT-26\n{SAT26_1}\n{SAT26_2}\n")
    return path


def test_tle_run_starts_at_its_epoch_unless_told(tle26):
    s = load_scenario("leo", {"orbit.tle_file": str(tle26)})
    assert s.orbit.kind == "tle" and s.orbit.tle_line1 == SAT26_1 and s.orbit.epoch == "2026-10-27T06:00:00Z"
    ctx = run_context(s, 2 * 86400.0)
    assert ctx["tle"] == {"epoch_utc": "2026-10-27T06:00:00Z", "start_offset_s": 0.0, "end_offset_s": 172800.0}
    told = load_scenario("leo", {"orbit.tle_file": str(tle26), "orbit.epoch": "2025-03-20T00:00:00Z"})
    ctx = run_context(told, 86400.0)
    # 2025-03-20 to 2026-10-27 06:00 is 586.25 days: the run propagates backwards that far.
    assert ctx["tle"]["start_offset_s"] == -586.25 * 86400
    assert ctx["tle"]["end_offset_s"] == -585.25 * 86400


def test_tle_file_as_scenario_key_relative_to_the_file(tmp_path, tle26):
    (tmp_path / "m.toml").write_text('extends = "leo"\n[orbit]\ntle_file = "sat26.tle"\n')
    s = load_scenario(tmp_path / "m.toml")
    assert s.orbit.kind == "tle" and s.start == datetime(2026, 10, 27, 6, tzinfo=UTC)
    (tmp_path / "n.toml").write_text('extends = "leo"\n[orbit]\ntle_file = "sat26.tle"\n'
                                     'epoch = "2026-11-01T00:00:00Z"\n')
    assert load_scenario(tmp_path / "n.toml").orbit.epoch == "2026-11-01T00:00:00Z"


def test_shipped_iss_keeps_its_start():
    assert load_scenario("iss").orbit.epoch == "2025-03-20T00:00:00Z"


def test_bad_checksum_in_a_scenario_names_the_key(tmp_path):
    bad = ISS_1[:-1] + "3"
    with pytest.raises(ScenarioError, match="orbit.tle_line1: TLE line 1 checksum is 3"):
        load_scenario("iss", {"orbit.tle_line1": bad})


def test_header_says_how_far_it_propagates(tle26):
    s = load_scenario("leo", {"orbit.tle_file": str(tle26), "orbit.epoch": "2025-03-20T00:00:00Z"})
    m = {"overrides": s.overrides, "tle": run_context(s, 86400.0)["tle"]}
    from sim.output import report

    line = report._tle_line(m["tle"])
    assert "586.25 d before it" in line and "585.25 d before it" in line and "WARNING" in line


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sim.run", *args], capture_output=True, text=True, cwd=REPO,
                          timeout=300)


def test_cli_tle_errors_are_one_line_exit_2(tmp_path, tle26):
    bad = tmp_path / "bad.tle"
    bad.write_text(f"{ISS_1}\n{ISS_2[:-1]}1\n")
    proc = _cli("--tle", str(bad))
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert "TLE line 2 checksum is 1, the line sums to 7" in proc.stderr
    assert "error: --tle: TLE file" in proc.stderr and "--set" not in proc.stderr  # blamed on the flag given
    proc = _cli("--scenario", str(tle26))
    assert proc.returncode == 2 and f"use --tle {tle26}" in proc.stderr


def test_read_missing_tle_file(tmp_path):
    with pytest.raises(TleError, match="not found"):
        read_tle_file(tmp_path / "none.tle")
