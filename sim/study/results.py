"""A study's results as rows (one per cell and seed) and the summaries the report draws from them.

Why one module for the numbers: the CSV, the tables, the headline sentence and the plots must agree, so every
derived quantity (frames per day, gain over raw, the reference slice, "cheapest") is defined here once and the
report and plots only format what this module computes from ``results.csv``'s own rows.
"""

from __future__ import annotations

import csv
import io
import math
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sim.study.grid import Cell, StudySpec, fmt_value
from tools.files import write_atomic

DAY_S = 86400.0

#: Columns that describe the cell (before the swept keys, the derived numbers, metrics.* and scenario.*).
HEAD_COLUMNS = ["cell_id", "config_id", "codec", "seed_index", "seed", "status", "error", "scenario", "duration_s",
                "fidelity"]

#: Numbers derived from the engine's metrics, defined once for the CSV, the tables and the plots.
DERIVED_COLUMNS = ["verified_per_day", "captured_per_day", "verified_fraction", "verified_gain_vs_raw",
                   "generated_gb_per_day", "delivered_gb_per_day"]

VERIFIED = "metrics.frames.verified"
CAPTURED = "metrics.frames.captured"


def flatten_metrics(metrics: dict[str, Any], prefix: str = "metrics.") -> dict[str, Any]:
    """``{"frames": {"dropped": {"storage_full": 3}}}`` -> ``{"metrics.frames.dropped.storage_full": 3}``.

    Lists are left out (they belong in the per-cell series, not in a CSV cell); strings and numbers kept.
    """
    out: dict[str, Any] = {}
    for key, value in metrics.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten_metrics(value, f"{name}."))
        elif isinstance(value, bool | int | float | str) or value is None:
            out[name] = value
    return out


def build_rows(spec: StudySpec, cells: list[Cell], records: dict[str, dict], inputs: dict[str, dict]) -> list[dict]:
    """One row per cell in grid order: identity, swept values, derived numbers, ``metrics.*``, ``scenario.*``.

    ``inputs`` maps config_id to the resolved scenario (:func:`sim.study.grid.scenario_inputs`) so every input
    is in the CSV, not only the swept ones.
    """
    days = spec.duration_s / DAY_S
    rows = []
    for cell in cells:
        rec = records.get(cell.cell_id) or {"status": "missing", "error": "not run", "metrics": {}}
        row: dict[str, Any] = {"cell_id": cell.cell_id, "config_id": cell.config_id, "codec": cell.codec,
                               "seed_index": cell.seed_index, "seed": cell.seed, "status": rec.get("status"),
                               "error": rec.get("error", ""), "scenario": spec.scenario,
                               "duration_s": spec.duration_s, "fidelity": spec.fidelity}
        row.update(cell.params)
        metrics = flatten_metrics(rec.get("metrics") or {})
        scen = inputs.get(cell.config_id, {})
        ok = rec.get("status") == "ok" and VERIFIED in metrics
        if ok:
            verified, captured = float(metrics[VERIFIED]), float(metrics.get(CAPTURED, 0) or 0)
            generated = _num(metrics.get("metrics.data.generated_raw_bytes"))
            delivered = _num(metrics.get("metrics.data.delivered_raw_bytes"))
            frame_bytes = _frame_bytes(scen)
            if generated is None and frame_bytes:
                generated = captured * frame_bytes
            if delivered is None and frame_bytes:
                delivered = verified * frame_bytes
            row["verified_per_day"] = verified / days
            row["captured_per_day"] = captured / days
            row["verified_fraction"] = verified / captured if captured else None
            row["generated_gb_per_day"] = generated / 1e9 / days if generated is not None else None
            row["delivered_gb_per_day"] = delivered / 1e9 / days if delivered is not None else None
        else:
            for col in DERIVED_COLUMNS:
                row[col] = None
        row["verified_gain_vs_raw"] = None
        row.update(metrics)
        row.update({f"scenario.{k}": v for k, v in scen.items()})
        rows.append(row)
    _gain_vs_raw(rows)
    return rows


def _frame_bytes(scen: dict[str, Any]) -> float | None:
    """Raw bytes per frame when the engine reports no byte totals: rows x cols x 2 (a 16-bit sensor)."""
    rows, cols = scen.get("camera.rows"), scen.get("camera.cols")
    return float(rows) * float(cols) * 2.0 if rows and cols else None


