"""Export a trained IDF checkpoint as a model bundle that flight/ and ground/ load without TensorFlow.

    python -m models.export CHECKPOINT --out BUNDLE_DIR

CHECKPOINT is a checkpoint prefix (``out/idf-train/default/ckpt-8000``) or its folder (latest checkpoint).
The bundle holds one int8 TFLite network per (level set, kind) -- int8 weights (per-channel, symmetric),
int32 biases, int8 input (scale 1, zero point 0) and int8 output (scale 1/8, zero point 0) --, the integer
CDF tables ``tables.npz`` (built here, once, in float64, then only integers are shipped), ``manifest.json`` and
``bundle.sha256``.  The manifest is :class:`flight.idf.bundle.Manifest`, the hash rule
:func:`flight.idf.bundle.bundle_digest`, the integer tables come from :func:`flight.rans.build_cdf_table`.
"""

from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path

import numpy as np

from flight.errors import ModelError
from flight.idf import spec as S
from flight.idf.bundle import HASH_FILE, MANIFEST, TABLES, Manifest, bundle_digest, current_spec
from flight.rans import PROB_BITS, build_cdf_table
from tools.cli import OneLineParser, run_cli

TAIL_SIGMAS = 12.0  # table window half-width in logistic scales; beyond it the escape symbol is used


class ExportError(ModelError):
    """A checkpoint that cannot be exported (missing, unreadable, converter refused it)."""


def build_tables() -> dict[str, np.ndarray]:
    """Integer CDF tables for every (scale index k, quarter-pixel phase) of a discretized logistic.

    Table t = k * N_PHASE + phase covers symbols ``lo[t] .. lo[t] + n[t] - 1`` followed by one ESCAPE symbol;
    ``cdf[t, :n[t] + 2]`` rises from 0 to 2**PROB_BITS, every symbol (escape included) has frequency >= 1,
    and the rest of the row is padded with 2**PROB_BITS.  Probabilities are evaluated in float64 once, here.
    """
    total = 1 << PROB_BITS
    n_tables = (S.KMAX + 1) * S.N_PHASE
    halfw = [max(2, math.ceil(TAIL_SIGMAS * S.table_scale(k)) + 1) for k in range(S.KMAX + 1)]
    width = 2 * max(halfw) + 1
    cdf = np.full((n_tables, width + 2), total, dtype=np.uint32)
    lo = np.zeros(n_tables, dtype=np.int32)
    n = np.zeros(n_tables, dtype=np.int32)
    for k in range(S.KMAX + 1):
        sc = S.table_scale(k)
        w = halfw[k]
        r = np.arange(-w, w + 1, dtype=np.float64)
        for ph in range(S.N_PHASE):
            mu = ph / S.N_PHASE
            edges = 1.0 / (1.0 + np.exp(-(np.concatenate([r - 0.5, [w + 0.5]]) - mu) / sc))
            p = np.diff(edges)
            p = np.append(p, max(0.0, 1.0 - p.sum()))  # escape: the mass outside the window
            p = np.maximum(p, 0.0) / p.sum()
            row = build_cdf_table(p)
            t = k * S.N_PHASE + ph
            cdf[t, :row.size] = row
            lo[t], n[t] = -w, p.size - 1
    return {"cdf": cdf, "lo": lo, "n": n}


def _find_checkpoint(path: str) -> tuple[str, Path]:
    import tensorflow as tf

    p = Path(path)
    if p.is_dir():
        latest = tf.train.latest_checkpoint(str(p))
        if latest is None:
            raise ExportError(f"no checkpoint in {p}")
        return latest, p
    if not Path(str(p) + ".index").exists():
        raise ExportError(f"checkpoint {path} not found")
    return str(p), p.parent


def _convert(net, cin: int, rng: np.random.Generator) -> bytes:
    import tensorflow as tf

    fn = tf.function(lambda x: net.forward(x, qat=True, update=False),
                     input_signature=[tf.TensorSpec([None, None, None, cin], tf.float32)])
    conv = tf.lite.TFLiteConverter.from_concrete_functions([fn.get_concrete_function()], net)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8

    def rep():
        for _ in range(8):
            yield [rng.integers(-24, 25, (1, 16, 16, cin)).astype(np.float32)]

    conv.representative_dataset = rep
    return conv.convert()


