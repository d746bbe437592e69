"""IDF tile codec (codec id 2): learned integer flow + context priors + rANS, integer only at coding time.

The payload format is :mod:`flight.idf.payload`, the transform :mod:`flight.idf.spec` (in motion:
:mod:`flight.idf.transform`), the encoder's side-information search :mod:`flight.idf.search`, the model bundle
:mod:`flight.idf.bundle`.  This module schedules the work: same-shape tiles share batched network calls, chunks
of tiles may run on threads (the kernels release the GIL), and each tile takes the smallest of the payload kinds
tried (IDF, RICE fallback, colour-filter split).

Integer only: networks run in ``flight.int8net`` (TFLite reference-kernel arithmetic), everything else is
integer numpy with floor (arithmetic shift) rounding, and the rANS coder sees integer CDFs only.

Any tile shape works (odd sizes and 1xN rows: padding positions are masked, see ``spec``).  Encoding never
fails: out-of-window latents take the rANS escape, a tile falls back to RICE when that is smaller, and the
container keeps the raw tile whenever even that would expand.  32-bit data is not supported
(``supports(32)`` is False; the encoder then falls back to RICE for the frame).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from flight.codecs.base import OpCounts, TileCodec, TileResult
from flight.errors import FormatError
from flight.idf import payload as P
from flight.idf import spec as S
from flight.idf import transform as T
from flight.idf.bundle import Bundle, load_bundle
from flight.idf.search import choose_side_info, cost_table, looks_mosaic
from flight.litert_kernels import litert_nets, require_kernels
from flight.rans import RansDecoder, RansEncoder, RansTables, build_cdf_table, stack_cdf_tables

_DTYPES = {8: np.dtype(np.uint8), 16: np.dtype(np.int16)}
DEFAULT_TILE = 64  # default tile side (pixels): the IDF is a 2-D model


def _map(fn: Callable, items: list, threads: int) -> None:
    """Run ``fn`` over ``items``, on a thread pool when asked (errors propagate)."""
    if threads <= 1 or len(items) <= 1:
        for it in items:
            fn(it)
        return
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=threads) as pool:
        for _ in pool.map(fn, items):
            pass


class IdfCodec(TileCodec):
    """The IDF tile codec for one model bundle (the shipped default when ``model`` is None).

    ``kernels`` is the kernel set the bundle's int8 networks run on: "numba" (:mod:`flight.int8net`, the default)
    or "litert" (:mod:`flight.litert_kernels`, LiteRT's reference kernels); both give the same bytes. ``nets``
    replaces the networks outright (anything with ``.run(int8 NHWC) -> int8``, e.g. a deliberately wrong network
    in the tests); ``chunk`` tiles share one network call; ``threads`` spreads chunks over threads.
    """

    codec_id = 2
    name = "idf"

    def __init__(self, model: str | Path | None = None, nets: dict | None = None, chunk: int = 32,
                 threads: int = 1, kernels: str = "numba") -> None:
        require_kernels(kernels)
        self.bundle: Bundle = load_bundle(model)
        self.kernels = kernels
        if kernels == "litert" and nets is None:
            nets = litert_nets(self.bundle.net_bytes)
        if nets is not None:
            self.bundle.nets = dict(nets)
        self.chunk, self.threads = chunk, threads
        tb = self.bundle.tables
        n_main = tb.lo.size
        uniform = [build_cdf_table(np.ones((1 << b) + 1, np.int64)) for b in range(1, P.CHUNK_BITS + 1)]
        cdf = stack_cdf_tables([tb.cdf[t, : tb.n[t] + 2] for t in range(n_main)] + uniform)
        self._lo = np.concatenate([tb.lo, np.zeros(P.CHUNK_BITS, np.int32)]).astype(np.int64)
        self._n = np.concatenate([tb.n, [(1 << b) for b in range(1, P.CHUNK_BITS + 1)]]).astype(np.int64)
        self._uniform0 = n_main - 1  # table of b uniform bits is _uniform0 + b
        self.tables = RansTables(cdf, self._lo)  # validated once, with the decoder's index
        self._costq = cost_table(cdf)
        self._macs = self.bundle.manifest.macs_per_pixel

    # ----------------------------------------------------------------------------- contract
    @classmethod
    def create(cls, model: str | Path | None = None, kernels: str = "numba") -> IdfCodec:
        """The codec for bundle folder ``model`` (the shipped default when None) on kernel set ``kernels``;
        ModelError if the bundle is unusable, InputError if the kernel set is not available."""
        return cls(model, kernels=kernels)

    def params(self) -> bytes:
        return bytes([P.KIND_IDF])

    def model_hash(self) -> bytes:
        return self.bundle.digest

    def supports(self, bitpix: int) -> bool:
        return bitpix in _DTYPES

    def default_tile_shape(self, rows: int, cols: int) -> tuple[int, int]:
        """DEFAULT_TILE x DEFAULT_TILE, clipped to the plane."""
        return min(DEFAULT_TILE, rows), min(DEFAULT_TILE, cols)

    def ops_per_pixel(self) -> OpCounts:
        """MACs of the int8 networks and table look-ups of the coder, per pixel.

        ``lookups`` counts the rANS CDF reads (start and frequency) per coded pixel; ``int_ops`` the integer
        glue (squeeze, companding, interpolation, symbol mapping, rANS state update, the encoder's choice of
        alpha/beta over 20 candidates, the RICE candidate) at about 60 operations per pixel; ``mem_ops`` its
        loads and stores.
        """
        return OpCounts(int_ops=60.0, mem_ops=30.0, macs=self._macs, lookups=2.0)

    # ----------------------------------------------------------------------------- symbols
    def symbols(self, ph: T.PhaseLatents, s, alpha, beta, row=slice(None)) -> tuple[np.ndarray, ...]:
        """(table, symbol, bypass bit count, bypass bits) of a phase's latents under the side information."""
        mean4, k = S.coding_params(ph.mean4[row], ph.k[row], ph.flat4[row], s, alpha, beta)
        return S.split_symbols(ph.values[row], mean4, k)

    def choose_side_info(self, phases: list[T.PhaseLatents], s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """:func:`flight.idf.search.choose_side_info` with this codec's tables."""
        return choose_side_info(phases, s, self._lo, self._n, self._costq)

    def _streams(self, phases: list[T.PhaseLatents], s: np.ndarray, alphas: np.ndarray,
                 betas: np.ndarray) -> list[bytes]:
        """The rANS stream of every tile of a batch: per phase its symbols, then its bypass chunks, in decode
        order."""
        n_tiles = alphas.shape[0]
        per_tile: list[tuple[list, list]] = [([], []) for _ in range(n_tiles)]
        for ph in phases:
            al, be = alphas[:, ph.netset - 1:ph.netset], betas[:, ph.netset - 1:ph.netset]
            t, sym, nb, low = self.symbols(ph, np.asarray(s)[:, None], al, be)
            n_chunks = -(-int(nb.max(initial=0)) // P.CHUNK_BITS)
            for i, (syms, tabs) in enumerate(per_tile):
                syms.append(sym[i])
                tabs.append(t[i])
                for j in range(0, P.CHUNK_BITS * n_chunks, P.CHUNK_BITS):
                    sel = nb[i] > j
                    width = np.minimum(nb[i][sel] - j, P.CHUNK_BITS)
                    syms.append((low[i][sel] >> j) & ((1 << width) - 1))
                    tabs.append(self._uniform0 + width)
        out = []
        for syms, tabs in per_tile:
            # One batch: rANS is symbol-sequential, so the decoder may still read it phase by phase.
            enc = RansEncoder()
            enc.encode(np.concatenate(syms), np.concatenate(tabs), self.tables)
            out.append(enc.finish())
        return out

    # ----------------------------------------------------------------------------- encode
    def encode_idf(self, planes: Sequence[np.ndarray]) -> list[bytes]:
        """Kind-2 payloads of many planes, whatever the alternatives would cost; same-shape planes share batched
        network calls, ``chunk`` at a time (which bounds memory), chunks spread over ``threads`` threads."""
        out: list[bytes] = [b""] * len(planes)
        groups: dict[tuple[int, int], list[int]] = {}
        for i, p in enumerate(planes):
            groups.setdefault(p.shape, []).append(i)
        parts = [idx[j:j + self.chunk] for idx in groups.values() for j in range(0, len(idx), self.chunk)]

        def run(part: list[int]) -> None:
            batch = np.stack([planes[i] for i in part]).astype(np.int64)
            s, m, top, phases = T.forward_batch(batch, self.bundle.nets)
            alphas, betas = self.choose_side_info(phases, s)
            streams = self._streams(phases, s, alphas, betas) if phases else [b""] * len(part)
            for r, i in enumerate(part):
                head = P.IdfHeader(int(s[r]), alphas[r], betas[r], int(m[r]), int(top[r]))
                out[i] = head.pack() + streams[r]

        _map(run, parts, self.threads)
        return out

    def encode_tile(self, tile: np.ndarray) -> bytes:
        return self.encode_tiles([tile])[0]

    def encode_tiles(self, tiles: Sequence[np.ndarray]) -> list[bytes]:
        """Encode many tiles (same-shape tiles share network calls); entry i equals ``encode_tile(tiles[i])``.
        Raises ValueError for a tile that is not a non-empty 2-D array of 8/16-bit integers."""
        tiles = [np.asarray(t) for t in tiles]
        for t in tiles:
            if t.ndim != 2 or t.size == 0:
                raise ValueError("encode_tile needs a non-empty 2-D tile")
            if t.dtype.itemsize > 2 or t.dtype.kind not in "iu":
                raise ValueError(f"IDF codes 8/16-bit integers, not {t.dtype}")
        planes: list[np.ndarray] = list(tiles)
        mosaic: dict[int, int] = {}
        for i, t in enumerate(tiles):
            if looks_mosaic(t):
                mosaic[i] = len(planes)
                planes += P.mosaic_planes(t)
        coded = self.encode_idf(planes)
        out = []
        for i, t in enumerate(tiles):
            best = P.pack_rice(t)
            if len(coded[i]) <= len(best):
                best = coded[i]
            if i in mosaic:
                j = mosaic[i]
                subs = [min(coded[j + q], P.pack_rice(planes[j + q]), key=len) for q in range(4)]
                split = P.pack_mosaic(subs)
                if len(split) < len(best):
                    best = split
            out.append(best)
        return out

    # ----------------------------------------------------------------------------- decode
    def _decode_idf(self, payloads: list[bytes], shape: tuple[int, int]) -> np.ndarray:
        """Decode kind-2 payloads of one shape together (int64 planes ``[N, *shape]``); FormatError if any is
        bad."""
        heads = [P.IdfHeader.parse(p, shape) for p in payloads]
        s = np.array([h.s for h in heads], np.int64)
        alphas = np.stack([h.alphas for h in heads])
        betas = np.stack([h.betas for h in heads])
        m = np.array([h.m for h in heads], np.int64)
        top = np.array([h.top for h in heads], np.int64)
        if shape[0] * shape[1] == 1:
            return top.reshape(-1, 1, 1)
        decs = [RansDecoder(p[P.HEADER_BYTES:]) for p in payloads]

        def phase(n: int, mean4: np.ndarray, k: np.ndarray, flat4: np.ndarray) -> np.ndarray:
            return self._take(decs, mean4, k, flat4, s[:, None], alphas[:, n - 1:n], betas[:, n - 1:n])

        planes = T.inverse_batch(shape, s, m, top, self.bundle.nets, phase)
        for d in decs:
            d.finish()
        return planes

    def _take(self, decs: list[RansDecoder], mean4, k, flat4, s, alpha, beta) -> np.ndarray:
        """Decode one phase of every tile (``[N, m]`` priors; tile i from ``decs[i]``)."""
        mean4, kb = S.coding_params(mean4, k, flat4, s, alpha, beta)
        nb = S.bypass_bits(kb)
        t = S.symbol_table(mean4, kb, nb)
        sym = np.stack([d.decode(t[i], self.tables) for i, d in enumerate(decs)]).astype(np.int64)
        low = np.zeros_like(sym)
        for j in range(0, int(nb.max(initial=0)), P.CHUNK_BITS):
            for i, d in enumerate(decs):
                sel = nb[i] > j
                if sel.any():
                    width = np.minimum(nb[i][sel] - j, P.CHUNK_BITS)
                    low[i][sel] |= d.decode(self._uniform0 + width, self.tables).astype(np.int64) << j
        return S.join_symbols(sym, mean4, kb, low)

    def decode_tile(self, payload: bytes, shape: tuple[int, int], bitpix: int) -> np.ndarray:
        return self.decode_tiles([payload], [shape], bitpix)[0].unwrap()

    def decode_tiles(self, payloads: Sequence[bytes], shapes: Sequence[tuple[int, int]],
                     bitpix: int) -> list[TileResult]:
        """Decode many tiles with batched network calls (``chunk`` tiles per call, over ``threads`` threads).
        Returns one :class:`TileResult` per tile (a bad tile never costs its neighbours)."""
        if bitpix not in _DTYPES:
            raise FormatError(f"IDF cannot decode BITPIX {bitpix}")
        errors: dict[int, FormatError] = {}
        jobs: dict[tuple[int, int], list[tuple[int, int, bytes]]] = {}  # shape -> (tile, part, payload)
        parts: dict[int, dict[int, np.ndarray]] = {}

        def plan(i: int, q: int, p: bytes, shape: tuple[int, int]) -> None:
            kind = P.kind(p)
            if kind == P.KIND_IDF:
                jobs.setdefault(shape, []).append((i, q, p))
            elif kind == P.KIND_RICE:
                parts.setdefault(i, {})[q] = P.parse_rice(p, shape, bitpix)
            elif kind == P.KIND_BAYER and q < 0:
                for qq, (pp, ss) in enumerate(P.parse_mosaic(p, shape)):
                    plan(i, qq, pp, ss)
            else:
                raise FormatError(f"IDF tile payload kind {kind} not supported")

        for i, (p, shape) in enumerate(zip(payloads, shapes, strict=True)):
            shape = (int(shape[0]), int(shape[1]))
            if shape[0] < 1 or shape[1] < 1:
                errors[i] = FormatError(f"bad tile shape {shape}")
                continue
            try:
                plan(i, -1, bytes(p), shape)
            except FormatError as exc:
                errors[i] = exc
        work = [(shape, [g for g in group if g[0] not in errors][j:j + self.chunk])
                for shape, group in jobs.items() for j in range(0, len(group), self.chunk)]

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
                        errors[i] = exc

        _map(run, [w for w in work if w[1]], self.threads)
        info = np.iinfo(_DTYPES[bitpix])
        results: list[TileResult] = []
        for i, shape in enumerate(shapes):
            if i in errors:
                results.append(TileResult(error=errors[i]))
                continue
            got = parts[i]
            plane = got[-1] if -1 in got else P.join_mosaic([got[q] for q in range(4)], (int(shape[0]), int(shape[1])))
            if plane.min() < info.min or plane.max() > info.max:
                results.append(TileResult(error=FormatError(
                    "IDF tile decoded to values outside its data type (corrupt or wrong model)")))
            else:
                results.append(TileResult(pixels=plane.astype(_DTYPES[bitpix])))
        return results
