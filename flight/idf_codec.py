"""IDF tile codec (codec id 2): learned integer flow + context priors + rANS, integer only at coding time.

Tile payload (all big-endian; the container adds the tile codec id and CRC-32).  Byte 0's high nibble is
the payload kind, chosen per tile by the encoder as the smallest of the candidates it tried:

* kind 2, IDF::

    byte 0      0x20 | noise shift s (0..12)
    bytes 1-3   per network set 1, 2, 3: scale bias beta (3 bits) and mean blend alpha (3 bits); 6 zero bits
    bytes 4-5   tile offset m (lower median, int16)
    bytes 6-7   top: pixel (0, 0) (int16)
    bytes 8-    one rANS stream (``flight.rans``), absent for a 1x1 tile

  The stream holds, in decoding order, for each level from the coarsest to the finest and each phase b, c, d:
  the phase's latents (table ``k * 4 + phase`` of ``tables.npz``, window + escape), then for latents whose
  table index k exceeds KMAX their low bits in chunks of at most 8 (uniform tables).  See
  ``flight/idf_spec.py`` for the transform, ``flight/idf_bundle.py`` for the bundle.
* kind 3, RICE fallback: ``0x30`` then cfitsio's RICE_1 stream of the tile (C order, block 32), so a tile never
  costs more than RICE plus one byte.
* kind 4, colour-filter (Bayer) split: ``0x40``, then the tile's four 2x2 sub-lattices (0,0), (0,1), (1,0),
  (1,1) as kind-2 or kind-3 payloads, the first three prefixed by their length (u16).  Tried only when
  neighbouring pixels differ more than pixels two apart (a mosaic of colour filters).

Integer only: networks run in ``flight.int8net`` (TFLite reference-kernel arithmetic), everything else is
integer numpy with floor (arithmetic shift) rounding, and the rANS coder sees integer CDFs only.  The one use
of floats is :attr:`IdfCodec._costq`, fixed-point code lengths derived once from the integer tables at load
time; they only steer the encoder's per-tile choices (alpha, beta), which are then *sent*, so the decoder
never evaluates them and they cannot break bit-exactness.

Any tile shape works (odd sizes and 1xN rows: padding positions are masked, see ``idf_spec``).  Encoding never
fails: out-of-window latents take the rANS escape, a tile falls back to RICE when that is smaller, and the
container keeps the raw tile whenever even that would expand.  32-bit data is not supported
(``supports(32)`` is False; the encoder then falls back to RICE for the frame).
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
from numba import njit

from flight import idf_spec as S
from flight import idf_transform as T
from flight.errors import FormatError
from flight.idf_bundle import Bundle, load_bundle
from flight.rans import RansDecodeError, RansDecoder, RansEncoder, RansTables, build_cdf_table, stack_cdf_tables

KIND_IDF, KIND_RICE, KIND_BAYER = 2, 3, 4
HEADER_BYTES = 8
CHUNK_BITS = 8
RICE_BLOCK = 32
SEARCH_MAX = 4096
_DTYPES = {8: np.dtype(np.uint8), 16: np.dtype(np.int16)}


_WEIGHTS = np.array(S.ALPHA_WEIGHTS + (4,), dtype=np.int64)
S_KSTEP, S_K0, S_ALPHA_CONST, S_BETA_STEP, S_BETA_ZERO, S_KMAX, S_N_PHASE = (
    S.KSTEP, S.K0, S.ALPHA_CONST, S.BETA_STEP, S.BETA_ZERO, S.KMAX, S.N_PHASE)


@njit(cache=True, nogil=True)
def _cost_kernel(values, mean4, k, flat4, s, alpha, beta, lo, nn, costq, weights):  # pragma: no cover - numba
    """Per tile, the code length (1/256 bit) of ``[N, m]`` latents under side information (alpha[i], beta[i]):
    :func:`flight.idf_spec.coding_params`, :func:`~flight.idf_spec.split_symbols` and the table costs in one
    pass (the same integer arithmetic; only the encoder's choice depends on it)."""
    n_t, m = values.shape
    out = np.zeros(n_t, np.int64)
    for i in range(n_t):
        a, bb = alpha[i], beta[i]
        w = weights[a]
        acc = 0
        for j in range(m):
            mu = mean4[i, j] + ((w * (flat4[i, j] - mean4[i, j])) >> 2)
            kk = S_KSTEP * s[i] + S_K0 if a == S_ALPHA_CONST else k[i, j]
            kk += S_BETA_STEP * (bb - S_BETA_ZERO)
            if kk < 0:
                kk = 0
            nb = (kk - S_KMAX + S_KSTEP - 1) >> 3
            base = mu >> 2
            if nb > 0:
                sym = (values[i, j] - base + (1 << (nb - 1))) >> nb
                t = (kk - S_KSTEP * nb) * S_N_PHASE
                acc += 256 * nb
            else:
                sym = values[i, j] - base
                t = kk * S_N_PHASE + (mu & 3)
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



def _map(fn, items: list, threads: int) -> None:
    """Run ``fn`` over ``items``, on a thread pool when asked (errors propagate)."""
    if threads <= 1 or len(items) <= 1:
        for it in items:
            fn(it)
        return
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=threads) as pool:
        for _ in pool.map(fn, items):
            pass


