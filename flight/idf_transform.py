"""The IDF transform on one tile, forward (encoder) and inverse (decoder), with the bundle's int8 networks.

This is :mod:`flight.idf_spec` put in motion: the encoder runs every level at once (it sees all contexts), the
decoder runs the levels coarsest first and, inside a level, the three phases b, c, d in turn, each phase one
batched network call.  Entropy coding is not done here: the forward pass returns, per level and phase, the
latents with their (quarter-pixel mean, table index) and the inverse pass asks a ``decode_phase`` callback for
the latents of one phase given their priors.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from flight import idf_spec as S

PHASES = ("b", "c", "d")


@dataclass
class PhaseLatents:
    """The coded latents of one phase at one level (real positions only, C order)."""

    level: int
    netset: int
    values: np.ndarray  # int64
    mean4: np.ndarray  # int64 quarter-pixel means
    k: np.ndarray  # int64 table scale indices before the per-tile beta bias


def _run(nets: dict, name: str, channels: list[np.ndarray]) -> np.ndarray:
    return nets[name].run(S.net_input(channels))[0].astype(np.int64)


def forward(x: np.ndarray, nets: dict) -> tuple[int, int, list[PhaseLatents]]:
    """Analyse a tile: (noise shift s, top latent, phases in decode order)."""
    x = np.asarray(x, dtype=np.int64)
    s = S.noise_shift(x)
    plane = x
    per_level: list[list[PhaseLatents]] = []
    for lv in range(1, len(S.level_shapes(*x.shape)) + 1):
        n = S.net_set(lv)
        a, b, c, d, mb, mc, md = S.squeeze(plane)
        q1 = _run(nets, S.net_name(n, "T1"), S.gradient_features(a, s))
        rb, rc, rd = S.predict_refs(a)
        b1 = np.where(mb, b - rb - S.translation(q1[..., 0], s), 0)
        c1 = np.where(mc, c - rc - S.translation(q1[..., 1], s), 0)
        d1 = np.where(md, d - rd - S.translation(q1[..., 2], s), 0)
        cb, cc, cd = S.compand(b1, s), S.compand(c1, s), S.compand(d1, s)
        q2 = _run(nets, S.net_name(n, "T2"), [cb, cc, cd])
        a2 = a + S.translation(q2[..., 0], s)
        g = S.gradient_features(a2, s)
        phases = []
        for kind, val, mask, extra in (("PB", b1, mb, []), ("PC", c1, mc, [cb]), ("PD", d1, md, [cb, cc])):
            if not mask.any():
                continue
            q = _run(nets, S.net_name(n, kind), g + extra)
            mean4, k = S.prior_params(q, s, 0)
            phases.append(PhaseLatents(lv, n, val[mask], mean4[mask], k[mask]))
        per_level.append(phases)
        plane = a2
    top = int(plane[0, 0])
    order = [ph for phases in reversed(per_level) for ph in phases]
    return s, top, order


DecodePhase = Callable[[int, np.ndarray, np.ndarray], np.ndarray]


def inverse(shape: tuple[int, int], s: int, top: int, nets: dict, decode_phase: DecodePhase) -> np.ndarray:
    """Rebuild a tile; ``decode_phase(netset, mean4, k)`` returns the latents of one phase (C order)."""
    shapes = S.level_shapes(*shape)
    plane = np.full((1, 1), top, dtype=np.int64)
    for lv in range(len(shapes), 0, -1):
        h, w = shapes[lv - 1]
        n = S.net_set(lv)
        a2 = plane
        hh, ww = a2.shape
        mb = np.zeros((hh, ww), dtype=bool)
        mc = np.zeros((hh, ww), dtype=bool)
        mb[:, : w // 2] = True
        mc[: h // 2, :] = True
        md = mb & mc
        g = S.gradient_features(a2, s)
        lat = {}
        comp = {}
        for ph, kind, mask, extra in (("b", "PB", mb, []), ("c", "PC", mc, ["b"]), ("d", "PD", md, ["b", "c"])):
            v = np.zeros((hh, ww), dtype=np.int64)
            if mask.any():
                q = _run(nets, S.net_name(n, kind), g + [comp[e] for e in extra])
                mean4, k = S.prior_params(q, s, 0)
                v[mask] = decode_phase(n, mean4[mask], k[mask])
            lat[ph] = v
            comp[ph] = S.compand(v, s)
        q2 = _run(nets, S.net_name(n, "T2"), [comp["b"], comp["c"], comp["d"]])
        a = a2 - S.translation(q2[..., 0], s)
        q1 = _run(nets, S.net_name(n, "T1"), S.gradient_features(a, s))
        rb, rc, rd = S.predict_refs(a)
        b = lat["b"] + rb + S.translation(q1[..., 0], s)
        c = lat["c"] + rc + S.translation(q1[..., 1], s)
        d = lat["d"] + rd + S.translation(q1[..., 2], s)
        plane = S.unsqueeze(a, b, c, d, h, w)
    return plane
