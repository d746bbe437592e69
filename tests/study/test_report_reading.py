"""The study report as a reader sees it: headline sentences, plurals, a calibration table that fits the page,
and plot panel titles that say what the value is."""

from __future__ import annotations

from sim.study.plots import panel_title
from sim.study.report import Para, Table, _calibration, headline_sentences, plural, render_html
from sim.study.results import Stat


class _Summary:
    """The three things headline_sentences reads, for a rate sweep without raw."""

    def __init__(self, primary, entries, codecs):
        self.primary, self._entries, self._codecs = primary, entries, codecs

    def headline(self):
        return self._entries

    def codecs(self):
        return self._codecs


def _entry(x, **per_codec):
    return {"x": x, "codecs": {c: {"verified_per_day": Stat(v, v, v, 1), "gain": None, "error": ""}
                               for c, v in per_codec.items()}}


def test_headline_without_raw_reads_as_a_sentence():
    s = _Summary("radio.rate_bps", [_entry(1e6, rice=28.0, idf=30.0), _entry(2e6, rice=53.0, idf=61.0)],
                 ["rice", "idf"])
    assert headline_sentences(s) == [
        "rice brings home 28.0 verified frames per day at 1 Mbit/s and 53.0 at 2 Mbit/s (raw was not studied, so "
        "there is no gain over raw to give).",
        "idf brings home 30.0 verified frames per day at 1 Mbit/s and 61.0 at 2 Mbit/s (raw was not studied, so "
        "there is no gain over raw to give).",
    ]
    one = _Summary(None, [_entry(None, rice=12.5)], ["rice"])
    assert headline_sentences(one) == ["rice brings home 12.5 verified frames per day (raw was not studied, so "
                                       "there is no gain over raw to give)."]


def test_plural():
    assert [plural(1, "seed"), plural(2, "seed"), plural(0.5, "day"), plural(30, "simulated day")] == [
        "1 seed", "2 seeds", "0.5 days", "30 simulated days"]


def test_calibration_table_says_constant_columns_once():
    rows = [{"codec": c, "cpu_profile": "cortex-a72", "frame": f, "coded_as": c, "raw_bytes": 8388608,
             "coded_bytes": 3_000_000 + i, "ratio": 2.5, "packets": 1500 + i, "escaped_tiles": 0,
             "cycles_per_pixel": 20.25, "cpu_s_per_frame": 0.13}
            for i, (c, f) in enumerate([("rice", "a"), ("rice", "b"), ("idf", "a")])]
    para, table = _calibration(rows)
    assert isinstance(para, Para) and isinstance(table, Table)
    assert para.text == ("In every row: CPU cortex-a72, raw bytes 8388608, ratio 2.5, escaped tiles 0, cycles/pixel "
                         "20.25, CPU s/frame 0.13, every frame coded by its own codec.")
    assert table.headers == ["codec", "frame", "coded bytes", "packets"]
    assert table.rows[2] == ["idf", "a", "3000002", "1502"]


def test_panel_title_names_the_key():
    assert panel_title({"storage.capacity_bytes": 8e9}) == "capacity_bytes 8 GB"
    assert panel_title({}) == ""


def test_html_cells_do_not_wrap():
    assert "td{white-space:nowrap}" in render_html([], "t")
