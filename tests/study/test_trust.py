"""Trust model of sim.study (docs/trade_study.md, "Trust"): a study file cannot choose a Dask scheduler.

Issue 12, section 4 ("Trust"). Before: ``scheduler = "tcp://..."`` in a study file made the client connect (and
so accept pickled objects from that scheduler) even with ``--workers 1``.
"""

from __future__ import annotations

import pytest

import sim.study.exec as study_exec
from sim.study.cli import main


def test_scheduler_in_a_study_file_is_refused(tmp_path, capsys, monkeypatch):
    def never(*args, **kwargs):
        raise AssertionError("a Dask client was created from a study file")

    monkeypatch.setattr(study_exec, "DaskExecutor", never)
    study = tmp_path / "f.toml"
    study.write_text('scenario = "leo"\nscheduler = "tcp://127.0.0.1:9"\n[sweep]\n"radio.rate_bps" = [1e6, 2e6]\n')
    out = tmp_path / "out"
    assert main(["--study", str(study), "--workers", "1", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "'scheduler' is taken from the command line only (--scheduler ADDRESS)" in err
    assert not out.exists()


def test_scheduler_flag_still_reaches_the_executor(tmp_path, capsys, monkeypatch):
    seen = []

    class Fake:
        def __init__(self, address, timeout_s):
            seen.append(address)
            raise study_exec.StudyError(f"--scheduler {address}: cannot connect (fake)")

    monkeypatch.setattr(study_exec, "DaskExecutor", Fake)
    rc = main(["--orbit", "leo", "--sweep", "radio.rate_bps=1e6", "--scheduler", "tcp://10.0.0.5:8786",
               "--out", str(tmp_path / "o")])
    assert rc == 2 and seen == ["tcp://10.0.0.5:8786"]
    assert "cannot connect (fake)" in capsys.readouterr().err


@pytest.mark.parametrize("text", ['workers = 2\n', 'title = "x"\n'])
def test_other_study_file_keys_still_work(tmp_path, text):
    from sim.study.grid import read_study_file

    study = tmp_path / "f.toml"
    study.write_text('scenario = "leo"\n' + text)
    assert "scheduler" not in read_study_file(study)
