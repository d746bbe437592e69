"""models/: the TensorFlow training mirror computes exactly the flight integer transform; CLI bad input.

The parity tests need TensorFlow (the ``train`` extra) and are skipped without it.
"""

from __future__ import annotations

import numpy as np
import pytest

from flight.idf import spec as S


class ConstNet:
    """A stand-in int8 network whose output is a fixed code per channel."""

    def __init__(self, codes: np.ndarray) -> None:
        self.codes = codes.astype(np.int8)

    def run(self, x: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self.codes, x.shape[:-1] + self.codes.shape).copy()


def test_compand_matches_flight() -> None:
    tf = pytest.importorskip("tensorflow")
    from models.idf_tf import compand

    x = np.arange(-70000, 70001, 7)
    for s in range(S.S_MAX + 1):
        got = compand(tf.constant(x, tf.float32), tf.constant(2.0 ** s)).numpy()
        assert np.array_equal(got.astype(np.int64), S.compand(x, s).astype(np.int64)), s


def test_training_transform_matches_flight(rng: np.random.Generator) -> None:
    """With networks of known output, TF's latents, means and table indices equal the flight code's."""
    tf = pytest.importorskip("tensorflow")
    from flight.idf import transform as T
    from models.idf_tf import IdfModel

    model = IdfModel(width=4, t_width=4, ksize=5)
    nets = {}
    for name, net in model.nets.items():
        codes = rng.integers(-60, 61, S.NET_OUT_CHANNELS[name[3:]])
        net.w3.assign(tf.zeros_like(net.w3))
        net.b3.assign(codes.astype(np.float32) / 8.0)
        nets[name] = ConstNet(codes)
    yy, xx = np.mgrid[:16, :16]
    for sigma in (0.7, 40.0):
        crop = np.round(300 + 9 * yy - 5 * xx + rng.normal(0, sigma, (16, 16))).astype(np.int64)
        s, m, top, phases = T.forward(crop, nets)
        trace: list = []
        model.bits(tf.constant(crop[None].astype(np.float32)), tf.constant([float(s)]), tf.constant([float(m)]),
                   trace=trace)
        tf_phases = [t for t in trace if "phase" in t]
        levels = [t for t in trace if "a" in t]
        assert len(tf_phases) == len(phases) == 3 * len(levels)
        # flight lists phases coarsest level first; TF traced them finest first.
        by_level = [tf_phases[3 * i: 3 * i + 3] for i in range(len(levels))][::-1]
        for ours, theirs in zip(phases, [p for lv in by_level for p in lv], strict=True):
            for field, key in (("values", "value"), ("mean4", "mean4"), ("k", "k"), ("flat4", "flat4")):
                assert np.array_equal(getattr(ours, field), theirs[key].numpy()[0].ravel().astype(np.int64)), field
        assert top == crop[0, 0]


def test_train_cli_bad_input(tmp_path) -> None:
    from models.train import main

    assert main(["--data", str(tmp_path / "missing"), "--out", str(tmp_path / "b")]) == 2
    (tmp_path / "empty").mkdir()
    assert main(["--data", str(tmp_path / "empty"), "--out", str(tmp_path / "b"),
                 "--ckpt-dir", str(tmp_path / "ck")]) == 2
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["--data", str(tmp_path / "empty"), "--out", str(blocker / "sub")]) == 2


def test_export_cli_bad_checkpoint(tmp_path) -> None:
    pytest.importorskip("tensorflow")
    from models.export import main

    assert main([str(tmp_path / "nothing"), "--out", str(tmp_path / "b")]) == 2


def test_export_tables_match_the_shipped_bundle() -> None:
    """models.export builds its tables with flight's one integer-table builder: the shipped tables come out."""
    from flight.idf.bundle import DEFAULT_BUNDLE
    from models.export import build_tables

    got = build_tables()
    with np.load(DEFAULT_BUNDLE / "tables.npz") as z:
        for key in ("cdf", "lo", "n"):
            assert np.array_equal(got[key], z[key]), key


def test_manifest_round_trips_the_shipped_file() -> None:
    from flight.idf.bundle import DEFAULT_BUNDLE, MANIFEST, Manifest

    text = (DEFAULT_BUNDLE / MANIFEST).read_text()
    assert Manifest.from_json(text).to_json() == text
