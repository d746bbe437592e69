"""The study's figures (matplotlib, Agg backend): each answers one question a design review asks.

Why small PNGs at a modest DPI: they are embedded as base64 in a self-contained report.html that people mail
around, and shipped in examples/; a figure is for reading, not printing. Every plot draws only from
:class:`sim.study.results.Summary` (the same numbers as results.csv) plus, for time series and latency
distributions, the per-cell series kept in the cell records.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from sim.study.results import Summary, describe_params, unit_label  # noqa: E402
from tools.files import atomic_path  # noqa: E402

DPI = 130
CODEC_COLOURS = {"raw": "#7f7f7f", "rice": "#1f77b4", "idf": "#d62728"}
MAX_PANELS = 6


@dataclass
class Figure:
    """A written figure: where it is, what it shows (alt text), and the caption the report prints under it."""

    name: str
    path: Path
    title: str
    caption: str


def colour(codec: str) -> str:
    return CODEC_COLOURS.get(codec, "#2ca02c")


def _xvals(summary: Summary, key: str) -> tuple[list[float], list[str], bool]:
    """Plot positions for a swept key: numbers where numeric, else evenly spaced categories."""
    values = summary.values(key)
    numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
    labels = [unit_label(key, v) for v in values]
    return ([float(v) for v in values] if numeric else list(range(len(values)))), labels, numeric


def _axis_label(key: str) -> str:
    unit = {"_bps": " (Mbit/s)", "_bytes": " (GB)", "_hz": " (MHz)"}
    for suffix, text in unit.items():
        if key.endswith(suffix):
            return key + text
    return key


def _scale(key: str) -> float:
    return 1e6 if key.endswith(("_bps", "_hz")) else 1e9 if key.endswith("_bytes") else 1.0


def _panels(summary: Summary, vary: list[str]) -> list[dict[str, Any]]:
    """Small multiples: one panel per combination of the other swept keys (at most MAX_PANELS, else the
    reference slice alone)."""
    others = [k for k in summary.spec.swept_keys if k not in vary]
    combos = list(itertools.product(*(summary.values(k) for k in others)))
    if not others or len(combos) > MAX_PANELS:
        return [summary.slice(vary)]
    return [dict(zip(others, c, strict=True)) for c in combos]


def panel_title(fixed: dict[str, Any]) -> str:
    """A small-multiple's title: the held keys (last part of the dotted name) and values in their units
    (``capacity_bytes 8 GB, profile cortex-a9``): a bare ``8 GB`` over a panel does not say what is 8 GB."""
    return ", ".join(f"{k.rsplit('.', 1)[-1]} {unit_label(k, v)}" for k, v in fixed.items())


def _save(fig: Any, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with atomic_path(path, keep_suffix=True) as tmp:  # a reader never sees half a PNG; matplotlib reads the suffix
            fig.savefig(tmp, dpi=DPI, metadata={"Software": None})
    finally:
        plt.close(fig)


def _subplots(n: int, width: float = 4.2, height: float = 3.3) -> tuple[Any, list[Any]]:
    cols = 2 if n == 4 else min(n, 3)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows), squeeze=False, layout="constrained")
    flat = list(axes.flat)
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n]


def _line_per_codec(summary: Summary, column: str, ax: Any, fixed: dict[str, Any], scale: float = 1.0) -> bool:
    """Mean over seeds as a line, min-max over seeds as a band; False when nothing could be drawn."""
    key = summary.primary
    xs, labels, numeric = _xvals(summary, key)
    drew = False
    for codec in summary.codecs():
        pts = []
        for x, value in zip(xs, summary.values(key), strict=True):
            g = summary.group({**fixed, key: value}, codec)
            st = g.stat(column) if g else None
            if st is not None:
                pts.append((x / (_scale(key) if numeric else 1), st.mean / scale, st.lo / scale, st.hi / scale))
        if not pts:
            continue
        x, m, lo, hi = map(np.array, zip(*pts, strict=True))
        ax.plot(x, m, "o-", color=colour(codec), label=codec, lw=1.6, ms=4)
        ax.fill_between(x, lo, hi, color=colour(codec), alpha=0.18, lw=0)
        drew = True
    if not numeric:
        ax.set_xticks(xs, labels)
    ax.set_xlabel(_axis_label(key))
    ax.grid(alpha=0.3)
    return drew


def plot_frames_per_day(summary: Summary, out: Path) -> Figure | None:
    """Verified frames/day against the primary axis, one line per codec, seed spread as a band."""
    if summary.primary is None:
        return None
    panels = _panels(summary, [summary.primary])
    fig, axes = _subplots(len(panels))
    ok = [r for r in summary.rows if r["status"] == "ok"]
    captured = max((r["captured_per_day"] or 0.0 for r in ok), default=0.0)
    top = max((r["verified_per_day"] or 0.0 for r in ok), default=0.0)
    target = summary.spec.target_frames_per_day
    for ax, fixed in zip(axes, panels, strict=True):
        _line_per_codec(summary, "verified_per_day", ax, fixed)
        title = panel_title(fixed)
        if captured and captured <= 3 * top:
            ax.axhline(captured, color="k", ls=":", lw=1, label="captured/day")
        if target and target <= 3 * max(top, 1.0):
            ax.axhline(target, color="#ff7f0e", ls="--", lw=1, label=f"target {target:g}")
        ax.set_ylabel("verified frames / day")
        ax.set_title(title, fontsize=9)
        ax.set_ylim(bottom=0)
    axes[0].legend(fontsize=9)
    if captured and captured > 3 * top:
        fig.suptitle(f"the camera captures {captured:.0f} frames/day (off scale)", fontsize=9)
    path = out / "frames_per_day.png"
    _save(fig, path)
    return Figure("frames_per_day", path, "Verified frames per day vs " + summary.primary,
                  "Verified frames per day (mean over seeds; band: min-max over seeds) against "
                  f"{summary.primary}, one line per codec; dotted: frames captured per day (when on scale); dashed: "
                  "the target of the cheapest-configuration table."
                  + (f" Panels: {', '.join(k for k in panels[0])}." if panels[0] else ""))


def plot_delivered_vs_generated(summary: Summary, out: Path) -> Figure | None:
    """Raw-equivalent GB/day generated by the camera against GB/day verified on the ground, per codec."""
    if summary.primary is None:
        return None
    fixed = summary.slice([summary.primary])
    fig, axes = _subplots(2, width=4.6)
    ax = axes[0]
    drew = _line_per_codec(summary, "delivered_gb_per_day", ax, fixed)
    gen = [r["generated_gb_per_day"] for r in summary.rows if r["status"] == "ok" and r["generated_gb_per_day"]]
    if gen:
        ax.axhline(statistics_mean(gen), color="k", ls=":", lw=1.2, label="generated")
    ax.set_ylabel("GB / day (raw-equivalent)")
    ax.set_title("delivered (verified) vs generated", fontsize=9)
    ax.set_yscale("log")
    ax.legend(fontsize=9)
    ax = axes[1]
    _line_per_codec(summary, "verified_fraction", ax, fixed, scale=0.01)
    ax.set_ylabel("% of captured frames verified")
    ax.set_title("share of the science that comes home", fontsize=9)
    ax.set_yscale("log")
    ax.axhline(100, color="k", ls=":", lw=1)
    if not drew:
        plt.close(fig)
        return None
    if fixed:
        fig.suptitle(describe_params(fixed), fontsize=9)
    path = out / "delivered_vs_generated.png"
    _save(fig, path)
    return Figure("delivered_vs_generated", path, "Data delivered vs generated",
                  "Left: raw-equivalent data verified on the ground per day (verified frames x raw frame size) "
                  "against data generated by the camera (dotted). Right: the same as a share of captured frames. "
                  "Log scales: in a bandwidth-limited mission the two differ by orders of magnitude. "
                  + (f"Other swept keys at the reference slice ({describe_params(fixed)})." if fixed else ""))


def statistics_mean(values: list[float]) -> float:
    return float(np.mean(values))


def plot_storage_fill(summary: Summary, records: dict[str, dict], out: Path) -> Figure | None:
    """Packet-store fill over time for the best and the worst cell, contact passes shaded."""
    best, worst = summary.best_and_worst()
    if best is None:
        return None
    picks = [("best", best), ("worst", worst)] if worst["cell_id"] != best["cell_id"] else [("only", best)]
    fig, axes = _subplots(len(picks), width=5.6, height=3.0)
    drew = False
    for ax, (tag, row) in zip(axes, picks, strict=True):
        series = (records.get(row["cell_id"]) or {}).get("series") or {}
        storage = series.get("storage") or {}
        t = np.asarray(storage.get("t_s") or [], dtype=float) / 86400.0
        fill = np.asarray(storage.get("bytes") or [], dtype=float) / 1e9
        passes = series.get("passes") or []
        for s, e in passes:
            ax.axvspan(s / 86400.0, e / 86400.0, color="#2ca02c", alpha=0.35, lw=0)
        if passes:  # a 5-minute pass is thinner than a pixel on a 30-day axis: mark each one at the bottom too
            mids = [(s + e) / 2 / 86400.0 for s, e in passes]
            ax.plot(mids, [0] * len(mids), "|", color="#2ca02c", ms=9, mew=1.5, label="contact pass", clip_on=False)
        if t.size:
            ax.step(t, fill, where="post", color=colour(row["codec"]), lw=1.2, label="packet store")
            drew = True
        cap = row.get("storage.capacity_bytes") or row.get("scenario.storage.capacity_bytes")
        if cap:
            ax.axhline(float(cap) / 1e9, color="k", ls="--", lw=1, label="capacity")
        params = {k: row[k] for k in summary.spec.swept_keys}
        ax.set_title(f"{tag}: {row['codec']}, {describe_params(params) if params else 'scenario as given'}\n"
                     f"{row['verified_per_day']:.1f} verified frames/day (seed #0)", fontsize=9)
        ax.set_xlabel("mission time (days)")
        ax.set_ylabel("stored (GB)")
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
    if not drew:
        plt.close(fig)
        return None
    axes[0].legend(fontsize=9, loc="upper left")
    path = out / "storage_fill.png"
    _save(fig, path)
    return Figure("storage_fill", path, "Storage fill over time, best and worst cells",
                  "Onboard packet-store fill over the mission for the cell with the most verified frames per day "
                  "(best) and the fewest (worst), seed #0; green bands are contact passes; dashed: capacity.")


def _cdf_from_quantiles(records: list[dict]) -> tuple[np.ndarray, np.ndarray] | None:
    """Pool per-cell latency quantiles (equal-mass points) into one CDF, each cell weighted by its frame count."""
    xs, ws = [], []
    for rec in records:
        lat = (rec.get("series") or {}).get("latency") or {}
        q, n = lat.get("quantiles_s") or [], lat.get("n") or 0
        if q and n:
            xs.extend(q)
            ws.extend([n / len(q)] * len(q))
    if not xs:
        return None
    order = np.argsort(xs)
    x = np.asarray(xs, dtype=float)[order]
    w = np.cumsum(np.asarray(ws, dtype=float)[order])
    return x, w / w[-1]


def plot_latency_cdf(summary: Summary, records: dict[str, dict], out: Path) -> Figure | None:
    """Capture-to-verified latency CDF per codec, one panel per primary value (reference slice, seeds pooled)."""
    key = summary.primary
    values = summary.values(key) if key else [None]
    fixed = summary.slice([key] if key else [])
    fig, axes = _subplots(len(values) if len(values) <= MAX_PANELS else 1, width=3.6, height=3.0)
    values = values if len(values) <= MAX_PANELS else [fixed.get(key)]
    drew = False
    for ax, value in zip(axes, values, strict=True):
        params = {**fixed, key: value} if key else fixed
        for codec in summary.codecs():
            g = summary.group(params, codec)
            cdf = _cdf_from_quantiles([records.get(r["cell_id"]) or {} for r in g.ok_rows]) if g else None
            if cdf is None:
                continue
            ax.plot(cdf[0] / 3600.0, cdf[1], color=colour(codec), label=codec, lw=1.5)
            drew = True
        ax.set_title(unit_label(key, value) if key else "", fontsize=9)
        ax.set_xlabel("capture to verified (hours)")
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
    if not drew:
        plt.close(fig)
        return None
    axes[0].set_ylabel("fraction of verified frames")
    axes[0].legend(fontsize=9)
    path = out / "latency_cdf.png"
    _save(fig, path)
    return Figure("latency_cdf", path, "Latency CDF per codec",
                  "Cumulative distribution of the time from capture to bit-exact verification on the ground, "
                  "per codec, seeds pooled; one panel per " + (key or "configuration")
                  + (f"; other swept keys at the reference slice ({describe_params(fixed)})." if fixed else "."))


def cpu_axis(summary: Summary) -> str | None:
    """The swept key that names the flight CPU: ``cpu.profile`` if swept, else the first swept ``cpu.*`` key."""
    keys = [k for k in summary.spec.swept_keys if k.startswith("cpu.")]
    return "cpu.profile" if "cpu.profile" in keys else (keys[0] if keys else None)


def plot_cpu(summary: Summary, out: Path) -> Figure | None:
    """Flight-CPU utilisation per codec and flight CPU (bars, log scale, 100 % marked): where compute, not the
    radio, becomes the limit."""
    column = "metrics.cpu_utilisation"
    if not any(r.get(column) not in (None, "") for r in summary.rows):
        return None
    key = cpu_axis(summary)
    cpus = summary.values(key) if key else [None]
    fixed = summary.slice([key] if key else [])
    codecs = summary.codecs()
    fig, axes = _subplots(1, width=max(4.5, 1.5 + 0.7 * len(codecs) * len(cpus)), height=3.4)
    ax = axes[0]
    width = 0.8 / len(cpus)
    hatches = ["", "//", "..", "xx", "\\\\", "oo"]
    lowest = 1.0
    for j, cpu in enumerate(cpus):
        for i, codec in enumerate(codecs):
            g = summary.group({**fixed, key: cpu} if key else fixed, codec)
            st = g.stat(column) if g else None
            x = i - 0.4 + width * (j + 0.5)
            if st is None:
                ax.text(x, 1e-2, "failed", rotation=90, ha="center", va="bottom", fontsize=9)
                continue
            value = max(st.mean * 100, 1e-4)
            lowest = min(lowest, value)
            ax.bar(x, value, width * 0.9, color=colour(codec), hatch=hatches[j % len(hatches)], edgecolor="k", lw=0.5,
                   label=unit_label(key, cpu) if key and i == 0 else None)
            ax.text(x, value * 1.15, f"{value:.2g} %", ha="center", va="bottom", fontsize=9)
    ax.axhline(100, color="#d62728", ls="--", lw=1)
    ax.text(-0.45, 110, "compute-bound", color="#d62728", fontsize=9, ha="left", va="bottom")
    ax.set_yscale("log")
    ax.set_ylim(min(lowest / 3, 1e-2), 400)
    ax.set_xticks(range(len(codecs)), codecs)
    ax.set_ylabel("flight CPU busy (% of core time)")
    cpu_name = summary.base_inputs.get("cpu.profile", "")
    ax.set_title(", ".join(([] if key else [f"flight CPU {cpu_name}"]) + ([panel_title(fixed)] if fixed else [])),
                 fontsize=9)
    if key:
        ax.legend(fontsize=9, title=key, title_fontsize=9)
    ax.grid(alpha=0.3, axis="y")
    path = out / "cpu_utilisation.png"
    _save(fig, path)
    return Figure("cpu_utilisation", path, "Flight CPU utilisation per codec and flight CPU",
                  "Share of the flight CPU's core time spent compressing, per codec"
                  + (f" and {key}" if key else f" on the scenario's CPU ({cpu_name})")
                  + " (mean over seeds; log scale). At the dashed 100 % line the CPU, not the radio, limits how much "
                  "science is coded and sent." + (f" Other swept keys at {describe_params(fixed)}." if fixed else ""))


def heatmap_axes(summary: Summary) -> tuple[str, str] | None:
    """The two axes of the heat map: the study's choice, else the first two swept keys."""
    if summary.spec.heatmap_axes:
        return summary.spec.heatmap_axes
    keys = summary.spec.swept_keys
    return (keys[0], keys[1]) if len(keys) >= 2 else None


