"""IDF tile codec (codec id 2): learned integer flow + context priors + rANS, integer only at coding time.

Tile payload (all big-endian; the container adds the tile codec id and CRC-32)::

    byte 0      version (high nibble, = 1) | noise shift s (low nibble, 0..12)
    bytes 1-2   per-tile scale bias: beta of network set 1, 2, 3 (3 bits each, MSB first), 7 bits zero
    bytes 3-5   top latent (signed 24-bit): the tile's coarsest sample, i.e. its integer offset
    bytes 6-    one rANS stream (``flight.rans``), absent for a 1x1 tile

The stream holds, in decoding order, for each level from the coarsest to the finest and each phase b, c, d:
the phase's latents (table ``k * 4 + phase`` of ``tables.npz``, window + escape), then for latents whose table
index k exceeds KMAX their low bits in chunks of at most 8 (uniform tables).  See ``flight/idf_spec.py`` for
the transform, ``flight/idf_bundle.py`` for the bundle.

Integer only: networks run in ``flight.int8net`` (TFLite reference-kernel arithmetic), everything else is
integer numpy with floor (arithmetic shift) rounding, and the rANS coder sees integer CDFs only.  The one use
of floats is :attr:`IdfCodec._costq`, fixed-point code lengths derived once from the integer tables at load
time; they only steer the encoder's choice of the per-tile scale bias, which is then *sent*, so the decoder
never evaluates them and they cannot break bit-exactness.

Any tile shape works (odd sizes and 1xN rows: padding positions are masked, see ``idf_spec``).  Encoding never
fails: out-of-window latents take the rANS escape, and the container keeps the raw tile whenever this payload
would be larger.  32-bit data is not supported (``supports(32)`` is False; the encoder falls back to RICE).
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from flight import idf_spec as S
from flight import idf_transform as T
from flight.errors import FormatError
from flight.idf_bundle import Bundle, load_bundle
from flight.rans import PROB_TOTAL, RansDecodeError, RansDecoder, RansEncoder, build_cdf_table, stack_cdf_tables

VERSION = 1
HEADER_BYTES = 6
CHUNK_BITS = 8
_DTYPES = {8: np.dtype(np.uint8), 16: np.dtype(np.int16)}
TOP_MIN, TOP_MAX = -(1 << 23), (1 << 23) - 1


class IdfCodec:
    """The IDF tile codec for one model bundle (the shipped default when ``model`` is None)."""

    codec_id = 2
    name = "idf"

    def __init__(self, model: str | Path | None = None, oracle: bool = False) -> None:
        self.bundle: Bundle = load_bundle(model, oracle)
        tb = self.bundle.tables
        n_main = tb.lo.size
        uniform = [build_cdf_table(np.ones((1 << b) + 1, np.int64)) for b in range(1, CHUNK_BITS + 1)]
        rows = [tb.cdf[t, : tb.n[t] + 2] for t in range(n_main)] + uniform
        self._cdf = stack_cdf_tables(rows)
        self._lo = np.concatenate([tb.lo, np.zeros(CHUNK_BITS, np.int32)]).astype(np.int64)
        self._n = np.concatenate([tb.n, [(1 << b) for b in range(1, CHUNK_BITS + 1)]]).astype(np.int64)
        self._uniform0 = n_main - 1  # table of b uniform bits is _uniform0 + b
        freq = np.diff(self._cdf.astype(np.int64), axis=1)
        with np.errstate(divide="ignore"):
            self._costq = np.where(freq > 0, np.round(256.0 * (16.0 - np.log2(np.maximum(freq, 1)))), 0).astype(
                np.int64)
        self._macs = float(self.bundle.manifest.get("macs_per_pixel", 0.0))

    # ----------------------------------------------------------------------------- interface
    def params(self) -> bytes:
        return bytes([VERSION])

    def model_hash(self) -> bytes:
        return self.bundle.digest

    def supports(self, bitpix: int) -> bool:
        return bitpix in _DTYPES

    def ops_per_pixel(self) -> dict:
        """Cost model for the simulator: MACs of the int8 networks and table look-ups of the coder, per pixel.

        ``int_ops`` counts the integer glue (squeeze, companding, interpolation, symbol mapping, the rANS state
        update) at about 40 operations per pixel; ``mem_ops`` the loads and stores of that glue.
        """
        return {"macs": self._macs, "lookups": 2.0, "int_ops": 40.0, "mem_ops": 20.0}

    # ----------------------------------------------------------------------------- encode
    def _symbols(self, values, mean4, k, beta):
        t, sym, nb, low = S.split_symbols(values, mean4, k + S.beta_bias(beta))
        return t, sym, nb, low

    def _cost(self, t: np.ndarray, sym: np.ndarray, nb: np.ndarray) -> int:
        """Code length in 1/256 bit (integer) of main symbols plus bypass bits."""
        i = sym - self._lo[t]
        n = self._n[t]
        inwin = (i >= 0) & (i < n)
        c = self._costq[t, np.where(inwin, i, n)]
        d = np.where(i >= n, i - n, -1 - i)
        extra = np.where(inwin, 0, 7 + S.bitlen(np.maximum(d, 0) + 1) - 1)
        return int(c.sum() + 256 * (extra.sum() + nb.sum()))

    def choose_betas(self, phases: list[T.PhaseLatents]) -> list[int]:
        """Per network set, the scale bias with the smallest code length (ties: the smaller bias index)."""
        betas = []
        for n in range(1, S.N_NETSETS + 1):
            sel = [ph for ph in phases if ph.netset == n]
            if not sel:
                betas.append(S.BETA_ZERO)
                continue
            v = np.concatenate([ph.values for ph in sel])
            m = np.concatenate([ph.mean4 for ph in sel])
            k = np.concatenate([ph.k for ph in sel])
            costs = [self._cost(*self._symbols(v, m, k, b)[:3]) for b in range(1 << S.BETA_BITS)]
            betas.append(int(np.argmin(costs)))
        return betas

    def _queue(self, values, mean4, k, beta, syms: list, tabs: list) -> None:
        """Append one phase's symbols (main, then bypass chunks) in decoding order."""
        t, sym, nb, low = self._symbols(values, mean4, k, beta)
        syms.append(sym)
        tabs.append(t)
        for j in range(0, int(nb.max(initial=0)), CHUNK_BITS):
            sel = nb > j
            width = np.minimum(nb[sel] - j, CHUNK_BITS)
            syms.append((low[sel] >> j) & ((1 << width) - 1))
            tabs.append(self._uniform0 + width)

    def encode_tile(self, tile: np.ndarray) -> bytes:
        tile = np.asarray(tile)
        if tile.ndim != 2 or tile.size == 0:
            raise ValueError("encode_tile needs a non-empty 2-D tile")
        if tile.dtype.kind not in "iu" or tile.dtype.itemsize > 2:
            raise ValueError(f"IDF codes 8/16-bit integers, not {tile.dtype}")
        s, top, phases = T.forward(tile, self.bundle.nets)
        betas = self.choose_betas(phases)
        head = self._header(s, betas, top)
        if not phases:
            return head
        syms: list[np.ndarray] = []
        tabs: list[np.ndarray] = []
        for ph in phases:
            self._queue(ph.values, ph.mean4, ph.k, betas[ph.netset - 1], syms, tabs)
        # One batch: rANS is symbol-sequential, so the decoder may still read it phase by phase.
        enc = RansEncoder()
        enc.encode(np.concatenate(syms), np.concatenate(tabs), self._cdf, self._lo)
        return head + enc.finish()

    def ideal_bits(self, tile: np.ndarray) -> tuple[float, int]:
        """(ideal -log2 p of the payload's symbols under the integer tables, header bits), for tests/reports."""
        from flight.rans import rans_cost_bits

        s, top, phases = T.forward(tile, self.bundle.nets)
        betas = self.choose_betas(phases)
        bits = 0.0
        for ph in phases:
            t, sym, nb, _ = self._symbols(ph.values, ph.mean4, ph.k, betas[ph.netset - 1])
            bits += rans_cost_bits(sym, t, self._cdf, self._lo) + float(nb.sum())
        return bits, 8 * HEADER_BYTES

    @staticmethod
    def _header(s: int, betas: list[int], top: int) -> bytes:
        if not TOP_MIN <= top <= TOP_MAX:
            raise ValueError("top latent out of range")  # impossible for 8/16-bit input (see idf_spec)
        packed = 0
        for b in betas:
            packed = (packed << S.BETA_BITS) | b
        packed <<= 16 - S.BETA_BITS * S.N_NETSETS
        return bytes([(VERSION << 4) | s]) + struct.pack(">H", packed) + (top & 0xFFFFFF).to_bytes(3, "big")

    # ----------------------------------------------------------------------------- decode
    def decode_tile(self, payload: bytes, shape: tuple[int, int], bitpix: int) -> np.ndarray:
        if bitpix not in _DTYPES:
            raise FormatError(f"IDF cannot decode BITPIX {bitpix}")
        h, w = int(shape[0]), int(shape[1])
        if h < 1 or w < 1:
            raise FormatError(f"bad tile shape {shape}")
        if len(payload) < HEADER_BYTES:
            raise FormatError("IDF tile payload shorter than its header")
        if payload[0] >> 4 != VERSION:
            raise FormatError(f"IDF tile payload version {payload[0] >> 4} not supported")
        s = payload[0] & 15
        if s > S.S_MAX:
            raise FormatError(f"IDF tile has noise shift {s} > {S.S_MAX}")
        (packed,) = struct.unpack(">H", payload[1:3])
        packed >>= 16 - S.BETA_BITS * S.N_NETSETS
        mask = (1 << S.BETA_BITS) - 1
        betas = [(packed >> (S.BETA_BITS * (S.N_NETSETS - 1 - i))) & mask for i in range(S.N_NETSETS)]
        top = int.from_bytes(payload[3:6], "big", signed=True)
        stream = payload[HEADER_BYTES:]
        if h * w == 1:
            if stream:
                raise FormatError("IDF 1x1 tile with trailing bytes")
            plane = np.array([[top]], np.int64)
        else:
            try:
                dec = RansDecoder(stream)
                plane = T.inverse((h, w), s, top, self.bundle.nets, lambda n, m4, k: self._take(dec, m4, k,
                                                                                                  betas[n - 1]))
                dec.finish()
            except RansDecodeError as exc:
                raise FormatError(f"IDF tile: {exc}") from exc
        dtype = _DTYPES[bitpix]
        info = np.iinfo(dtype)
        if plane.min() < info.min or plane.max() > info.max:
            raise FormatError("IDF tile decoded to values outside the data type (corrupt data or wrong model)")
        return plane.astype(dtype)

    def _take(self, dec: RansDecoder, mean4: np.ndarray, k: np.ndarray, beta: int) -> np.ndarray:
        kb = k + S.beta_bias(beta)
        nb = np.maximum(0, (kb - S.KMAX + S.KSTEP - 1) >> 3)
        t = np.where(nb > 0, (kb - S.KSTEP * nb) * S.N_PHASE, kb * S.N_PHASE + (mean4 & 3))
        sym = dec.decode(t, self._cdf, self._lo).astype(np.int64)
        low = np.zeros_like(sym)
        for j in range(0, int(nb.max(initial=0)), CHUNK_BITS):
            sel = nb > j
            width = np.minimum(nb[sel] - j, CHUNK_BITS)
            low[sel] |= dec.decode(self._uniform0 + width, self._cdf, self._lo).astype(np.int64) << j
        return S.join_symbols(sym, mean4, kb, low)


assert PROB_TOTAL == 1 << 16
