"""RICE_1 flight codec: integer-only, byte-identical to cfitsio's ``ricecomp.c``.

Why this exists: RICE_1 is the FITS tiled-image codec every archive already reads (fpack, astropy, cfitsio),
so a tile coded onboard can be dropped into a FITS file on the ground unchanged. The flight software cannot
link cfitsio, and the simulator needs an op-count model of the same loop, so the coder lives here in numba,
written from the algorithm (not translated line by line), with cfitsio as the oracle in the tests.

Bitstream of one tile (MSB first, no header, last byte zero-padded), for BYTEPIX b in {1, 2, 4}
(``FSBITS``/``FSMAX`` = 3/6, 4/14, 5/25; raw width ``BBITS = 2**FSBITS`` = 8, 16, 32):

- the first pixel, raw, in ``8*b`` bits (two's complement);
- then blocks of ``blocksize`` pixels (the last one may be shorter) of differences from the previous pixel,
  wrapped to ``8*b`` bits and zigzag-mapped (``d >= 0 -> 2d``, ``d < 0 -> -2d-1``; the first difference is 0);
- each block starts with an FSBITS code: 0 = every difference is zero (nothing follows); ``FSMAX+1`` =
  escape, every mapped difference follows raw in BBITS bits; otherwise ``fs+1``, then per pixel the Rice code
  of ``v``: ``v >> fs`` zeros, a one, and the low ``fs`` bits of ``v``;
- ``fs`` is cfitsio's heuristic, here in integers: ``F = max(S - n//2 - 1, 0) // n`` for the block's sum S of
  mapped differences and length n, ``fs = bit_length(F >> 1)``; ``fs >= FSMAX`` selects the escape.
  (cfitsio computes F in double precision; below 2**53 that is exactly the integer floor.)

The kernels take and give pixels as raw native-order bytes and view them as uint8/int16/int32 inside, so one
compiled version serves all three pixel sizes (numba compiles per argument type, and each costs seconds).
The decoder is strict: a truncated stream, an impossible split code, a difference wider than the pixel, or
bytes left over after the last block raise :class:`RiceDecodeError`; it never reads past its input.
"""

from __future__ import annotations

import numpy as np
from numba import njit, types
from numba.extending import intrinsic

from flight.codecs.base import OpCounts
from flight.errors import FormatError

__all__ = [
    "RICE_PARAMS",
    "RiceDecodeError",
    "rice_decode",
    "rice_decode_tiles",
    "rice_encode",
    "rice_encode_tiles",
    "rice_encode_tiles_buffer",
    "rice_max_bytes",
    "rice_ops_per_pixel",
]

#: BYTEPIX -> (FSBITS, FSMAX), from cfitsio ricecomp.c
RICE_PARAMS: dict[int, tuple[int, int]] = {1: (3, 6), 2: (4, 14), 4: (5, 25)}
_DTYPES: dict[int, np.dtype] = {1: np.dtype(np.uint8), 2: np.dtype(np.int16), 4: np.dtype(np.int32)}
_U8 = np.dtype(np.uint8)

# decoder status codes (returned from numba, turned into messages here)
_OK, _TRUNCATED, _BAD_FS, _WIDE_DIFF, _TRAILING = 0, 1, 2, 3, 4
_REASONS = {
    _TRUNCATED: "stream truncated: it ends before the last block is complete",
    _BAD_FS: "malformed stream: split code beyond FSMAX+1",
    _WIDE_DIFF: "malformed stream: a Rice code decodes to a difference wider than the pixel",
    _TRAILING: "malformed stream: unused bytes after the last block",
}


class RiceDecodeError(FormatError):
    """A RICE_1 stream that cannot be decoded: truncated or malformed (the message says which)."""


# --------------------------------------------------------------------------------------------------- kernels


@intrinsic
def _clz64(typingctx, x):
    """Count leading zeros of a 64-bit integer (LLVM ctlz; 64 for zero)."""
    sig = types.int64(types.int64)

    def codegen(context, builder, signature, args):
        return builder.ctlz(args[0], context.get_constant(types.boolean, False))

    return sig, codegen


