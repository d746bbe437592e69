"""Integer kernels that reproduce TFLite's int8 reference kernels bit for bit.

Flight and ground both run these, and tests compare them with the LiteRT interpreter
using ``OpResolverType.BUILTIN_REF`` (tensorflow/lite/kernels/internal/reference/
integer_ops/*.h).  Every kernel is integer only; the one place floats appear is
:func:`quantize_multiplier`, which runs once at load time on the model's float32 scales
in double precision, exactly as TFLite derives its fixed-point multipliers, so the
integers it produces are the same ones TFLite uses.

Rounding rule, everywhere: TFLite's (gemmlowp's).
``SaturatingRoundingDoublingHighMul`` rounds the high half of ``2*a*b`` to nearest with
ties away from zero, and ``RoundingDivideByPOT`` divides by ``2**e`` rounding to nearest
with ties away from zero.  The derivation of multipliers rounds with ``std::round``
(ties away from zero) too.  Never numpy's or Python's round-half-to-even.

Overflow: TFLite accumulates ``w * (x - zp_in)`` in int32.  One product is at most
128 * 255 = 32640 < 2**15, so a dot product of K taps stays below 2**31 when
K < 65793 (minus the bias); a 3x3x64 kernel has K = 576.  ``flight.int8net`` proves the
bound for every layer at load time from the actual weights and bias
(``sum |w| * max|x - zp| + |bias| < 2**31``) and refuses a model that fails it, so the
int32 sums here never wrap.  (They are also computed modulo 2**32 throughout, as C's
int32 arithmetic would wrap.)  Products are formed from int16 operands (``x - zp_in``
fits in int16), which lets LLVM vectorise the inner loops.

All kernels are compiled ``nogil``: a caller may run independent tiles on several
threads.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

INT32_MIN = -(1 << 31)
INT32_MAX = (1 << 31) - 1


# --------------------------------------------------------------------------------------
# Load-time derivation of fixed-point multipliers (double precision, like TFLite).
# --------------------------------------------------------------------------------------


def _round_half_away(v: float) -> int:
    """``std::round``: nearest integer, ties away from zero."""
    return int(math.floor(v + 0.5)) if v >= 0 else -int(math.floor(-v + 0.5))


def quantize_multiplier(real_multiplier: float) -> tuple[int, int]:
    """TFLite's ``QuantizeMultiplier``: a double -> (Q0.31 multiplier, shift).

    ``real ~= multiplier * 2**(shift - 31)``; frexp in double precision, the mantissa
    scaled by 2**31 and rounded half away from zero; a mantissa that rounds up to 2**31
    is halved with the shift incremented; shifts below -31 flush to zero.
    """
    if real_multiplier == 0.0:
        return 0, 0
    q, shift = math.frexp(real_multiplier)
    q_fixed = _round_half_away(q * float(1 << 31))
    if q_fixed > (1 << 31):
        raise ValueError(f"bad multiplier {real_multiplier!r}")
    if q_fixed == (1 << 31):
        q_fixed //= 2
        shift += 1
    if q_fixed > INT32_MAX:
        raise ValueError(f"bad multiplier {real_multiplier!r}")
    if shift < -31:
        shift = 0
        q_fixed = 0
    return q_fixed, shift


def quantize_multiplier_smaller_than_one(real_multiplier: float) -> tuple[int, int]:
    """``QuantizeMultiplierSmallerThanOneExp``: as above, for 0 < m < 1 (shift <= 0)."""
    if not 0.0 < real_multiplier < 1.0:
        raise ValueError(f"multiplier {real_multiplier!r} must lie in (0, 1)")
    m, shift = quantize_multiplier(real_multiplier)
    if shift > 0:
        raise ValueError(f"multiplier {real_multiplier!r} gave a positive shift")
    return m, shift


def conv_multipliers(input_scale: np.float32, filter_scales: np.ndarray,
                     output_scale: np.float32) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel multipliers of CONV_2D / DEPTHWISE_CONV_2D / per-channel FC.

    ``double(input_scale) * double(filter_scale) / double(output_scale)``, as in
    ``PopulateConvolutionQuantizationParams``.
    """
    mult = np.empty(len(filter_scales), np.int32)
    shift = np.empty(len(filter_scales), np.int32)
    for i, fs in enumerate(np.asarray(filter_scales, np.float32)):
        eff = float(np.float32(input_scale)) * float(fs) / float(np.float32(output_scale))
        mult[i], shift[i] = quantize_multiplier(eff)
    return mult, shift


