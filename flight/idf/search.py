"""The IDF encoder's per-tile side-information search: which mean blend alpha and scale bias beta to send.

Code lengths come from fixed-point costs (1/256 bit) derived once from the integer tables (:func:`cost_table`,
the one use of floats in the codec); they only steer the encoder's choice, which is then *sent*, so the decoder
never evaluates them and they cannot break bit-exactness.  The compiled kernel maps latents to tables and
symbols with :mod:`flight.idf.spec`'s own formulas (compiled by numba), so it cannot drift from what is coded.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from flight.idf import spec as S
from flight.idf.transform import PhaseLatents

SEARCH_MAX = 4096  # latents per network set and tile the search looks at (a fixed stride beyond that)

_BLEND_WEIGHTS = np.array(S.BLEND_WEIGHTS, dtype=np.int64)
_blend = njit(S.blend)
_bypass_bits = njit(S.bypass_bits)
_symbol_table = njit(S.symbol_table)
_const_scale_index = njit(S.const_scale_index)
_beta_bias = njit(S.beta_bias)
_ALPHA_CONST, _KSTEP = S.ALPHA_CONST, S.KSTEP


def cost_table(cdf: np.ndarray) -> np.ndarray:
    """Code length in 1/256 bit of every symbol of stacked CDF tables ``[T, S+1]`` -> int64 ``[T, S]``."""
    freq = np.diff(cdf.astype(np.int64), axis=1)
    return np.round(256.0 * (16.0 - np.log2(np.maximum(freq, 1)))).astype(np.int64)


@njit(cache=True, nogil=True)
def _cost_kernel(values, mean4, k, flat4, s, alpha, beta, lo, nn, costq, weights):  # pragma: no cover - numba
    """Per tile, the code length (1/256 bit) of ``[N, m]`` latents under side information (alpha[i], beta[i]):
    :func:`flight.idf.spec.coding_params`, :func:`~flight.idf.spec.split_symbols` and the table costs in one
    pass (the same integer arithmetic; only the encoder's choice depends on it)."""
    n_t, m = values.shape
    out = np.zeros(n_t, np.int64)
    for i in range(n_t):
        a, bb = alpha[i], beta[i]
        w = weights[a]
        acc = 0
        for j in range(m):
            mu = _blend(mean4[i, j], flat4[i, j], w)
            kk = _const_scale_index(s[i]) if a == _ALPHA_CONST else k[i, j]
            kk += _beta_bias(bb)
            if kk < 0:
                kk = 0
            nb = _bypass_bits(kk)
            base = mu >> 2
            if nb > 0:
                sym = (values[i, j] - base + (1 << (nb - 1))) >> nb
                acc += 256 * nb
            else:
                sym = values[i, j] - base
            t = _symbol_table(mu, kk, nb)
            q = sym - lo[t]
            n = nn[t]
            if q >= 0 and q < n:
                acc += costq[t, q]
            else:
                d = q - n if q >= n else -1 - q
                d += 1
                bl = 0
                while d > 0:
                    d >>= 1
                    bl += 1
                acc += costq[t, n] + 256 * (6 + bl)
        out[i] = acc
    return out


def choose_side_info(phases: list[PhaseLatents], s: np.ndarray, lo: np.ndarray, n: np.ndarray,
                     costq: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per tile and network set, (alpha, beta) with the smallest code length: the best network blend at
    beta = 0 then its best beta, against the constant model (ALPHA_CONST) at its best beta (ties: the
    earlier candidate).

    ``phases`` hold ``[N, m]`` arrays, ``s`` the N noise shifts; ``lo``, ``n`` (int64 ``[T]``) and ``costq``
    (:func:`cost_table`) describe the coder's tables.  Returns two int64 ``[N, N_NETSETS]``.  Code lengths come
    from one compiled pass per candidate over at most SEARCH_MAX latents per set."""
    n_tiles = phases[0].values.shape[0] if phases else 1
    alphas = np.zeros((n_tiles, S.N_NETSETS), dtype=np.int64)
    betas = np.full((n_tiles, S.N_NETSETS), S.BETA_ZERO, dtype=np.int64)
    rows = np.arange(n_tiles)
    for ns in range(1, S.N_NETSETS + 1):
        sel = [ph for ph in phases if ph.netset == ns]
        if not sel:
            continue
        ph = PhaseLatents(0, ns, *(np.concatenate([getattr(p, f) for p in sel], axis=-1)
                                   for f in ("values", "mean4", "k", "flat4")))
        step = -(-ph.values.shape[-1] // SEARCH_MAX)
        if step > 1:
            ph = PhaseLatents(0, ns, *(getattr(ph, f)[..., ::step] for f in ("values", "mean4", "k", "flat4")))

        arrays = [np.ascontiguousarray(getattr(ph, f), dtype=np.int64) for f in ("values", "mean4", "k", "flat4")]
        s_arr = np.ascontiguousarray(s, dtype=np.int64)

        def cost(alpha, beta, arrays=arrays, s_arr=s_arr):
            al = np.broadcast_to(np.asarray(alpha, np.int64), (n_tiles,)).copy()
            be = np.broadcast_to(np.asarray(beta, np.int64), (n_tiles,)).copy()
            return _cost_kernel(*arrays, s_arr, al, be, lo, n, costq, _BLEND_WEIGHTS)

        blend = np.argmin(np.stack([cost(a, S.BETA_ZERO) for a in range(S.ALPHA_CONST)], -1), axis=-1)
        c_blend = np.stack([cost(blend, b) for b in range(1 << S.BETA_BITS)], -1)
        c_const = np.stack([cost(S.ALPHA_CONST, b) for b in range(1 << S.BETA_BITS)], -1)
        b_blend, b_const = np.argmin(c_blend, axis=-1), np.argmin(c_const, axis=-1)
        use_const = c_const[rows, b_const] < c_blend[rows, b_blend]
        alphas[:, ns - 1] = np.where(use_const, S.ALPHA_CONST, blend)
        betas[:, ns - 1] = np.where(use_const, b_const, b_blend)
    return alphas, betas


def looks_mosaic(tile: np.ndarray) -> bool:
    """Neighbours differ more than pixels two apart (mean absolute differences, integer comparison): a mosaic
    of colour filters, worth trying the kind-4 split."""
    if tile.shape[0] < 4 or tile.shape[1] < 4:
        return False
    x = tile.astype(np.int64)
    d1 = np.abs(np.diff(x, axis=1)).sum() + np.abs(np.diff(x, axis=0)).sum()
    d2 = np.abs(x[:, 2:] - x[:, :-2]).sum() + np.abs(x[2:, :] - x[:-2, :]).sum()
    n1 = x.shape[0] * (x.shape[1] - 1) + (x.shape[0] - 1) * x.shape[1]
    n2 = x.shape[0] * (x.shape[1] - 2) + (x.shape[0] - 2) * x.shape[1]
    return 4 * d1 * n2 > 5 * d2 * n1
