"""RICE_1 flight codec (``flight.rice``) byte for byte against two independent cfitsio-based oracles.

Oracle 1, ``imagecodecs.rcomp_encode(row, nblock=32)``: cfitsio's ``fits_rcomp*`` called directly on one row.
It picks the routine from the dtype's size and ignores byte order, so FITS (big-endian) data must be made native
first, or it codes byte-swapped pixels.

Oracle 2, astropy ``CompImageHDU(data, compression_type='RICE_1')``: written to a file, then read back with
``disable_image_compression=True``; row ``i`` of the binary table's ``COMPRESSED_DATA`` column is tile ``i``'s raw
RICE_1 bytes from the heap. What astropy (8.0) compresses, checked here:

- it always codes the *stored* integers, as cfitsio/fpack do: uint16 input is written with BZERO=32768 and the
  coded values are ``physical - 32768`` as int16; uint32 with BZERO=2**31 as int32; int8 with BZERO=-128 as
  ``physical + 128`` as uint8 (BITPIX 8 is unsigned in FITS). BYTEPIX (ZVAL2) is 1/2/4 for ZBITPIX 8/16/32,
  BLOCKSIZE (ZVAL1) 32, tiles one row (ZTILE1 = NAXIS1, ZTILE2 = 1).
- RICE codes differences modulo 2**BITPIX, so adding BZERO changes only the first pixel of each tile: the
  stream of the physical values and that of the stored values differ in exactly one bit, the MSB of the first
  byte. The honest comparison is therefore ``rice_encode(stored)`` against astropy's tiles, and for the BZERO
  frames we feed astropy both the stored int16 (no scaling) and the physical uint16 (astropy re-derives the
  stored values) and require the same bytes from both.

Frames: every integer image in ../shared/data/fits (planes of cubes as 2-D frames, floats skipped; skipped with
a reason when ../shared is absent) and the small crops in tests/data (always present). Synthetic edge cases cover
what real frames do not: 8-bit data, full ranges, constant and zero blocks, raw-escape blocks, 1x1, 1xN, odd and
prime sizes, long unary runs, block size 16. The decoder is fuzzed for truncated and garbage streams (hypothesis
example counts come from the profile in conftest.py: bounded in CI, HYPOTHESIS_PROFILE=campaign for a long run).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from hypothesis import given
from hypothesis import strategies as st

from flight.rice import (
    RiceDecodeError,
    rice_decode,
    rice_decode_tiles,
    rice_encode,
    rice_encode_tiles,
    rice_max_bytes,
    rice_ops_per_pixel,
)
from tests.shared_data import SHARED_FITS, TEST_DATA

imagecodecs = pytest.importorskip("imagecodecs")

# some shared headers are not FITS-clean (s06: non-ASCII, NUL padding); that is not what is tested here
pytestmark = pytest.mark.filterwarnings(
    "ignore::astropy.utils.exceptions.AstropyUserWarning", "ignore::astropy.io.fits.verify.VerifyWarning"
)

CROPS = sorted(TEST_DATA.glob("crop_*.fits"))


def _integer_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return [f for f in sorted(folder.glob("*.fits")) if fits.getheader(f)["BITPIX"] > 0]


SHARED_FILES = _integer_files(SHARED_FITS)
FRAME_FILES = [pytest.param(f, id=f"shared/{f.stem}") for f in SHARED_FILES] or [
    pytest.param(None, id="shared", marks=pytest.mark.skip(reason=f"{SHARED_FITS} not present"))
]
FRAME_FILES += [pytest.param(f, id=f"crop/{f.stem}") for f in CROPS]


def stored_planes(path: Path) -> list[tuple[np.ndarray, float | None]]:
    """The 2-D planes of every integer image HDU as stored integers in native order, with the HDU's BZERO."""
    planes = []
    with fits.open(path, do_not_scale_image_data=True) as hdul:
        for hdu in hdul:
            if not hdu.is_image or hdu.data is None or hdu.data.dtype.kind not in "iu":
                continue
            data = hdu.data.astype(hdu.data.dtype.newbyteorder("="))
            bzero = hdu.header.get("BZERO")
            planes += [(np.ascontiguousarray(p), bzero) for p in data.reshape(-1, *data.shape[-2:])]
    return planes


def astropy_tiles(data: np.ndarray, **kwargs) -> tuple[list[bytes], fits.Header]:
    """RICE_1 tile bytes as astropy writes them to a FITS heap, and the compressed table's header."""
    fd, path = tempfile.mkstemp(suffix=".fits")
    os.close(fd)
    try:
        hdu = fits.CompImageHDU(data, compression_type="RICE_1", **kwargs)
        fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(path, overwrite=True)
        with fits.open(path, disable_image_compression=True) as hdul:
            header = hdul[1].header.copy()
            tiles = [np.asarray(t, np.uint8).tobytes() for t in hdul[1].data["COMPRESSED_DATA"]]
    finally:
        os.remove(path)
    return tiles, header