def activation_range(activation: int, scale: np.float32, zero_point: int) -> tuple[int, int]:
    """``CalculateActivationRangeQuantized`` for int8 outputs.

    activation codes as in the TFLite schema: 0 NONE, 1 RELU, 2 RELU_N1_TO_1, 3 RELU6.
    The bound is ``zp + round(f / scale)`` with the division in float32 and round half
    away from zero.
    """

    def q(f: float) -> int:
        return zero_point + _round_half_away(float(np.float32(f) / np.float32(scale)))

    lo, hi = -128, 127
    if activation == 0:
        return lo, hi
    if activation == 1:
        return max(lo, q(0.0)), hi
    if activation == 3:
        return max(lo, q(0.0)), min(hi, q(6.0))
    if activation == 2:
        return max(lo, q(-1.0)), min(hi, q(1.0))
    raise ValueError(f"unsupported fused activation code {activation}")


# --------------------------------------------------------------------------------------
# Fixed-point primitives (gemmlowp semantics, int32 values carried in int64).
# --------------------------------------------------------------------------------------


@njit(cache=True, nogil=True)
def wrap_int32(v):
    """Two's-complement wrap of an integer to int32 (what C's int32 arithmetic does)."""
    return ((np.int64(v) + 2147483648) & 0xFFFFFFFF) - 2147483648


@njit(cache=True, nogil=True)
def saturating_rounding_doubling_high_mul(a, b):
    """gemmlowp ``SaturatingRoundingDoublingHighMul``: round(a*b / 2**31), ties away."""
    if a == b and a == -2147483648:
        return np.int64(2147483647)
    ab = np.int64(a) * np.int64(b)
    if ab >= 0:
        t = ab + (1 << 30)
        return t >> 31
    t = ab + (1 - (1 << 30))
    return -((-t) >> 31)  # C integer division truncates toward zero


@njit(cache=True, nogil=True)
def rounding_divide_by_pot(x, exponent):
    """gemmlowp ``RoundingDivideByPOT``: x / 2**exponent, round half away from zero."""
    if exponent == 0:
        return np.int64(x)
    mask = (np.int64(1) << exponent) - 1
    remainder = np.int64(x) & mask
    threshold = (mask >> 1) + (1 if x < 0 else 0)
    return (np.int64(x) >> exponent) + (1 if remainder > threshold else 0)


@njit(cache=True, nogil=True)
def multiply_by_quantized_multiplier(x, multiplier, shift):
    """TFLite's (double-rounding) ``MultiplyByQuantizedMultiplier`` on an int32 value."""
    left = shift if shift > 0 else 0
    right = -shift if shift < 0 else 0
    v = wrap_int32(np.int64(x) * (np.int64(1) << left))
    return rounding_divide_by_pot(saturating_rounding_doubling_high_mul(v, multiplier), right)


@njit(cache=True, nogil=True)
def _requant(acc, bias, multiplier, shift, out_zp, act_min, act_max):
    """Bias add, MultiplyByQuantizedMultiplier, output offset and activation clamp."""
    v = wrap_int32(wrap_int32(acc) + bias)
    v = multiply_by_quantized_multiplier(v, multiplier, shift) + out_zp
    if v < act_min:
        v = act_min
    if v > act_max:
        v = act_max
    return v


# --------------------------------------------------------------------------------------
# CONV_2D: im2col per output row, an integer matrix product, then requantization.
# --------------------------------------------------------------------------------------

# Below this many taps per output (K = kh*kw*Cin) the channel-vectorised outer-product
# loop beats the dot-product loop, whose horizontal reductions then dominate (unless
# there are too few output channels to fill a vector).
SMALL_K = 64


