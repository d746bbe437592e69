"""Trade-study definitions: sweep parsing, study files, validation, and seeded, order-independent cells."""

from __future__ import annotations

import pytest

from sim.study.grid import (
    StudyError,
    build_spec,
    cell_seed,
    configurations,
    expand,
    fmt_value,
    parse_codecs,
    parse_sweep_arg,
    read_study_file,
    split_values,
)


def spec_of(**opts):
    base = {"scenario": "leo", "codecs": "raw,rice", "duration": "1d", "seeds": 2}
    base.update(opts)
    return build_spec(base)


def test_split_values_keeps_brackets_and_quotes():
    assert split_values("0.5e6, 1e6,2e6") == ["0.5e6", "1e6", "2e6"]
    assert split_values('[[0, 60], [100, 200]],"a,b"') == ["[[0, 60], [100, 200]]", '"a,b"']


def test_parse_sweep_arg_values_and_errors():
    s = parse_sweep_arg("radio.rate_bps=0.5e6,1e6")
    assert s.key == "radio.rate_bps" and s.values == (500000.0, 1000000.0)
    assert parse_sweep_arg("cpu.profile=cortex-a72,cortex-a9").values == ("cortex-a72", "cortex-a9")
    for bad in ("radio.rate_bps=", "radio.rate_bps", "=1,2", "radio.rate_bps=,"):
        with pytest.raises(StudyError):
            parse_sweep_arg(bad)


def test_codecs_are_checked():
    assert parse_codecs("raw, rice,idf") == ("raw", "rice", "idf")
    with pytest.raises(StudyError, match="unknown codec 'jpeg'"):
        parse_codecs("raw,jpeg")
    with pytest.raises(StudyError, match="twice"):
        parse_codecs("rice,rice")


def test_unknown_key_and_bad_value_name_the_sweep():
    with pytest.raises(StudyError, match=r"^--sweep radio.rate_bsp: unknown key .*did you mean radio.rate_bps"):
        spec_of(sweep={"radio.rate_bsp": [1e6]})
    with pytest.raises(StudyError, match=r"^--sweep radio.rate_bps: .*> 0"):
        spec_of(sweep={"radio.rate_bps": [1e6, -5]})
    with pytest.raises(StudyError, match="empty sweep"):
        spec_of(sweep={"radio.rate_bps": []})
    with pytest.raises(StudyError, match="listed twice"):
        spec_of(sweep={"radio.rate_bps": [2e6, 2000000]})
    with pytest.raises(StudyError, match="also swept"):
        spec_of(sweep={"radio.rate_bps": [2e6]}, set={"radio.rate_bps": "1e6"})


def test_values_are_normalised_so_equal_radios_share_cells():
    a = spec_of(sweep={"radio.rate_bps": [2000000, 1e6]})
    b = spec_of(sweep={"radio.rate_bps": [2e6, 1000000.0]})
    assert a.sweeps[0].values == (2e6, 1e6)
    assert [c.cell_id for c in expand(a)] == [c.cell_id for c in expand(b)]


def test_grid_order_size_and_seeds():
    spec = spec_of(sweep={"radio.rate_bps": [1e6, 2e6, 4e6], "storage.capacity_bytes": [8e9, 32e9]})
    cells = expand(spec)
    assert len(configurations(spec)) == 6 and len(cells) == 6 * 2 * 2
    assert len({c.cell_id for c in cells}) == len(cells)
    # The codecs of one configuration share a seed (common random numbers); seeds differ between seed indices
    # and between configurations, and do not depend on the codec list or the order of the grid.
    by = {(c.config_id, c.codec, c.seed_index): c.seed for c in cells}
    for (cid, _codec, i), seed in by.items():
        assert by[(cid, "raw", i)] == seed
    assert len({c.seed for c in cells}) == 6 * 2
    only_rice = spec_of(codecs="rice", sweep={"storage.capacity_bytes": [32e9, 8e9], "radio.rate_bps": [4e6, 1e6]})
    params = {"radio.rate_bps": 4e6, "storage.capacity_bytes": 8e9}
    assert cell_seed(spec, params, 1) == cell_seed(only_rice, {"storage.capacity_bytes": 8e9, "radio.rate_bps": 4e6}, 1)


def test_cheapest_cost_order_defaults_and_overrides():
    spec = spec_of(sweep={"storage.capacity_bytes": [8e9], "link.packet_loss": [0.0, 0.01], "radio.rate_bps": [1e6]})
    assert spec.effective_cost_order() == ["radio.rate_bps", "storage.capacity_bytes", "link.packet_loss"]
    spec = spec_of(sweep={"storage.capacity_bytes": [8e9], "radio.rate_bps": [1e6]},
                   cost_order=["storage.capacity_bytes"])
    assert spec.effective_cost_order() == ["storage.capacity_bytes", "radio.rate_bps"]
    with pytest.raises(StudyError, match="not a swept key"):
        spec_of(sweep={"radio.rate_bps": [1e6]}, cost_order=["storage.capacity_bytes"])


def test_study_file_nested_and_quoted_keys(tmp_path):
    path = tmp_path / "study.toml"
    path.write_text(
        'scenario = "leo"\ncodecs = ["raw", "rice"]\nduration = "2d"\nseeds = 3\ntarget_frames_per_day = 40\n'
        '[sweep]\nradio.rate_bps = [0.5e6, 2e6]\n"storage.capacity_bytes" = [8e9, 32e9]\n'
        '[set]\n"link.packet_loss" = 0.01\n')
    opts = read_study_file(path)
    spec = build_spec(opts)
    assert spec.swept_keys == ["radio.rate_bps", "storage.capacity_bytes"]
    assert spec.fixed == (("link.packet_loss", 0.01),) and spec.seeds == 3 and spec.duration_s == 2 * 86400
    assert spec.target_frames_per_day == 40.0


def test_study_file_errors(tmp_path):
    with pytest.raises(StudyError, match="not found"):
        read_study_file(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text('scenario = "leo"\nsweeps = {}\n')
    with pytest.raises(StudyError, match="unknown key 'sweeps'"):
        read_study_file(bad)
    bad.write_text('scenario = "leo"\n[sweep]\n"radio.rate_bps" = []\n')
    with pytest.raises(StudyError, match="empty sweep"):
        read_study_file(bad)


def test_fmt_value():
    assert [fmt_value(v) for v in (5e5, 4.3e6, 3.2e10, 0.01, 2.0, "cortex-a9", 3)] == \
        ["5e5", "4.3e6", "3.2e10", "0.01", "2", "cortex-a9", "3"]
