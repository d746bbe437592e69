"""Trade-study command line: one-line errors with exit 2 and no output, failing cells reported while the rest
go on, and the report written from synthetic results (a stand-in runner, so no simulation is needed)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from sim.study.cli import main
from sim.study.results import read_csv
from tests.fakes.study import REPO


def run_cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sim.study", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=timeout)


@pytest.mark.parametrize("args, message", [
    (["--sweep", "radio.rate_bsp=1e6,2e6"], "--sweep radio.rate_bsp: unknown key"),
    (["--sweep", "radio.rate_bps="], "--sweep radio.rate_bps: empty sweep"),
    (["--sweep", "radio.rate_bps=1e6", "--scheduler", "tcp://127.0.0.1:9", "--connect-timeout", "2"],
     "--scheduler tcp://127.0.0.1:9: cannot connect"),
])
def test_bad_input_is_one_line_exit_2_and_no_output(tmp_path, args, message):
    out = tmp_path / "out"
    proc = run_cli("--orbit", "leo", *args, "--out", str(out))
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("python -m sim.study: error: ") and message in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    assert not out.exists()


def test_more_bad_input_in_process(tmp_path, capsys):
    out = tmp_path / "out"
    cases = [
        (["--orbit", "nowhere"], "unknown scenario"),
        (["--orbit", "leo", "--codecs", "raw,jpeg"], "unknown codec"),
        (["--orbit", "leo", "--sweep", "radio.rate_bps=-1"], "--sweep radio.rate_bps: radio.rate_bps must be > 0"),
        (["--orbit", "leo", "--sweep", "radio.rate_bps=1e6", "--sweep", "radio.rate_bps=2e6"], "swept twice"),
        (["--orbit", "leo", "--duration", "soon"], "--duration"),
        (["--orbit", "leo", "--seeds", "0"], "--seeds"),
        (["--orbit", "leo", "--heatmap", "radio.rate_bps,cpu.profile"], "--heatmap"),
        (["--study", str(tmp_path / "missing.toml")], "not found"),
        (["--orbit", "leo", "--frobnicate"], "unrecognized arguments"),
    ]
    for args, message in cases:
        with pytest.raises(SystemExit) if "--frobnicate" in args else _no_raise():
            assert main(args + ["--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1, (args, err)
        assert not out.exists()


class _no_raise:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_failing_cells_are_reported_and_the_rest_go_on(tmp_path, capsys):
    out = tmp_path / "study"
    args = ["--orbit", "leo", "--codecs", "raw,rice,idf", "--sweep", "radio.rate_bps=1e6,4e6",
            "--sweep", "storage.capacity_bytes=8e9,32e9", "--duration", "2d", "--seeds", "2",
            "--target-frames-per-day", "50", "--runner", "tests.fakes.study:fake_runner", "--workers", "0",
            "--out", str(out), "--no-progress"]
    assert main(args) == 1  # some cells failed
    err = capsys.readouterr().err
    assert err.count("cell failed") == 8 + 1  # every idf cell, and rice at 4e6 / 8e9 seed #1
    assert "codec=idf radio.rate_bps=1e6 storage.capacity_bytes=8e9 seed#0: codec 'idf' is not available" in err
    rows = read_csv(out / "results.csv")
    assert len(rows) == 24
    assert sum(r["status"] == "ok" for r in rows) == 15
    bad = [r for r in rows if r["status"] != "ok" and r["codec"] == "rice"]
    assert len(bad) == 1 and "ZeroDivisionError" in bad[0]["error"]
    md = (out / "report.md").read_text()
    assert "## Failed cells" in md and "9 of 24 cells failed" in md
    assert "idf: no result (codec 'idf' is not available" in md
    assert "IDF model bundle: none: no idf cell succeeded" in md
    assert len(list((out / "plots").glob("*.png"))) == 6
    # a re-run retries only the failed cells
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "15 of 24 cells already finished" in err


def test_study_file_and_command_line_together(tmp_path, capsys):
    study = tmp_path / "s.toml"
    study.write_text('orbit = "leo"\ncodecs = ["raw", "rice"]\nduration = "1d"\nseeds = 1\n'
                     '[sweep]\n"radio.rate_bps" = [1e6, 2e6]\n')
    out = tmp_path / "o"
    assert main(["--study", str(study), "--seeds", "2", "--runner", "tests.fakes.study:fake_runner",
                 "--workers", "0", "--out", str(out), "--no-progress"]) == 0
    rows = read_csv(out / "results.csv")
    assert len(rows) == 2 * 2 * 2
    md = (out / "report.md").read_text()
    assert "No target given" in md and "Not drawn: heatmap: fewer than two swept keys" in md


def test_scheduler_without_workers_is_an_input_error(tmp_path, capsys):
    from distributed import LocalCluster

    out = tmp_path / "out"
    with LocalCluster(n_workers=0, host="127.0.0.1", dashboard_address=None, silence_logs=50) as cluster:
        rc = main(["--orbit", "leo", "--scheduler", cluster.scheduler_address, "--connect-timeout", "1",
                   "--out", str(out)])
    assert rc == 2
    assert "no worker joined within 1 s" in capsys.readouterr().err
    assert not out.exists()