@njit(cache=True, nogil=True)
def matmul_dot(p, w, acc):
    """acc[i, c] = sum_k p[i, k] * w[c, k]; p [n, K] int16, w [C, K] int16, acc int32.

    Blocked 2 rows x 4 channels so each loaded value feeds several multiply-adds; the
    k loop is contiguous in both operands and vectorises.  Best for large K.
    """
    n, k_len = p.shape
    n_ch = w.shape[0]
    c4 = n_ch - n_ch % 4
    for i in range(0, n, 2):
        two = i + 1 < n
        p0 = p[i]
        p1 = p[i + 1] if two else p[i]
        for c in range(0, c4, 4):
            w0 = w[c]
            w1 = w[c + 1]
            w2 = w[c + 2]
            w3 = w[c + 3]
            a0 = 0
            a1 = 0
            a2 = 0
            a3 = 0
            b0 = 0
            b1 = 0
            b2 = 0
            b3 = 0
            for k in range(k_len):
                u = p0[k]
                v = p1[k]
                a0 += u * w0[k]
                a1 += u * w1[k]
                a2 += u * w2[k]
                a3 += u * w3[k]
                b0 += v * w0[k]
                b1 += v * w1[k]
                b2 += v * w2[k]
                b3 += v * w3[k]
            acc[i, c] = a0
            acc[i, c + 1] = a1
            acc[i, c + 2] = a2
            acc[i, c + 3] = a3
            if two:
                acc[i + 1, c] = b0
                acc[i + 1, c + 1] = b1
                acc[i + 1, c + 2] = b2
                acc[i + 1, c + 3] = b3
        for c in range(c4, n_ch):
            wc = w[c]
            a0 = 0
            b0 = 0
            for k in range(k_len):
                a0 += p0[k] * wc[k]
                b0 += p1[k] * wc[k]
            acc[i, c] = a0
            if two:
                acc[i + 1, c] = b0


@njit(cache=True, nogil=True)
def matmul_outer(p, wt, acc):
    """Same product with wt [K, C] int32: rank-1 updates vectorised across channels.

    Four rows share each loaded weight vector.  Best for small K (1x1 convs, few input
    channels), where it avoids the dot product's horizontal reductions.
    """
    n, k_len = p.shape
    n_ch = wt.shape[1]
    n4 = n - n % 4
    for i in range(0, n4, 4):
        r0 = acc[i]
        r1 = acc[i + 1]
        r2 = acc[i + 2]
        r3 = acc[i + 3]
        r0[:] = 0
        r1[:] = 0
        r2[:] = 0
        r3[:] = 0
        for k in range(k_len):
            u0 = np.int32(p[i, k])
            u1 = np.int32(p[i + 1, k])
            u2 = np.int32(p[i + 2, k])
            u3 = np.int32(p[i + 3, k])
            wk = wt[k]
            for c in range(n_ch):
                wv = wk[c]
                r0[c] += u0 * wv
                r1[c] += u1 * wv
                r2[c] += u2 * wv
                r3[c] += u3 * wv
    for i in range(n4, n):
        r0 = acc[i]
        r0[:] = 0
        for k in range(k_len):
            u0 = np.int32(p[i, k])
            wk = wt[k]
            for c in range(n_ch):
                r0[c] += u0 * wk[c]


@njit(cache=True, nogil=True)
def requantize_rows(acc, bias, mult, shift, out_zp, act_min, act_max, out):
    """out[i, c] = clamp(MultiplyByQuantizedMultiplier(acc + bias) + out_zp) as int8."""
    n, n_ch = acc.shape
    for i in range(n):
        for c in range(n_ch):
            v = wrap_int32(np.int64(acc[i, c]) + bias[c])
            v = multiply_by_quantized_multiplier(v, mult[c], shift[c]) + out_zp
            out[i, c] = min(max(v, act_min), act_max)


