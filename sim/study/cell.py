"""One study cell on the real engine: run ``sim.mission.engine.run_simulation`` and keep what the report needs.

Why a separate adapter: the engine's ``SimResult`` is large (one event row per captured frame, a timeline
sampled every few minutes); a study keeps per cell only its metrics (for results.csv), a compact storage series
and pass list (for the storage-fill plot), and latency quantiles (for the latency CDF), so a thousand-cell study
stays a few megabytes on disk and crosses a Dask cluster cheaply.

Why some metrics are set aside: ``wall_s`` and the calibration cache flag describe the host and the cache, not
the mission. They would make results.csv differ between a local and a Dask run of the same study, so they go
to the record's ``info`` (stated in the report) instead of its ``metrics``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

#: Top-level engine metrics that depend on the host or the cache, not on the cell's inputs.
HOST_METRICS = ("wall_s", "calibration", "fidelity_note")
SERIES_POINTS = 600  # per storage series: min/max pairs over 300 bins keep the sawtooth of passes visible
LATENCY_QUANTILES = np.linspace(0.0, 1.0, 101)


def run_engine(job: dict[str, Any]) -> dict[str, Any]:
    """The default study runner: load the cell's scenario, simulate, summarise. Raises on any failure."""
    from sim.mission.engine import run_simulation
    from sim.scenario import load_scenario

    scenario = load_scenario(job["scenario"], job["overrides"])
    result = run_simulation(scenario, job["codec"], job["duration_s"], job["seed"], job["fidelity"], progress=False)
    return summarise(result)


def summarise(result: Any) -> dict[str, Any]:
    """``{"metrics", "series", "info"}`` from a SimResult (duck-typed: metrics, events, timeline, passes)."""
    metrics = {k: v for k, v in result.metrics.items() if k not in HOST_METRICS}
    info: dict[str, Any] = {k: result.metrics[k] for k in HOST_METRICS if k in result.metrics}
    info["calibration"] = calibration_rows(result.metrics)
    series = {
        "storage": storage_series(result.timeline),
        "passes": [[float(s), float(e)] for s, e in result.passes],
        "latency": latency_quantiles(result.events),
    }
    return {"metrics": metrics, "series": series, "info": info}


def calibration_rows(metrics: dict[str, Any]) -> list[dict[str, Any]]:
    """The statistical calibration table as the report prints it: per codec and source frame, the measured
    ratio and packets, and the flight CPU's cycles per pixel under the cell's CPU profile."""
    rows = (metrics.get("calibration") or {}).get("rows") or []
    cpu = metrics.get("cpu") or {}
    out = []
    for row in rows:
        name = row.get("name")
        out.append({"codec": metrics.get("codec"), "frame": name, "coded_as": row.get("codec"),
                    "raw_bytes": row.get("raw_bytes"), "coded_bytes": row.get("coded_bytes"),
                    "ratio": row.get("ratio"), "packets": row.get("packets"),
                    "escaped_tiles": row.get("escaped_tiles"), "cpu_profile": cpu.get("profile"),
                    "cycles_per_pixel": (cpu.get("cycles_per_pixel") or {}).get(name),
                    "cpu_s_per_frame": (cpu.get("seconds_per_frame_sunlit") or {}).get(name)})
    return out


def storage_series(timeline: dict[str, list[float]]) -> dict[str, list[float]]:
    """Packet-store and raw-buffer fill over time, thinned to about SERIES_POINTS points (per-bin min and max,
    in time order, so fills and the drops at each pass survive)."""
    t = np.asarray(timeline.get("t_s") or [], dtype=float)
    store = np.asarray(timeline.get("packet_store_bytes") or [], dtype=float)
    raw = np.asarray(timeline.get("raw_buffer_bytes") or np.zeros_like(store), dtype=float)
    if t.size == 0 or store.size != t.size:
        return {"t_s": [], "bytes": [], "raw_bytes": []}
    keep = _minmax_indices(store, SERIES_POINTS // 2)
    return {"t_s": t[keep].tolist(), "bytes": store[keep].tolist(), "raw_bytes": raw[keep].tolist()}


def _minmax_indices(values: np.ndarray, bins: int) -> np.ndarray:
    n = values.size
    if n <= 2 * bins:
        return np.arange(n)
    edges = np.linspace(0, n, bins + 1).astype(int)
    idx = {0, n - 1}
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        if b > a:
            seg = values[a:b]
            idx.add(a + int(np.argmin(seg)))
            idx.add(a + int(np.argmax(seg)))
    return np.array(sorted(idx))


def latency_quantiles(events: list[dict]) -> dict[str, Any]:
    """Capture-to-verified latency of the verified frames as 101 quantiles (0 %, 1 %, ..., 100 %) and a count."""
    lat = [e["latency_s"] for e in events if e.get("state") == "verified" and _finite(e.get("latency_s"))]
    if not lat:
        return {"quantiles_s": [], "n": 0}
    q = np.quantile(np.asarray(lat, dtype=float), LATENCY_QUANTILES)
    return {"quantiles_s": [round(float(v), 3) for v in q], "n": len(lat)}


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


def warm_caches(scenario_name: str, overrides_list: list[dict[str, Any]], codecs: list[str], duration_s: float,
                fidelity: str) -> None:
    """Compute pass geometry and calibration tables once, here, before the cells run in parallel.

    Why: each is cached on disk by the engine, but two workers starting at once would both compute the same
    table (tens of seconds of real encodes on a 2-core machine). Best effort: any failure here (an unavailable
    codec, say) is left for the cell itself to report.
    """
    from sim.mission.coding import Coder
    from sim.scenario import load_scenario
    from sim.world.orbit import compute_geometry
    from sim.world.sources import make_source

    seen_geo, seen_cal = set(), set()
    for overrides in overrides_list:
        try:
            scenario = load_scenario(scenario_name, overrides)
        except Exception:  # noqa: BLE001
            continue
        d = scenario.to_dict()
        geo_key = repr((d["orbit"], d["stations"]))
        if geo_key not in seen_geo:
            seen_geo.add(geo_key)
            try:
                compute_geometry(scenario, duration_s)
            except Exception:  # noqa: BLE001
                pass
        if fidelity != "statistical":
            continue
        cal_key = repr((d["camera"], d["codec"]))
        if cal_key in seen_cal:
            continue
        seen_cal.add(cal_key)
        for codec in codecs:
            try:
                Coder(make_source(scenario), codec, scenario.codec, exact=False)
            except Exception:  # noqa: BLE001
                pass
