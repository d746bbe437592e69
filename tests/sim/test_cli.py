"""The main job's command line: summary table on the terminal, metrics.json, event log and plots on disk."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TINY = ["--set", "camera.rows=128", "--set", "camera.cols=128", "--set", "camera.cadence_s=120",
        "--set", "codec.tile_rows=16"]


def test_run_writes_every_output(tmp_path):
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-m", "sim.run", "--orbit", "leo", "--codec", "rice", *TINY,
                           "--duration", "10h", "--seed", "4", "--out", str(out)],
                          capture_output=True, text=True, cwd=REPO, timeout=300)
    assert proc.returncode == 0, proc.stderr
    for label in ("frames captured", "verified", "awaiting", "dropped", "compression ratio", "storage peak",
                  "CPU utilisation", "contacts", "latency p50 / p95"):
        assert label in proc.stdout
    m = json.loads((out / "metrics.json").read_text())
    f = m["frames"]
    for key in ("captured", "compressed", "downlinked", "verified", "awaiting", "dropped", "failed"):
        assert key in f
    for key in ("compression_ratio", "storage_peak_bytes", "cpu_utilisation", "fidelity", "scenario_config"):
        assert key in m
    assert set(m["latency_s"]) >= {"p50", "p95"} and m["fidelity"] == "exact" and m["seed"] == 4
    assert f["captured"] == f["verified"] + f["awaiting"] + sum(f["dropped"].values()) + sum(f["failed"].values())
    assert f["verified"] > 0 and m["scenario_config"]["camera"]["rows"] == 128
    with open(out / "events.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == f["captured"] and sum(r["state"] == "verified" for r in rows) == f["verified"]
    for name in ("storage.png", "data.png", "latency.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / "timeline.csv").stat().st_size > 0 and (out / "contacts.csv").stat().st_size > 0


def test_json_and_help():
    from sim.run import build_parser

    text = build_parser().format_help()
    for flag in ("--orbit", "--scenario", "--codec", "--set", "--duration", "--seed", "--fidelity", "--out"):
        assert flag in text
    assert "python -m sim.run --orbit leo --codec idf" in text