@njit(cache=True, nogil=True)
def matmul_dot_rows(rows, w, acc, kh, span, c_in, out_w):
    """The dot-product kernel reading a stride-1 conv's taps straight from padded rows.

    rows [kh, Wp*Cin] int16; output pixel ox reads rows[fy, ox*Cin : ox*Cin + span]
    (span = kw*Cin) against w[c, fy*span : (fy+1)*span].  No im2col copy, which is what
    dominates when there are few output channels.
    """
    n_ch = w.shape[0]
    c4 = n_ch - n_ch % 4
    for i in range(0, out_w, 2):
        two = i + 1 < out_w
        o0 = i * c_in
        o1 = (i + 1) * c_in if two else o0
        for c in range(0, c4, 4):
            a0 = 0
            a1 = 0
            a2 = 0
            a3 = 0
            b0 = 0
            b1 = 0
            b2 = 0
            b3 = 0
            for fy in range(kh):
                r = rows[fy]
                p0 = r[o0:o0 + span]
                p1 = r[o1:o1 + span]
                wo = fy * span
                w0 = w[c, wo:wo + span]
                w1 = w[c + 1, wo:wo + span]
                w2 = w[c + 2, wo:wo + span]
                w3 = w[c + 3, wo:wo + span]
                for k in range(span):
                    u = p0[k]
                    v = p1[k]
                    a0 += u * w0[k]
                    a1 += u * w1[k]
                    a2 += u * w2[k]
                    a3 += u * w3[k]
                    b0 += v * w0[k]
                    b1 += v * w1[k]
                    b2 += v * w2[k]
                    b3 += v * w3[k]
            acc[i, c] = a0
            acc[i, c + 1] = a1
            acc[i, c + 2] = a2
            acc[i, c + 3] = a3
            if two:
                acc[i + 1, c] = b0
                acc[i + 1, c + 1] = b1
                acc[i + 1, c + 2] = b2
                acc[i + 1, c + 3] = b3
        for c in range(c4, n_ch):
            a0 = 0
            b0 = 0
            for fy in range(kh):
                r = rows[fy]
                p0 = r[o0:o0 + span]
                p1 = r[o1:o1 + span]
                wo = fy * span
                wc = w[c, wo:wo + span]
                for k in range(span):
                    a0 += p0[k] * wc[k]
                    b0 += p1[k] * wc[k]
            acc[i, c] = a0
            if two:
                acc[i + 1, c] = b0


@njit(cache=True, nogil=True)
def _conv2d_rows(x, w, bias, mult, shift, in_zp, out_zp, act_min, act_max,
                 kh, kw, stride_h, dil_h, pad_top, pad_left, out_h, out_w):
    """Stride-1 (in width), undilated (in width) CONV_2D without im2col."""
    n_b, h, wd, c_in = x.shape
    n_ch = w.shape[0]
    out = np.empty((n_b, out_h, out_w, n_ch), np.int8)
    w_pad = max(pad_left + wd, out_w + kw - 1)
    rows = np.zeros((kh, w_pad * c_in), np.int16)
    acc = np.empty((out_w, n_ch), np.int32)
    base = pad_left * c_in
    for b in range(n_b):
        for oy in range(out_h):
            for fy in range(kh):
                iy = oy * stride_h - pad_top + fy * dil_h
                r = rows[fy]
                if iy >= 0 and iy < h:
                    src = x[b, iy]
                    for ix in range(wd):
                        sv = src[ix]
                        o = base + ix * c_in
                        for ci in range(c_in):
                            r[o + ci] = np.int16(sv[ci]) - in_zp
                else:
                    r[:] = 0
            matmul_dot_rows(rows, w, acc, kh, kw * c_in, c_in, out_w)
            requantize_rows(acc, bias, mult, shift, out_zp, act_min, act_max, out[b, oy])
    return out


