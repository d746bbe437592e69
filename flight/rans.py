"""rANS entropy coder with integer CDF tables and an escape for any int32 value.

Model and coder are separate (as in constriction): a *table* is an integer CDF, the coder
only sees ``(start, freq)`` pairs.  Everything is integer; nothing a float computes
decides a coded bit.

Tables.  ``cdfs`` is a uint32 array ``[T, S+1]``.  Row t rises strictly from
``cdfs[t, 0] = 0`` to ``1 << PROB_BITS`` at some index ``e_t`` (1 <= e_t <= S) and is
padded with ``1 << PROB_BITS`` after it, so table t has ``e_t`` symbols, each with
frequency >= 1.  Symbols ``0 .. e_t - 2`` stand for the values ``offsets[t] + s`` (the
table's *window*, ``W_t = e_t - 1`` values wide) and the last symbol, ``e_t - 1``, is
ESCAPE.  Tables of different widths therefore share one array.  (This is the layout of
``models.export.build_tables``, built with :func:`build_cdf_table`: ``lo = offsets``,
``n = W_t``.)

Escape.  A value outside its window is coded as ESCAPE followed, through the same rANS
state with uniform (bypass) frequencies, by: 1 bit for the side (above or below the
window), 6 bits for ``L = bit_length(d + 1)`` (1..33) where ``d >= 0`` is the distance
beyond the window edge, then the ``L - 1`` bits of ``d + 1`` below its leading one, in
chunks of at most 16 bits.  Any int32 value can be coded; encoding never fails.

Coder.  ryg_rans style with a 32-bit state in ``[2**16, 2**32)`` and 16-bit
renormalisation; ``PROB_BITS = 16`` so one renormalisation step per symbol suffices.
The encoder runs over the symbols in reverse and writes the stream so the decoder runs
forward: 4 bytes of final encoder state then 16-bit words, all big-endian.  The encoder
starts from state ``2**16``; the decoder must end in that state having consumed every
word, which detects all truncation and almost all corruption of modelled symbols.  (The
bits of an escape payload are incompressible, so flipping one of them changes that one
value undetectably: the tile CRC is what catches that.)

Decoding may proceed batch by batch (:class:`RansDecoder`), with each batch's table
indices computed from what was decoded before; :class:`RansEncoder` collects the same
batches in order and encodes them all, in reverse, at :meth:`RansEncoder.finish`.
Wherever ``cdfs, offsets`` are taken, a prepared :class:`RansTables` may be passed as
``cdfs`` instead: it validates the tables and builds the decoder's index once, which
matters when a tile is decoded in many small batches.
The numba kernels release the GIL, so independent tiles can be coded on several threads.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from flight.errors import FormatError

PROB_BITS = 16
PROB_TOTAL = 1 << PROB_BITS
RANS_L = 1 << 16          # lower bound of the normalised state
_ESC_LEN_BITS = 6         # bits that carry L = bit_length(d + 1), 1..33
_MAX_WORDS_PER_ESCAPE = 5  # escape symbol + side + length + two 16-bit chunks

# status codes of the numba decoder
_OK, _TRUNCATED, _BAD_STATE, _BAD_ESCAPE, _BAD_TABLE_INDEX = 0, 1, 2, 3, 4


class RansDecodeError(FormatError):
    """Truncated, corrupt or garbage rANS data (or data decoded with the wrong model)."""


# --------------------------------------------------------------------------------------
# Tables.
# --------------------------------------------------------------------------------------


_FLOAT_SCALE_BITS = 1100  # 2**1100 times any finite float64 >= 0 is an integer (the smallest is 2**-1074)


def _integer_weights(freqs: np.ndarray | list) -> list[int]:
    """Integer weights proportional to ``freqs`` exactly: integers as they are, floats scaled by 2**1100."""
    a = np.asarray(freqs)
    if a.dtype.kind != "f":
        return [int(v) for v in a.ravel()]
    if not np.all(np.isfinite(a)):
        raise ValueError("probabilities must be finite")
    out = []
    for v in a.ravel():
        num, den = float(v).as_integer_ratio()  # den is a power of two
        out.append(num << (_FLOAT_SCALE_BITS - den.bit_length() + 1))
    return out


def build_cdf_table(freqs: np.ndarray | list) -> np.ndarray:
    """Integer frequencies or float probabilities (last one = ESCAPE) -> uint32 CDF ``[m + 1]`` summing to
    ``1 << PROB_BITS``: the one integer-table builder of the project (the coder's uniform tables, the model
    bundle's tables in ``models.export``).

    Every symbol gets frequency >= 1, the remaining ``2**16 - m`` units are shared in
    proportion to ``freqs`` by floor division, and the leftover units go to the largest
    remainders (ties to the lower index).  Pure integer arithmetic (Python ints; floats are
    first converted exactly), so the result is the same everywhere.  Raises ValueError for
    an empty or oversized table or negative weights.
    """
    f = _integer_weights(freqs)
    m = len(f)
    if m < 1 or m > PROB_TOTAL:
        raise ValueError(f"a table needs 1..{PROB_TOTAL} symbols, got {m}")
    if any(v < 0 for v in f):
        raise ValueError("frequencies must be non-negative")
    total = sum(f)
    spare = PROB_TOTAL - m
    if total == 0:
        f = [1] * m
        total = m
    share = [v * spare // total for v in f]
    rem = [v * spare % total for v in f]
    left = spare - sum(share)
    for i in sorted(range(m), key=lambda i: (-rem[i], i))[:left]:
        share[i] += 1
    cdf = np.zeros(m + 1, np.uint32)
    cdf[1:] = np.cumsum(np.asarray(share, np.int64) + 1)
    assert int(cdf[-1]) == PROB_TOTAL
    return cdf


def stack_cdf_tables(tables: list[np.ndarray]) -> np.ndarray:
    """Stack CDFs of different lengths into one ``[T, S+1]`` array, padded with 2**16."""
    width = max(len(t) for t in tables)
    out = np.full((len(tables), width), PROB_TOTAL, np.uint32)
    for i, t in enumerate(tables):
        out[i, : len(t)] = t
    return out


_BUCKET_BITS = 8  # decoder search starts from a per-table index of 2**8 slot buckets


@njit(cache=True, nogil=True)
def _buckets(cdfs):
    """buckets[t, j] = the symbol whose interval holds slot j << (16 - _BUCKET_BITS)."""
    n_t = cdfs.shape[0]
    nb = 1 << _BUCKET_BITS
    sh = PROB_BITS - _BUCKET_BITS
    out = np.empty((n_t, nb), np.int32)
    for t in range(n_t):
        s = 0
        for j in range(nb):
            slot = j << sh
            while np.int64(cdfs[t, s + 1]) <= slot:
                s += 1
            out[t, j] = s
    return out


@njit(cache=True, nogil=True)
def _table_ends(cdfs):
    """e_t for every table (number of symbols incl. ESCAPE), or -1-t for the first bad table."""
    n_t, width = cdfs.shape
    ends = np.empty(n_t, np.int64)
    for t in range(n_t):
        if cdfs[t, 0] != 0:
            return ends, -1 - t
        e = -1
        for j in range(1, width):
            v = np.int64(cdfs[t, j])
            if v <= np.int64(cdfs[t, j - 1]) or v > PROB_TOTAL:
                return ends, -1 - t
            if v == PROB_TOTAL:
                e = j
                break
        if e < 0:
            return ends, -1 - t
        ends[t] = e
    return ends, 0


class RansTables:
    """A validated, read-only snapshot of ``(cdfs, offsets)`` with the decoder's search index.

    Building one costs a pass over the tables (a few tenths of a millisecond for hundreds
    of wide tables); pass it as ``cdfs`` (``offsets`` then None) to every encode/decode
    call to pay that once.  Plain arrays work too: the last few table sets seen are
    remembered (by identity, with a content check), so repeated calls with the same arrays
    are cheap as well.
    """

    def __init__(self, cdfs: np.ndarray, offsets: np.ndarray) -> None:
        cdfs = np.array(cdfs, dtype=np.uint32, order="C", copy=True)
        if cdfs.ndim != 2 or cdfs.shape[1] < 2 or cdfs.shape[0] < 1:
            raise ValueError("cdfs must be a [T, S+1] array with S >= 1")
        offsets = np.array(offsets, dtype=np.int64, copy=True).ravel()
        if offsets.shape[0] != cdfs.shape[0]:
            raise ValueError("offsets must have one entry per table")
        if np.any(offsets < -(1 << 31)) or np.any(offsets > (1 << 31) - 1):
            raise ValueError("offsets must fit in int32")
        ends, status = _table_ends(cdfs)
        if status:
            raise ValueError(f"table {-1 - status} is not a valid CDF (0, strictly rising to 2**{PROB_BITS})")
        for arr in (cdfs, offsets, ends):
            arr.flags.writeable = False
        self.cdfs, self.offsets, self.ends = cdfs, offsets, ends
        self._buckets: np.ndarray | None = None

    @property
    def n_tables(self) -> int:
        return self.cdfs.shape[0]

    @property
    def buckets(self) -> np.ndarray:
        if self._buckets is None:
            self._buckets = _buckets(self.cdfs)
            self._buckets.flags.writeable = False
        return self._buckets


_CACHE: list[tuple[np.ndarray, np.ndarray, RansTables]] = []
_CACHE_SIZE = 4


def tables(cdfs: np.ndarray | RansTables, offsets: np.ndarray | None = None) -> RansTables:
    """``cdfs``/``offsets`` as a :class:`RansTables` (reused when the same arrays come again)."""
    if isinstance(cdfs, RansTables):
        return cdfs
    if offsets is None:
        raise ValueError("offsets are required with plain cdf arrays")
    for i, (c, o, t) in enumerate(_CACHE):
        if c is cdfs and o is offsets:
            if np.array_equal(t.cdfs, c) and np.array_equal(t.offsets, np.asarray(o).ravel()):
                return t
            del _CACHE[i]  # modified in place since: rebuild
            break
    t = RansTables(cdfs, offsets)
    if isinstance(cdfs, np.ndarray) and isinstance(offsets, np.ndarray):
        _CACHE.insert(0, (cdfs, offsets, t))
        del _CACHE[_CACHE_SIZE:]
    return t


def _indices(table_index: np.ndarray, tab: RansTables, n: int) -> np.ndarray:
    tidx = np.ascontiguousarray(table_index, dtype=np.int64).ravel()
    if tidx.shape[0] != n:
        raise ValueError(f"table_index has {tidx.shape[0]} entries for {n} symbols")
    if n and (tidx.min() < 0 or tidx.max() >= tab.n_tables):
        raise ValueError("table_index out of range")
    return tidx


# --------------------------------------------------------------------------------------
# numba core.
# --------------------------------------------------------------------------------------


@njit(cache=True, nogil=True)
def _put(x, start, freq, buf, pos):
    """Encode one (start, freq); returns (state, pos) with words written backwards."""
    if x >= (freq << 16):
        pos -= 1
        buf[pos] = x & 0xFFFF
        x >>= 16
    x = (x // freq << PROB_BITS) + x % freq + start
    return x, pos


@njit(cache=True, nogil=True)
def _put_bits(x, value, nbits, buf, pos):
    """Uniform (bypass) coding of ``nbits`` <= 16 bits as one symbol of frequency 2**(16-nbits)."""
    sh = PROB_BITS - nbits
    return _put(x, value << sh, np.int64(1) << sh, buf, pos)


@njit(cache=True, nogil=True)
def _bit_length(v):
    n = 0
    while v > 0:
        v >>= 1
        n += 1
    return n


@njit(cache=True, nogil=True)
def _count_escapes(symbols, tidx, ends, offsets):
    n_esc = 0
    for i in range(symbols.shape[0]):
        t = tidx[i]
        s = np.int64(symbols[i]) - offsets[t]
        if s < 0 or s >= ends[t] - 1:
            n_esc += 1
    return n_esc


@njit(cache=True, nogil=True)
def _encode_batch(x, symbols, tidx, cdfs, ends, offsets, buf, pos):
    """Encode one batch in reverse; words go into buf[.. pos) from the end."""
    for i in range(symbols.shape[0] - 1, -1, -1):
        t = tidx[i]
        v = np.int64(symbols[i])
        s = v - offsets[t]
        esc = ends[t] - 1
        if s >= 0 and s < esc:
            start = np.int64(cdfs[t, s])
            x, pos = _put(x, start, np.int64(cdfs[t, s + 1]) - start, buf, pos)
            continue
        # ESCAPE then side, length, bits (pushed in reverse of decoding order)
        if s >= esc:
            side = 1
            d = s - esc            # v - (offsets[t] + W_t)
        else:
            side = 0
            d = -1 - s             # offsets[t] - 1 - v
        u = d + 1
        length = _bit_length(u)
        rest = length - 1
        low = u - (np.int64(1) << rest)
        while rest > 0:            # 16-bit chunks from the bottom; the top chunk holds 1..16 bits
            k = 16 if rest > 16 else rest
            x, pos = _put_bits(x, low & ((np.int64(1) << k) - 1), k, buf, pos)
            low >>= k
            rest -= k
        x, pos = _put_bits(x, length, _ESC_LEN_BITS, buf, pos)
        x, pos = _put_bits(x, side, 1, buf, pos)
        start = np.int64(cdfs[t, esc])
        x, pos = _put(x, start, np.int64(cdfs[t, esc + 1]) - start, buf, pos)
    return x, pos


@njit(cache=True, nogil=True)
def _get_symbol(x, cdf_row, bucket_row, words, wpos, n_words):
    """Decode one symbol; returns (s, x, wpos, status)."""
    slot = x & (PROB_TOTAL - 1)
    base = np.int64(bucket_row[slot >> (PROB_BITS - _BUCKET_BITS)])
    while np.int64(cdf_row[base + 1]) <= slot:  # a few steps at most: the bucket's symbols
        base += 1
    start = np.int64(cdf_row[base])
    freq = np.int64(cdf_row[base + 1]) - start
    x = freq * (x >> PROB_BITS) + slot - start
    if x < RANS_L:
        if wpos >= n_words:
            return base, x, wpos, _TRUNCATED
        x = (x << 16) | np.int64(words[wpos])
        wpos += 1
    return base, x, wpos, _OK


@njit(cache=True, nogil=True)
def _get_bits(x, nbits, words, wpos, n_words):
    sh = PROB_BITS - nbits
    slot = x & (PROB_TOTAL - 1)
    value = slot >> sh
    x = (np.int64(1) << sh) * (x >> PROB_BITS) + slot - (value << sh)
    if x < RANS_L:
        if wpos >= n_words:
            return value, x, wpos, _TRUNCATED
        x = (x << 16) | np.int64(words[wpos])
        wpos += 1
    return value, x, wpos, _OK


@njit(cache=True, nogil=True)
def _decode_batch(x, words, wpos, tidx, cdfs, ends, buckets, offsets, out):
    n_words = words.shape[0]
    n_t = cdfs.shape[0]
    for i in range(out.shape[0]):
        t = tidx[i]
        if t < 0 or t >= n_t:
            return x, wpos, i, _BAD_TABLE_INDEX
        s, x, wpos, st = _get_symbol(x, cdfs[t], buckets[t], words, wpos, n_words)
        if st != _OK:
            return x, wpos, i, st
        esc = ends[t] - 1
        if s < esc:
            out[i] = offsets[t] + s
            continue
        side, x, wpos, st = _get_bits(x, 1, words, wpos, n_words)
        if st != _OK:
            return x, wpos, i, st
        length, x, wpos, st = _get_bits(x, _ESC_LEN_BITS, words, wpos, n_words)
        if st != _OK:
            return x, wpos, i, st
        if length < 1 or length > 33:
            return x, wpos, i, _BAD_ESCAPE
        u = np.int64(1)
        rest = length - 1
        while rest > 0:            # top chunk first (1..16 bits), then 16-bit chunks
            k = (rest - 1) % 16 + 1
            bits, x, wpos, st = _get_bits(x, k, words, wpos, n_words)
            if st != _OK:
                return x, wpos, i, st
            u = (u << k) | bits
            rest -= k
        d = u - 1
        v = offsets[t] + esc + d if side == 1 else offsets[t] - 1 - d
        if v < -2147483648 or v > 2147483647:
            return x, wpos, i, _BAD_ESCAPE
        out[i] = v
    return x, wpos, out.shape[0], _OK


# --------------------------------------------------------------------------------------
# Public API.
# --------------------------------------------------------------------------------------


class RansEncoder:
    """Collects batches in decoding order; :meth:`finish` encodes them all in reverse."""

    def __init__(self) -> None:
        self._batches: list[tuple[np.ndarray, np.ndarray, RansTables]] = []
        self._finished = False

    def encode(self, symbols: np.ndarray, table_index: np.ndarray, cdfs: np.ndarray | RansTables,
               offsets: np.ndarray | None = None) -> None:
        """Queue one batch (validated now, coded at :meth:`finish`)."""
        if self._finished:
            raise RuntimeError("encoder already finished")
        sym = np.asarray(symbols).ravel()
        if sym.size and (sym.min() < -(1 << 31) or sym.max() > (1 << 31) - 1):
            raise ValueError("symbols must fit in int32")
        sym = np.ascontiguousarray(sym, dtype=np.int64)
        tab = tables(cdfs, offsets)
        self._batches.append((sym, _indices(table_index, tab, sym.shape[0]), tab))

    def finish(self) -> bytes:
        """The coded stream: 4-byte final state then 16-bit words, big-endian."""
        if self._finished:
            raise RuntimeError("encoder already finished")
        self._finished = True
        capacity = 2
        for sym, tidx, tab in self._batches:
            capacity += sym.shape[0] + _MAX_WORDS_PER_ESCAPE * _count_escapes(sym, tidx, tab.ends, tab.offsets)
        buf = np.empty(capacity, np.uint16)
        x, pos = np.int64(RANS_L), capacity
        for sym, tidx, tab in reversed(self._batches):
            x, pos = _encode_batch(x, sym, tidx, tab.cdfs, tab.ends, tab.offsets, buf, pos)
        head = int(x).to_bytes(4, "big")
        return head + buf[pos:].astype(">u2").tobytes()


class RansDecoder:
    """Decodes a stream batch by batch; :meth:`finish` checks it was consumed exactly."""

    def __init__(self, data: bytes) -> None:
        data = bytes(data)
        if len(data) < 4 or len(data) % 2:
            raise RansDecodeError(f"rANS stream of {len(data)} bytes is truncated or corrupt")
        self._x = np.int64(int.from_bytes(data[:4], "big"))
        if not RANS_L <= int(self._x) < (1 << 32):
            raise RansDecodeError("rANS stream starts with an impossible state (corrupt data)")
        self._words = np.frombuffer(data, dtype=">u2", offset=4).astype(np.uint16)
        self._pos = 0
        self._finished = False

    def decode(self, table_index: np.ndarray, cdfs: np.ndarray | RansTables,
               offsets: np.ndarray | None = None) -> np.ndarray:
        """Decode the next ``len(table_index)`` values (int32)."""
        if self._finished:
            raise RuntimeError("decoder already finished")
        tab = tables(cdfs, offsets)
        n = int(np.asarray(table_index).size)
        tidx = _indices(table_index, tab, n)
        out = np.empty(n, np.int32)
        x, pos, done, status = _decode_batch(self._x, self._words, self._pos, tidx, tab.cdfs, tab.ends,
                                             tab.buckets, tab.offsets, out)
        self._x, self._pos = x, pos
        if status == _TRUNCATED:
            raise RansDecodeError(f"rANS stream truncated (ran out of data at symbol {done} of the batch)")
        if status == _BAD_ESCAPE:
            raise RansDecodeError(f"corrupt rANS stream (impossible escape at symbol {done} of the batch)")
        if status == _BAD_TABLE_INDEX:
            raise RansDecodeError("table index out of range")
        return out

    def finish(self) -> None:
        """Raise :class:`RansDecodeError` unless the final state and position match the encoder's start."""
        self._finished = True
        if self._pos != self._words.shape[0]:
            raise RansDecodeError(f"corrupt rANS stream: {self._words.shape[0] - self._pos} words left over")
        if int(self._x) != RANS_L:
            raise RansDecodeError("corrupt rANS stream: final state does not match (wrong data or model)")


def rans_encode(symbols: np.ndarray, table_index: np.ndarray, cdfs: np.ndarray | RansTables,
                offsets: np.ndarray | None = None) -> bytes:
    """Encode int32 values, value i with table ``table_index[i]`` (see the module docstring)."""
    enc = RansEncoder()
    enc.encode(symbols, table_index, cdfs, offsets)
    return enc.finish()


def rans_decode(data: bytes, table_index: np.ndarray, cdfs: np.ndarray | RansTables,
                offsets: np.ndarray | None = None) -> np.ndarray:
    """Decode exactly ``len(table_index)`` values and check the stream ends there."""
    dec = RansDecoder(data)
    out = dec.decode(table_index, cdfs, offsets)
    dec.finish()
    return out


@njit(cache=True, nogil=True)
def _cost_terms(symbols, tidx, cdfs, ends, offsets, freq, extra_bits):
    for i in range(symbols.shape[0]):
        t = tidx[i]
        s = np.int64(symbols[i]) - offsets[t]
        esc = ends[t] - 1
        if s >= 0 and s < esc:
            freq[i] = np.int64(cdfs[t, s + 1]) - np.int64(cdfs[t, s])
            extra_bits[i] = 0
        else:
            d = s - esc if s >= esc else -1 - s
            freq[i] = np.int64(cdfs[t, esc + 1]) - np.int64(cdfs[t, esc])
            extra_bits[i] = 1 + _ESC_LEN_BITS + _bit_length(d + 1) - 1


def rans_cost_bits(symbols: np.ndarray, table_index: np.ndarray, cdfs: np.ndarray | RansTables,
                   offsets: np.ndarray | None = None) -> float:
    """Ideal code length, in bits, of the same integer model (escape payload included).

    For tests and reports only: it uses floating-point log2 and decides no coded bit.
    """
    sym = np.ascontiguousarray(np.asarray(symbols).ravel(), dtype=np.int64)
    tab = tables(cdfs, offsets)
    tidx = _indices(table_index, tab, sym.shape[0])
    freq = np.empty(sym.shape[0], np.int64)
    extra = np.empty(sym.shape[0], np.int64)
    _cost_terms(sym, tidx, tab.cdfs, tab.ends, tab.offsets, freq, extra)
    return float(np.sum(PROB_BITS - np.log2(freq.astype(np.float64))) + extra.sum())