def rcomp_rows(plane: np.ndarray, nblock: int = 32) -> list[bytes]:
    return [imagecodecs.rcomp_encode(np.ascontiguousarray(row), nblock=nblock) for row in plane]


def check_plane_against_rcomp(plane: np.ndarray, blocksize: int = 32) -> None:
    ours = [rice_encode(row, blocksize) for row in plane]
    assert ours == rcomp_rows(plane, blocksize)
    assert rice_encode_tiles(plane, blocksize=blocksize) == ours
    back = rice_decode_tiles(ours, plane.shape, None, plane.dtype.itemsize, blocksize)
    assert np.array_equal(back.view(plane.dtype), plane)


# ------------------------------------------------------------------------------------------- real frames


@pytest.mark.parametrize("path", FRAME_FILES)
def test_frames_match_rcomp_and_round_trip(path):
    """Oracle 1 on every row of every plane; the batch encoder and decoder agree."""
    planes = stored_planes(path)
    assert planes, f"{path.name}: no integer plane"
    for plane, _ in planes:
        check_plane_against_rcomp(plane)
        for row in plane[:: max(1, plane.shape[0] // 8)]:
            assert np.array_equal(rice_decode(rice_encode(row), row.size, row.dtype.itemsize).view(row.dtype), row)


@pytest.mark.parametrize("path", FRAME_FILES)
def test_frames_match_astropy_heap(path):
    """Oracle 2: astropy's heap bytes per row tile equal ours on the stored integers."""
    for k, (plane, bzero) in enumerate(stored_planes(path)):
        if k >= 2:  # cubes: two planes are enough for the astropy path (rcomp checks all of them)
            break
        tiles, header = astropy_tiles(plane)
        assert header["ZCMPTYPE"] == "RICE_1" and header["ZVAL1"] == 32
        assert header["ZVAL2"] == plane.dtype.itemsize and header["ZTILE1"] == plane.shape[1]
        ours = rice_encode_tiles(plane)
        assert tiles == ours
        if plane.dtype == np.int16 and bzero == 32768:
            physical = (plane.view(np.uint16) ^ np.uint16(0x8000))  # stored + 32768, as uint16
            phys_tiles, phys_header = astropy_tiles(physical)
            assert phys_header["BZERO"] == 32768
            assert phys_tiles == ours  # astropy codes the stored values, not the physical ones


def test_rcomp_ignores_byte_order():
    """Why the tests convert to native first: rcomp_encode codes the bytes in memory order."""
    x = np.array([1000, 1003, 998, 1200, 7], dtype=">i2")
    assert rice_encode(x) == imagecodecs.rcomp_encode(x.astype("<i2"), nblock=32)
    assert rice_encode(x) != imagecodecs.rcomp_encode(x, nblock=32)


# ------------------------------------------------------------------------------------------- synthetic


def _synthetic(kind: str, shape: tuple[int, int], dtype: np.dtype, rng: np.random.Generator) -> np.ndarray:
    info = np.iinfo(dtype)
    lo, hi = int(info.min), int(info.max)
    if kind == "zeros":
        a = np.zeros(shape, np.int64)
    elif kind == "constant":
        a = np.full(shape, int(rng.integers(lo, hi, endpoint=True)), np.int64)
    elif kind == "extremes":  # alternating min/max: every difference is the widest one
        a = np.where((np.indices(shape).sum(0) % 2) == 0, lo, hi)
    elif kind == "uniform":  # white noise over the full range: raw-escape blocks
        a = rng.integers(lo, hi, shape, endpoint=True)
    elif kind == "noise":
        a = np.clip(np.rint(rng.normal((lo + hi) / 2, 3.0, shape)), lo, hi).astype(np.int64)
    elif kind == "spikes":  # quiet rows with rare full-scale spikes: long unary runs
        a = np.full(shape, lo + 5, np.int64) + rng.integers(0, 2, shape)
        a[rng.random(shape) < 0.02] = hi
    elif kind == "ramp":
        a = lo + (np.arange(np.prod(shape)).reshape(shape) * 7) % (hi - lo + 1)
    else:
        raise AssertionError(kind)
    return a.astype(dtype)


DTYPES = [np.dtype(np.uint8), np.dtype(np.int16), np.dtype(np.int32)]
KINDS = ["zeros", "constant", "extremes", "uniform", "noise", "spikes", "ramp"]
SHAPES = [(1, 1), (1, 2), (1, 31), (1, 32), (1, 33), (3, 7), (13, 97), (31, 37), (5, 257)]


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("kind", KINDS)
def test_synthetic_match_rcomp_and_round_trip(dtype, kind, rng):
    for shape in SHAPES:
        plane = _synthetic(kind, shape, dtype, rng)
        check_plane_against_rcomp(plane)
        check_plane_against_rcomp(plane, blocksize=16)
        whole = rice_encode(plane)  # one tile for the whole plane, C order
        assert whole == imagecodecs.rcomp_encode(plane.reshape(-1), nblock=32)
        assert np.array_equal(rice_decode(whole, plane.size, dtype.itemsize).reshape(shape).view(dtype), plane)


@pytest.mark.parametrize("dtype", DTYPES + [np.dtype(np.uint16), np.dtype(np.int8)], ids=str)
def test_synthetic_match_astropy(dtype, rng):
    """Oracle 2 on full-range, escape, zero-block and spike data, including uint16 (BZERO) and int8 input."""
    for kind in ("extremes", "uniform", "spikes", "zeros", "noise"):
        plane = _synthetic(kind, (6, 77), dtype, rng)
        tiles, header = astropy_tiles(plane)
        stored = plane
        if dtype == np.uint16:
            stored = (plane.astype(np.int32) - 32768).astype(np.int16)
            assert header["BZERO"] == 32768
        elif dtype == np.int8:
            stored = (plane.astype(np.int16) + 128).astype(np.uint8)
            assert header["BZERO"] == -128
        assert tiles == rice_encode_tiles(stored)
        if dtype in (np.uint16, np.int8):  # physical vs stored: only the MSB of the first byte differs
            for ours_phys, theirs in zip(rice_encode_tiles(plane), tiles, strict=True):
                assert ours_phys[0] ^ theirs[0] == 0x80 and ours_phys[1:] == theirs[1:]


def test_full_range_16_bit():
    """0/65535 (uint16 stored as int16 via BZERO) and -32768/32767, in both orders and as single pixels."""
    phys = np.array([[0, 65535, 0, 65535, 65535, 0] * 11], np.uint16)
    stored = (phys.astype(np.int32) - 32768).astype(np.int16)
    for plane in (stored, np.array([[-32768, 32767] * 40], np.int16), np.array([[32767, -32768]], np.int16)):
        check_plane_against_rcomp(plane)
        assert astropy_tiles(plane)[0] == rice_encode_tiles(plane)
    for v in (-32768, -1, 0, 1, 32767):
        one = np.array([[v]], np.int16)
        assert rice_encode(one) == imagecodecs.rcomp_encode(one.reshape(-1), nblock=32)
        assert len(rice_encode(one)) == 3  # 16 raw bits + a 4-bit zero-block code, padded


def test_rectangular_tiles_match_astropy(rng):
    """Rectangular tiles (edge tiles smaller, pixels of a tile in C order) as astropy lays them out."""
    plane = (1000 + rng.poisson(30, (45, 70))).astype(np.int16)
    for tile in ((16, 16), (7, 13), (45, 70), (1, 70)):
        tiles, header = astropy_tiles(plane, tile_shape=tile)
        assert (header["ZTILE2"], header["ZTILE1"]) == tile
        ours = rice_encode_tiles(plane, tile)
        assert tiles == ours
        assert np.array_equal(rice_decode_tiles(ours, plane.shape, tile, 2), plane)


def test_any_byte_order_and_signedness():
    x = np.array([[5, 9, 65535, 0, 32768]], np.uint16)
    ref = rice_encode(x.view(np.int16))
    assert rice_encode(x) == ref and rice_encode(x.astype(">u2")) == ref
    assert rice_encode(x.astype(">u2").view(">i2")) == ref
    big = np.array([[7, -7, 2**31 - 1, -(2**31)]], ">i4")
    assert rice_encode(big) == imagecodecs.rcomp_encode(big.astype("<i4").reshape(-1), nblock=32)
    assert rice_encode(np.asfortranarray(np.arange(12, dtype=np.int16).reshape(3, 4))) == rice_encode(
        np.arange(12, dtype=np.int16)
    )


def test_rejects_what_rice_cannot_code():
    for bad in (np.zeros(3, np.float32), np.zeros(3, np.int64), np.zeros(0, np.int16)):
        with pytest.raises(ValueError):
            rice_encode(bad)
    with pytest.raises(ValueError):
        rice_encode(np.zeros(3, np.int16), blocksize=8)
    with pytest.raises(ValueError):
        rice_decode(b"\0\0\0", 1, 3)


def test_output_bound_holds_for_worst_cases(rng):
    """The pre-allocated worst case is never exceeded (the kernel writes without bounds checks)."""
    for dtype in DTYPES:
        for kind in ("uniform", "spikes", "extremes"):
            x = _synthetic(kind, (1, 4097), dtype, rng).reshape(-1)
            assert len(rice_encode(x)) <= rice_max_bytes(x.size, dtype.itemsize)
        info = np.iinfo(dtype)  # one spike per quiet block: the longest unary codes the heuristic allows
        x = np.zeros(32 * 50, dtype)
        x[::32] = info.max
        assert len(rice_encode(x)) <= rice_max_bytes(x.size, dtype.itemsize)
        assert rice_encode(x) == imagecodecs.rcomp_encode(x, nblock=32)


def test_ops_model():
    costs = [rice_ops_per_pixel(b) for b in (1, 2, 4)]
    for c in costs:
        assert c.int_ops > 0 and c.mem_ops > 0 and c.total == c.int_ops + c.mem_ops
    assert costs[0].total < costs[1].total < costs[2].total
    with pytest.raises(ValueError):
        rice_ops_per_pixel(3)


# ------------------------------------------------------------------------------------------- hostile input


def _valid_stream(rng, dtype=np.int16, n=200):
    return _synthetic("noise", (1, n), np.dtype(dtype), rng).reshape(-1)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_every_truncation_is_rejected(dtype, rng):
    for kind in ("noise", "uniform", "zeros", "spikes"):
        x = _synthetic(kind, (1, 150), dtype, rng).reshape(-1)
        data = rice_encode(x)
        for cut in range(len(data)):
            with pytest.raises(RiceDecodeError, match="truncated"):
                rice_decode(data[:cut], x.size, dtype.itemsize)


def test_trailing_bytes_and_wrong_length_are_rejected(rng):
    x = _valid_stream(rng)
    data = rice_encode(x)
    with pytest.raises(RiceDecodeError, match="unused bytes"):
        rice_decode(data + b"\0", x.size, 2)
    with pytest.raises(RiceDecodeError):
        rice_decode(data, x.size + 40, 2)
    with pytest.raises(RiceDecodeError, match="cannot hold"):  # refused before allocating
        rice_decode(data, 10**12, 2)
    assert np.array_equal(rice_decode(bytearray(data), x.size, 2), x)
    assert np.array_equal(rice_decode(memoryview(data), x.size, 2), x)


def test_impossible_codes_are_rejected():
    # 32-bit: split code 31 means fs = 30 > FSMAX = 25
    with pytest.raises(RiceDecodeError, match="split code"):
        rice_decode(b"\0\0\0\0" + bytes([0b11111000]) + b"\xff" * 8, 4, 4)
    # 16-bit: fs = 0 and 70000 zeros before the one-bit: a difference wider than 16 bits
    stream = b"\0\0" + bytes([0b00010000]) + bytes(70000 // 8) + b"\xff" * 4
    with pytest.raises(RiceDecodeError, match="wider than the pixel"):
        rice_decode(stream, 2, 2)
    # a run of zeros to the end of the data: truncated, and no read past it
    with pytest.raises(RiceDecodeError, match="truncated"):
        rice_decode(b"\0\0" + bytes([0b00010000]) + bytes(100), 2, 2)


def test_tile_decoder_names_the_bad_tile(rng):
    plane = (1000 + rng.poisson(30, (4, 50))).astype(np.int16)
    tiles = rice_encode_tiles(plane)
    tiles[2] = tiles[2][:-2]
    with pytest.raises(RiceDecodeError, match="tile 2"):
        rice_decode_tiles(tiles, plane.shape, None, 2)


@given(data=st.binary(min_size=0, max_size=300), npix=st.integers(1, 400), bytepix=st.sampled_from([1, 2, 4]))
def test_garbage_never_crashes(data, npix, bytepix):
    try:
        out = rice_decode(data, npix, bytepix)
    except RiceDecodeError:
        return
    assert out.shape == (npix,) and out.dtype.itemsize == bytepix
    assert rice_decode(rice_encode(out), npix, bytepix).tobytes() == out.tobytes()


@given(
    values=st.lists(st.integers(-(2**31), 2**31 - 1), min_size=1, max_size=200),
    bytepix=st.sampled_from([1, 2, 4]),
    flip=st.integers(0, 10**6),
    blocksize=st.sampled_from([16, 32]),
)
def test_round_trip_and_bit_flips(values, bytepix, flip, blocksize):
    dtype = {1: np.uint8, 2: np.int16, 4: np.int32}[bytepix]
    x = np.array(values, np.int64).astype(dtype)  # wraps: any integers become valid pixels
    data = rice_encode(x, blocksize)
    assert data == imagecodecs.rcomp_encode(x, nblock=blocksize)
    assert np.array_equal(rice_decode(data, x.size, bytepix, blocksize), x)
    bad = bytearray(data)
    bad[flip % len(bad)] ^= 1 << (flip % 8)
    try:
        out = rice_decode(bytes(bad), x.size, bytepix, blocksize)
    except RiceDecodeError:
        return
    assert out.shape == x.shape
