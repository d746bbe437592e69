"""The integer definition of the IDF transform: one source of truth for flight, ground and training.

Everything here is integer arithmetic on int64 numpy arrays; ``models/`` mirrors it in TensorFlow on
integer-valued float32 (exact below 2**24) and ``tests/models/test_idf_models.py`` checks the two agree.  The formulas
that map a latent to its table and symbol (:func:`bypass_bits`, :func:`symbol_table`, :func:`blend`,
:func:`const_scale_index`, :func:`beta_bias`) use only integer operators and ``np.maximum``, so the encoder's
compiled search (``flight.idf.search``) runs these same functions on scalars.

Rounding rule, everywhere in this file: **floor** (round toward minus infinity), written as an arithmetic
right shift ``>>`` on two's-complement integers.  Never round-half-even, never a float.  (The int8 networks
themselves round as TFLite's reference kernels do: half away from zero inside their requantization; that is
``flight.int8_kernels``' business and is the same on both sides.)

The transform, per tile (``X``: stored integers of any shape ``H x W >= 1 x 1``):

1. Side information, sent in the tile header: ``s = noise_shift(X)`` (0..12), a robust noise estimate so that
   ``value >> s`` puts the read noise at about 1.5-3 int8 units whatever the instrument; the tile's integer
   offset ``m = tile_offset(X)`` (lower median); and per network set a scale bias ``beta`` and a mean blend
   ``alpha`` chosen by the encoder.
2. Levels ``l = 1, 2, ...`` while the plane has more than one pixel.  ``squeeze`` splits the plane (padded
   to even size) into the 2x2 sub-lattices ``a`` (kept), ``b``, ``c``, ``d`` (coded).  Positions of b/c/d
   that fall in the padding are *masked*: their latent is defined as 0 and never coded, so any tile shape,
   odd sizes and 1xN rows included, takes the same path (a is never padding).
   * additive coupling (z1 = a, z2 = [b, c, d]): ``z2 -> z2 - (ref(a) + corr(a))`` where ``ref`` is the
     fixed integer interpolation of the neighbouring ``a`` samples and ``corr = (q << s) >> 3`` comes from the
     int8 network ``T1`` fed with companded gradients of ``a``.  Masked positions are then zeroed.
   * split prior with a 3-phase context (the 2x2 sub-lattice passes): ``b1 | a``, ``c1 | a, b1``,
     ``d1 | a, b1, c1``; networks ``PB, PC, PD`` output (mean, log-scale) as int8, mapped by
     :func:`prior_params` to a quarter-pixel mean and a CDF table index.  The encoder may pull each set's
     means toward the *flat* prediction ``m - ref - corr`` (the tile offset: what is best for white noise)
     with weight alpha/4 (:func:`blend_mean`), and shift its scales by beta.
   The kept ``a`` is the next level's plane.  Levels beyond ``N_NETSETS`` reuse the last set of networks.
3. The final 1x1 plane, pixel (0, 0), is the *top*, sent in the tile header.

The decoder runs the same networks on the same integers: top -> coarsest level -> ... -> level 1, each
level computing ``ref(a)``, ``corr(a)``, then decoding b1, c1, d1 phase by phase and undoing the coupling.
"""

from __future__ import annotations

import numpy as np

S_MAX = 12  # largest noise shift
COMP_LIN = 64  # companding is linear below this many int8 units
COMP_MAX = 127
OUT_FRAC_BITS = 3  # every network's int8 output has scale 2**-3 and zero point 0
K0 = 32  # table index of logistic scale 1 (scales are 2 ** ((k - K0) / KSTEP))
KSTEP = 8  # table indices per octave of scale
KMAX = 80  # largest table scale index (scale 2**6); above it, low bits are sent uniformly ("bypass")
N_PHASE = 4  # quarter-pixel phases of the mean
N_NETSETS = 3  # distinct network sets for levels 1, 2, >= 3
BETA_BITS = 3  # per-tile scale-bias choice per network set
BETA_ZERO = 3  # beta index meaning "no bias"
BETA_STEP = 2  # table indices per beta step (a quarter octave)
ALPHA_WEIGHTS = (0, 2, 3, 4)  # per-tile mean blend toward the flat prediction, in quarters
ALPHA_CONST = len(ALPHA_WEIGHTS)  # one more choice: flat mean *and* a constant scale (no network at all)
ALPHA_BITS = 3
NET_KINDS = ("T1", "PB", "PC", "PD")
NET_IN_CHANNELS = {"T1": 2, "PB": 2, "PC": 3, "PD": 4}
NET_OUT_CHANNELS = {"T1": 3, "PB": 2, "PC": 2, "PD": 2}


