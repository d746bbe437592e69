"""PNG plots of a run: storage fill with contacts shaded, data generated vs delivered, latency distribution.

Matplotlib with the Agg backend (no display needed). Each function writes one file and returns its path.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

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
        from sim.output.report import overrides_text

        title += "\n" + "\n".join(textwrap.wrap("changed: " + overrides_text(metrics["overrides"]), 110))
    return title


def plot_storage(result, path: Path) -> Path:
    m, tl = result.metrics, result.timeline
    scale, unit = _time_axis(m["duration_s"])
    t = np.asarray(tl["t_s"]) / scale
    fig, ax = plt.subplots(figsize=(10, 4.2))
    _shade_contacts(ax, result.contacts, scale)
    ax.plot(t, np.asarray(tl["packet_store_bytes"]) / GB, color="tab:blue", lw=1.2, label="packet store")
    ax.plot(t, np.asarray(tl["raw_buffer_bytes"]) / GB, color="tab:orange", lw=1.0, label="raw-frame buffer")
    ax.axhline(m["packet_store_capacity_bytes"] / GB, color="tab:blue", ls="--", lw=0.8, label="packet store capacity")
    ax.set_xlabel(f"time since start ({unit})")
    ax.set_ylabel("onboard storage used (GB)")
    ax.set_xlim(0, m["duration_s"] / scale)
    ax.set_ylim(bottom=0)
    ax.set_title(_title(m, "Storage fill"))
    ax.legend(loc="upper left", fontsize=8)
    return _save(fig, path)


def plot_data(result, path: Path) -> Path:
    m, tl = result.metrics, result.timeline
    scale, unit = _time_axis(m["duration_s"])
    t = np.asarray(tl["t_s"]) / scale
    fig, ax = plt.subplots(figsize=(10, 4.2))
    _shade_contacts(ax, result.contacts, scale)
    ax.plot(t, np.asarray(tl["generated_bytes"]) / GB, color="black", lw=1.2, label="generated (raw)")
    ax.plot(t, np.asarray(tl["delivered_bytes"]) / GB, color="tab:green", lw=1.5,
            label="delivered and verified (raw equivalent)")
    ax.plot(t, np.asarray(tl["downlinked_bytes"]) / GB, color="tab:purple", lw=1.0, ls="--",
            label="packets sent (coded, with retransmissions)")
    ax.set_xlabel(f"time since start ({unit})")
    ax.set_ylabel("cumulative data (GB)")
    ax.set_xlim(0, m["duration_s"] / scale)
    ax.set_ylim(bottom=0)
    ax.set_title(_title(m, "Data generated vs delivered"))
    ax.legend(loc="upper left", fontsize=8)
    return _save(fig, path)


def plot_latency(result, path: Path) -> Path:
    m = result.metrics
    lat = np.array([e["latency_s"] for e in result.events if e["state"] == "verified"], dtype=float)
    fig, ax = plt.subplots(figsize=(7, 4.2))
    if len(lat):
        scale, unit = (3600.0, "hours") if lat.max() <= 3 * 86400 else (86400.0, "days")
        ax.hist(lat / scale, bins=min(60, max(10, len(lat) // 5)), color="tab:green", alpha=0.8)
        for q, style in ((50, "-"), (95, "--")):
            v = np.percentile(lat, q) / scale
            ax.axvline(v, color="black", ls=style, lw=1, label=f"p{q} = {v:.2f} {unit}")
        ax.set_xlabel(f"latency, capture to verified on ground ({unit})")
        ax.legend(fontsize=8)
    else:
        ax.text(0.5, 0.5, "no frame verified in this run", ha="center", va="center", transform=ax.transAxes)
        ax.set_xlabel("latency, capture to verified on ground")
    ax.set_ylabel("frames")
    ax.set_title(_title(m, "Latency"))
    return _save(fig, path)


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
