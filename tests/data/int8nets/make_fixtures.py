"""Regenerate the int8 TFLite fixtures used by tests/test_int8net.py.

Run from the repository root with the training extra installed:

    python tests/data/int8nets/make_fixtures.py

Each model is a small Keras network, converted with full-integer quantization
(representative dataset, int8 input and output), written as ``<name>.tflite`` next
to this script. Weights and biases come from seeded random initialisers so the
files are reproducible; the tests themselves never import TensorFlow.
"""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

HERE = Path(__file__).resolve().parent
L = tf.keras.layers


def _init(seed: int, std: float = 0.3):
    return tf.keras.initializers.RandomNormal(stddev=std, seed=seed)


def conv(filters: int, k: int, act=None, padding: str = "same", seed: int = 0, **kw):
    return L.Conv2D(filters, k, padding=padding, activation=act, kernel_initializer=_init(seed),
                    bias_initializer=_init(seed + 1000, 0.2), **kw)


def dense(units: int, act=None, seed: int = 0):
    return L.Dense(units, activation=act, kernel_initializer=_init(seed),
                   bias_initializer=_init(seed + 1000, 0.2))


def conv_stack() -> tf.keras.Model:
    """3x3 convs with ReLU and ReLU6, then a 1x1 projection: the shape of a coupling net."""
    x = inp = L.Input((None, None, 4))
    x = conv(24, 3, "relu", seed=1)(x)
    x = conv(24, 3, tf.nn.relu6, seed=2)(x)
    x = conv(16, 1, "relu", seed=3)(x)
    x = conv(4, 3, None, seed=4)(x)
    return tf.keras.Model(inp, x)


def conv_valid() -> tf.keras.Model:
    """VALID padding and a strided 3x3 (dilation is emitted as SPACE_TO_BATCH_ND: not supported)."""
    x = inp = L.Input((None, None, 3))
    x = conv(8, 3, "relu", padding="valid", seed=11)(x)
    x = conv(8, 3, "relu", padding="valid", seed=12)(x)
    x = conv(6, 3, None, padding="same", strides=2, seed=13)(x)
    x = conv(5, 1, None, padding="valid", seed=14)(x)
    return tf.keras.Model(inp, x)


def residual() -> tf.keras.Model:
    """Residual block: relu(x + conv(conv(x))), i.e. an int8 ADD with a fused ReLU."""
    x = inp = L.Input((None, None, 8))
    h = conv(8, 3, "relu", seed=21)(x)
    h = conv(8, 3, None, seed=22)(h)
    x = L.Activation("relu")(L.Add()([x, h]))
    h = conv(8, 1, "relu", seed=23)(x)
    x = L.Add()([x, h])
    x = conv(2, 3, None, seed=24)(x)
    return tf.keras.Model(inp, x)


def concat() -> tf.keras.Model:
    """Two branches and the input concatenated on channels (DenseNet-style)."""
    x = inp = L.Input((None, None, 4))
    a = conv(8, 3, "relu", seed=31)(x)
    b = conv(4, 1, "relu", seed=32)(x)
    x = L.Concatenate()([a, b, x])
    x = conv(6, 3, "relu", seed=33)(x)
    x = L.Concatenate()([x, a])
    x = conv(3, 1, None, seed=34)(x)
    return tf.keras.Model(inp, x)


def depthwise() -> tf.keras.Model:
    x = inp = L.Input((None, None, 6))
    x = L.DepthwiseConv2D(3, padding="same", depth_multiplier=2, activation="relu",
                          depthwise_initializer=_init(41), bias_initializer=_init(1041, 0.2))(x)
    x = conv(4, 1, None, seed=42)(x)
    return tf.keras.Model(inp, x)


def mlp() -> tf.keras.Model:
    x = inp = L.Input((12,))
    x = dense(32, "relu", seed=51)(x)
    x = dense(16, tf.nn.relu6, seed=52)(x)
    x = dense(5, None, seed=53)(x)
    return tf.keras.Model(inp, x)


def dense_single() -> tf.keras.Model:
    """One output unit: TFLite takes its per-tensor requantization path here."""
    x = inp = L.Input((7,))
    x = dense(9, "relu", seed=61)(x)
    x = dense(1, None, seed=62)(x)
    return tf.keras.Model(inp, x)


def conv_dense() -> tf.keras.Model:
    """Conv then Flatten (RESHAPE) then Dense: a fixed-size head."""
    x = inp = L.Input((6, 6, 2))
    x = conv(4, 3, "relu", seed=71)(x)
    x = L.Flatten()(x)
    x = dense(10, "relu", seed=72)(x)
    x = dense(3, None, seed=73)(x)
    return tf.keras.Model(inp, x)


def coupling48() -> tf.keras.Model:
    """A coupling-network-sized model (width 48) used for the throughput measurement."""
    x = inp = L.Input((None, None, 4))
    x = conv(48, 3, "relu", seed=81)(x)
    x = conv(48, 3, "relu", seed=82)(x)
    x = conv(48, 1, "relu", seed=83)(x)
    x = conv(4, 3, None, seed=84)(x)
    return tf.keras.Model(inp, x)


def float_io() -> tf.keras.Model:
    """Int8 inside but float32 input/output (QUANTIZE/DEQUANTIZE at the boundary): must be refused."""
    x = inp = L.Input((None, None, 2))
    x = conv(3, 3, "relu", seed=91)(x)
    return tf.keras.Model(inp, x)


MODELS = {
    "conv_stack": (conv_stack, (16, 16)),
    "conv_valid": (conv_valid, (17, 13)),
    "residual": (residual, (12, 12)),
    "concat": (concat, (10, 14)),
    "depthwise": (depthwise, (9, 9)),
    "mlp": (mlp, None),
    "dense_single": (dense_single, None),
    "conv_dense": (conv_dense, None),
    "coupling48": (coupling48, (16, 16)),
    "float_io": (float_io, (8, 8)),
}


def convert(model: tf.keras.Model, hw, seed: int, int8_io: bool = True) -> bytes:
    in_shape = list(model.inputs[0].shape)
    rng = np.random.default_rng(seed)

    def representative():
        for _ in range(64):
            shape = [2] + [hw[i] if d is None else d for i, d in enumerate(in_shape[1:3])] + in_shape[3:] \
                if hw is not None else [2] + in_shape[1:]
            scale = rng.uniform(0.5, 3.0)
            yield [(rng.standard_normal(shape) * scale + rng.uniform(-0.5, 0.5)).astype(np.float32)]

    conv_ = tf.lite.TFLiteConverter.from_keras_model(model)
    conv_.optimizations = [tf.lite.Optimize.DEFAULT]
    conv_.representative_dataset = representative
    conv_.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    if int8_io:
        conv_.inference_input_type = tf.int8
        conv_.inference_output_type = tf.int8
    return conv_.convert()


def main() -> None:
    for i, (name, (build, hw)) in enumerate(MODELS.items()):
        tf.keras.utils.set_random_seed(100 + i)
        data = convert(build(), hw, seed=200 + i, int8_io=name != "float_io")
        (HERE / f"{name}.tflite").write_bytes(data)
        print(f"{name}: {len(data)} bytes")


if __name__ == "__main__":
    main()