def _gain_vs_raw(rows: list[dict]) -> None:
    """verified_per_day / raw's, paired on the same configuration and seed (the codecs share the seed)."""
    raw = {(r["config_id"], r["seed_index"]): r["verified_per_day"] for r in rows
           if r["codec"] == "raw" and r["status"] == "ok"}
    for r in rows:
        base = raw.get((r["config_id"], r["seed_index"]))
        if r["status"] == "ok" and base:
            r["verified_gain_vs_raw"] = r["verified_per_day"] / base


def columns(spec: StudySpec, rows: list[dict]) -> list[str]:
    """The CSV header: fixed head, swept keys, derived, then every metrics.* and scenario.* column seen."""
    cols = HEAD_COLUMNS + spec.swept_keys + DERIVED_COLUMNS
    seen = set(cols)
    metric_cols = sorted({k for r in rows for k in r if k.startswith("metrics.") and k not in seen})
    scen_cols: list[str] = []
    for r in rows:
        for k in r:
            if k.startswith("scenario.") and k not in seen and k not in scen_cols:
                scen_cols.append(k)
    return cols + metric_cols + scen_cols


def format_cell(value: Any) -> str:
    """CSV text of a value: repr for floats (round-trips exactly and is the same on every machine)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else ""
    return str(value)


def write_csv(path: Path, spec: StudySpec, rows: list[dict]) -> None:
    """results.csv: one row per cell and seed, every input and metric, in grid order."""
    cols = columns(spec, rows)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(cols)
    for r in rows:
        writer.writerow([format_cell(r.get(c)) for c in cols])
    write_atomic(path, buf.getvalue())


def read_csv(path: Path) -> list[dict[str, str]]:
    """results.csv back as dicts of strings (what a reader of the file sees)."""
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


# -- summaries --------------------------------------------------------------------------------------------------


@dataclass
class Stat:
    """Mean and spread over seeds of one number for one (configuration, codec)."""

    mean: float
    lo: float
    hi: float
    n: int

    @classmethod
    def of(cls, values: list[float]) -> Stat | None:
        vals = [v for v in values if v is not None and math.isfinite(v)]
        if not vals:
            return None
        return cls(statistics.fmean(vals), min(vals), max(vals), len(vals))


@dataclass
class Group:
    """All seeds of one (configuration, codec)."""

    config_id: str
    codec: str
    params: dict[str, Any]
    rows: list[dict] = field(default_factory=list)

    @property
    def ok_rows(self) -> list[dict]:
        return [r for r in self.rows if r["status"] == "ok"]

    @property
    def failed(self) -> bool:
        return not self.ok_rows

    def stat(self, column: str) -> Stat | None:
        return Stat.of([_num(r.get(column)) for r in self.ok_rows])

    def errors(self) -> list[str]:
        return sorted({r["error"] for r in self.rows if r["status"] != "ok" and r["error"]})


def _num(value: Any) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


class Summary:
    """The study's rows grouped by configuration and codec, with the reference slice and "cheapest" rule."""

    def __init__(self, spec: StudySpec, rows: list[dict], base_inputs: dict[str, Any]) -> None:
        self.spec = spec
        self.rows = rows
        self.base_inputs = base_inputs
        self.groups: dict[tuple[str, str], Group] = {}
        for r in rows:
            key = (r["config_id"], r["codec"])
            if key not in self.groups:
                self.groups[key] = Group(r["config_id"], r["codec"], {k: r[k] for k in spec.swept_keys})
            self.groups[key].rows.append(r)

    # axes
    @property
    def primary(self) -> str | None:
        """The x axis of most plots: the radio rate when swept, else the first swept key."""
        keys = self.spec.swept_keys
        return "radio.rate_bps" if "radio.rate_bps" in keys else (keys[0] if keys else None)

    def values(self, key: str) -> list[Any]:
        return list(next(s.values for s in self.spec.sweeps if s.key == key))

    def reference(self) -> dict[str, Any]:
        """For each swept key, the value held fixed when another axis is plotted: the scenario's own value when
        it is one of the swept values, else the first value listed."""
        ref = {}
        for sweep in self.spec.sweeps:
            base = self.base_inputs.get(sweep.key)
            ref[sweep.key] = base if base in sweep.values else sweep.values[0]
        return ref

    def group(self, params: dict[str, Any], codec: str) -> Group | None:
        for g in self.groups.values():
            if g.codec == codec and all(g.params.get(k) == v for k, v in params.items()):
                return g
        return None

    def slice(self, vary: list[str], fixed: dict[str, Any] | None = None) -> dict[str, Any]:
        """The reference values of every swept key not in ``vary`` (optionally overridden by ``fixed``)."""
        ref = {k: v for k, v in self.reference().items() if k not in vary}
        ref.update(fixed or {})
        return ref

    def codecs(self) -> list[str]:
        return list(self.spec.codecs)

    # headline
    def headline(self) -> list[dict[str, Any]]:
        """Per primary value (reference slice for the other axes): each codec's mean verified/day and its gain
        over raw (mean of the per-seed paired ratios)."""
        out = []
        xs = self.values(self.primary) if self.primary else [None]
        for x in xs:
            params = self.slice([self.primary] if self.primary else [])
            if self.primary:
                params[self.primary] = x
            entry: dict[str, Any] = {"x": x, "params": params, "codecs": {}}
            for codec in self.codecs():
                g = self.group(params, codec)
                entry["codecs"][codec] = {
                    "verified_per_day": g.stat("verified_per_day") if g else None,
                    "gain": g.stat("verified_gain_vs_raw") if g and codec != "raw" else None,
                    "error": "; ".join(g.errors()) if g and g.failed else "",
                }
            out.append(entry)
        return out

    # cheapest
    def cost_key(self, params: dict[str, Any]) -> tuple:
        """Lexicographic cost: the swept keys in the study's cost order, numbers ascending, strings by listing."""
        key = []
        for k in self.spec.effective_cost_order():
            v = params[k]
            key.append(v if isinstance(v, int | float) and not isinstance(v, bool) else self.values(k).index(v))
        return tuple(key)

    def cheapest(self, target: float) -> dict[str, dict[str, Any] | None]:
        """Per codec, the cheapest configuration whose *worst* seed delivers >= target verified frames/day."""
        out: dict[str, dict[str, Any] | None] = {}
        for codec in self.codecs():
            best = None
            for g in self.groups.values():
                if g.codec != codec or g.failed or len(g.ok_rows) < len(g.rows):
                    continue
                st = g.stat("verified_per_day")
                if st is None or st.lo < target:
                    continue
                if best is None or self.cost_key(g.params) < self.cost_key(best["params"]):
                    best = {"params": g.params, "verified_per_day": st, "group": g}
            out[codec] = best
        return out

    def failures(self) -> list[dict]:
        return [r for r in self.rows if r["status"] != "ok"]

    def best_and_worst(self) -> tuple[dict | None, dict | None]:
        """The seed-0 rows of the (configuration, codec) with the most and the fewest verified frames per day."""
        ranked = []
        for g in self.groups.values():
            st = g.stat("verified_per_day")
            if st is not None:
                ranked.append((st.mean, g))
        if not ranked:
            return None, None
        ranked.sort(key=lambda t: (t[0], self.cost_key(t[1].params), t[1].codec))
        return ranked[-1][1].ok_rows[0], ranked[0][1].ok_rows[0]


def describe_params(params: dict[str, Any]) -> str:
    """``radio.rate_bps=2e6, storage.capacity_bytes=3.2e10``."""
    return ", ".join(f"{k}={fmt_value(v)}" for k, v in params.items()) or "(scenario as given)"


def unit_label(key: str, value: Any) -> str:
    """A value in the unit people say: 2e6 bit/s -> '2 Mbit/s', 3.2e10 bytes -> '32 GB'."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        if key.endswith("_bps"):
            return f"{value / 1e6:g} Mbit/s"
        if key.endswith("_bytes"):
            return f"{value / 1e9:g} GB"
        if key.endswith("_hz"):
            return f"{value / 1e6:g} MHz"
        if key.endswith("_s"):
            return f"{value:g} s"
    return fmt_value(value)


def grouped(rows: list[dict], key: str) -> dict[Any, list[dict]]:
    out: dict[Any, list[dict]] = defaultdict(list)
    for r in rows:
        out[r[key]].append(r)
    return out
