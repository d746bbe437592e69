"""TensorFlow mirror of the integer IDF transform in ``flight/idf/spec.py``, for training.

Values are float32 holding exact integers (|v| < 2**24).  Every place where the flight code floors, this code
floors too, with a straight-through gradient (``floor_ste``); every network input goes through the same
companding and the same int8 input quantizer (scale 1, zero point 0), every network output through the same
fixed int8 output quantizer (scale 1/8, zero point 0).  With ``qat=True`` the weights (per-channel symmetric,
narrow range) and the hidden activations (EMA ranges) are fake-quantized too, so the float forward pass is
what the exported int8 TFLite network computes up to TFLite's own requantization rounding (+-1 LSB).

Training crops have power-of-two sizes, so no level needs padding or masks here; the flight code's masks
only appear at the edges of odd-sized tiles.
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

from flight.idf import spec as S

LN2 = math.log(2.0)
OUT_MIN, OUT_MAX = -16.0, 15.875  # int8 with scale 1/8, zero point 0
ACT_EMA = 0.99


def floor_ste(x: tf.Tensor) -> tf.Tensor:
    """floor with an identity gradient."""
    return x + tf.stop_gradient(tf.floor(x) - x)


def compand(x: tf.Tensor, s2: tf.Tensor) -> tf.Tensor:
    """``flight.idf.spec.compand`` on integer-valued floats; ``s2 = 2**s`` broadcastable. No gradient."""
    x = tf.stop_gradient(x)
    m = tf.floor(tf.abs(x) / s2)
    e = (tf.cast(m >= 128, tf.float32) + tf.cast(m >= 256, tf.float32) + tf.cast(m >= 512, tf.float32)
         + tf.cast(m >= 1024, tf.float32))
    c = tf.where(m < S.COMP_LIN, m, S.COMP_LIN + 16.0 * e + tf.floor((tf.floor(m / tf.pow(2.0, e)) - 64.0) / 4.0))
    return tf.sign(x) * tf.minimum(c, float(S.COMP_MAX))


def right(a: tf.Tensor) -> tf.Tensor:
    return tf.concat([a[:, :, 1:], a[:, :, -1:]], axis=2)


def down(a: tf.Tensor) -> tf.Tensor:
    return tf.concat([a[:, 1:, :], a[:, -1:, :]], axis=1)


class ConvNet(tf.Module):
    """convKxK -> ReLU -> conv1x1 -> ReLU -> conv1x1, int8 in / int8 out. Variable names are checkpoint keys."""

    def __init__(self, cin: int, width: int, cout: int, seed: int, name: str, ksize: int = 3) -> None:
        super().__init__(name=name)
        rng = np.random.default_rng(seed)
        he = lambda fan: math.sqrt(2.0 / fan)  # noqa: E731
        # Inputs are int8 units (noise ~2, structure up to 127): scale the first layer down accordingly.
        self.w1 = tf.Variable(rng.normal(0, he(ksize * ksize * cin) / 8.0, (ksize, ksize, cin, width)).astype(
            np.float32), name="w1")
        self.b1 = tf.Variable(np.zeros(width, np.float32), name="b1")
        self.w2 = tf.Variable(rng.normal(0, he(width), (1, 1, width, width)).astype(np.float32), name="w2")
        self.b2 = tf.Variable(np.zeros(width, np.float32), name="b2")
        self.w3 = tf.Variable(np.zeros((1, 1, width, cout), np.float32), name="w3")
        self.b3 = tf.Variable(np.zeros(cout, np.float32), name="b3")
        self.r1 = tf.Variable(6.0, trainable=False, name="r1")
        self.r2 = tf.Variable(6.0, trainable=False, name="r2")

    @staticmethod
    def _fqw(w: tf.Tensor) -> tf.Tensor:
        m = tf.maximum(tf.reduce_max(tf.abs(w), axis=[0, 1, 2]), 1e-6)
        return tf.quantization.fake_quant_with_min_max_vars_per_channel(w, -m, m, num_bits=8, narrow_range=True)

    def _act(self, h: tf.Tensor, r: tf.Variable, qat: bool, update: bool) -> tf.Tensor:
        if update:
            r.assign(ACT_EMA * r + (1.0 - ACT_EMA) * tf.maximum(tf.reduce_max(h), 1e-3))
        if qat:
            h = tf.quantization.fake_quant_with_min_max_vars(h, 0.0, tf.stop_gradient(r), num_bits=8)
        return h

    def __call__(self, x: tf.Tensor, qat: bool = False, update: bool = False) -> tf.Tensor:
        """Integer-valued features in, the int8 output code (integer-valued float, -128..127) out."""
        return self.forward(x, qat, update) * 8.0

    def forward(self, x: tf.Tensor, qat: bool = False, update: bool = False) -> tf.Tensor:
        """The real-valued output on the int8 grid (scale 1/8): what the exported TFLite graph computes."""
        x = tf.quantization.fake_quant_with_min_max_args(x, -128.0, 127.0, num_bits=8)
        w1, w2, w3 = (self._fqw(w) for w in (self.w1, self.w2, self.w3)) if qat else (self.w1, self.w2, self.w3)
        h = tf.nn.relu(tf.nn.conv2d(x, w1, 1, "SAME") + self.b1)
        h = self._act(h, self.r1, qat, update)
        h = tf.nn.relu(tf.nn.conv2d(h, w2, 1, "VALID") + self.b2)
        h = self._act(h, self.r2, qat, update)
        y = tf.nn.conv2d(h, w3, 1, "VALID") + self.b3
        return tf.quantization.fake_quant_with_min_max_args(y, OUT_MIN, OUT_MAX, num_bits=8)


def logistic_bits(v: tf.Tensor, mean: tf.Tensor, log2scale: tf.Tensor) -> tf.Tensor:
    """-log2 of the discretized logistic probability of integer v (bin width 1), floored at 2**-40."""
    u = tf.abs(v - mean)
    inv = tf.pow(2.0, -log2scale)
    a = (u + 0.5) * inv
    b = (u - 0.5) * inv
    spa, spb = tf.nn.softplus(a), tf.nn.softplus(b)
    lp = -spb + tf.math.log(-tf.math.expm1(tf.minimum(spb - spa, -1e-7)))
    lp = tf.reduce_logsumexp(tf.stack([lp, tf.fill(tf.shape(lp), -40.0 * LN2)]), axis=0)
    return -lp / LN2


class IdfModel(tf.Module):
    """All networks of the IDF: N_NETSETS sets of (T1, PB, PC, PD)."""

    def __init__(self, width: int = 32, t_width: int = 16, seed: int = 0, ksize: int = 3) -> None:
        super().__init__(name="idf")
        self.width, self.t_width, self.ksize = width, t_width, ksize
        self.nets: dict[str, ConvNet] = {}
        for n in range(1, S.N_NETSETS + 1):
            for j, kind in enumerate(S.NET_KINDS):
                w = t_width if kind.startswith("T") else width
                name = S.net_name(n, kind)
                net = ConvNet(S.NET_IN_CHANNELS[kind], w, S.NET_OUT_CHANNELS[kind], seed * 1000 + 10 * n + j, name,
                              ksize)
                setattr(self, name, net)  # attribute name = checkpoint key
                self.nets[name] = net

    def level(self, p: tf.Tensor, s: tf.Tensor, m: tf.Tensor, n: int, qat: bool, update: bool,
              trace: list | None = None) -> tuple[tf.Tensor, tf.Tensor]:
        """One level on a batch of planes [B, H, W] (H, W even); returns (kept plane, bits [B, n_alpha]).

        Column j of the bits is the code length when the means are blended toward the flat prediction with
        weight ALPHA_WEIGHTS[j] / 4.  ``trace`` (eager use, for parity tests) receives the latents and each
        phase's (quarter-pixel mean, flat mean, table index).
        """
        s2 = tf.pow(2.0, s)[:, None, None]
        s2q = s2[..., None]
        mm = m[:, None, None]
        a, b, c, d = p[:, 0::2, 0::2], p[:, 0::2, 1::2], p[:, 1::2, 0::2], p[:, 1::2, 1::2]
        ar, ad = right(a), down(a)
        ard = down(ar)
        g = [compand(ar - a, s2), compand(ad - a, s2)]
        q1 = self.nets[S.net_name(n, "T1")](tf.stack(g, axis=-1), qat, update)
        corr = floor_ste(q1 * s2q / 8.0)
        tb = floor_ste((a + ar) / 2.0) + corr[..., 0]
        tc = floor_ste((a + ad) / 2.0) + corr[..., 1]
        td = floor_ste((a + ar + ad + ard) / 4.0) + corr[..., 2]
        b1, c1, d1 = b - tb, c - tc, d - td
        cb, cc = compand(b1, s2), compand(c1, s2)
        bits = []
        for kind, val, t, extra in (("PB", b1, tb, []), ("PC", c1, tc, [cb]), ("PD", d1, td, [cb, cc])):
            q = self.nets[S.net_name(n, kind)](tf.stack(g + extra, axis=-1), qat, update)
            mean4 = floor_ste(q[..., 0] * s2 * 4.0 / 8.0)
            flat4 = 4.0 * (mm - t)
            k = tf.maximum(S.KSTEP * s[:, None, None] + q[..., 1] + S.K0, 0.0)
            l2s = (k - S.K0) / S.KSTEP
            per_alpha = []
            for w in S.ALPHA_WEIGHTS:
                mu4 = mean4 + floor_ste(w * (flat4 - mean4) / 4.0)
                per_alpha.append(tf.reduce_sum(logistic_bits(val, mu4 / 4.0, l2s), axis=[1, 2]))
            bits.append(tf.stack(per_alpha, axis=-1))
            if trace is not None:
                trace.append({"phase": kind, "value": val, "mean4": mean4, "flat4": flat4, "k": k})
        if trace is not None:
            trace.append({"b1": b1, "c1": c1, "d1": d1, "a": a})
        return a, bits[0] + bits[1] + bits[2]

    def bits(self, x: tf.Tensor, s: tf.Tensor, m: tf.Tensor, qat: bool = False, update: bool = False,
             trace: list | None = None) -> tf.Tensor:
        """Code length in bits per sample of a batch of square power-of-two crops (top excluded), with the
        per-crop, per-network-set choice of the mean blend alpha that the encoder makes."""
        per_set = [0.0] * S.N_NETSETS
        level = 1
        while x.shape[1] > 1 or x.shape[2] > 1:
            x, b = self.level(x, s, m, S.net_set(level), qat, update, trace)
            per_set[S.net_set(level) - 1] += b
            level += 1
        return sum(tf.reduce_min(b, axis=-1) for b in per_set if not isinstance(b, float))
