"""One small trade study on every executor: wall time, cells per second, and identical results.csv.

    python benchmarks/study_exec.py [--duration 2d] [--seeds 2] [--workers 2]

Runs the same grid (leo, raw and rice, 3 radio rates x 2 storage sizes) in this process (``--workers 0``), on
local processes (``--workers N``), and on a Dask ``LocalCluster`` with N single-threaded worker processes, each
into a fresh folder, then prints a table and checks that every results.csv is byte-identical (exit code 1 if
not). The calibration and pass-geometry caches are warmed first so that each executor measures the cells only.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import sys
import tempfile
import time
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sim.study.cli import main  # noqa: E402


def grid(duration: str, seeds: int) -> list[str]:
    return ["--orbit", "leo", "--codecs", "raw,rice", "--sweep", "radio.rate_bps=0.5e6,2e6,4.3e6",
            "--sweep", "storage.capacity_bytes=8e9,32e9", "--duration", duration, "--seeds", str(seeds),
            "--no-progress"]


def timed(args: list[str]) -> tuple[float, int]:
    sink = io.StringIO()
    t0 = time.perf_counter()
    with redirect_stdout(sink), redirect_stderr(sink):
        rc = main(args)
    return time.perf_counter() - t0, rc


def main_bench() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--duration", default="2d")
    p.add_argument("--seeds", type=int, default=2)
    p.add_argument("--workers", type=int, default=2)
    a = p.parse_args()
    base = grid(a.duration, a.seeds)
    cells = 3 * 2 * 2 * a.seeds
    rows, digests = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        timed(base + ["--out", f"{tmp}/warm", "--workers", "0"])  # caches: geometry and calibration
        runs = [("in-process", ["--workers", "0"]), (f"local, {a.workers} processes", ["--workers", str(a.workers)])]
        for name, extra in runs:
            out = f"{tmp}/{len(rows)}"
            wall, rc = timed(base + extra + ["--out", out])
            rows.append((name, wall, rc))
            digests[name] = hashlib.sha256(Path(out, "results.csv").read_bytes()).hexdigest()[:16]
        from distributed import LocalCluster

        t0 = time.perf_counter()
        with LocalCluster(n_workers=a.workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                          dashboard_address=None,
                          silence_logs=50) as cluster:
            start = time.perf_counter() - t0
            out = f"{tmp}/dask"
            wall, rc = timed(base + ["--scheduler", cluster.scheduler_address, "--out", out])
        name = f"dask LocalCluster, {a.workers} workers"
        rows.append((name, wall, rc))
        digests[name] = hashlib.sha256(Path(out, "results.csv").read_bytes()).hexdigest()[:16]
    print(f"{cells} cells: leo, raw/rice x 3 rates x 2 storage x {a.seeds} seeds, {a.duration} each "
          f"(report included in wall; Dask cluster start {start:.1f} s not included)")
    print(f"{'executor':34} {'wall s':>8} {'cells/s':>8} {'exit':>5}  results.csv sha256")
    for name, wall, rc in rows:
        print(f"{name:34} {wall:8.1f} {cells / wall:8.2f} {rc:5d}  {digests[name]}")
    same = len(set(digests.values())) == 1
    print("results.csv identical on every executor" if same else "results.csv DIFFERS between executors")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main_bench())