class IdfCodec:
    """The IDF tile codec for one model bundle (the shipped default when ``model`` is None)."""

    codec_id = 2
    name = "idf"

    def __init__(self, model: str | Path | None = None, oracle: bool = False) -> None:
        self.bundle: Bundle = load_bundle(model, oracle)
        self.oracle = oracle
        tb = self.bundle.tables
        n_main = tb.lo.size
        uniform = [build_cdf_table(np.ones((1 << b) + 1, np.int64)) for b in range(1, CHUNK_BITS + 1)]
        self._cdf = stack_cdf_tables([tb.cdf[t, : tb.n[t] + 2] for t in range(n_main)] + uniform)
        self._lo = np.concatenate([tb.lo, np.zeros(CHUNK_BITS, np.int32)]).astype(np.int64)
        self._n = np.concatenate([tb.n, [(1 << b) for b in range(1, CHUNK_BITS + 1)]]).astype(np.int64)
        self._uniform0 = n_main - 1  # table of b uniform bits is _uniform0 + b
        self._tables = RansTables(self._cdf, self._lo)  # validated once, with the decoder's index
        freq = np.diff(self._cdf.astype(np.int64), axis=1)
        self._costq = np.round(256.0 * (16.0 - np.log2(np.maximum(freq, 1)))).astype(np.int64)
        self._macs = float(self.bundle.manifest.get("macs_per_pixel", 0.0))

    # ----------------------------------------------------------------------------- interface
    def params(self) -> bytes:
        return bytes([KIND_IDF])

    def model_hash(self) -> bytes:
        return self.bundle.digest

    def supports(self, bitpix: int) -> bool:
        return bitpix in _DTYPES

    def ops_per_pixel(self) -> dict:
        """Cost model for the simulator: MACs of the int8 networks and table look-ups of the coder, per pixel.

        ``lookups`` counts the rANS CDF reads (start and frequency) per coded pixel; ``int_ops`` the integer
        glue (squeeze, companding, interpolation, symbol mapping, rANS state update, the encoder's choice of
        alpha/beta over 20 candidates, the RICE candidate) at about 60 operations per pixel; ``mem_ops`` its
        loads and stores.
        """
        return {"macs": self._macs, "lookups": 2.0, "int_ops": 60.0, "mem_ops": 30.0}

    # ----------------------------------------------------------------------------- symbols and costs
    def _symbols(self, ph: T.PhaseLatents, s, alpha, beta, row=slice(None)):
        mean4, k = S.coding_params(ph.mean4[row], ph.k[row], ph.flat4[row], s, alpha, beta)
        return S.split_symbols(ph.values[row], mean4, k)

    def choose_side_info(self, phases: list[T.PhaseLatents], s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per tile and network set, (alpha, beta) with the smallest code length: the best network blend at
        beta = 0 then its best beta, against the constant model (ALPHA_CONST) at its best beta (ties: the
        earlier candidate).  ``phases`` hold ``[N, m]`` arrays; returns two ``[N, 3]``.

        Code lengths come from one compiled pass per candidate (``_cost_kernel``) over at most SEARCH_MAX
        latents per set (a fixed stride beyond that); the choice is sent, so it cannot affect decodability."""
        n_tiles = phases[0].values.shape[0] if phases else 1
        alphas = np.zeros((n_tiles, S.N_NETSETS), dtype=np.int64)
        betas = np.full((n_tiles, S.N_NETSETS), S.BETA_ZERO, dtype=np.int64)
        rows = np.arange(n_tiles)
        for n in range(1, S.N_NETSETS + 1):
            sel = [ph for ph in phases if ph.netset == n]
            if not sel:
                continue
            ph = T.PhaseLatents(0, n, *(np.concatenate([getattr(p, f) for p in sel], axis=-1)
                                        for f in ("values", "mean4", "k", "flat4")))
            step = -(-ph.values.shape[-1] // SEARCH_MAX)
            if step > 1:
                ph = T.PhaseLatents(0, n, *(getattr(ph, f)[..., ::step] for f in ("values", "mean4", "k", "flat4")))

            arrays = [np.ascontiguousarray(getattr(ph, f), dtype=np.int64) for f in ("values", "mean4", "k", "flat4")]
            s_arr = np.ascontiguousarray(s, dtype=np.int64)

            def cost(alpha, beta, arrays=arrays, s_arr=s_arr):
                al = np.broadcast_to(np.asarray(alpha, np.int64), (n_tiles,)).copy()
                be = np.broadcast_to(np.asarray(beta, np.int64), (n_tiles,)).copy()
                return _cost_kernel(*arrays, s_arr, al, be, self._lo, self._n, self._costq, _WEIGHTS)

            blend = np.argmin(np.stack([cost(a, S.BETA_ZERO) for a in range(S.ALPHA_CONST)], -1), axis=-1)
            c_blend = np.stack([cost(blend, b) for b in range(1 << S.BETA_BITS)], -1)
            c_const = np.stack([cost(S.ALPHA_CONST, b) for b in range(1 << S.BETA_BITS)], -1)
            b_blend, b_const = np.argmin(c_blend, axis=-1), np.argmin(c_const, axis=-1)
            use_const = c_const[rows, b_const] < c_blend[rows, b_blend]
            alphas[:, n - 1] = np.where(use_const, S.ALPHA_CONST, blend)
            betas[:, n - 1] = np.where(use_const, b_const, b_blend)
        return alphas, betas

    def _streams(self, phases: list[T.PhaseLatents], s: np.ndarray, alphas: np.ndarray,
                 betas: np.ndarray) -> list[bytes]:
        """The rANS stream of every tile of a batch: per phase its symbols, then its bypass chunks, in decode
        order."""
        n_tiles = alphas.shape[0]
        per_tile: list[tuple[list, list]] = [([], []) for _ in range(n_tiles)]
        for ph in phases:
            al, be = alphas[:, ph.netset - 1:ph.netset], betas[:, ph.netset - 1:ph.netset]
            t, sym, nb, low = self._symbols(ph, np.asarray(s)[:, None], al, be)
            n_chunks = -(-int(nb.max(initial=0)) // CHUNK_BITS)
            for i, (syms, tabs) in enumerate(per_tile):
                syms.append(sym[i])
                tabs.append(t[i])
                for j in range(0, CHUNK_BITS * n_chunks, CHUNK_BITS):
                    sel = nb[i] > j
                    width = np.minimum(nb[i][sel] - j, CHUNK_BITS)
                    syms.append((low[i][sel] >> j) & ((1 << width) - 1))
                    tabs.append(self._uniform0 + width)
        out = []
        for syms, tabs in per_tile:
            # One batch: rANS is symbol-sequential, so the decoder may still read it phase by phase.
            enc = RansEncoder()
            enc.encode(np.concatenate(syms), np.concatenate(tabs), self._tables)
            out.append(enc.finish())
        return out

    @staticmethod
    def _header(s: int, alphas, betas, m: int, top: int) -> bytes:
        packed = 0
        for a, b in zip(alphas, betas, strict=True):
            packed = (packed << (S.BETA_BITS + S.ALPHA_BITS)) | (int(b) << S.ALPHA_BITS) | int(a)
        packed <<= 24 - (S.BETA_BITS + S.ALPHA_BITS) * S.N_NETSETS
        return bytes([(KIND_IDF << 4) | s]) + packed.to_bytes(3, "big") + struct.pack(">hh", m, top)

    # ----------------------------------------------------------------------------- encode
    def _encode_idf(self, planes: list[np.ndarray], chunk: int, threads: int = 1) -> list[bytes]:
        """Kind-2 payloads of many planes; same-shape planes share batched network calls, ``chunk`` at a time
        (which bounds memory), chunks spread over ``threads`` threads (the kernels release the GIL)."""
        out: list[bytes] = [b""] * len(planes)
        groups: dict[tuple[int, int], list[int]] = {}
        for i, p in enumerate(planes):
            groups.setdefault(p.shape, []).append(i)
        parts = [idx[j:j + chunk] for idx in groups.values() for j in range(0, len(idx), chunk)]

        def run(part: list[int]) -> None:
            batch = np.stack([planes[i] for i in part]).astype(np.int64)
            s, m, top, phases = T.forward_batch(batch, self.bundle.nets)
            alphas, betas = self.choose_side_info(phases, s)
            streams = self._streams(phases, s, alphas, betas) if phases else [b""] * len(part)
            for r, i in enumerate(part):
                out[i] = self._header(int(s[r]), alphas[r], betas[r], int(m[r]), int(top[r])) + streams[r]

        _map(run, parts, threads if not self.oracle else 1)
        return out

    @staticmethod
    def _looks_mosaic(tile: np.ndarray) -> bool:
        """Neighbours differ more than pixels two apart (mean absolute differences, integer comparison)."""
        if tile.shape[0] < 4 or tile.shape[1] < 4:
            return False
        x = tile.astype(np.int64)
        d1 = np.abs(np.diff(x, axis=1)).sum() + np.abs(np.diff(x, axis=0)).sum()
        d2 = np.abs(x[:, 2:] - x[:, :-2]).sum() + np.abs(x[2:, :] - x[:-2, :]).sum()
        n1 = x.shape[0] * (x.shape[1] - 1) + (x.shape[0] - 1) * x.shape[1]
        n2 = x.shape[0] * (x.shape[1] - 2) + (x.shape[0] - 2) * x.shape[1]
        return 4 * d1 * n2 > 5 * d2 * n1

    @staticmethod
    def _rice(tile: np.ndarray) -> bytes:
        from flight.rice import rice_encode

        return bytes([KIND_RICE << 4]) + rice_encode(np.ascontiguousarray(tile), RICE_BLOCK)

    def encode_tile(self, tile: np.ndarray) -> bytes:
        return self.encode_tiles([tile])[0]

    def encode_tiles(self, tiles: list[np.ndarray], chunk: int = 32, threads: int = 1) -> list[bytes]:
        """Encode many tiles (same-shape tiles share network calls); entry i equals ``encode_tile(tiles[i])``."""
        tiles = [np.asarray(t) for t in tiles]
        for t in tiles:
            if t.ndim != 2 or t.size == 0:
                raise ValueError("encode_tile needs a non-empty 2-D tile")
            if t.dtype.itemsize > 2 or t.dtype.kind not in "iu":
                raise ValueError(f"IDF codes 8/16-bit integers, not {t.dtype}")
        planes: list[np.ndarray] = list(tiles)
        mosaic: dict[int, int] = {}
        for i, t in enumerate(tiles):
            if self._looks_mosaic(t):
                mosaic[i] = len(planes)
                planes += [t[0::2, 0::2], t[0::2, 1::2], t[1::2, 0::2], t[1::2, 1::2]]
        coded = self._encode_idf(planes, chunk, threads)
        out = []
        for i, t in enumerate(tiles):
            best = self._rice(t)
            if len(coded[i]) <= len(best):
                best = coded[i]
            if i in mosaic:
                j = mosaic[i]
                subs = [min(coded[j + q], self._rice(planes[j + q]), key=len) for q in range(4)]
                split = bytes([KIND_BAYER << 4]) + b"".join(struct.pack(">H", len(p)) + p for p in subs[:3]) + subs[3]
                if len(split) < len(best):
                    best = split
            out.append(best)
        return out

    def encode_plane(self, plane: np.ndarray, tile: tuple[int, int] = (64, 64), threads: int = 1) -> list[bytes]:
        """Payloads of every tile of a plane (row-major grid, edge tiles smaller, as in the container)."""
        th, tw = tile
        tiles = [plane[r:r + th, c:c + tw] for r in range(0, plane.shape[0], th) for c in range(0, plane.shape[1], tw)]
        return self.encode_tiles(tiles, threads=threads)

    def decode_plane(self, payloads: list[bytes], shape: tuple[int, int], bitpix: int,
                     tile: tuple[int, int] = (64, 64), threads: int = 1) -> np.ndarray:
        """Inverse of :meth:`encode_plane`; raises the first tile's FormatError, if any."""
        th, tw = tile
        grid = [(r, c) for r in range(0, shape[0], th) for c in range(0, shape[1], tw)]
        shapes = [(min(th, shape[0] - r), min(tw, shape[1] - c)) for r, c in grid]
        out = np.empty(shape, _DTYPES[bitpix])
        for (r, c), (h, w), t in zip(grid, shapes, self.decode_tiles(payloads, shapes, bitpix, threads=threads),
                                     strict=True):
            if isinstance(t, Exception):
                raise t
            out[r:r + h, c:c + w] = t
        return out

    def ideal_bits(self, tile: np.ndarray) -> tuple[float, int]:
        """(ideal -log2 p of the IDF (kind 2) payload's symbols under the integer tables, header bits)."""
        from flight.rans import rans_cost_bits

        s, m, top, phases = T.forward_batch(np.asarray(tile, dtype=np.int64)[None], self.bundle.nets)
        alphas, betas = self.choose_side_info(phases, s)
        bits = 0.0
        for ph in phases:
            t, sym, nb, _ = self._symbols(ph, s[0], alphas[0, ph.netset - 1], betas[0, ph.netset - 1], 0)
            bits += rans_cost_bits(sym, t, self._tables) + float(nb.sum())
        return bits, 8 * HEADER_BYTES

    def encode_idf_only(self, tile: np.ndarray) -> bytes:
        """The kind-2 payload of a tile, whatever the alternatives would cost (for tests and reports)."""
        return self._encode_idf([np.asarray(tile)], 1)[0]

    # ----------------------------------------------------------------------------- decode
    @staticmethod
    def _parse_idf(payload: bytes, shape: tuple[int, int]) -> tuple[int, np.ndarray, np.ndarray, int, int]:
        if len(payload) < HEADER_BYTES:
            raise FormatError("IDF tile payload shorter than its header")
        s = payload[0] & 15
        if s > S.S_MAX:
            raise FormatError(f"IDF tile has noise shift {s} > {S.S_MAX}")
        packed = int.from_bytes(payload[1:4], "big") >> (24 - (S.BETA_BITS + S.ALPHA_BITS) * S.N_NETSETS)
        m, top = struct.unpack(">hh", payload[4:HEADER_BYTES])
        width = S.BETA_BITS + S.ALPHA_BITS
        fields = [(packed >> (width * (S.N_NETSETS - 1 - i))) & ((1 << width) - 1) for i in range(S.N_NETSETS)]
        alphas = [f & ((1 << S.ALPHA_BITS) - 1) for f in fields]
        betas = [f >> S.ALPHA_BITS for f in fields]
        if max(alphas) > S.ALPHA_CONST:
            raise FormatError(f"IDF tile has mean blend {max(alphas)} > {S.ALPHA_CONST}")
        if shape[0] * shape[1] == 1 and len(payload) != HEADER_BYTES:
            raise FormatError("IDF 1x1 tile with trailing bytes")
        return s, np.array(alphas), np.array(betas), m, top

    def _decode_idf(self, payloads: list[bytes], shape: tuple[int, int]) -> np.ndarray:
        """Decode kind-2 payloads of one shape together (int64 planes); FormatError if any is bad."""
        heads = [self._parse_idf(p, shape) for p in payloads]
        s = np.array([h[0] for h in heads], np.int64)
        alphas = np.stack([h[1] for h in heads])
        betas = np.stack([h[2] for h in heads])
        m = np.array([h[3] for h in heads], np.int64)
        top = np.array([h[4] for h in heads], np.int64)
        if shape[0] * shape[1] == 1:
            return top.reshape(-1, 1, 1)
        try:
            decs = [RansDecoder(p[HEADER_BYTES:]) for p in payloads]

            def phase(n: int, mean4: np.ndarray, k: np.ndarray, flat4: np.ndarray) -> np.ndarray:
                return self._take(decs, mean4, k, flat4, s[:, None], alphas[:, n - 1:n], betas[:, n - 1:n])

            planes = T.inverse_batch(shape, s, m, top, self.bundle.nets, phase)
            for d in decs:
                d.finish()
        except RansDecodeError as exc:
            raise FormatError(f"IDF tile: {exc}") from exc
        return planes

    def _take(self, decs: list[RansDecoder], mean4, k, flat4, s, alpha, beta) -> np.ndarray:
        """Decode one phase of every tile (``[N, m]`` priors; tile i from ``decs[i]``)."""
        mean4, kb = S.coding_params(mean4, k, flat4, s, alpha, beta)
        nb = np.maximum(0, (kb - S.KMAX + S.KSTEP - 1) >> 3)
        t = np.where(nb > 0, (kb - S.KSTEP * nb) * S.N_PHASE, kb * S.N_PHASE + (mean4 & 3))
        sym = np.stack([d.decode(t[i], self._tables) for i, d in enumerate(decs)]).astype(np.int64)
        low = np.zeros_like(sym)
        for j in range(0, int(nb.max(initial=0)), CHUNK_BITS):
            for i, d in enumerate(decs):
                sel = nb[i] > j
                if sel.any():
                    width = np.minimum(nb[i][sel] - j, CHUNK_BITS)
                    low[i][sel] |= d.decode(self._uniform0 + width, self._tables).astype(np.int64) << j
        return S.join_symbols(sym, mean4, kb, low)

    @staticmethod
    def _decode_rice(payload: bytes, shape: tuple[int, int], bitpix: int) -> np.ndarray:
        from flight.rice import rice_decode

        try:
            v = rice_decode(payload[1:], shape[0] * shape[1], bitpix // 8, RICE_BLOCK)
        except ValueError as exc:
            raise FormatError(f"IDF tile (RICE fallback): {exc}") from exc
        return v.astype(np.int64).reshape(shape)

    @staticmethod
    def _split(payload: bytes, shape: tuple[int, int]) -> list[tuple[bytes, tuple[int, int]]]:
        h, w = shape
        if h < 4 or w < 4:
            raise FormatError("IDF mosaic split of a tile smaller than 4x4")
        shapes = [((h + 1) // 2, (w + 1) // 2), ((h + 1) // 2, w // 2), (h // 2, (w + 1) // 2), (h // 2, w // 2)]
        parts, pos = [], 1
        for q in range(3):
            if pos + 2 > len(payload):
                raise FormatError("IDF mosaic payload truncated")
            (n,) = struct.unpack(">H", payload[pos:pos + 2])
            parts.append((payload[pos + 2:pos + 2 + n], shapes[q]))
            pos += 2 + n
        parts.append((payload[pos:], shapes[3]))
        for p, _ in parts:
            if not p or p[0] >> 4 not in (KIND_IDF, KIND_RICE):
                raise FormatError("IDF mosaic payload with a bad part")
        return parts

    def decode_tile(self, payload: bytes, shape: tuple[int, int], bitpix: int) -> np.ndarray:
        out = self.decode_tiles([payload], [shape], bitpix)[0]
        if isinstance(out, Exception):
            raise out
        return out

    def decode_tiles(self, payloads: list[bytes], shapes: list[tuple[int, int]], bitpix: int, chunk: int = 32,
                     threads: int = 1) -> list:
        """Decode many tiles with batched network calls (``chunk`` tiles per call, over ``threads`` threads).
        Returns, per tile, the array or the :class:`FormatError` that tile raised (a bad tile never costs its
        neighbours)."""
        if bitpix not in _DTYPES:
            raise FormatError(f"IDF cannot decode BITPIX {bitpix}")
        results: list = [None] * len(payloads)
        jobs: dict[tuple[int, int], list[tuple[int, int, bytes]]] = {}  # shape -> (tile, part, payload)
        parts: dict[int, dict[int, np.ndarray]] = {}

        def plan(i: int, q: int, p: bytes, shape: tuple[int, int]) -> None:
            kind = p[0] >> 4 if p else -1
            if kind == KIND_IDF:
                jobs.setdefault(shape, []).append((i, q, p))
            elif kind == KIND_RICE:
                parts.setdefault(i, {})[q] = self._decode_rice(p, shape, bitpix)
            elif kind == KIND_BAYER and q < 0:
                for qq, (pp, ss) in enumerate(self._split(p, shape)):
                    plan(i, qq, pp, ss)
            else:
                raise FormatError(f"IDF tile payload kind {kind} not supported")

        for i, (p, shape) in enumerate(zip(payloads, shapes, strict=True)):
            shape = (int(shape[0]), int(shape[1]))
            if shape[0] < 1 or shape[1] < 1:
                results[i] = FormatError(f"bad tile shape {shape}")
                continue
            try:
                plan(i, -1, bytes(p), shape)
            except (FormatError, ValueError) as exc:
                results[i] = exc if isinstance(exc, FormatError) else FormatError(str(exc))
        work = [(shape, [g for g in group if results[g[0]] is None][j:j + chunk])
                for shape, group in jobs.items() for j in range(0, len(group), chunk)]

        def run(item: tuple[tuple[int, int], list[tuple[int, int, bytes]]]) -> None:
            shape, group = item
            try:
                planes = self._decode_idf([g[2] for g in group], shape)
                for (i, q, _), pl in zip(group, planes, strict=True):
                    parts.setdefault(i, {})[q] = pl
            except FormatError:
                for i, q, p in group:  # isolate the bad tile(s)
                    try:
                        parts.setdefault(i, {})[q] = self._decode_idf([p], shape)[0]
                    except FormatError as exc:
                        results[i] = exc

        _map(run, [w for w in work if w[1]], threads if not self.oracle else 1)
        info = np.iinfo(_DTYPES[bitpix])
        for i, shape in enumerate(shapes):
            if results[i] is not None:
                continue
            got = parts[i]
            if -1 in got:
                plane = got[-1]
            else:
                plane = np.empty((int(shape[0]), int(shape[1])), np.int64)
                plane[0::2, 0::2], plane[0::2, 1::2], plane[1::2, 0::2], plane[1::2, 1::2] = (got[q] for q in range(4))
            if plane.min() < info.min or plane.max() > info.max:
                results[i] = FormatError("IDF tile decoded to values outside its data type (corrupt or wrong model)")
            else:
                results[i] = plane.astype(_DTYPES[bitpix])
        return results