def export_bundle(checkpoint: str, out: str | Path) -> Manifest:
    """Write the bundle for ``checkpoint`` into ``out``; returns the manifest."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    from flight.int8net import Int8Network
    from models.idf_tf import IdfModel

    prefix, ckdir = _find_checkpoint(checkpoint)
    cfg_path = ckdir / "train_config.json"
    if not cfg_path.exists():
        raise ExportError(f"{cfg_path} missing (the checkpoint's training configuration)")
    cfg = json.loads(cfg_path.read_text())
    summary_path = ckdir / "train_summary.json"
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else {}
    model = IdfModel(cfg["width"], cfg["t_width"], cfg["seed"], cfg.get("ksize", 3))
    try:
        tf.train.Checkpoint(model=model).restore(prefix).expect_partial()
    except (tf.errors.OpError, ValueError) as exc:
        raise ExportError(f"cannot restore {prefix}: {exc}") from exc
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
        for old in out.glob("*.tflite"):
            old.unlink()
    except OSError as exc:
        raise ExportError(f"cannot write {out}: {exc.strerror or exc}") from exc

    rng = np.random.default_rng(1)
    nets = {}
    macs_block = {n: 0 for n in range(1, S.N_NETSETS + 1)}
    for name, net in model.nets.items():
        kind = name.split("_")[1]
        cin = S.NET_IN_CHANNELS[kind]
        blob = _convert(net, cin, rng)
        inet = Int8Network.from_tflite(blob)
        if (inet.input_scale, inet.input_zero_point) != (1.0, 0) or (
                inet.output_scale, inet.output_zero_point) != (2.0 ** -S.OUT_FRAC_BITS, 0):
            raise ExportError(f"{name}: converter chose unexpected I/O quantization ({inet.input_scale}, "
                              f"{inet.input_zero_point}) / ({inet.output_scale}, {inet.output_zero_point})")
        # Parity with the fake-quantized float graph (QAT fidelity): fraction of outputs off by one LSB.
        x = rng.integers(-40, 41, (1, 24, 24, cin)).astype(np.int8)
        y_int = inet.run(x).astype(np.int64)
        y_tf = np.round(net(tf.constant(x.astype(np.float32)), qat=True).numpy()).astype(np.int64)
        (out / f"{name}.tflite").write_bytes(blob)
        macs = int(inet.macs_per_output_position())
        macs_block[int(name[1])] += macs
        nets[name] = {"file": f"{name}.tflite", "in_channels": cin, "out_channels": S.NET_OUT_CHANNELS[kind],
                      "input_quantization": {"scale": 1.0, "zero_point": 0},
                      "output_quantization": {"scale": 2.0 ** -S.OUT_FRAC_BITS, "zero_point": 0},
                      "macs_per_position": macs, "qat_mismatch_fraction": float(np.mean(y_int != y_tf)),
                      "qat_max_abs_diff": int(np.abs(y_int - y_tf).max())}
    tables = build_tables()
    np.savez_compressed(out / TABLES, **tables)
    # Level l runs on (H / 2**l) (W / 2**l) positions, so MACs/pixel -> sum_l macs(set(l)) / 4**l.
    macs_px = sum(macs_block[S.net_set(lv)] / 4.0 ** lv for lv in range(1, 24))
    manifest = Manifest(
        spec=current_spec(),
        architecture={
            "summary": "per level: squeeze 2x2 -> additive coupling z2=[b,c,d] -= interp(a) + T1(a) -> split "
                       "prior with a 3-phase context b|a, c|a,b, d|a,b,c (PB, PC, PD: discretized logistic, "
                       "per-tile scale bias beta and mean blend alpha toward the tile offset); recurse on a until "
                       "1x1; pixel (0,0) and the tile offset (median) are sent in the tile header",
            "levels": "ceil(log2(max(H, W))) per tile; level l uses network set min(l, N_NETSETS)",
            "layers": f"conv{cfg.get('ksize', 3)}x{cfg.get('ksize', 3)} SAME + ReLU, conv1x1 + ReLU, conv1x1 "
                      "(int8 in, int8 out)",
            "width": cfg["width"], "t_width": cfg["t_width"], "ksize": cfg.get("ksize", 3),
            "permutations": {
                "note": "fixed, not random: the kept channel must stay the (0,0) sub-lattice so that odd tile "
                        "sizes need no padding of kept samples",
                "squeeze": ["a=(0,0)", "b=(0,1)", "c=(1,0)", "d=(1,1)"],
                "coupling": {"z1": ["a"], "z2": ["b", "c", "d"]},
                "split": {"keep": ["a"], "code_in_order": ["b", "c", "d"]},
            },
            "parameters": int(sum(int(np.prod(v.shape)) for v in model.trainable_variables)),
        },
        networks=nets,
        tables={"file": TABLES, "count": int(tables["lo"].size), "prob_bits": PROB_BITS,
                "tail_sigmas": TAIL_SIGMAS, "layout": "t = k * N_PHASE + phase; cdf[t, :n[t]+2], escape last"},
        macs_per_pixel=macs_px,
        lookups_per_pixel=2.0,
        training={
            "config": cfg,
            "data": summary.get("data"),
            "train_seconds": summary.get("train_seconds"),
            "threads": summary.get("threads"),
            "checkpoint": Path(prefix).name,
        },
        validation_bpd=summary.get("valid_bpd"),
    )
    (out / MANIFEST).write_text(manifest.to_json())
    (out / HASH_FILE).write_text(bundle_digest(out).hex() + "\n")
    return manifest


PROG = "python -m models.export"


def run(argv: list[str] | None = None) -> int:
    """Export the checkpoint named in ``argv``; ExportError (a ModelError) when it cannot be exported."""
    p = OneLineParser(prog=PROG, description=__doc__.split("\n")[0])
    p.add_argument("checkpoint", help="checkpoint prefix or folder")
    p.add_argument("--out", required=True, help="bundle folder")
    args = p.parse_args(argv)
    man = export_bundle(args.checkpoint, args.out)
    print(f"bundle {args.out}: {len(man.networks)} networks, {man.macs_per_pixel:.0f} MACs/pixel, "
          f"hash {(Path(args.out) / HASH_FILE).read_text().strip()[:16]}...")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Console entry point: :func:`run` under the tools' error convention (``tools.cli``); the exit code."""
    return run_cli(PROG, lambda: run(argv))


if __name__ == "__main__":
    sys.exit(main())
