"""Train the IDF on real frames, then export a bundle.

    python -m models.train --data DIR [--steps N] [--threads N] --out BUNDLE_DIR

Float training for the first ``1 - qat_frac`` of the steps, then quantization-aware fine-tuning (weights and
activations fake-quantized as the int8 export computes them); the int8 input rule and the int8 output grid that
decide the coded bits are applied from the first step.  Validation bits per pixel are measured on whole
held-out instruments.  Checkpoints (and ``train_config.json``) go to ``--ckpt-dir`` (default
``out/idf-train/<bundle name>``); running the same command again resumes from the last one.

Optimizer: Keras Adam (beta 0.9/0.999, epsilon 1e-8, each gradient clipped to norm 5) on a Keras cosine-decay
schedule with a linear warm-up (``learning_rate_schedule``). Progress goes to stderr through tqdm.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from tqdm import tqdm

from flight.errors import InputError
from tools.cli import OneLineParser, run_cli

if TYPE_CHECKING:
    import keras

DEFAULTS = {
    "steps": 2000, "batch": 16, "crop": 64, "width": 32, "t_width": 16, "ksize": 3, "lr": 2e-3, "qat_frac": 0.25,
    "seed": 0, "val_every": 1000, "ckpt_every": 250,
}
PROG = "python -m models.train"
WARMUP_STEPS = 200  # linear learning-rate warm-up from lr / WARMUP_STEPS to lr
LR_FLOOR = 0.1  # the cosine decay ends at LR_FLOOR * lr
CLIP_NORM = 5.0  # each gradient tensor is clipped to this L2 norm
ADAM = {"beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-8}
PROGRESS_INTERVAL_S = {True: 0.5, False: 30.0}  # seconds between progress updates on a terminal / in a log file


def learning_rate_schedule(lr: float, total_steps: int) -> keras.optimizers.schedules.CosineDecay:
    """Keras cosine decay from ``lr`` to ``LR_FLOOR * lr`` after a linear warm-up of ``WARMUP_STEPS`` steps.

    The warm-up starts at ``lr / WARMUP_STEPS`` (step 0) and reaches ``lr`` at step ``WARMUP_STEPS``; the decay
    spans the remaining ``total_steps - WARMUP_STEPS`` steps (a run of at most ``WARMUP_STEPS`` steps only warms
    up). Returns a ``keras.optimizers.schedules.LearningRateSchedule`` (optimizer step -> float32 rate).
    """
    import tensorflow as tf

    return tf.keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=lr / WARMUP_STEPS, decay_steps=max(1, total_steps - WARMUP_STEPS), alpha=LR_FLOOR,
        warmup_target=lr, warmup_steps=WARMUP_STEPS)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = OneLineParser(prog=PROG, description=__doc__.split("\n")[0])
    p.add_argument("--data", required=True, help="folder of FITS frames (integer 8/16-bit planes are used)")
    p.add_argument("--out", required=True, help="bundle folder written at the end")
    p.add_argument("--steps", type=int, default=None, help=f"training steps (default {DEFAULTS['steps']})")
    p.add_argument("--threads", type=int, default=2, help="CPU threads for TensorFlow (default 2)")
    p.add_argument("--batch", type=int, default=None)
    p.add_argument("--crop", type=int, default=None, help="crop size, a power of two (default 64)")
    p.add_argument("--width", type=int, default=None, help="width of the prior networks (default 32)")
    p.add_argument("--t-width", type=int, default=None, help="width of the coupling networks (default 16)")
    p.add_argument("--ksize", type=int, default=None, help="first-layer kernel size (default 3)")
    p.add_argument("--lr", type=float, default=None)
    p.add_argument("--qat-frac", type=float, default=None, help="fraction of steps with QAT (default 0.25)")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--holdout", default=None, help="comma-separated instruments kept out for validation")
    p.add_argument("--val-every", type=int, default=None)
    p.add_argument("--ckpt-every", type=int, default=None)
    p.add_argument("--ckpt-dir", default=None, help="checkpoint folder (default out/idf-train/<bundle name>)")
    p.add_argument("--no-export", action="store_true", help="stop after training (export later)")
    return p.parse_args(argv)


def run(argv: list[str] | None = None) -> int:
    """Train (resuming from the last checkpoint) and export; InputError for unusable options, data or folders."""
    args = parse_args(argv)
    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".write_test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise InputError(f"cannot write the bundle folder {out}: {exc.strerror or exc}") from exc
    ckpt_dir = Path(args.ckpt_dir or Path("out") / "idf-train" / (out.resolve().name or "bundle"))
    try:
        ckpt_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot write the checkpoint folder {ckpt_dir}: {exc.strerror or exc}") from exc

    cfg_path = ckpt_dir / "train_config.json"
    cfg = dict(DEFAULTS)
    cfg["holdout"] = None
    if cfg_path.exists():
        cfg.update(json.loads(cfg_path.read_text()))
    for key in ("steps", "batch", "crop", "width", "t_width", "ksize", "lr", "qat_frac", "seed", "val_every",
                "ckpt_every"):
        v = getattr(args, key)
        if v is not None:
            cfg[key] = v
    if args.holdout is not None:
        cfg["holdout"] = [h for h in args.holdout.split(",") if h]
    if cfg["crop"] < 2 or cfg["crop"] & (cfg["crop"] - 1):
        raise InputError("--crop must be a power of two >= 2")

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from models.data import DEFAULT_HOLDOUT, load_dataset

    holdout = tuple(cfg["holdout"]) if cfg["holdout"] is not None else DEFAULT_HOLDOUT
    cfg["holdout"] = list(holdout)
    ds = load_dataset(args.data, holdout)  # DataError is an InputError: one line, exit 2 (tools.cli)
    cfg["data"] = str(Path(args.data).resolve())
    cfg_path.write_text(json.dumps(cfg, indent=1))

    import numpy as np
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(max(1, args.threads))
    tf.config.threading.set_inter_op_parallelism_threads(1)
    from models.data import CropSampler, validation_tiles
    from models.idf_tf import IdfModel

    sampler = CropSampler(ds.train, cfg["crop"], cfg["seed"])
    vtiles = validation_tiles(ds.valid, cfg["crop"]) if ds.valid else {}

    model = IdfModel(cfg["width"], cfg["t_width"], cfg["seed"], cfg["ksize"])
    params = model.trainable_variables
    total = int(cfg["steps"])
    optimizer = tf.keras.optimizers.Adam(learning_rate_schedule(cfg["lr"], total), clipnorm=CLIP_NORM, **ADAM)
    optimizer.build(params)  # the moment slots exist before a restore, so the checkpoint fills them
    elapsed_var = tf.Variable(0.0, dtype=tf.float64, trainable=False)
    ckpt = tf.train.Checkpoint(model=model, optimizer=optimizer, elapsed=elapsed_var)
    manager = tf.train.CheckpointManager(ckpt, str(ckpt_dir), max_to_keep=2)
    if manager.latest_checkpoint:
        ckpt.restore(manager.latest_checkpoint).expect_partial()
        print(f"resumed from {manager.latest_checkpoint} at step {int(optimizer.iterations.numpy())}",
              file=sys.stderr)
    npix = float(cfg["crop"] ** 2)
    qat_start = int(total * (1.0 - cfg["qat_frac"]))

    def make_step(qat: bool):
        @tf.function(jit_compile=True)
        def train_step(x, s, m):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(model.bits(x, s, m, qat=qat, update=True)) / npix
            optimizer.apply_gradients(zip(tape.gradient(loss, params), params, strict=True))
            return loss
        return train_step

    def make_eval(qat: bool):
        @tf.function  # no XLA: compiling this would cost more than the few validation batches it runs
        def eval_bits(x, s, m):
            return model.bits(x, s, m, qat=qat, update=False)
        return eval_bits

    steps_fn = {False: make_step(False), True: make_step(True)}
    eval_fn = {False: make_eval(False), True: make_eval(True)}

    def validate(qat: bool) -> dict:
        res = {}
        for inst, (x, s, m) in sorted(vtiles.items()):
            bits = np.concatenate([eval_fn[qat](x[i:i + 32], s[i:i + 32], m[i:i + 32]).numpy()
                                   for i in range(0, len(x), 32)])
            res[inst] = float(bits.sum() / (x.shape[0] * npix))
        if res:
            res["mean"] = float(np.mean([res[k] for k in list(res)]))
        return res

    log_path = ckpt_dir / "train_log.jsonl"
    val: dict = {}
    step = int(optimizer.iterations.numpy())
    bar = tqdm(total=total, initial=step, unit="step", file=sys.stderr, dynamic_ncols=True,
               mininterval=PROGRESS_INTERVAL_S[sys.stderr.isatty()])
    t_start = time.time()
    elapsed0 = float(elapsed_var.numpy())
    ema = None
    while step < total:
        qat = step >= qat_start
        x, s, m = sampler.batch(cfg["batch"])
        loss = float(steps_fn[qat](tf.constant(x), tf.constant(s), tf.constant(m)))
        if not math.isfinite(loss):
            bar.close()
            raise InputError(f"training diverged at step {step} (loss {loss}); lower --lr")
        ema = loss if ema is None else 0.98 * ema + 0.02 * loss
        step += 1
        elapsed_var.assign(elapsed0 + time.time() - t_start)
        bar.set_postfix_str(f"loss {ema:6.3f} bpd{' qat' if qat else ''}", refresh=False)
        bar.update(1)
        if step % cfg["ckpt_every"] == 0 or step == total or step == qat_start:
            manager.save(checkpoint_number=step)
        if step % cfg["val_every"] == 0 or step == total:
            val = validate(qat)
            bar.write("validation bpd: " + ", ".join(f"{k} {v:.3f}" for k, v in val.items()), file=sys.stderr)
            with log_path.open("a") as fh:
                fh.write(json.dumps({"step": step, "train_bpd": ema, "qat": qat, "valid": val,
                                     "elapsed_s": time.time() - t_start}) + "\n")
    bar.close()
    manager.save(checkpoint_number=step)
    if not val:
        val = validate(True)
    summary = {"config": cfg, "data": ds.summary(), "valid_bpd": val,
               "train_seconds": float(elapsed_var.numpy()), "threads": args.threads}
    (ckpt_dir / "train_summary.json").write_text(json.dumps(summary, indent=1))
    if args.no_export:
        return 0
    from models.export import export_bundle

    export_bundle(manager.latest_checkpoint, out)  # ExportError (a ModelError): one line, exit 2 (tools.cli)
    print(f"bundle written to {out}", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Console entry point: :func:`run` under the tools' error convention (``tools.cli``); the exit code."""
    return run_cli(PROG, lambda: run(argv))


if __name__ == "__main__":
    sys.exit(main())
