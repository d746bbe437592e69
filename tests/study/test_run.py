"""A tiny real trade study (leo, raw and rice, 1 simulated day): files, resume, Dask equality, browser, numbers.

One study runs on local processes (module fixture); the other tests read its output. The sweep is small on
purpose: 2 radio rates x 2 storage sizes x 2 codecs x 2 seeds = 16 cells of about a second each.
"""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import tempfile
from pathlib import Path

import pytest

from sim.study.cli import main
from sim.study.results import read_csv

ARGS = ["--orbit", "leo", "--codecs", "raw,rice", "--sweep", "radio.rate_bps=1e6,4e6",
        "--sweep", "storage.capacity_bytes=2e9,32e9", "--duration", "1d", "--seeds", "2",
        "--target-frames-per-day", "40", "--no-progress"]
PLOTS = {"frames_per_day", "delivered_vs_generated", "storage_fill", "latency_cdf", "cpu_utilisation", "heatmap"}
CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None)


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("study") / "local"
    assert main(ARGS + ["--out", str(out), "--workers", "2"]) == 0
    return out


def test_writes_every_file(study):
    for name in ("report.html", "report.md", "results.csv", "study.json"):
        assert (study / name).is_file(), name
    assert {p.stem for p in (study / "plots").glob("*.png")} == PLOTS
    rows = read_csv(study / "results.csv")
    assert len(rows) == 16 and all(r["status"] == "ok" for r in rows)
    # every input and metric: swept keys, the resolved scenario, the engine's metrics, derived numbers
    for col in ("radio.rate_bps", "storage.capacity_bytes", "seed", "scenario.camera.cadence_s",
                "scenario.stations.0.name", "metrics.frames.verified", "metrics.latency_s.p95",
                "metrics.cpu_utilisation", "verified_per_day", "verified_gain_vs_raw"):
        assert col in rows[0], col
    assert len(list((study / "cells").glob("*.json"))) == 16
    # frame conservation holds in every cell
    assert all(r["metrics.conservation_ok"] == "true" for r in rows)


def test_rerun_skips_finished_cells_and_redoes_missing_ones(study, tmp_path, capsys):
    out = tmp_path / "again"
    shutil.copytree(study, out)
    before = (out / "results.csv").read_bytes()
    victim = sorted((out / "cells").glob("*.json"))[3]
    victim.unlink()
    capsys.readouterr()
    assert main(ARGS + ["--out", str(out), "--workers", "0"]) == 0
    err = capsys.readouterr().err
    assert "15 of 16 cells already finished" in err
    assert err.count(" ok (") == 1  # exactly one cell ran
    assert (out / "results.csv").read_bytes() == before


def test_dask_local_cluster_gives_identical_results(study, tmp_path):
    from distributed import LocalCluster

    out = tmp_path / "dask"
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=True, host="127.0.0.1", dashboard_address=None,
                      silence_logs=40) as cluster:
        assert main(ARGS + ["--out", str(out), "--scheduler", cluster.scheduler_address]) == 0
    assert (out / "results.csv").read_bytes() == (study / "results.csv").read_bytes()
    assert "dask scheduler" in (out / "report.md").read_text()


def _md_table(md: str, heading: str) -> list[dict[str, str]]:
    """The first Markdown table after a heading, as dicts."""
    tail = md.split(heading, 1)[1]
    lines = [ln for ln in tail.splitlines() if ln.startswith("|")]
    block = []
    for ln in tail.splitlines()[tail.splitlines().index(lines[0]):]:
        if not ln.startswith("|"):
            break
        block.append(ln)
    head = [c.strip() for c in block[0].strip("|").split("|")]
    return [dict(zip(head, [c.strip() for c in row.strip("|").split("|")], strict=True)) for row in block[2:]]


def test_report_numbers_match_results_csv(study):
    rows = read_csv(study / "results.csv")
    md = (study / "report.md").read_text()
    # 1. headline table: rice's mean verified frames/day and its gain over raw at each radio rate, with storage
    #    at the reference slice (the scenario's own 32 GB, which is one of the swept values).
    headline = _md_table(md, "## Headline")
    assert [h["radio.rate_bps"] for h in headline] == ["1 Mbit/s", "4 Mbit/s"]
    for h, rate in zip(headline, ("1000000.0", "4000000.0"), strict=True):
        sel = [r for r in rows if r["codec"] == "rice" and r["radio.rate_bps"] == rate
               and r["storage.capacity_bytes"] == "32000000000.0"]
        assert len(sel) == 2
        mean = statistics.fmean(float(r["verified_per_day"]) for r in sel)
        gain = statistics.fmean(float(r["verified_gain_vs_raw"]) for r in sel)
        assert h["rice verified/day"].split()[0] == f"{mean:.1f}"
        assert h["rice vs raw"] == f"{gain:.2f}x"
        assert gain > 1.5  # rice (ratio ~2.3) brings home more than raw on a bandwidth-limited link
    # 2. cheapest configuration per codec: lowest rate, then smallest storage, whose worst seed reaches 40/day
    cheapest = {c["codec"]: c for c in _md_table(md, "## Cheapest configuration per codec")}
    for codec in ("raw", "rice"):
        ok = {}
        for r in rows:
            if r["codec"] == codec:
                ok.setdefault((float(r["radio.rate_bps"]), float(r["storage.capacity_bytes"])), []).append(
                    float(r["verified_per_day"]))
        meeting = sorted(k for k, v in ok.items() if min(v) >= 40)
        got = cheapest[codec]
        if not meeting:
            assert got["verified/day"].startswith("no swept configuration")
            continue
        rate, storage = meeting[0]
        assert got["radio.rate_bps"] == f"{rate / 1e6:g} Mbit/s"
        assert got["storage.capacity_bytes"] == f"{storage / 1e9:g} GB"
        assert got["verified/day"].split()[0] == f"{statistics.fmean(ok[(rate, storage)]):.1f}"
    assert re.search(r"rice brings home \d+\.\d\dx at 1 Mbit/s", md)


def test_report_states_its_inputs(study):
    md = (study / "report.md").read_text()
    for text in ("Scenario: leo", "Sweep: radio.rate_bps = 1e6, 4e6; storage.capacity_bytes = 2e9, 3.2e10",
                 "Seeds: 2", "Fidelity: statistical", "Software: astroflight", "Calibration table",
                 "python -m sim.study --orbit leo"):
        assert text in md, text


def test_html_is_self_contained(study):
    page = (study / "report.html").read_text()
    assert not re.search(r"(src|href)\s*=\s*[\"'](?!data:|#)", page)
    assert "http://" not in page and "https://" not in page
    assert page.count('src="data:image/png;base64,') == len(PLOTS)


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (Debian package 'chromium'; .ci/run installs it)")
def test_report_opens_in_headless_chromium(study):
    with tempfile.TemporaryDirectory() as profile:
        proc = subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile}", "--virtual-time-budget=10000", "--dump-dom",
             (study / "report.html").resolve().as_uri()],
            capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    dom = proc.stdout
    # the page's own script counts images with naturalWidth > 0 once everything has loaded
    assert f'data-images-loaded="{len(PLOTS)}/{len(PLOTS)}"' in dom
    assert 'id="headline-table"' in dom and 'id="cheapest-table"' in dom
    for name in PLOTS:
        assert f'id="fig-{name}"' in dom