@njit(cache=True, nogil=True)
def _conv2d_im2col(x, w, wt, bias, mult, shift, in_zp, out_zp, act_min, act_max,
                   kh, kw, stride_h, stride_w, dil_h, dil_w, pad_top, pad_left, out_h, out_w, outer):
    """General CONV_2D through an im2col block per output row."""
    n_b, h, wd, c_in = x.shape
    n_ch = w.shape[0]
    k_len = kh * kw * c_in
    out = np.empty((n_b, out_h, out_w, n_ch), np.int8)
    patches = np.zeros((out_w, k_len), np.int16)
    acc = np.empty((out_w, n_ch), np.int32)
    for b in range(n_b):
        for oy in range(out_h):
            y0 = oy * stride_h - pad_top
            for ox in range(out_w):
                x0 = ox * stride_w - pad_left
                row = patches[ox]
                kk = 0
                for fy in range(kh):
                    iy = y0 + fy * dil_h
                    for fx in range(kw):
                        ix = x0 + fx * dil_w
                        if iy >= 0 and iy < h and ix >= 0 and ix < wd:
                            src = x[b, iy, ix]
                            for ci in range(c_in):
                                row[kk + ci] = np.int16(src[ci]) - in_zp
                        else:
                            for ci in range(c_in):
                                row[kk + ci] = 0
                        kk += c_in
            if outer:
                matmul_outer(patches, wt, acc)
            else:
                matmul_dot(patches, w, acc)
            requantize_rows(acc, bias, mult, shift, out_zp, act_min, act_max, out[b, oy])
    return out


_CHUNK = 256  # pixels per block of the 1x1 kernel: its buffers stay in L1


@njit(cache=True, nogil=True)
def _conv2d_1x1(x, w, wt, bias, mult, shift, in_zp, out_zp, act_min, act_max):
    """1x1 stride-1 CONV_2D: a matrix product over all pixels, in chunks of _CHUNK.

    No im2col and no per-row overhead (which dominates on small tiles).  With 8 or more
    output channels the outer-product kernel vectorises across channels; with fewer, the
    chunk is transposed and the loop vectorises across pixels instead.
    """
    n_b, h, wd, c_in = x.shape
    n_ch = w.shape[0]
    n = n_b * h * wd
    xf = x.reshape(n, c_in)
    out = np.empty((n, n_ch), np.int8)
    if n_ch >= 8:
        p = np.empty((_CHUNK, c_in), np.int16)
        acc = np.empty((_CHUNK, n_ch), np.int32)
        for s in range(0, n, _CHUNK):
            m = min(_CHUNK, n - s)
            for i in range(m):
                src = xf[s + i]
                dst = p[i]
                for ci in range(c_in):
                    dst[ci] = np.int16(src[ci]) - in_zp
            matmul_outer(p[:m], wt, acc[:m])
            requantize_rows(acc[:m], bias, mult, shift, out_zp, act_min, act_max, out[s:s + m])
    else:
        pt = np.empty((c_in, _CHUNK), np.int32)
        acc = np.empty((n_ch, _CHUNK), np.int32)
        for s in range(0, n, _CHUNK):
            m = min(_CHUNK, n - s)
            for i in range(m):
                src = xf[s + i]
                for ci in range(c_in):
                    pt[ci, i] = np.int32(src[ci]) - in_zp
            for c in range(n_ch):
                a = acc[c]
                a[:m] = 0
                for ci in range(c_in):
                    wv = np.int32(w[c, ci])
                    pr = pt[ci]
                    for i in range(m):
                        a[i] += wv * pr[i]
            for i in range(m):
                o = out[s + i]
                for c in range(n_ch):
                    v = wrap_int32(np.int64(acc[c, i]) + bias[c])
                    v = multiply_by_quantized_multiplier(v, mult[c], shift[c]) + out_zp
                    o[c] = min(max(v, act_min), act_max)
    return out.reshape(n_b, h, wd, n_ch)


@njit(cache=True, nogil=True)
def conv2d(x, w, wt, bias, mult, shift, in_zp, out_zp, act_min, act_max,
           kh, kw, stride_h, stride_w, dil_h, dil_w, pad_top, pad_left, out_h, out_w):
    """CONV_2D, per-channel int8 (``reference_integer_ops::ConvPerChannel``).

    x: [B, H, W, Cin] int8; w: [Cout, kh*kw*Cin] int16 in (fy, fx, ci) order and wt its
    int32 transpose.  Inputs are widened to int16 ``x - in_zp``; taps outside the image
    contribute 0, which is exactly TFLite's "skip the tap".  1x1 stride-1 convs are a
    plain matrix product over all pixels (:func:`_conv2d_1x1`).  Small K (few input
    channels) with at least 8 output channels goes through im2col + the outer-product
    kernel (vectorised across channels); stride-1 convs otherwise read padded rows
    directly into the dot-product kernel (vectorised along K); anything else uses
    im2col + the dot-product kernel.
    """
    if kh == 1 and kw == 1 and stride_h == 1 and stride_w == 1 and pad_top == 0 and pad_left == 0 \
            and out_h == x.shape[1] and out_w == x.shape[2]:
        return _conv2d_1x1(x, w, wt, bias, mult, shift, in_zp, out_zp, act_min, act_max)
    k_len = kh * kw * x.shape[3]
    outer = k_len <= SMALL_K and w.shape[0] >= 8
    if not outer and stride_w == 1 and dil_w == 1:
        return _conv2d_rows(x, w, bias, mult, shift, in_zp, out_zp, act_min, act_max,
                            kh, kw, stride_h, dil_h, pad_top, pad_left, out_h, out_w)
    return _conv2d_im2col(x, w, wt, bias, mult, shift, in_zp, out_zp, act_min, act_max,
                          kh, kw, stride_h, stride_w, dil_h, dil_w, pad_top, pad_left, out_h, out_w, outer)


