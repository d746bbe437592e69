"""A stand-in study runner with the engine's metric shapes, for testing the study machinery without simulating.

Study commands name it with ``--runner tests.fakes.study:fake_runner`` (the repository is on ``sys.path`` under
pytest and in the study's worker processes).
"""

from __future__ import annotations

import random
from pathlib import Path

from flight.errors import InputError

REPO = Path(__file__).resolve().parents[2]
RATIO = {"raw": 1.0, "rice": 2.3}
FRAME_BYTES = 2048 * 2048 * 2


def fake_runner(job: dict) -> dict:
    """Closed-form data budget: ~17 contact minutes a day at the radio rate, a codec ratio, a little noise."""
    codec, o = job["codec"], job["overrides"]
    if codec == "idf":
        raise InputError("codec 'idf' is not available in this build (stand-in runner)")
    rate, storage = o.get("radio.rate_bps", 2e6), o.get("storage.capacity_bytes", 32e9)
    if codec == "rice" and rate == 4e6 and storage == 8e9 and job["seed_index"] == 1:
        raise ZeroDivisionError("stand-in failure")
    rng = random.Random(job["seed"])
    days = job["duration_s"] / 86400
    captured = int(1440 * days)
    per_day = rate * 1000 / 8 / FRAME_BYTES * RATIO[codec] * (1 + 0.05 * rng.random())
    verified = min(captured, int(per_day * days))
    stored = min(storage, (captured - verified) * FRAME_BYTES / RATIO[codec])
    t = [i * 3600.0 for i in range(int(24 * days) + 1)]
    return {
        "metrics": {
            "codec": codec, "fidelity": job["fidelity"], "seed": job["seed"],
            "frames": {"captured": captured, "compressed": captured, "downlinked": verified, "verified": verified,
                       "awaiting": captured - verified, "dropped": {}, "failed": {}},
            "conservation_ok": True, "compression_ratio": RATIO[codec],
            "latency_s": {"p50": 40000.0 + rng.random(), "p95": 80000.0},
            "storage_peak_bytes": stored, "cpu_utilisation": 0.001 * RATIO[codec],
            "data": {"generated_raw_bytes": captured * FRAME_BYTES, "delivered_raw_bytes": verified * FRAME_BYTES},
            "wall_s": rng.random(),
        },
        "series": {
            "storage": {"t_s": t, "bytes": [min(storage, x * stored / t[-1]) for x in t]},
            "passes": [[30000.0 + 86400 * d, 30400.0 + 86400 * d] for d in range(int(days))],
            "latency": {"quantiles_s": [20000.0 + 600 * i for i in range(101)], "n": verified},
        },
        "info": {},
    }
