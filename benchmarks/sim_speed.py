"""How fast the mission simulator runs: 30 days of ``leo`` in statistical fidelity, and the exact default run.

The issue's targets: 30 simulated days of ``leo`` statistical in under 60 s, and the exact-fidelity default run
(``python -m sim.run --orbit leo --codec idf``) in under 2 minutes. Each row is one ``run_simulation`` call in
this process; the first row of a codec includes building its calibration table unless it is cached
(``cached`` column), and the pass geometry is cached after the first call.

A second table gives long statistical runs of ``leo`` with rice, each in a fresh process as ``python -m sim.run``
runs it (outputs written to a temporary folder): simulated days, wall seconds and peak resident memory (the
process's ``ru_maxrss``). Issue 13's target: 3650 days under 1 GB.

    python benchmarks/sim_speed.py [--codecs raw,rice,idf] [--days 30] [--no-exact] [--seed 0]
                                   [--memory-days 30,365] (--memory-days "" skips the memory table)
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

from flight.codecs.registry import get_codec
from flight.errors import InputError
from sim.mission.engine import run_simulation
from sim.scenario import load_scenario


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--codecs", default="raw,rice,idf")
    p.add_argument("--days", type=float, default=30.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-exact", action="store_true", help="skip the exact default runs")
    p.add_argument("--memory-days", default="30,365", help="durations (days) of the peak-memory runs, comma separated")
    args = p.parse_args()
    scenario = load_scenario("leo")
    rows = []
    for codec in args.codecs.split(","):
        try:
            get_codec(codec)
        except InputError as exc:
            print(f"skipping {codec}: {exc}")
            continue
        runs = [("statistical", args.days * 86400.0)]
        if not args.no_exact:
            runs.append(("exact", None))
        for fidelity, duration in runs:
            t0 = time.perf_counter()
            m = run_simulation(scenario, codec, duration, args.seed, fidelity).metrics
            wall = time.perf_counter() - t0
            f = m["frames"]
            rows.append((codec, fidelity, m["duration_s"] / 86400.0, wall, f["captured"], f["verified"],
                         m["compression_ratio"] or 0.0, m["calibration"]["cached"]))
    print()
    print("| codec | fidelity | simulated days | wall s | captured | verified | ratio | calibration cached |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |")
    for codec, fidelity, days, wall, cap, ver, ratio, cached in rows:
        print(f"| {codec} | {fidelity} | {days:.2f} | {wall:.1f} | {cap} | {ver} | {ratio:.3f} | {cached} |")
    days_list = [float(d) for d in args.memory_days.split(",") if d.strip()]
    if days_list:
        print()
        print("| leo rice statistical, outputs written | simulated days | wall s | peak RSS MB | captured | verified |")
        print("| --- | ---: | ---: | ---: | ---: | ---: |")
        for days in days_list:
            m = memory_run(days, args.seed)
            print(f"| sim.run | {days:g} | {m['wall_s']:.1f} | {m['maxrss_mb']:.0f} | {m['captured']} | "
                  f"{m['verified']} |")


#: The child process of a memory row: one run as ``python -m sim.run --out`` does it, then its own peak RSS.
_CHILD = """
import json, resource, sys, tempfile, time
from sim.mission.engine import run_simulation
from sim.output.report import write_outputs
from sim.scenario import load_scenario
t0 = time.perf_counter()
result = run_simulation(load_scenario("leo"), "rice", float(sys.argv[1]) * 86400.0, int(sys.argv[2]), "statistical")
with tempfile.TemporaryDirectory() as tmp:
    write_outputs(result, tmp + "/out")
f = result.metrics["frames"]
print(json.dumps({"wall_s": time.perf_counter() - t0, "captured": f["captured"], "verified": f["verified"],
                  "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0}))
"""


def memory_run(days: float, seed: int) -> dict:
    """Run ``days`` of leo/rice statistical in a fresh Python process; its wall seconds, peak RSS (MB, from
    ``ru_maxrss`` in KiB on Linux), captured and verified frames."""
    out = subprocess.run([sys.executable, "-c", _CHILD, str(days), str(seed)], capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    main()