@njit(cache=True, nogil=True)
def fully_connected(x, w, bias, mant, exp2, in_zp, out_zp, act_min, act_max):
    """FULLY_CONNECTED as LiteRT's reference kernel runs it: x [n, K] int8, w [C, K] int16.

    w holds the weights plus their offset.  Since April 2025 TFLite's *reference* FC
    kernel requantizes in double: ``(int32)round((double)acc * effective_scale)``; the
    effective scale arrives here as an exact integer pair ``mant * 2**exp2`` (see
    :func:`double_as_integer`) and :func:`round_mul_double` reproduces that double
    arithmetic bit for bit with integers only.
    """
    n, k_len = x.shape
    n_ch = w.shape[0]
    out = np.empty((n, n_ch), np.int8)
    for i in range(n):
        for c in range(n_ch):
            acc = 0
            for k in range(k_len):
                acc += (np.int64(x[i, k]) - in_zp) * w[c, k]
            v = round_mul_double(wrap_int32(wrap_int32(acc) + bias[c]), mant[c], exp2[c]) + out_zp
            if v < act_min:
                v = act_min
            if v > act_max:
                v = act_max
            out[i, c] = v
    return out


def double_as_integer(value: float) -> tuple[int, int]:
    """A finite non-negative double as ``mant * 2**exp2`` with ``mant < 2**53`` (exact)."""
    if not (value >= 0.0 and math.isfinite(value)):
        raise ValueError(f"scale {value!r} must be finite and non-negative")
    if value == 0.0:
        return 0, 0
    frac, ex = math.frexp(value)
    return int(frac * float(1 << 53)), ex - 53


@njit(cache=True, nogil=True)
def _bit_length(v):
    n = 0
    while v >= 65536:
        v >>= 16
        n += 16
    while v > 0:
        v >>= 1
        n += 1
    return n


@njit(cache=True, nogil=True)
def round_mul_double(acc, mant, exp2):
    """``(int32_t)round((double)acc * d)`` for ``d = mant * 2**exp2``, in integers only.

    IEEE-754 double multiply (round to nearest, ties to even, to 53 bits) followed by C
    ``round`` (ties away from zero).  |acc| <= 2**31 and mant < 2**53, so the exact
    product needs up to 84 bits: it is carried as hi * 2**26 + lo.  A result outside
    int32 maps to INT32_MIN, as x86's cvttsd2si does for the C cast.
    """
    if acc == 0 or mant == 0:
        return np.int64(0)
    neg = acc < 0
    a = -np.int64(acc) if neg else np.int64(acc)
    low26 = (np.int64(1) << 26) - 1
    hi = a * (mant >> 26)
    lo = a * (mant & low26)
    hi += lo >> 26
    lo &= low26
    # Round the exact product hi*2**26 + lo to 53 significant bits (ties to even).
    if hi == 0:
        q = lo
        s = 0
    else:
        t = _bit_length(hi) + 26 - 53
        if t <= 0:
            q = (hi << 26) | lo
            s = 0
        else:
            if t <= 26:
                q = (hi << (26 - t)) | (lo >> t)
                rem = lo & ((np.int64(1) << t) - 1)
            else:
                u = t - 26
                q = hi >> u
                rem = ((hi & ((np.int64(1) << u) - 1)) << 26) | lo
            half = np.int64(1) << (t - 1)
            if rem > half or (rem == half and (q & 1) == 1):
                q += 1
            s = t
    # value = q * 2**x; C round(): half away from zero on the magnitude.
    x = s + exp2
    if x >= 0:
        if x >= 32 or q > ((np.int64(1) << 31) >> x):
            return np.int64(-2147483648)
        r = q << x
    else:
        k = -x
        if k > 60:
            r = np.int64(0)
        else:
            r = (q + (np.int64(1) << (k - 1))) >> k
    if r > 2147483647:  # also exactly -2**31 when neg
        return np.int64(-2147483648)
    return -r if neg else r


