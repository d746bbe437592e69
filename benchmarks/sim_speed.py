"""How fast the mission simulator runs: 30 days of ``leo`` in statistical fidelity, and the exact default run.

The issue's targets: 30 simulated days of ``leo`` statistical in under 60 s, and the exact-fidelity default run
(``python -m sim.run --orbit leo --codec idf``) in under 2 minutes. Each row is one ``run_simulation`` call in
this process; the first row of a codec includes building its calibration table unless it is cached
(``cached`` column), and the pass geometry is cached after the first call.

    python benchmarks/sim_speed.py [--codecs raw,rice,idf] [--days 30] [--no-exact] [--seed 0]
"""

from __future__ import annotations

import argparse
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


if __name__ == "__main__":
    main()