@njit(cache=True)
def _put(out, pos, acc, nb, value, n):
    """Append the low ``n`` (<= 32) bits of ``value``; flush 32 bits when the accumulator holds 32 or more.

    Invariant: fewer than 32 bits are pending on entry, so at most 63 are pending before the flush.
    Bits above the pending ones are garbage and are never written. Used once per block; the per-pixel loops
    write inline (numba's call overhead for the tuple-returning helper halved the speed).
    """
    acc = (acc << n) | value
    nb += n
    if nb >= 32:
        nb -= 32
        w = acc >> nb
        out[pos] = (w >> 24) & 0xFF
        out[pos + 1] = (w >> 16) & 0xFF
        out[pos + 2] = (w >> 8) & 0xFF
        out[pos + 3] = w & 0xFF
        pos += 4
    return pos, acc, nb


@njit(cache=True)
def _params(bits):
    if bits == 8:
        return 3, 6
    if bits == 16:
        return 4, 14
    return 5, 25


@njit(cache=True)
def _zigzag_loop(x, z, mask, half):
    z[0] = 0  # the first difference is always zero
    for i in range(1, x.size):
        d = (np.int64(x[i]) - np.int64(x[i - 1])) & mask
        sd = (d ^ half) - half  # wrapped to a signed value
        z[i] = ((sd << 1) ^ (sd >> 63)) & mask  # zigzag: d >= 0 -> 2d, d < 0 -> -2d-1
    return np.int64(x[0]) & mask


@njit(cache=True)
def _zigzag(xb, off, n, bits, z):
    """Mapped differences of the ``n`` native-order pixels at byte ``off`` of ``xb`` into ``z[:n]``; return pixel 0.

    A loop without carried state (each difference reads both pixels), which the compiler vectorises. The typed
    views are compiled once each, inside this one function, whatever dtype the caller had.
    """
    mask = (np.int64(1) << bits) - 1
    half = np.int64(1) << (bits - 1)
    if bits == 8:
        return _zigzag_loop(xb[off : off + n], z, mask, half)
    if bits == 16:
        return _zigzag_loop(xb[off : off + 2 * n].view(np.int16), z, mask, half)
    return _zigzag_loop(xb[off : off + 4 * n].view(np.int32), z, mask, half)


