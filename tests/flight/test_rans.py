"""flight.rans: round trips, escapes, streaming batches, coded size, hostile input."""

from __future__ import annotations

import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flight.rans import (
    PROB_BITS,
    RansDecodeError,
    RansDecoder,
    RansEncoder,
    RansTables,
    build_cdf_table,
    rans_cost_bits,
    rans_decode,
    rans_encode,
    stack_cdf_tables,
)

I32_MIN, I32_MAX = -(2**31), 2**31 - 1
TOTAL = 1 << PROB_BITS


def logistic_tables(scales=(0.3, 1.0, 2.5, 7.0, 20.0, 60.0), tail=12.0):
    """Discretized-logistic tables (window +-tail*scale, ESCAPE last) and their offsets."""
    tabs, offs = [], []
    for s in scales:
        w = int(np.ceil(tail * s)) + 1
        r = np.arange(-w, w + 1, dtype=np.float64)
        edges = 1.0 / (1.0 + np.exp(-np.append(r - 0.5, w + 0.5) / s))
        p = np.diff(edges)
        p = np.append(p, max(1.0 - p.sum(), 0.0))
        tabs.append(build_cdf_table(np.round(p * 2**40).astype(np.int64)))
        offs.append(-w)
    return stack_cdf_tables(tabs), np.array(offs, np.int64), np.array(scales)


# ------------------------------------------------------------------------------ tables


