"""PNG plots of a run: storage fill with contacts shaded, data generated vs delivered, latency distribution.

Matplotlib with the Agg backend (no display needed). Each function writes one file and returns its path.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402
import numpy as np  # noqa: E402

from sim.output.labels import overrides_text  # noqa: E402

GB = 1e9


def _time_axis(duration_s: float) -> tuple[float, str]:
    return (3600.0, "hours") if duration_s <= 3 * 86400 else (86400.0, "days")


def _shade_contacts(ax, contacts: list[dict], scale: float) -> None:
    # An edge line keeps a 7-minute pass visible (about one pixel) on a 30-day axis.
    for k, c in enumerate(contacts):
        lost = c.get("missed", False) or c.get("outage_s", 0.0) >= c["end_s"] - c["start_s"]
        color = "tab:red" if lost else "tab:green"
        ax.axvspan(c["start_s"] / scale, c["end_s"] / scale, facecolor=color, edgecolor=color, alpha=0.3, lw=0.6,
                   label=None if k else "contacts (red: missed or in an outage)")


def _title(metrics: dict, what: str) -> str:
    """The plot's title: what, scenario, codec, fidelity, and on further lines every command-line change
    (``metrics["overrides"]``, written by ``sim.run``), wrapped to the figure's width."""
    title = f"{what}: {metrics['scenario']}, {metrics['codec']}, {metrics['fidelity']}"
    if metrics.get("overrides"):
        title += "\n" + "\n".join(textwrap.wrap("changed: " + overrides_text(metrics["overrides"]), 110))
    return title


def _legend_below(ax, ncol: int) -> None:
    """The legend under the axes, outside them, so it never covers a curve (the store's fill ramp starts at the
    top left, where a legend inside would sit)."""
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=ncol, fontsize=9, frameon=False)


def _gb(n: float) -> str:
    return f"{n / GB:.3g} GB" if n >= 0.1 * GB else f"{n / 1e6:.3g} MB"


def plot_storage(result, path: Path) -> Path:
    """Packet store and raw-frame buffer fill (GB) over time, contacts shaded; the capacity drawn above a full
    store (red, dashed, in front) and labelled with its value."""
    m, tl = result.metrics, result.timeline
    scale, unit = _time_axis(m["duration_s"])
    t = np.asarray(tl["t_s"]) / scale
    store = np.asarray(tl["packet_store_bytes"])
    raw = np.asarray(tl["raw_buffer_bytes"])
    capacity = m["packet_store_capacity_bytes"]
    fig, ax = plt.subplots(figsize=(10, 4.8))
    _shade_contacts(ax, result.contacts, scale)
    ax.plot(t, store / GB, color="tab:blue", lw=1.6, label=f"packet store (peak {_gb(store.max(initial=0))})")
    ax.plot(t, raw / GB, color="tab:orange", lw=1.0, label=f"raw-frame buffer (peak {_gb(raw.max(initial=0))})")
    ax.axhline(capacity / GB, color="tab:red", ls=(0, (5, 3)), lw=1.4, zorder=5,
               label=f"packet store capacity ({_gb(capacity)})")
    ax.text(0.995, capacity / GB, f"capacity {_gb(capacity)}", transform=ax.get_yaxis_transform(), ha="right",
            va="bottom", color="tab:red", fontsize=9)
    ax.set_xlabel(f"time since start ({unit})")
    ax.set_ylabel("onboard storage used (GB)")
    ax.set_xlim(0, m["duration_s"] / scale)
    ax.set_ylim(0, 1.12 * max(capacity, store.max(initial=0), raw.max(initial=0)) / GB)
    ax.set_title(_title(m, "Storage fill"))
    _legend_below(ax, 2)
    return _save(fig, path)


def plot_data(result, path: Path) -> Path:
    """Cumulative data generated, delivered and sent (GB) on a log axis, each curve's end value written at the
    right. Log, not linear: a bandwidth-limited mission delivers a few per cent of what it generates (leo, RICE,
    30 d: 20 GB of 362 GB), which a linear axis shows as a line flat on zero; on a log axis the gap between the
    curves is their ratio, constant when the link is the limit."""
    m, tl = result.metrics, result.timeline
    scale, unit = _time_axis(m["duration_s"])
    t = np.asarray(tl["t_s"]) / scale
    series = [("generated_bytes", "black", "-", 1.4, "generated (raw)"),
              ("delivered_bytes", "tab:green", "-", 1.8, "delivered and verified (raw equivalent)"),
              ("downlinked_bytes", "tab:purple", "--", 1.2, "packets sent (coded, with retransmissions)")]
    fig, ax = plt.subplots(figsize=(10, 4.8))
    _shade_contacts(ax, result.contacts, scale)
    positive = []
    for key, color, ls, lw, label in series:
        y = np.asarray(tl[key], dtype=float) / GB
        end = float(y[-1]) if len(y) else 0.0
        ax.plot(t, np.where(y > 0, y, np.nan), color=color, ls=ls, lw=lw, label=f"{label}: {end:.3g} GB")
        if end > 0:
            ax.annotate(f"{end:.3g} GB", (t[-1], end), xytext=(4, 0), textcoords="offset points", va="center",
                        fontsize=9, color=color, annotation_clip=False)
        positive += list(y[y > 0])
    ax.set_yscale("log")
    if positive:
        top = max(positive)
        ax.set_ylim(max(min(positive), top * 1e-5) / 1.5, top * 2.0)
    ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    ax.set_xlabel(f"time since start ({unit})")
    ax.set_ylabel("cumulative data (GB, log scale)")
    ax.set_xlim(0, m["duration_s"] / scale)
    ax.set_title(_title(m, "Data generated vs delivered"))
    _legend_below(ax, 2)
    return _save(fig, path)


def plot_latency(result, path: Path) -> Path:
    """Histogram of capture-to-verified latency with p50 and p95, bins of whole hours or days (bins of a
    fraction of the ~12 h gap between pass groups alias into alternating tall and short bars)."""
    m = result.metrics
    lat = np.array([e["latency_s"] for e in result.events if e["state"] == "verified"], dtype=float)
    fig, ax = plt.subplots(figsize=(8, 4.4))
    if len(lat):
        scale, unit = (3600.0, "hours") if lat.max() <= 3 * 86400 else (86400.0, "days")
        x = lat / scale
        width = 1.0 if x.max() - x.min() >= 8 else 0.25 if x.max() - x.min() >= 2 else 1 / 12
        edges = np.arange(np.floor(x.min() / width) * width, x.max() + width, width)
        counts, _, _ = ax.hist(x, bins=edges, color="tab:green", alpha=0.8, edgecolor="white", lw=0.4)
        ax.set_ylim(0, 1.25 * max(counts.max(), 1))  # headroom: the legend sits above the bars
        for q, style in ((50, "-"), (95, "--")):
            v = np.percentile(lat, q) / scale
            ax.axvline(v, color="black", ls=style, lw=1.2, label=f"p{q} = {v:.2f} {unit}")
        ax.set_xlabel(f"latency, capture to verified on ground ({unit}; bins of {width:g} "
                      f"{unit[:-1] if width == 1 else unit})")
        ax.legend(fontsize=9)
    else:
        ax.text(0.5, 0.5, "no frame verified in this run", ha="center", va="center", transform=ax.transAxes)
        ax.set_xlabel("latency, capture to verified on ground")
    ax.set_ylabel("frames")
    ax.set_title(_title(m, "Latency"))
    return _save(fig, path)


def _save(fig, path: Path) -> Path:
    fig.tight_layout()  # also makes room for the legend under the axes
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
