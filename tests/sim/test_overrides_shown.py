"""Every command-line change is shown: the printed header, metrics.json's description and the plot titles."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from sim.output.labels import overrides_text
from sim.output.plots import _title
from sim.output.report import run_context
from sim.scenario import load_scenario

REPO = Path(__file__).resolve().parents[2]
TINY = ["--set", "camera.rows=128", "--set", "camera.cols=128", "--set", "camera.cadence_s=120",
        "--set", "codec.tile_rows=16"]


def test_overrides_text_and_description():
    s = load_scenario("leo", {"radio.rate_bps": "4e6", "link.packet_loss": 0.05}, add_stations=["K=60,20,0"])
    assert overrides_text(s.overrides) == "--station K=60,20,0, radio.rate_bps=4e6, link.packet_loss=0.05"
    ctx = run_context(s, 3600.0)
    assert ctx["description"] == f"{s.description} | {overrides_text(s.overrides)}"
    assert "tle" not in ctx and run_context(load_scenario("leo"), 1.0) == {"description": s.description,
                                                                         "overrides": {}}


def test_title_wraps_the_changes():
    overrides = {f"k{i}.key": float(i) for i in range(30)}
    m = {"scenario": "leo", "codec": "rice", "fidelity": "exact", "overrides": overrides}
    lines = _title(m, "Storage fill").splitlines()
    assert lines[0] == "Storage fill: leo, rice, exact" and lines[1].startswith("changed: k0.key=0, k1.key=1")
    assert len(lines) >= 3 and all(len(line) <= 110 for line in lines[1:]) and "k29.key=29" in lines[-1]


def test_cli_shows_every_set(tmp_path):
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-m", "sim.run", *TINY, "--set", "radio.rate_bps=4e6",
                           "--duration", "3h", "--fidelity", "statistical", "--out", str(out)],
                          capture_output=True, text=True, cwd=REPO, timeout=300)
    assert proc.returncode == 0, proc.stderr
    changed = ("changed: camera.rows=128, camera.cols=128, camera.cadence_s=120, codec.tile_rows=16, "
               "radio.rate_bps=4e6")
    assert proc.stdout.splitlines()[1] == f"  {changed}"
    m = json.loads((out / "metrics.json").read_text())
    assert m["description"].endswith(" | " + changed[len("changed: "):])
    assert m["overrides"]["radio.rate_bps"] == 4e6