def plot_heatmap(summary: Summary, out: Path) -> Figure | None:
    """Mean verified frames/day over two swept axes, one panel per codec, values written in the cells."""
    axes_keys = heatmap_axes(summary)
    if axes_keys is None:
        return None
    kx, ky = axes_keys
    fixed = summary.slice([kx, ky])
    xv, yv = summary.values(kx), summary.values(ky)
    codecs = summary.codecs()
    fig, axes = _subplots(len(codecs), width=3.2 + 0.9 * len(xv), height=2.0 + 0.7 * len(yv))
    grids = {}
    for codec in codecs:
        grid = np.full((len(yv), len(xv)), np.nan)
        for (i, y), (j, x) in itertools.product(enumerate(yv), enumerate(xv)):
            g = summary.group({**fixed, kx: x, ky: y}, codec)
            st = g.stat("verified_per_day") if g else None
            grid[i, j] = st.mean if st else np.nan
        grids[codec] = grid
    finite = [v for g in grids.values() for v in g.flat if np.isfinite(v)]
    vmax = max(finite) if finite else 1.0
    for ax, codec in zip(axes, codecs, strict=True):
        grid = grids[codec]
        im = ax.imshow(np.ma.masked_invalid(grid), origin="lower", cmap="viridis", vmin=0, vmax=vmax, aspect="auto")
        for (i, j), v in np.ndenumerate(grid):
            text = f"{v:.0f}" if np.isfinite(v) else "failed"
            ax.text(j, i, text, ha="center", va="center", fontsize=13, fontweight="bold",
                    color="w" if np.isfinite(v) and v < 0.6 * vmax else "k")
        ax.set_xticks(range(len(xv)), [unit_label(kx, v) for v in xv], fontsize=11)
        ax.set_yticks(range(len(yv)), [unit_label(ky, v) for v in yv], fontsize=11)
        ax.set_xlabel(kx, fontsize=11)
        ax.set_ylabel(ky, fontsize=11)
        ax.set_title(codec, fontsize=12)
    fig.colorbar(im, ax=axes, label="verified frames / day", shrink=0.9)
    path = out / "heatmap.png"
    _save(fig, path)
    rest = f"; other swept keys at {describe_params(fixed)}" if fixed else ""
    return Figure("heatmap", path, f"Verified frames per day over {kx} and {ky}",
                  f"Mean verified frames per day (over seeds) for every {kx} x {ky}, one panel per codec{rest}.")


def plot_all(summary: Summary, records: dict[str, dict], out: Path) -> tuple[list[Figure], list[str]]:
    """Every figure that the study's shape allows; the second list says which were skipped and why."""
    makers: list[tuple[str, Callable[[], Figure | None], str]] = [
        ("frames_per_day", lambda: plot_frames_per_day(summary, out), "no swept key or no successful cell"),
        ("delivered_vs_generated", lambda: plot_delivered_vs_generated(summary, out), "no successful cell"),
        ("storage_fill", lambda: plot_storage_fill(summary, records, out), "no storage time series"),
        ("latency_cdf", lambda: plot_latency_cdf(summary, records, out), "no verified frames with latencies"),
        ("cpu_utilisation", lambda: plot_cpu(summary, out), "no CPU utilisation metric"),
        ("heatmap", lambda: plot_heatmap(summary, out), "fewer than two swept keys"),
    ]
    figures, skipped = [], []
    for name, make, why in makers:
        fig = make()
        if fig is None:
            skipped.append(f"{name}: {why}")
        else:
            figures.append(fig)
    return figures, skipped