@njit(cache=True, nogil=True)
def depthwise_conv2d(x, w, bias, mult, shift, in_zp, out_zp, act_min, act_max, depth_mult,
                     stride_h, stride_w, dil_h, dil_w, pad_top, pad_left, out_h, out_w):
    """DEPTHWISE_CONV_2D (``DepthwiseConvPerChannel``): w [kh, kw, Cout] int16."""
    n_b, h, wd, c_in = x.shape
    kh, kw, n_ch = w.shape
    out = np.empty((n_b, out_h, out_w, n_ch), np.int8)
    acc = np.zeros(n_ch, np.int64)
    for b in range(n_b):
        for oy in range(out_h):
            y0 = oy * stride_h - pad_top
            for ox in range(out_w):
                x0 = ox * stride_w - pad_left
                acc[:] = 0
                for fy in range(kh):
                    iy = y0 + fy * dil_h
                    if iy < 0 or iy >= h:
                        continue
                    for fx in range(kw):
                        ix = x0 + fx * dil_w
                        if ix < 0 or ix >= wd:
                            continue
                        for ci in range(c_in):
                            v = np.int64(x[b, iy, ix, ci]) - in_zp
                            for m in range(depth_mult):
                                oc = ci * depth_mult + m
                                acc[oc] += v * w[fy, fx, oc]
                for oc in range(n_ch):
                    out[b, oy, ox, oc] = _requant(acc[oc], bias[oc], mult[oc], shift[oc], out_zp,
                                                  act_min, act_max)
    return out


@njit(cache=True, nogil=True)
def _mbqm_smaller_than_one(x, multiplier, shift):
    """``MultiplyByQuantizedMultiplierSmallerThanOneExp`` (shift <= 0)."""
    return rounding_divide_by_pot(saturating_rounding_doubling_high_mul(x, multiplier), -shift)


@njit(cache=True, nogil=True)
def add(a, b, a_zp, b_zp, left_shift, a_mult, a_shift, b_mult, b_shift,
        out_mult, out_shift, out_zp, act_min, act_max):
    """ADD, int8 (``reference_integer_ops::AddFunc``) on equally shaped flat arrays."""
    n = a.size
    fa = a.ravel()
    fb = b.ravel()
    out = np.empty(n, np.int8)
    scale = np.int64(1) << left_shift
    for i in range(n):
        va = wrap_int32((np.int64(fa[i]) - a_zp) * scale)
        vb = wrap_int32((np.int64(fb[i]) - b_zp) * scale)
        sa = _mbqm_smaller_than_one(va, a_mult, a_shift)
        sb = _mbqm_smaller_than_one(vb, b_mult, b_shift)
        raw = _mbqm_smaller_than_one(wrap_int32(sa + sb), out_mult, out_shift) + out_zp
        if raw < act_min:
            raw = act_min
        if raw > act_max:
            raw = act_max
        out[i] = raw
    return out


@njit(cache=True, nogil=True)
def requantize(a, in_zp, out_zp, mult, shift):
    """QUANTIZE int8 -> int8 (``reference_ops::Requantize``)."""
    fa = a.ravel()
    out = np.empty(fa.size, np.int8)
    for i in range(fa.size):
        v = multiply_by_quantized_multiplier(np.int64(fa[i]) - in_zp, mult, shift) + out_zp
        if v < -128:
            v = -128
        if v > 127:
            v = 127
        out[i] = v
    return out