def test_build_cdf_table():
    cdf = build_cdf_table(np.array([0, 5, 0, 1000000, 3]))
    assert cdf.dtype == np.uint32 and cdf[0] == 0 and cdf[-1] == TOTAL
    assert np.all(np.diff(cdf.astype(np.int64)) >= 1)
    assert list(build_cdf_table([0])) == [0, TOTAL]  # a table that is only ESCAPE
    assert list(build_cdf_table([0, 0])) == [0, TOTAL // 2, TOTAL]  # no information: uniform
    big = build_cdf_table(np.ones(TOTAL, np.int64))
    assert np.all(np.diff(big.astype(np.int64)) == 1)
    with pytest.raises(ValueError):
        build_cdf_table(np.ones(TOTAL + 1, np.int64))
    with pytest.raises(ValueError):
        build_cdf_table([3, -1])


def test_invalid_tables_and_indices_are_refused():
    cdfs = stack_cdf_tables([build_cdf_table([1, 2, 3])])
    bad = cdfs.copy()
    bad[0, 1] = 0  # zero frequency
    with pytest.raises(ValueError, match="not a valid CDF"):
        rans_encode(np.array([0]), np.array([0]), bad, np.array([0]))
    short = np.array([[0, 100, 200]], np.uint32)  # never reaches 2**16
    with pytest.raises(ValueError, match="not a valid CDF"):
        rans_encode(np.array([0]), np.array([0]), short, np.array([0]))
    with pytest.raises(ValueError, match="out of range"):
        rans_encode(np.array([0]), np.array([1]), cdfs, np.array([0]))
    with pytest.raises(ValueError, match="int32"):
        rans_encode(np.array([2**31]), np.array([0]), cdfs, np.array([0]))


# ------------------------------------------------------------------------- round trips


@st.composite
def coding_problems(draw):
    n_tables = draw(st.integers(1, 5))
    tables = []
    for _ in range(n_tables):
        kind = draw(st.sampled_from(["random", "escape_only", "one_value", "skewed", "wide"]))
        if kind == "escape_only":
            freqs = [1]
        elif kind == "one_value":
            freqs = [draw(st.integers(0, 10**6)), draw(st.integers(0, 10))]
        elif kind == "skewed":
            freqs = [10**9] + [0] * draw(st.integers(1, 40)) + [1]
        elif kind == "wide":
            width = draw(st.integers(200, 3000))
            freqs = list(np.random.default_rng(draw(st.integers(0, 2**31))).integers(0, 50, width))
        else:
            freqs = draw(st.lists(st.integers(0, 10**6), min_size=1, max_size=60))
        tables.append(build_cdf_table(np.array(freqs, np.int64)))
    cdfs = stack_cdf_tables(tables)
    offsets = np.array(draw(st.lists(st.integers(I32_MIN, I32_MAX), min_size=n_tables, max_size=n_tables)))
    near = draw(st.booleans())
    if near:  # keep most offsets near zero so most values land inside the windows
        offsets = offsets % 64 - 32
    n = draw(st.integers(0, 300))
    tidx = np.array(draw(st.lists(st.integers(0, n_tables - 1), min_size=n, max_size=n)), np.int64)
    vals = draw(st.lists(st.one_of(st.integers(-40, 40), st.integers(I32_MIN, I32_MAX),
                                   st.sampled_from([I32_MIN, I32_MAX, I32_MIN + 1, I32_MAX - 1, 0])),
                         min_size=n, max_size=n))
    return np.array(vals, np.int64), tidx, cdfs, offsets


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(coding_problems())
def test_round_trip(problem):
    symbols, tidx, cdfs, offsets = problem
    data = rans_encode(symbols, tidx, cdfs, offsets)
    out = rans_decode(data, tidx, cdfs, offsets)
    assert out.dtype == np.int32
    np.testing.assert_array_equal(out, symbols)
    # the stream costs what the integer model says, within the state flush
    assert len(data) * 8 <= rans_cost_bits(symbols, tidx, cdfs, offsets) + 48 + 1e-6


def test_extreme_escapes():
    cdfs = stack_cdf_tables([build_cdf_table([5, 5, 5, 1]), build_cdf_table([1])])
    offsets = np.array([0, 0])
    extremes = [I32_MAX, I32_MIN, I32_MAX - 1, I32_MIN + 1, -1, 3, 2, 0, 1 << 16, -(1 << 16), 65535, -65536]
    for t, off in [(0, 0), (0, I32_MAX - 2), (0, I32_MIN), (1, 0), (1, I32_MAX), (1, I32_MIN)]:
        offsets = np.array([off, off])
        sym = np.array(extremes, np.int64)
        tidx = np.full(sym.size, t)
        np.testing.assert_array_equal(rans_decode(rans_encode(sym, tidx, cdfs, offsets), tidx, cdfs, offsets), sym)


def test_streaming_batches_with_changing_tables():
    """Decode in passes, each pass's tables chosen from the values decoded before it."""
    cdfs, offsets, scales = logistic_tables()
    rng = np.random.default_rng(0)
    batches = []
    prev = np.zeros(500, np.int64)
    for _ in range(6):
        tidx = np.minimum(np.abs(prev) // 3, len(scales) - 1)  # a "network" of the previous pass
        vals = np.round(rng.logistic(0, scales[tidx])).astype(np.int64)
        vals[rng.integers(0, vals.size, 3)] = rng.integers(I32_MIN, I32_MAX, 3)  # a few escapes
        batches.append((vals, tidx))
        prev = vals
    enc = RansEncoder()
    for k, (vals, tidx) in enumerate(batches):
        # a different table set per batch: rows reversed on odd passes
        c, o = (cdfs, offsets) if k % 2 == 0 else (cdfs[::-1], offsets[::-1])
        enc.encode(vals, tidx if k % 2 == 0 else len(scales) - 1 - tidx, c, o)
    data = enc.finish()

    dec = RansDecoder(data)
    prev = np.zeros(500, np.int64)
    for k, (vals, _) in enumerate(batches):
        tidx = np.minimum(np.abs(prev) // 3, len(scales) - 1)
        c, o = (cdfs, offsets) if k % 2 == 0 else (cdfs[::-1], offsets[::-1])
        got = dec.decode(tidx if k % 2 == 0 else len(scales) - 1 - tidx, c, o)
        np.testing.assert_array_equal(got, vals)
        prev = got.astype(np.int64)
    dec.finish()


def test_prepared_tables_and_the_table_cache():
    cdfs, offsets, scales = logistic_tables()
    rng = np.random.default_rng(6)
    tidx = rng.integers(0, len(scales), 1000)
    sym = np.round(rng.logistic(0, scales[tidx])).astype(np.int64)
    tab = RansTables(cdfs, offsets)
    data = rans_encode(sym, tidx, tab)
    assert data == rans_encode(sym, tidx, cdfs, offsets)
    dec = RansDecoder(data)
    np.testing.assert_array_equal(np.concatenate([dec.decode(tidx[:300], tab), dec.decode(tidx[300:], cdfs, offsets)]),
                                  sym)
    dec.finish()
    assert rans_cost_bits(sym, tidx, tab) == rans_cost_bits(sym, tidx, cdfs, offsets)
    # the snapshot is read-only, and a plain array changed in place is noticed
    with pytest.raises(ValueError):
        tab.cdfs[0, 1] = 5
    mine = cdfs.copy()
    enc_a = rans_encode(sym, tidx, mine, offsets)
    mine[:] = mine[::-1]
    offs_copy = offsets.copy()
    enc_b = rans_encode(sym, len(scales) - 1 - tidx, mine, offsets[::-1].copy())
    assert enc_a == enc_b
    mine[0, 1] = 0  # now invalid: must be re-validated, not served from the cache
    with pytest.raises(ValueError, match="not a valid CDF"):
        rans_encode(sym, tidx, mine, offs_copy)


def test_empty_stream():
    cdfs = stack_cdf_tables([build_cdf_table([1, 1])])
    data = rans_encode(np.zeros(0, np.int64), np.zeros(0, np.int64), cdfs, np.array([0]))
    assert len(data) == 4
    assert rans_decode(data, np.zeros(0, np.int64), cdfs, np.array([0])).size == 0


def test_coded_size_close_to_ideal():
    cdfs, offsets, scales = logistic_tables()
    rng = np.random.default_rng(1)
    n = 200_000
    tidx = rng.integers(0, len(scales), n)
    sym = np.round(rng.logistic(0, scales[tidx])).astype(np.int64)
    sym[::5000] = rng.integers(I32_MIN, I32_MAX, sym[::5000].size)  # escapes included
    data = rans_encode(sym, tidx, cdfs, offsets)
    ideal = rans_cost_bits(sym, tidx, cdfs, offsets)
    assert len(data) * 8 <= ideal * 1.01 + 64
    assert len(data) * 8 >= ideal - 1  # and not below the model's own bound
    np.testing.assert_array_equal(rans_decode(data, tidx, cdfs, offsets), sym)


# ----------------------------------------------------------------------- hostile input


def _sample_stream(n=400, seed=2, escapes=True):
    cdfs, offsets, scales = logistic_tables()
    rng = np.random.default_rng(seed)
    tidx = rng.integers(0, len(scales), n)
    sym = np.round(rng.logistic(0, scales[tidx])).astype(np.int64)
    sym = np.clip(sym, offsets[tidx], offsets[tidx] + 2 * (-offsets[tidx]))  # inside every window
    if escapes:
        sym[::37] = rng.integers(I32_MIN, I32_MAX, sym[::37].size)
    return rans_encode(sym, tidx, cdfs, offsets), sym, tidx, cdfs, offsets


def test_truncated_streams_are_rejected():
    data, sym, tidx, cdfs, offsets = _sample_stream()
    for cut in range(0, len(data)):
        with pytest.raises(RansDecodeError):
            rans_decode(data[:cut], tidx, cdfs, offsets)
    with pytest.raises(RansDecodeError):  # trailing data is not accepted either
        rans_decode(data + b"\x00\x01", tidx, cdfs, offsets)
    with pytest.raises(RansDecodeError):  # nor a stream decoded as too few symbols
        rans_decode(data, tidx[:-1], cdfs, offsets)


def test_garbage_and_corruption_are_detected():
    """The final-state check catches almost every corruption of modelled symbols.

    Escape payloads are uniform (bypass) bits: flipping one changes that value and
    nothing else, which no coder can notice; the tile CRC catches it.  So this stream
    has no escapes.
    """
    data, sym, tidx, cdfs, offsets = _sample_stream(escapes=False)
    rng = np.random.default_rng(3)
    for _ in range(200):
        garbage = rng.integers(0, 256, len(data)).astype(np.uint8).tobytes()
        with pytest.raises(RansDecodeError):
            rans_decode(garbage, tidx, cdfs, offsets)
    detected = 0
    trials = 300
    for _ in range(trials):
        bad = bytearray(data)
        pos = int(rng.integers(0, len(bad)))
        bad[pos] ^= int(rng.integers(1, 256))
        try:
            out = rans_decode(bytes(bad), tidx, cdfs, offsets)
        except RansDecodeError:
            detected += 1
        else:
            assert out.shape == sym.shape  # undetected: still bounded, still the right length
    assert detected >= 0.95 * trials
    with pytest.raises(RansDecodeError):
        RansDecoder(b"\x00\x00\x00\x00")  # impossible initial state
    with pytest.raises(RansDecodeError):
        RansDecoder(b"\x00\x01\x00\x00\x12")  # odd length


def test_wrong_model_is_detected():
    data, sym, tidx, cdfs, offsets = _sample_stream()
    with pytest.raises(RansDecodeError):
        rans_decode(data, (tidx + 1) % cdfs.shape[0], cdfs, offsets)


def test_throughput_smoke():
    """Not a benchmark: catches a kernel falling out of nopython speed (>= 1e6 symbols per CPU second).

    Timed in CPU seconds of this process (``time.process_time``), not wall-clock, so a busy shared machine
    does not fail it; the warm-up call compiles the numba kernels first, so compile time is not counted.
    """
    cdfs, offsets, scales = logistic_tables()
    rng = np.random.default_rng(4)
    n = 300_000
    tidx = rng.integers(0, len(scales), n)
    sym = np.round(rng.logistic(0, scales[tidx])).astype(np.int64)
    rans_decode(rans_encode(sym[:10], tidx[:10], cdfs, offsets), tidx[:10], cdfs, offsets)
    t0 = time.process_time()
    data = rans_encode(sym, tidx, cdfs, offsets)
    t1 = time.process_time()
    rans_decode(data, tidx, cdfs, offsets)
    t2 = time.process_time()
    assert n / (t1 - t0) > 1e6 and n / (t2 - t1) > 1e6