def net_name(level_set: int, kind: str) -> str:
    """File stem of one network of the bundle, e.g. ``L1_PB``."""
    return f"L{level_set}_{kind}"


def net_set(level: int) -> int:
    """The network set (1..N_NETSETS) used at a level (1-based)."""
    return min(level, N_NETSETS)


_POW2 = np.int64(1) << np.arange(63, dtype=np.int64)


def bitlen(v: np.ndarray) -> np.ndarray:
    """Number of bits of non-negative integers (0 -> 0): how many powers of two are <= v."""
    return np.searchsorted(_POW2, np.asarray(v, dtype=np.int64), side="right").astype(np.int64)


def noise_shift(x: np.ndarray) -> int:
    """Per-tile shift ``s``: floor(log2) of a robust noise estimate, clipped to 0..S_MAX.

    The statistic is the lower median ``m`` of ``|x00 - x01 - x10 + x11|`` over the tile's whole 2x2 blocks
    (for one-row or one-column tiles: of ``|x0 - x1 - x2 + x3|`` over consecutive quadruples), which removes
    any linear gradient and has standard deviation 2 sigma for white noise, so ``m ~ 1.35 sigma``.
    ``s = max(0, bitlen(m) - 2)`` puts sigma / 2**s in about [1.5, 3).
    """
    x = np.asarray(x, dtype=np.int64)
    h, w = x.shape
    if h >= 2 and w >= 2:
        hh, ww = h - h % 2, w - w % 2
        e = x[0:hh:2, 0:ww:2] - x[0:hh:2, 1:ww:2] - x[1:hh:2, 0:ww:2] + x[1:hh:2, 1:ww:2]
    else:
        v = x.ravel()
        n = v.size - v.size % 4
        e = v[0:n:4] - v[1:n:4] - v[2:n:4] + v[3:n:4]
    e = np.abs(e).ravel()
    if e.size == 0:
        return 0
    m = int(np.partition(e, (e.size - 1) // 2)[(e.size - 1) // 2])
    return int(min(S_MAX, max(0, m.bit_length() - 2)))


def compand(x: np.ndarray, s: int | np.ndarray) -> np.ndarray:
    """int8 network input for pixel differences ``x``: ``sign(x) * C(|x| >> s)``.

    ``C`` is linear below 64 and then a piecewise-linear log2 (16 steps per octave) up to 127, so values up
    to ~1000 noise units keep their order of magnitude instead of clipping.
    """
    x = np.asarray(x, dtype=np.int64)
    m = np.abs(x) >> np.asarray(s, dtype=np.int64)
    e = (m >= 128).astype(np.int64) + (m >= 256) + (m >= 512) + (m >= 1024)
    c = np.where(m < COMP_LIN, m, COMP_LIN + 16 * e + (((m >> e) - 64) >> 2))
    c = np.minimum(c, COMP_MAX)
    return (np.sign(x) * c).astype(np.int8)


def level_shapes(h: int, w: int) -> list[tuple[int, int]]:
    """Plane shapes entering each level, finest first; the last level produces the 1x1 top."""
    shapes = []
    while h * w > 1:
        shapes.append((h, w))
        h, w = (h + 1) // 2, (w + 1) // 2
    return shapes


def squeeze(plane: np.ndarray) -> tuple[np.ndarray, ...]:
    """Split planes ``[..., h, w]`` into 2x2 sub-lattices a, b, c, d (padded with 0) and the masks of real b, c, d.

    The masks are 2-D ``(ceil(h/2), ceil(w/2))``: every plane of a batch has the same shape.
    """
    h, w = plane.shape[-2:]
    hh, ww = (h + 1) // 2, (w + 1) // 2
    p = np.zeros(plane.shape[:-2] + (2 * hh, 2 * ww), dtype=np.int64)
    p[..., :h, :w] = plane
    mb, mc, md = masks(h, w)
    return p[..., 0::2, 0::2], p[..., 0::2, 1::2], p[..., 1::2, 0::2], p[..., 1::2, 1::2], mb, mc, md


def masks(h: int, w: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Which b, c, d positions of an h x w plane are real pixels (the rest is squeeze padding)."""
    hh, ww = (h + 1) // 2, (w + 1) // 2
    mb = np.zeros((hh, ww), dtype=bool)
    mc = np.zeros((hh, ww), dtype=bool)
    mb[:, : w // 2] = True
    mc[: h // 2, :] = True
    return mb, mc, mb & mc


def unsqueeze(a: np.ndarray, b: np.ndarray, c: np.ndarray, d: np.ndarray, h: int, w: int) -> np.ndarray:
    """Inverse of :func:`squeeze` (drops the padding)."""
    hh, ww = a.shape[-2:]
    p = np.empty(a.shape[:-2] + (2 * hh, 2 * ww), dtype=np.int64)
    p[..., 0::2, 0::2], p[..., 0::2, 1::2], p[..., 1::2, 0::2], p[..., 1::2, 1::2] = a, b, c, d
    return p[..., :h, :w]


def right(a: np.ndarray) -> np.ndarray:
    """Right neighbour with edge replication (last axis)."""
    return np.concatenate([a[..., 1:], a[..., -1:]], axis=-1)


def down(a: np.ndarray) -> np.ndarray:
    """Lower neighbour with edge replication (second-to-last axis)."""
    return np.concatenate([a[..., 1:, :], a[..., -1:, :]], axis=-2)


def gradient_features(a: np.ndarray, s: int | np.ndarray) -> list[np.ndarray]:
    """Companded horizontal and vertical forward differences of the kept lattice."""
    return [compand(right(a) - a, s), compand(down(a) - a, s)]


def predict_refs(a: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fixed integer interpolation of b (horizontal), c (vertical) and d (4 diagonal) from a (floor)."""
    ar, ad = right(a), down(a)
    ard = down(ar)
    return (a + ar) >> 1, (a + ad) >> 1, (a + ar + ad + ard) >> 2


def translation(q: np.ndarray, s: int | np.ndarray) -> np.ndarray:
    """Pixel-unit coupling translation from an int8 output ``q`` (scale 1/8 noise unit): floor(q 2**s / 8)."""
    return (np.asarray(q, dtype=np.int64) << np.asarray(s, dtype=np.int64)) >> OUT_FRAC_BITS


def net_input(channels: list[np.ndarray]) -> np.ndarray:
    """Stack int8 feature maps ``[N, h, w]`` (or ``[h, w]``) into one NHWC tensor."""
    x = np.stack(channels, axis=-1).astype(np.int8)
    return np.ascontiguousarray(x if x.ndim == 4 else x[None])


def prior_params(q: np.ndarray, s: int | np.ndarray, beta_bias: int | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mean in quarter pixels, table scale index) from a prior network's int8 output ``q[..., 0:2]``.

    mean4 = floor(q_mean * 2**(s+2) / 8); k = max(0, 8 s + q_logscale + K0 + beta_bias).  The logistic scale
    of index k is 2 ** ((k - K0) / 8) pixels, so q_logscale counts eighths of an octave around 2**s.
    """
    q = np.asarray(q, dtype=np.int64)
    s = np.asarray(s, dtype=np.int64)
    mean4 = (q[..., 0] << (s + 2)) >> OUT_FRAC_BITS
    k = np.maximum(KSTEP * s + q[..., 1] + K0 + beta_bias, 0)
    return mean4, k


def tile_offset(x: np.ndarray) -> int:
    """The tile's integer offset: its lower median."""
    v = np.asarray(x, dtype=np.int64).ravel()
    return int(np.partition(v, (v.size - 1) // 2)[(v.size - 1) // 2])


def flat_mean4(offset: int | np.ndarray, translation: np.ndarray) -> np.ndarray:
    """Quarter-pixel mean of a latent if its pixel were the tile offset: 4 (m - ref - corr)."""
    return (np.asarray(offset, dtype=np.int64) - translation) << 2


#: Blend weight (quarters) of every alpha choice, ALPHA_CONST included (w = 4: the flat mean).
BLEND_WEIGHTS = ALPHA_WEIGHTS + (4,)


def blend(mean4: int | np.ndarray, flat4: int | np.ndarray, w: int | np.ndarray) -> int | np.ndarray:
    """mean4 + floor(w (flat4 - mean4) / 4) for a blend weight w in quarters."""
    return mean4 + ((w * (flat4 - mean4)) >> 2)


def blend_mean(mean4: np.ndarray, flat4: np.ndarray, alpha: int | np.ndarray) -> np.ndarray:
    """:func:`blend` with w = BLEND_WEIGHTS[alpha] (ALPHA_CONST: w = 4)."""
    w = np.asarray(BLEND_WEIGHTS, dtype=np.int64)[np.asarray(alpha, dtype=np.int64)]
    return blend(mean4, flat4, w)


def coding_params(mean4: np.ndarray, k: np.ndarray, flat4: np.ndarray, s: int | np.ndarray,
                  alpha: int | np.ndarray, beta: int | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(quarter-pixel mean, table index) a latent is coded with, given the tile's side information.

    alpha < ALPHA_CONST blends the network mean toward the flat one and keeps the network scale; ALPHA_CONST
    uses the flat mean and the constant scale index 8 s + K0 (white noise of the tile's level).  beta then
    shifts the scale index by BETA_STEP (beta - BETA_ZERO)."""
    mean4 = blend_mean(mean4, flat4, alpha)
    const = np.asarray(alpha) == ALPHA_CONST
    k = np.where(const, const_scale_index(np.asarray(s, dtype=np.int64)), k)
    return mean4, np.maximum(k + beta_bias(np.asarray(beta, dtype=np.int64)), 0)


def const_scale_index(s: int | np.ndarray) -> int | np.ndarray:
    """Table scale index of the constant model (ALPHA_CONST): white noise of the tile's level, 8 s + K0."""
    return KSTEP * s + K0


def beta_bias(beta: int | np.ndarray) -> int | np.ndarray:
    """Table-index bias of a per-tile beta choice (0..2**BETA_BITS-1; integers or an int64 array)."""
    return BETA_STEP * (beta - BETA_ZERO)


def bypass_bits(k: int | np.ndarray) -> int | np.ndarray:
    """Low bits sent uniformly for table scale index k: ceil((k - KMAX) / KSTEP), at least 0."""
    return np.maximum(0, (k - KMAX + KSTEP - 1) >> 3)


def symbol_table(mean4: int | np.ndarray, k: int | np.ndarray,
                 nb: int | np.ndarray) -> int | np.ndarray:
    """The table a latent is coded with, t = k' * N_PHASE + phase: for nb = 0 bypass bits k' = k and the
    quarter-pixel phase of the mean; above KMAX (nb > 0) k' = k - KSTEP nb and phase 0."""
    return (k - KSTEP * nb) * N_PHASE + (mean4 & 3) * (nb == 0)


def split_symbols(v: np.ndarray, mean4: np.ndarray, k: np.ndarray) -> tuple[np.ndarray, ...]:
    """Map latents to (table index, symbol, bypass bit count, bypass bits).

    For k <= KMAX: table (k, mean4 & 3), symbol v - (mean4 >> 2).  Above, nb = ceil((k - KMAX) / 8) low bits
    are sent uniformly: r = v - (mean4 >> 2) + 2**(nb-1); symbol r >> nb with table (k - 8 nb, 0); bits
    r & (2**nb - 1).  Table t = k * N_PHASE + phase (:func:`symbol_table`).
    """
    v = np.asarray(v, dtype=np.int64)
    nb = bypass_bits(k)
    base = mean4 >> 2
    r = v - base + np.where(nb > 0, np.int64(1) << np.maximum(nb - 1, 0), 0)
    sym = np.where(nb > 0, r >> nb, v - base)
    low = np.where(nb > 0, r & ((np.int64(1) << nb) - 1), 0)
    return symbol_table(mean4, k, nb), sym, nb, low


def join_symbols(sym: np.ndarray, mean4: np.ndarray, k: np.ndarray, low: np.ndarray) -> np.ndarray:
    """Inverse of :func:`split_symbols` given the decoded symbol and bypass bits."""
    nb = bypass_bits(k)
    base = mean4 >> 2
    r = (np.asarray(sym, dtype=np.int64) << nb) + low
    return np.where(nb > 0, r + base - (np.int64(1) << np.maximum(nb - 1, 0)), sym + base)


def table_scale(k: int) -> float:
    """Logistic scale (pixels) of table index k; used only at export to build the integer tables."""
    return 2.0 ** ((k - K0) / KSTEP)
