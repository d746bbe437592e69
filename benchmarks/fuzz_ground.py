"""Fuzz campaign against ground decode: mutated real packet streams, counted failures, one table.

    python benchmarks/fuzz_ground.py [--inputs 100000] [--seed 1] [--workers 2] [--time-limit 2.0]

Prints inputs tried, crashes, hangs (inputs over the per-input CPU-time limit), false "verified" frames, incomplete
frames that do not name what is missing, and peak memory (max RSS of the worker processes). Failing inputs are
written to tests/fuzz/corpus/ so that
tests/fuzz/test_corpus.py keeps replaying them. Exit code 1 if any failure count is not zero.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fuzz.ground_fuzz import build_bases, check, mutated_input, save_failure  # noqa: E402

_BASES = None


def _init() -> None:
    global _BASES
    _BASES = build_bases()


def _run(job: tuple[int, int, int, float]) -> dict:
    seed, start, stop, limit = job
    stats = {"inputs": 0, "crashes": 0, "hangs": 0, "false_verified": 0, "unnamed": 0, "max_s": 0.0,
             "verified": 0, "incomplete": 0, "corrupt": 0, "saved": []}
    for i in range(start, stop):
        base, packets = mutated_input(_BASES, seed, i)
        out = check(packets, base.frames)
        stats["inputs"] += 1
        stats["max_s"] = max(stats["max_s"], out.seconds)
        for k, v in out.statuses.items():
            stats[k] += v
        checks = (("crashes", out.crash), ("hangs", out.seconds > limit), ("false_verified", out.false_verified),
                  ("unnamed", out.unnamed))
        for kind, bad in checks:
            if bad:
                stats[kind] += 1
                stats["saved"].append(str(save_failure(packets, kind, base.label)))
    stats["max_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return stats


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--inputs", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--time-limit", type=float, default=2.0, help="CPU seconds per input before it counts as a hang")
    ap.add_argument("--batch", type=int, default=2000)
    args = ap.parse_args()
    t0 = time.perf_counter()
    starts = range(0, args.inputs, args.batch)
    jobs = [(args.seed, s, min(s + args.batch, args.inputs), args.time_limit) for s in starts]
    total = {"inputs": 0, "crashes": 0, "hangs": 0, "false_verified": 0, "unnamed": 0, "max_s": 0.0,
             "verified": 0, "incomplete": 0, "corrupt": 0, "max_rss_mb": 0.0, "saved": []}
    with ProcessPoolExecutor(args.workers, initializer=_init) as pool:
        for stats in pool.map(_run, jobs):
            for k in ("inputs", "crashes", "hangs", "false_verified", "unnamed", "verified", "incomplete", "corrupt"):
                total[k] += stats[k]
            total["max_s"] = max(total["max_s"], stats["max_s"])
            total["max_rss_mb"] = max(total["max_rss_mb"], stats["max_rss_mb"])
            total["saved"] += stats["saved"]
            failures = total["crashes"] + total["hangs"] + total["false_verified"] + total["unnamed"]
            print(f"\r{total['inputs']}/{args.inputs} inputs, failures so far: {failures}", end="", file=sys.stderr)
    print(file=sys.stderr)
    wall = time.perf_counter() - t0
    print(f"ground-decode fuzz campaign (seed {args.seed}, {args.workers} workers, {wall:.0f} s)")
    print(f"| inputs tried | crashes | hangs (> {args.time_limit:.1f} s) | false verified | incomplete, unnamed "
          "| peak memory (max RSS) | slowest input |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    print(f"| {total['inputs']} | {total['crashes']} | {total['hangs']} | {total['false_verified']} "
          f"| {total['unnamed']} | "
          f"{total['max_rss_mb']:.0f} MB | {total['max_s'] * 1000:.1f} ms |")
    print(f"frame outcomes over both decode paths: {total['verified']} verified, {total['incomplete']} incomplete, "
          f"{total['corrupt']} corrupt")
    for path in total["saved"][:20]:
        print("saved failing input:", path)
    return 1 if total["crashes"] or total["hangs"] or total["false_verified"] or total["unnamed"] else 0


if __name__ == "__main__":
    sys.exit(main())