@njit(cache=True)
def _encode_into(xb, off, n, bits, blocksize, out, pos, z):
    """Code ``n`` pixels (native order, ``bits`` wide, at byte ``off`` of ``xb``) into ``out`` from ``pos``.

    ``z`` is scratch of at least ``n`` entries for the mapped differences. Returns the new output position.
    """
    fsbits, fsmax = _params(bits)
    bbits = 1 << fsbits
    first = _zigzag(xb, off, n, bits, z)
    acc = np.int64(0)
    nb = np.int64(0)  # typed zeros: a literal 0 passed to a callee would compile a variant of it
    if bits == 32:  # the first pixel: 32 bits in two puts keeps the accumulator under 64 bits
        pos, acc, nb = _put(out, pos, acc, nb, first >> 16, np.int64(16))
        pos, acc, nb = _put(out, pos, acc, nb, first & 0xFFFF, np.int64(16))
    else:
        pos, acc, nb = _put(out, pos, acc, nb, first, bits)
    for i in range(0, n, blocksize):
        m = min(blocksize, n - i)
        s = np.int64(0)
        for j in range(i, i + m):
            s += z[j]
        f = s - (m >> 1) - 1  # cfitsio: (double)(sum - n/2 - 1) / n, clipped at 0, truncated
        f = (f // m) if f > 0 else 0
        fs = 64 - _clz64(f >> 1)  # bit length
        if fs >= fsmax:  # escape: mapped differences raw
            pos, acc, nb = _put(out, pos, acc, nb, fsmax + 1, fsbits)
            for j in range(i, i + m):
                acc = (acc << bbits) | z[j]
                nb += bbits
                if nb >= 32:
                    nb -= 32
                    w = acc >> nb
                    out[pos] = (w >> 24) & 0xFF
                    out[pos + 1] = (w >> 16) & 0xFF
                    out[pos + 2] = (w >> 8) & 0xFF
                    out[pos + 3] = w & 0xFF
                    pos += 4
        elif s == 0:  # every difference zero
            pos, acc, nb = _put(out, pos, acc, nb, np.int64(0), fsbits)
        else:
            pos, acc, nb = _put(out, pos, acc, nb, fs + 1, fsbits)
            one = np.int64(1) << fs
            fsmask = one - 1
            for j in range(i, i + m):
                v = z[j]
                top = v >> fs
                length = top + 1 + fs
                if length <= 32:  # the usual case: the whole code word in one write
                    acc = (acc << length) | (one | (v & fsmask))
                    nb += length
                    if nb >= 32:
                        nb -= 32
                        w = acc >> nb
                        out[pos] = (w >> 24) & 0xFF
                        out[pos + 1] = (w >> 16) & 0xFF
                        out[pos + 2] = (w >> 8) & 0xFF
                        out[pos + 3] = w & 0xFF
                        pos += 4
                else:  # long unary run (a spike in a quiet block): zeros first, then the one and the low bits
                    while top > 0:
                        k = min(top, 32)
                        pos, acc, nb = _put(out, pos, acc, nb, np.int64(0), k)
                        top -= k
                    pos, acc, nb = _put(out, pos, acc, nb, one | (v & fsmask), fs + 1)
    while nb > 0:  # flush whole bytes, then the zero-padded last byte
        if nb >= 8:
            nb -= 8
            out[pos] = (acc >> nb) & 0xFF
        else:
            out[pos] = (acc << (8 - nb)) & 0xFF
            nb = 0
        pos += 1
    return pos


@njit(cache=True)
def _encode_tiles(xb, rows, cols, bits, blocksize, trows, tcols, out, offsets):
    """Code every tile of a plane (native-order bytes ``xb``, C order) into ``out``; tile t ends at ``offsets[t+1]``.

    Tiles are row-major over the grid, a tile's pixels in C order. This is the only encoder entry point (a single
    tile is a 1 x N plane). ``out`` must hold ``ntiles * rice_max_bytes(tile pixels)``; the caller allocates it and
    ``offsets`` (ntiles + 1), so that nothing but an integer is boxed on return. Returns the total length.
    """
    bp = bits // 8
    nty = (rows + trows - 1) // trows
    ntx = (cols + tcols - 1) // tcols
    tile = np.empty(trows * tcols * bp if trows > 1 else 0, np.uint8)
    z = np.empty(trows * tcols, np.int64)
    pos = np.int64(0)
    t = 0
    offsets[0] = 0
    for ty in range(nty):
        r0 = ty * trows
        r1 = min(r0 + trows, rows)
        for tx in range(ntx):
            c0 = tx * tcols
            c1 = min(c0 + tcols, cols)
            if r1 - r0 == 1 or c1 - c0 == cols:  # the tile is contiguous in the plane
                pos = _encode_into(xb, (r0 * cols + c0) * bp, (r1 - r0) * (c1 - c0), bits, blocksize, out, pos, z)
            else:
                k = 0
                w = (c1 - c0) * bp
                for r in range(r0, r1):
                    src = (r * cols + c0) * bp
                    tile[k : k + w] = xb[src : src + w]
                    k += w
                pos = _encode_into(tile, np.int64(0), k // bp, bits, blocksize, out, pos, z)
            t += 1
            offsets[t] = pos
    return pos


@njit(cache=True)
def _refill(buf, plen, pos, acc, nb):
    """Load whole bytes into the accumulator while it has room: at most 63 bits pending, so that
    ``(1 << nb) - 1`` stays a defined int64 mask."""
    while nb <= 55 and pos < plen:
        acc = (acc << 8) | np.int64(buf[pos])
        pos += 1
        nb += 8
    return pos, acc, nb


@njit(cache=True)
def _decode_into(buf, start, nbytes, npix, bits, blocksize, vals):
    """Decode one tile of ``npix`` pixels from ``buf[start:start+nbytes]`` into ``vals[:npix]`` (int64, unsigned).

    ``buf`` must extend at least 8 bytes past ``start + nbytes`` (zeros or the next tile): the reader may look
    ahead that far, and every look-ahead is checked against ``nbytes`` before the result is accepted. The
    accumulator ``acc`` holds ``nb`` (<= 63) unread bits in its low end. Returns a status code (0 = ok).
    """
    fsbits, fsmax = _params(bits)
    bbits = 1 << fsbits
    mask = (np.int64(1) << bits) - 1
    plen = start + nbytes + 8  # bytes the reader may load (look-ahead window)
    if nbytes * 8 < bits + fsbits:
        return _TRUNCATED
    pos = start
    acc = np.int64(0)
    nb = np.int64(0)
    pos, acc, nb = _refill(buf, plen, pos, acc, nb)
    nb -= bits
    last = (acc >> nb) & mask
    i = 0
    while i < npix:
        imax = min(i + blocksize, npix)
        if nb < 32:
            pos, acc, nb = _refill(buf, plen, pos, acc, nb)
        nb -= fsbits
        if nb < 0:
            return _TRUNCATED
        fs = ((acc >> nb) & ((1 << fsbits) - 1)) - 1
        if fs < 0:  # all differences zero
            for k in range(i, imax):
                vals[k] = last
        elif fs == fsmax:  # escape: mapped differences raw in BBITS bits
            for k in range(i, imax):
                if nb < 32:
                    if pos + 4 <= plen:
                        acc = (acc << 32) | (np.int64(buf[pos]) << 24) | (np.int64(buf[pos + 1]) << 16) | (
                            np.int64(buf[pos + 2]) << 8) | np.int64(buf[pos + 3])
                        pos += 4
                        nb += 32
                    else:
                        pos, acc, nb = _refill(buf, plen, pos, acc, nb)
                    if nb < bbits:
                        return _TRUNCATED
                nb -= bbits
                v = (acc >> nb) & mask
                last = (last + ((v >> 1) ^ -(v & 1))) & mask  # undo the zigzag and the difference
                vals[k] = last
        elif fs > fsmax:
            return _BAD_FS
        else:
            maxtop = mask >> fs  # a longer unary run would give a difference wider than the pixel
            fsmask = (np.int64(1) << fs) - 1
            for k in range(i, imax):
                if nb < 32:
                    if pos + 4 <= plen:
                        acc = (acc << 32) | (np.int64(buf[pos]) << 24) | (np.int64(buf[pos + 1]) << 16) | (
                            np.int64(buf[pos + 2]) << 8) | np.int64(buf[pos + 3])
                        pos += 4
                        nb += 32
                    else:
                        pos, acc, nb = _refill(buf, plen, pos, acc, nb)
                w = acc & ((np.int64(1) << nb) - 1)
                if w != 0:  # the usual case: the one-bit is in the window
                    zc = _clz64(w) - (64 - nb)
                    top = zc
                    nb -= zc + 1
                else:  # a long run of zeros: consume it window by window
                    top = nb
                    nb = np.int64(0)
                    while True:
                        if top > maxtop:  # past the end of the data it is a truncation, not a bad code
                            return _TRUNCATED if (pos - start) * 8 > nbytes * 8 else _WIDE_DIFF
                        pos, acc, nb = _refill(buf, plen, pos, acc, nb)
                        if nb == 0:
                            return _TRUNCATED
                        w = acc & ((np.int64(1) << nb) - 1)
                        if w != 0:
                            zc = _clz64(w) - (64 - nb)
                            top += zc
                            nb -= zc + 1
                            break
                        top += nb
                        nb = np.int64(0)
                if top > maxtop:
                    return _TRUNCATED if (pos - start) * 8 - nb > nbytes * 8 else _WIDE_DIFF
                if nb < fs:
                    pos, acc, nb = _refill(buf, plen, pos, acc, nb)
                    if nb < fs:
                        return _TRUNCATED
                nb -= fs
                v = (top << fs) | ((acc >> nb) & fsmask)
                last = (last + ((v >> 1) ^ -(v & 1))) & mask
                vals[k] = last
        i = imax
        if (pos - start) * 8 - nb > nbytes * 8:  # the block used look-ahead bytes: the stream is short
            return _TRUNCATED
    used = ((pos - start) * 8 - nb + 7) // 8
    if used < nbytes:
        return _TRAILING
    return _OK


@njit(cache=True)
def _put_pixels(ob, o, vals, n, bits):
    """Store ``vals[:n]`` as native-order pixels ``o...`` of the byte buffer ``ob`` (typed views: one pass)."""
    bp = bits // 8
    if bits == 8:
        ob[o : o + n] = vals[:n]
    elif bits == 16:
        ob[o * bp : (o + n) * bp].view(np.int16)[:] = vals[:n]
    else:
        ob[o * bp : (o + n) * bp].view(np.int32)[:] = vals[:n]


@njit(cache=True)
def _decode_tiles(raw, meta, bits, blocksize, ob):
    """Decode consecutive tiles from ``raw`` into ``ob`` (native-order pixels of ``bits/8`` bytes).

    ``raw`` is a Python ``bytes`` object (numba types it directly; a fresh read-only ndarray would take numba's
    slow argument-typing path on every call). ``meta`` is ``[bytes of tile 0, pixels of tile 0, bytes of tile 1,
    ...]``. The only decoder entry point. Copies ``raw`` into a zero-padded buffer for the reader's look-ahead.
    Returns 0, or on the first bad tile t ``status + 8 * t`` (one integer: cheaper to return than a tuple).
    """
    ntiles = meta.size // 2
    n = len(raw)
    buf = np.zeros(n + 16, np.uint8)
    for i in range(n):
        buf[i] = raw[i]
    most = 0
    for t in range(ntiles):
        most = max(most, meta[2 * t + 1])
    vals = np.empty(most, np.int64)
    start = np.int64(0)
    o = np.int64(0)
    for t in range(ntiles):
        nbytes = meta[2 * t]
        npix = meta[2 * t + 1]
        st = _decode_into(buf, start, nbytes, npix, bits, blocksize, vals)
        if st != 0:
            return st + 8 * t
        _put_pixels(ob, o, vals, npix, bits)
        start += nbytes
        o += npix
    return 0


# --------------------------------------------------------------------------------------------------- Python API


def _check_blocksize(blocksize: int) -> None:
    if blocksize != 32 and blocksize != 16:
        raise ValueError(f"RICE_1 block size must be 16 or 32, not {blocksize!r}")


# every integer dtype RICE_1 codes -> (BYTEPIX, whether it must be byte-swapped to native order)
_LAYOUT: dict[np.dtype, tuple[int, bool]] = {
    np.dtype(t).newbyteorder(order): (np.dtype(t).itemsize, not np.dtype(t).newbyteorder(order).isnative)
    for t in (np.uint8, np.int8, np.int16, np.uint16, np.int32, np.uint32)
    for order in "<>="
}


def _native_bytes(pixels: np.ndarray) -> tuple[np.ndarray, int, tuple[int, ...]]:
    """``pixels`` as a 1-D uint8 view of native-order C-order pixels, with BYTEPIX and the shape.

    Signedness does not change a RICE_1 stream (differences wrap, the first pixel is written as raw bits), so
    int8/uint16/uint32 code exactly like their two's-complement partners uint8/int16/int32. (Kept lean: it
    runs once per tile when tiles are coded one call at a time.)
    """
    a = pixels if type(pixels) is np.ndarray else np.asarray(pixels)
    layout = _LAYOUT.get(a.dtype)
    if layout is None:
        raise ValueError(f"RICE_1 codes 8-, 16- or 32-bit integers, not {a.dtype}")
    if layout[1]:
        a = a.astype(a.dtype.newbyteorder("="))  # byte-swapped (e.g. big-endian FITS) data; C order
    elif not a.flags.c_contiguous:
        a = np.ascontiguousarray(a)
    xb = np.frombuffer(a, _U8) if a.size else np.empty(0, _U8)
    if not xb.flags.writeable:  # the kernel is compiled for writable buffers only (one variant; never written)
        xb = xb.copy()
    return xb, layout[0], a.shape


def rice_max_bytes(npix: int, bytepix: int, blocksize: int = 32) -> int:
    """An upper bound on the coded size of ``npix`` pixels of ``bytepix`` bytes (the output is pre-allocated to it).

    Per block the Rice codes take ``n*(fs+1) + sum(v >> fs)`` bits with ``fs <= FSMAX-1``, and the split
    heuristic bounds ``sum(v >> fs) <= 2n + n//2``; so every pixel costs under ``BBITS + 4`` bits, plus FSBITS
    per block and the first pixel. The kernel writes without bounds checks and relies on this bound.
    """
    fsbits = RICE_PARAMS[bytepix][0]
    return bytepix + (npix * ((1 << fsbits) + 4) + -(-npix // blocksize) * fsbits + 7) // 8 + 16


def rice_encode(pixels: np.ndarray, blocksize: int = 32) -> bytes:
    """Code one tile of stored FITS integers (uint8, int16 or int32; any shape, any byte order; C order).

    BYTEPIX is the dtype's size. int8/uint16/uint32 give the same bytes as their two's-complement partners:
    pass the *stored* integers to get the bytes a FITS file holds. Returns cfitsio's RICE_1 bytes for the tile.
    Each call costs a few microseconds of Python and dispatch overhead; for a whole frame of small tiles,
    :func:`rice_encode_tiles` (one compiled call) is about twice as fast.
    """
    _check_blocksize(blocksize)
    xb, bp, _ = _native_bytes(pixels)
    n = xb.size // bp
    if n == 0:
        raise ValueError("RICE_1 needs at least one pixel")
    out = np.empty(rice_max_bytes(n, bp, blocksize), _U8)
    size = _encode_tiles(xb, 1, n, 8 * bp, blocksize, 1, n, out, np.empty(2, np.int64))
    return out[:size].tobytes()


def rice_encode_tiles_buffer(
    plane: np.ndarray, tile_shape: tuple[int, int] | None = None, blocksize: int = 32
) -> tuple[np.ndarray, np.ndarray]:
    """Code every tile of a 2-D plane in one compiled call; return one uint8 buffer and the tile offsets.

    ``tile_shape`` is (tile rows, tile cols), default one row (``ZTILE1 = NAXIS1``, like fpack). Tile ``t`` is
    ``buffer[offsets[t]:offsets[t+1]]``; tiles are row-major over the grid, edge tiles smaller.
    """
    _check_blocksize(blocksize)
    xb, bp, shape = _native_bytes(plane)
    if len(shape) != 2 or xb.size == 0:
        raise ValueError(f"expected a non-empty 2-D plane, got shape {shape}")
    rows, cols = shape
    trows, tcols = tile_shape if tile_shape is not None else (1, cols)
    if not (1 <= trows <= rows and 1 <= tcols <= cols):
        raise ValueError(f"tile shape {(trows, tcols)} does not fit plane {shape}")
    ntiles = -(-rows // trows) * -(-cols // tcols)
    out = np.empty(ntiles * rice_max_bytes(trows * tcols, bp, blocksize), _U8)
    offsets = np.empty(ntiles + 1, np.int64)
    size = _encode_tiles(xb, rows, cols, 8 * bp, blocksize, trows, tcols, out, offsets)
    return out[:size], offsets


def rice_encode_tiles(
    plane: np.ndarray, tile_shape: tuple[int, int] | None = None, blocksize: int = 32
) -> list[bytes]:
    """Code every tile of a 2-D plane in one compiled call (the flight path: no per-tile Python overhead).

    Same tiling as :func:`rice_encode_tiles_buffer`; entry ``t`` equals ``rice_encode(tile t)``.
    """
    buf, offsets = rice_encode_tiles_buffer(plane, tile_shape, blocksize)
    return [buf[offsets[t] : offsets[t + 1]].tobytes() for t in range(offsets.size - 1)]


def _raise(status: int, where: str = "") -> None:
    raise RiceDecodeError(_REASONS.get(status, f"decoder status {status}") + where)


def rice_decode(data: bytes, npix: int, bytepix: int, blocksize: int = 32) -> np.ndarray:
    """Decode one tile: a 1-D array of ``npix`` values, uint8/int16/int32 (native) for BYTEPIX 1/2/4.

    Raises :class:`RiceDecodeError` (a FormatError) on a truncated or malformed stream, including bytes left over
    after the last block; never reads outside ``data``. ``npix`` is checked against what ``data`` could hold
    (all-zero blocks of FSBITS bits each) before anything is allocated. ``bytes`` input is used as it is; other
    buffers are copied once. For a whole frame, :func:`rice_decode_tiles` saves the per-call overhead.
    """
    params = RICE_PARAMS.get(bytepix)
    if params is None or (blocksize != 32 and blocksize != 16) or npix < 1:
        _check_blocksize(blocksize)
        if params is None:
            raise ValueError(f"BYTEPIX must be 1, 2 or 4, not {bytepix!r}")
        raise ValueError(f"npix must be at least 1, not {npix!r}")
    if type(data) is not bytes:
        data = memoryview(data).tobytes()  # bytearray, memoryview, ndarray: one compiled variant (bytes)
    n = len(data)
    if npix > (n * 8 - 8 * bytepix) // params[0] * blocksize:
        _raise(_TRUNCATED, f" ({n} bytes cannot hold {npix} pixels)")
    ob = np.empty(npix * bytepix, _U8)
    status = _decode_tiles(data, np.array([n, npix], np.int64), 8 * bytepix, blocksize, ob)
    if status:
        _raise(status)
    return ob.view(_DTYPES[bytepix])


def rice_decode_tiles(
    payloads: list[bytes],
    shape: tuple[int, int],
    tile_shape: tuple[int, int] | None,
    bytepix: int,
    blocksize: int = 32,
) -> np.ndarray:
    """Decode the row-major tiles of a 2-D plane of ``shape`` in one compiled call; return the plane.

    ``tile_shape`` as in :func:`rice_encode_tiles_buffer` (None = one row). A bad tile raises
    :class:`RiceDecodeError` naming its index.
    """
    _check_blocksize(blocksize)
    if bytepix not in RICE_PARAMS:
        raise ValueError(f"BYTEPIX must be 1, 2 or 4, not {bytepix!r}")
    rows, cols = shape
    trows, tcols = tile_shape if tile_shape is not None else (1, cols)
    row_edges = [(r, min(r + trows, rows)) for r in range(0, rows, trows)]
    col_edges = [(c, min(c + tcols, cols)) for c in range(0, cols, tcols)]
    if len(payloads) != len(row_edges) * len(col_edges):
        raise ValueError(f"expected {len(row_edges) * len(col_edges)} tiles, got {len(payloads)}")
    meta = np.empty(2 * len(payloads), np.int64)
    meta[0::2] = [len(p) for p in payloads]
    meta[1::2] = [(r1 - r0) * (c1 - c0) for r0, r1 in row_edges for c0, c1 in col_edges]
    most = (meta[0::2] * 8 - 8 * bytepix) // RICE_PARAMS[bytepix][0] * blocksize  # checked before allocating
    if (meta[1::2] > most).any():
        t = int(np.argmax(meta[1::2] > most))
        _raise(_TRUNCATED, f" (tile {t}: {meta[2 * t]} bytes cannot hold {meta[2 * t + 1]} pixels)")
    ob = np.empty(rows * cols * bytepix, _U8)
    status = _decode_tiles(b"".join(payloads), meta, 8 * bytepix, blocksize, ob)
    if status:
        _raise(status % 8, f" (tile {status // 8})")
    flat = ob.view(_DTYPES[bytepix])
    if trows == 1 or tcols == cols:
        return flat.reshape(rows, cols)  # tiles are whole rows or row pieces in order: C order already
    plane = np.empty((rows, cols), flat.dtype)
    o = 0
    for r0, r1 in row_edges:
        for c0, c1 in col_edges:
            k = (r1 - r0) * (c1 - c0)
            plane[r0:r1, c0:c1] = flat[o : o + k].reshape(r1 - r0, c1 - c0)
            o += k
    return plane


def rice_ops_per_pixel(bytepix: int) -> OpCounts:
    """Op-count cost model of the encoder above, per pixel, for the simulator's CPU budget.

    Counted from the kernels (``_zigzag_loop``, ``_encode_into``) for full 32-pixel blocks, with the coded size
    taken as the raw size (conservative: real frames code to 30-60 % of it):

    - difference pass: two loads, subtract, mask, sign-wrap (xor, subtract), zigzag (shift, shift, xor, mask),
      store: 8 integer ops, 3 memory ops;
    - block sum: load, add: 1 integer op, 1 memory op;
    - coding pass: load, shift for ``top``, two adds for the code length, compare, mask and or for the code word,
      accumulator shift and or, bit-count add, flush test, loop step and test: 12 integer ops, 1 memory op;
    - flushing, amortised: per 32 output bits one subtract, one shift and four shift-and-mask pairs (10 integer
      ops) and four byte stores; at ``8*bytepix`` coded bits per pixel, ``2.5*bytepix`` integer ops and
      ``bytepix`` stores;
    - per block: split selection (subtract, shift, divide, shift, count leading zeros, compares) and the code
      write, about 16 integer ops over 32 pixels.

    Returns integer and memory operations per pixel (block size 32). The decoder does about the same work per
    pixel; it runs on the ground, so it is not modelled here.
    """
    if bytepix not in RICE_PARAMS:
        raise ValueError(f"BYTEPIX must be 1, 2 or 4, not {bytepix!r}")
    int_ops = 8 + 1 + 12 + 2.5 * bytepix + 16 / 32
    mem_ops = 3 + 1 + 1 + float(bytepix)
    return OpCounts(int_ops=int_ops, mem_ops=mem_ops)
