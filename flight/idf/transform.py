"""The IDF transform on one tile, forward (encoder) and inverse (decoder), with the bundle's int8 networks.

This is :mod:`flight.idf.spec` put in motion: the encoder runs every level at once (it sees all contexts), the
decoder runs the levels coarsest first and, inside a level, the three phases b, c, d in turn, each phase one
batched network call.  Entropy coding is not done here: the forward pass returns, per level and phase, the
latents with their (quarter-pixel mean, table index) and the inverse pass asks a ``decode_phase`` callback for
the latents of one phase given their priors.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from flight.idf import spec as S

PHASES = ("b", "c", "d")


@dataclass
class PhaseLatents:
    """The coded latents of one phase at one level: ``[N, m]`` for a batch of N tiles, m real positions in C
    order (1-D ``[m]`` from the single-tile helpers)."""

    level: int
    netset: int
    values: np.ndarray  # int64
    mean4: np.ndarray  # int64 quarter-pixel means from the network
    k: np.ndarray  # int64 table scale indices before the per-tile beta bias
    flat4: np.ndarray  # int64 quarter-pixel means of the flat (tile offset) prediction


def _run(nets: dict, name: str, channels: list[np.ndarray]) -> np.ndarray:
    return nets[name].run(S.net_input(channels)).astype(np.int64)


def _coupling(nets: dict, n: int, a: np.ndarray, sb: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Gradient features of a and the translations ref + corr of b, c, d (pixel units)."""
    g = S.gradient_features(a, sb)
    q1 = _run(nets, S.net_name(n, "T1"), g)
    refs = S.predict_refs(a)
    return g, [r + S.translation(q1[..., i], sb) for i, r in enumerate(refs)]


def forward_batch(x: np.ndarray, nets: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[PhaseLatents]]:
    """Analyse N same-shape tiles ``[N, H, W]``: (noise shifts, offsets, tops, phases in decode order)."""
    x = np.asarray(x, dtype=np.int64)
    s = np.array([S.noise_shift(t) for t in x], dtype=np.int64)
    m = np.array([S.tile_offset(t) for t in x], dtype=np.int64)
    sb, mb_ = s[:, None, None], m[:, None, None]
    plane = x
    per_level: list[list[PhaseLatents]] = []
    for lv in range(1, len(S.level_shapes(*x.shape[1:])) + 1):
        n = S.net_set(lv)
        a, b, c, d, mb, mc, md = S.squeeze(plane)
        g, (tb, tc, td) = _coupling(nets, n, a, sb)
        b1 = np.where(mb, b - tb, 0)
        c1 = np.where(mc, c - tc, 0)
        d1 = np.where(md, d - td, 0)
        cb, cc = S.compand(b1, sb), S.compand(c1, sb)
        phases = []
        for kind, val, t, mask, extra in (("PB", b1, tb, mb, []), ("PC", c1, tc, mc, [cb]),
                                          ("PD", d1, td, md, [cb, cc])):
            if not mask.any():
                continue
            q = _run(nets, S.net_name(n, kind), g + extra)
            mean4, k = S.prior_params(q, sb, 0)
            flat4 = S.flat_mean4(mb_, t)
            phases.append(PhaseLatents(lv, n, val[:, mask], mean4[:, mask], k[:, mask], flat4[:, mask]))
        per_level.append(phases)
        plane = a
    top = plane[:, 0, 0].copy()
    order = [ph for phases in reversed(per_level) for ph in phases]
    return s, m, top, order


DecodePhase = Callable[[int, np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def inverse_batch(shape: tuple[int, int], s: np.ndarray, m: np.ndarray, top: np.ndarray, nets: dict,
                  decode_phase: DecodePhase) -> np.ndarray:
    """Rebuild N tiles of one shape; ``decode_phase(netset, mean4, k, flat4)`` (``[N, m]`` each) returns their
    latents."""
    shapes = S.level_shapes(*shape)
    sb = np.asarray(s, dtype=np.int64)[:, None, None]
    mb_ = np.asarray(m, dtype=np.int64)[:, None, None]
    plane = np.asarray(top, dtype=np.int64).reshape(-1, 1, 1)
    for lv in range(len(shapes), 0, -1):
        h, w = shapes[lv - 1]
        n = S.net_set(lv)
        a = plane
        mb, mc, md = S.masks(h, w)
        g, trans = _coupling(nets, n, a, sb)
        lat: dict[str, np.ndarray] = {}
        comp: dict[str, np.ndarray] = {}
        for ph, kind, t, mask, extra in (("b", "PB", trans[0], mb, []), ("c", "PC", trans[1], mc, ["b"]),
                                         ("d", "PD", trans[2], md, ["b", "c"])):
            v = np.zeros(a.shape, dtype=np.int64)
            if mask.any():
                q = _run(nets, S.net_name(n, kind), g + [comp[e] for e in extra])
                mean4, k = S.prior_params(q, sb, 0)
                v[:, mask] = decode_phase(n, mean4[:, mask], k[:, mask], S.flat_mean4(mb_, t)[:, mask])
            lat[ph] = v
            comp[ph] = S.compand(v, sb)
        plane = S.unsqueeze(a, lat["b"] + trans[0], lat["c"] + trans[1], lat["d"] + trans[2], h, w)
    return plane


def forward(x: np.ndarray, nets: dict) -> tuple[int, int, int, list[PhaseLatents]]:
    """:func:`forward_batch` for one tile ``[H, W]``: (s, offset, top, phases with 1-D arrays)."""
    s, m, top, phases = forward_batch(np.asarray(x)[None], nets)
    return int(s[0]), int(m[0]), int(top[0]), [
        PhaseLatents(p.level, p.netset, p.values[0], p.mean4[0], p.k[0], p.flat4[0]) for p in phases]
