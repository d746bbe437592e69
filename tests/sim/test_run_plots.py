"""The run's plots as a reader sees them: the legend off the curves, the capacity visible over a full store,
delivered data readable next to generated, latency bins that do not alias with the passes."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from sim.output import plots

DAY = 86400.0


@pytest.fixture
def captured(monkeypatch):
    """The figure each plot function draws (instead of saving it)."""
    figs = []
    monkeypatch.setattr(plots, "_save", lambda fig, path: figs.append(fig) or path)
    yield figs
    for fig in figs:
        plots.plt.close(fig)


def _full_store_run():
    """30 days; the 32 GB store fills in 6 days and stays full; 362 GB generated, 20 GB delivered."""
    t = np.linspace(0, 30 * DAY, 301)
    store = np.minimum(t / (6 * DAY), 1.0) * 32e9
    m = {"scenario": "leo", "codec": "rice", "fidelity": "statistical", "duration_s": 30 * DAY,
         "packet_store_capacity_bytes": 32e9, "overrides": {"radio.rate_bps": 4e6}}
    tl = {"t_s": list(t), "packet_store_bytes": list(store), "raw_buffer_bytes": [8.4e6] * len(t),
          "generated_bytes": list(t / (30 * DAY) * 362e9), "delivered_bytes": list(t / (30 * DAY) * 20.5e9),
          "downlinked_bytes": list(t / (30 * DAY) * 9.3e9)}
    contacts = [{"start_s": k * DAY / 3, "end_s": k * DAY / 3 + 400, "missed": False, "outage_s": 0.0}
                for k in range(90)]
    events = [{"state": "verified", "latency_s": (k % 29) * DAY + 3600.0} for k in range(300)]
    return SimpleNamespace(metrics=m, timeline=tl, contacts=contacts, events=events)


def test_storage_legend_is_outside_and_capacity_in_front(captured, tmp_path):
    plots.plot_storage(_full_store_run(), tmp_path / "s.png")
    fig = captured[0]
    ax = fig.axes[0]
    fig.canvas.draw()
    legend = ax.get_legend().get_window_extent()
    assert legend.y1 < ax.get_window_extent().y0  # under the axes, not over the fill ramp
    lines = {ln.get_label().split(" (")[0]: ln for ln in ax.get_lines()}
    cap, store = lines["packet store capacity"], lines["packet store"]
    assert cap.get_zorder() > store.get_zorder() and cap.get_color() != store.get_color()
    assert ax.get_ylim()[1] == pytest.approx(1.12 * 32)  # headroom above a full store
    assert "changed: radio.rate_bps=4e6" in ax.get_title()


def test_data_uses_a_log_axis_with_end_values(captured, tmp_path):
    plots.plot_data(_full_store_run(), tmp_path / "d.png")
    ax = captured[0].axes[0]
    assert ax.get_yscale() == "log"
    labels = [t.get_text() for t in ax.texts]
    assert labels == ["362 GB", "20.5 GB", "9.3 GB"]
    low, high = ax.get_ylim()
    assert low < 20.5 / 10 and high > 362  # delivered sits well inside the axis, not on its floor


def test_latency_bins_are_whole_days(captured, tmp_path):
    plots.plot_latency(_full_store_run(), tmp_path / "l.png")
    ax = captured[0].axes[0]
    widths = {round(p.get_width(), 9) for p in ax.patches}
    assert widths == {1.0} and "bins of 1" in ax.get_xlabel()
