"""What 'exact' means: relabelled packets are the bytes flight/ would send; calibration rows are real encodes."""

from __future__ import annotations

import numpy as np
import pytest

from flight.codecs.registry import get_codec
from flight.encoder import encode_frame
from flight.errors import InputError, ModelError
from flight.packets import APID_FRAME_HEADER, APID_TILE_DATA, Packetizer
from ground.reassembly import Reassembler
from sim.mission.coding import CodedSource, Coder, _run_lengths
from sim.mission.groundseg import MemoReassembler
from sim.mission.memo import MemoCodec
from sim.mission.records import FrameRecord
from sim.scenario import load_scenario
from sim.world.sources import FolderSource, SyntheticSky, fit_to_shape, make_source


@pytest.fixture(scope="module")
def small():
    return load_scenario("leo", {"camera.rows": 96, "camera.cols": 160})


def test_fit_to_shape_mirrors_and_crops():
    a = np.arange(6, dtype=np.int16).reshape(2, 3)
    out = fit_to_shape(a, 5, 7)
    assert out.shape == (5, 7)
    assert (out[:2, :3] == a).all() and (out[2:4, :3] == a[::-1]).all() and (out[:2, 3:6] == a[:, ::-1]).all()
    assert (fit_to_shape(a, 1, 2) == a[:1, :2]).all()


def test_folder_source_keeps_stored_integers(small):
    src = make_source(small)
    assert isinstance(src, FolderSource) and len(src) == 4
    frame = src.frame(0)
    assert frame.pixels.shape == (96, 160) and frame.bitpix == 16 and frame.bzero == 32768.0
    assert src.raw_bytes(0) == 96 * 160 * 2 == frame.raw_bytes


def test_synthetic_sky_is_raw_ccd_like():
    s = load_scenario("leo", {"camera.source": "synthetic", "camera.rows": 256, "camera.cols": 256})
    src = make_source(s)
    assert isinstance(src, SyntheticSky) and len(src) == s.camera.synthetic.pool
    f = src.frame(0)
    phys = f.pixels.astype(np.int64) + 32768
    cfg = s.camera.synthetic
    sky_adu = cfg.bias_adu + cfg.sky_e / cfg.gain_e_per_adu
    assert np.median(phys) == pytest.approx(sky_adu, abs=5)
    assert phys.max() > sky_adu + 1000  # stars and cosmic rays
    assert (src.frame(0).pixels == f.pixels).all()  # the same scene every time
    assert src.fingerprint() == make_source(s).fingerprint()


@pytest.mark.parametrize("codec", ["raw", "rice"])
def test_relabelled_packets_equal_a_direct_encode(small, codec):
    coder = Coder(make_source(small), codec, small.codec, exact=True)
    for frame_id, source in ((7, 1), (123456, 3)):
        row = coder.coded(source)
        rec = FrameRecord(frame_id=frame_id, source=source, name=row.name, priority=1, captured_s=0.0,
                          raw_bytes=row.raw_bytes)
        rec.n_packets = row.n_packets
        coder.assign_sequence(rec)
        got = coder.packets(rec)
        direct = encode_frame(coder.source.frame(source), get_codec(codec), None, frame_id=frame_id)
        packetizer = Packetizer(small.codec.packet_size)
        packetizer._seq = {APID_FRAME_HEADER: rec.seq_base[0], APID_TILE_DATA: rec.seq_base[1]}
        assert got == packetizer.packetize(direct)
        ground = Reassembler()
        for p in got:
            assert ground.add_packet(p)
        result = ground.result(frame_id)
        assert result.status == "verified"
        assert (result.pixels == coder.source.frame(source).pixels).all()
    assert coder.distinct_encodes == 2


@pytest.mark.parametrize("codec", ["rice", "idf"])
def test_memoised_tiles_give_the_same_bytes_as_a_plain_encode(codec):
    try:
        plain = get_codec(codec)
    except InputError as exc:
        pytest.skip(f"codec {codec} not available yet: {exc}")
    scenario = load_scenario("leo", {"camera.rows": 128, "camera.cols": 2048})
    frame = make_source(scenario).frame(1)  # a 512-wide crop mirror-tiled: columns repeat with period 1024
    memo = MemoCodec(plain)
    tile = (32, 64) if codec == "rice" else (64, 64)
    got = encode_frame(frame, memo, tile, frame_id=3)
    want = encode_frame(frame, plain, tile, frame_id=3)
    assert memo.encoded.hits > 0 and got.header == want.header and got.tiles == want.tiles


def test_ground_memo_decodes_like_the_plain_reassembler(small):
    coder = Coder(make_source(small), "rice", small.codec, exact=True)
    ground = MemoReassembler()
    for frame_id in (1, 5, 9):  # three captures of source 1: the last two decode from the memo
        row = coder.coded(1)
        rec = FrameRecord(frame_id=frame_id, source=1, name=row.name, priority=1, captured_s=0.0,
                          raw_bytes=row.raw_bytes)
        for p in coder.packets(rec):
            ground.add_packet(p)
        result = ground.result(frame_id)
        assert result.status == "verified" and (result.pixels == coder.source.frame(1).pixels).all()
    computed, memoised = ground.decode_counts()
    assert computed > 0 and memoised == 2 * computed


def test_calibration_rows_are_real_encodes_and_cached(small, tmp_path, monkeypatch):
    monkeypatch.setenv("ASTROFLIGHT_CACHE", str(tmp_path))
    coder = Coder(make_source(small), "rice", small.codec, exact=False)
    assert not coder.cache_hit and coder.distinct_encodes == 4
    for row in coder.table():
        enc = encode_frame(coder.source.frame(row.index), get_codec("rice"))
        assert row.coded_bytes == enc.coded_bytes and row.raw_bytes == enc.raw_bytes
        assert row.n_packets == len(Packetizer(small.codec.packet_size).packetize(enc))
    again = Coder(make_source(small), "rice", small.codec, exact=False)
    assert again.cache_hit and again.distinct_encodes == 0
    assert [r.to_json() for r in again.table()] == [r.to_json() for r in coder.table()]


def test_run_lengths_round_trip():
    lengths = np.array([2048] * 5 + [100, 2048, 2048, 7], dtype=np.int64)
    assert _run_lengths(lengths) == [2048, 5, 100, 1, 2048, 2, 7, 1]
    row = CodedSource(0, "x", "rice", 1, 2, 1, 1, lengths, 0.0, {})
    assert (CodedSource.from_json(row.to_json()).packet_lengths == lengths).all()


def test_unusable_idf_bundle_is_a_model_error(small, tmp_path):
    """A scenario naming a bundle folder that is not there fails before the run, as one ModelError line."""
    cfg = small.codec.model_copy(update={"idf_model": str(tmp_path / "no-bundle")})
    with pytest.raises(ModelError, match="no-bundle.*not found"):
        Coder(make_source(small), "idf", cfg, exact=True)
