"""Long runs (issue 13 item 4): the event log that keeps finished frames on disk, progress lines without a
terminal, and the warning for a run that ends while the packet store is still filling."""

from __future__ import annotations

import io
import math
import subprocess
import sys

import pytest

from sim.mission.metrics import FILLING_RATE_PER_DAY, steady_state_warnings, storage_fill_rate
from sim.mission.progress import ProgressLines, make_progress
from sim.mission.records import CSV_FIELDS, EventLog, FrameRecord, event_row


def _record(fid: int, **kw) -> FrameRecord:
    return FrameRecord(frame_id=fid, source=fid % 3, name=f"f{fid % 3}", priority=1, captured_s=kw.pop("t", 60.0 * fid),
                       raw_bytes=1000, **kw)


def test_event_log_gives_back_the_rows_exactly_in_capture_order() -> None:
    recs = [_record(0, t=0), _record(1, state="verified", verified_s=500.5, compressed_s=70.25, coded_bytes=400),
            _record(2, state="dropped", reason="store full"), _record(3)]
    log = EventLog()
    for rec in (recs[2], recs[0], recs[3], recs[1]):  # finished out of order
        log.add(rec)
    rows = list(log)
    want = [event_row(r) for r in recs]
    assert len(log) == 4 and [list(r) for r in rows] == [list(CSV_FIELDS)] * 4
    for got, exp in zip(rows, want, strict=True):
        for key in CSV_FIELDS:
            assert type(got[key]) is type(exp[key]), key  # an int 0 stays "0" in events.csv, not "0.0"
            assert (math.isnan(got[key]) and math.isnan(exp[key])) if isinstance(exp[key], float) and \
                math.isnan(exp[key]) else got[key] == exp[key], key
    assert log.tally.captured == 4 and log.tally.dropped == {"store full": 1} and log.tally.latencies() == [500.5 - 60]
    assert log.tally.compressed == 1 and log.tally.coded_c == 400


def test_steady_state_warning_when_the_store_is_still_filling() -> None:
    cap = 1e9
    rising = [(t * 3600.0, 0, 0.002 * cap * t) for t in range(0, 97)]  # 0.2 % per hour = 4.8 %/day
    flat = [(t * 3600.0, 0, 0.5 * cap) for t in range(0, 97)]
    assert storage_fill_rate(rising, cap, 96 * 3600.0) == pytest.approx(0.048)
    assert storage_fill_rate(flat, cap, 96 * 3600.0) == pytest.approx(0.0, abs=1e-12)
    (warning,) = steady_state_warnings(rising, cap, 96 * 3600.0)
    assert "still filling at 4.8 % of capacity per day" in warning
    assert steady_state_warnings(flat, cap, 96 * 3600.0) == []
    assert FILLING_RATE_PER_DAY == 0.01


def test_a_short_run_of_leo_warns_in_metrics_and_on_stderr() -> None:
    """leo's 32 GB store fills for days: a 2-day run must say its figures are not steady state."""
    cmd = [sys.executable, "-m", "sim.run", "--orbit", "leo", "--codec", "raw", "--fidelity", "statistical",
           "--duration", "2d", "--json"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=True)
    lines = done.stderr.splitlines()
    warn = [x for x in lines if "warning: storage not in steady state" in x]
    assert len(warn) == 1
    assert '"warnings": [' in done.stdout and "still filling" in done.stdout
    # stderr is a pipe here: progress comes as plain lines, the last one at the end of the run.
    assert "progress leo raw statistical: 2.0/2.0 sim d (100 %)" in done.stderr
    quiet = subprocess.run([*cmd, "--no-progress"], capture_output=True, text=True, timeout=600, check=True)
    assert "progress" not in quiet.stderr and "warning: storage not in steady state" in quiet.stderr


def test_progress_lines_every_period_and_for_calibration() -> None:
    out = io.StringIO()
    p = ProgressLines(10 * 86400.0, "leo rice statistical", stream=out, every_days=3.0, every_cpu_s=1e9)
    p.calibrating(0, 4)
    p.calibrating(1, 4)  # neither first, last nor a CPU period later: silent
    p.calibrating(4, 4)
    for day in range(1, 11):
        p.update(day * 86400.0)
    lines = out.getvalue().splitlines()
    assert [x.split(", ")[0] for x in lines] == [
        "progress leo rice statistical: calibration 0/4 frames encoded",
        "progress leo rice statistical: calibration 4/4 frames encoded",
        "progress leo rice statistical: 3.0/10.0 sim d (30 %)",
        "progress leo rice statistical: 6.0/10.0 sim d (60 %)",
        "progress leo rice statistical: 9.0/10.0 sim d (90 %)",
        "progress leo rice statistical: 10.0/10.0 sim d (100 %)",
    ]
    assert all(x.endswith(" s CPU") for x in lines)
    with pytest.raises(ValueError, match="progress mode"):
        make_progress("loud", 1.0)
