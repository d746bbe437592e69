"""Checks the simulator tests share: frame conservation, metrics without host timings, comparable event logs."""

from __future__ import annotations

import math


def conserved(m: dict) -> bool:
    """Every captured frame is in exactly one final state (verified, awaiting, dropped or failed)."""
    f = m["frames"]
    return f["captured"] == f["verified"] + f["awaiting"] + sum(f["dropped"].values()) + sum(f["failed"].values())


def without_host(m: dict) -> dict:
    """metrics.json without what depends on the host (wall time, calibration timings)."""
    return {k: v for k, v in m.items() if k not in ("wall_s", "calibration")}


def comparable(events: list[dict]) -> list[dict]:
    """Events with NaN replaced (NaN != NaN would make equal logs compare unequal)."""
    return [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in e.items()} for e in events]
