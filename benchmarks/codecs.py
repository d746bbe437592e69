"""Lossless codecs side by side on real frames: bytes-weighted compression ratio and encode/decode speed.

    python benchmarks/codecs.py [DIR] [--repeat N] [--codecs raw,rice,rcomp,...]

DIR defaults to ../shared/data/fits next to the repository. Every integer 2-D plane of every FITS file there is
a frame (cubes give one frame per plane; float images are skipped). All codecs run on the same frames in the same
process, interleaved frame by frame and repeat by repeat, so machine load hits them alike; a time is the best of
``--repeat`` runs (one run once a single run takes over a second). Every decode is checked against its input.

What each codec is fed (the ratio is always raw stored bytes / coded bytes, raw = BITPIX/8 bytes per pixel):

- ``raw``: ours, the stored integers as big-endian bytes (what a raw tile carries);
- ``rice``: ours, ``flight.rice`` on one-row tiles (like fpack), the whole plane in one compiled call, tiles
  returned as separate ``bytes`` (the flight path); ``rice/rows`` is the same codec called once per row from
  Python, the call pattern of the reference below;
- ``rcomp``: cfitsio's RICE_1 via ``imagecodecs.rcomp_encode(row, nblock=32)`` per row, native byte order;
- ``aec`` (CCSDS 121.0, libaec, preprocessing on), ``jpegls``, ``jpegxl-e7``/``-e9`` (lossless: distance 0),
  ``jpeg2k`` (reversible 5/3): these take unsigned pixels, so they get the plane as unsigned 16-bit: the physical
  uint16 for BZERO=32768 frames, signed int16 shifted by +32768, int32 frames narrowed to uint16 when every value
  is in 0..65535 (8-bit frames as they are). Other int32 frames are skipped by the JPEG codecs and coded by
  ``aec`` as signed 32-bit. JPEG-XL and JPEG 2000 run single-threaded, like the others.

Adding a codec (e.g. the IDF): add one entry to the dict that :func:`build_codecs` returns; a
:class:`Codec` is a name's ``source`` (what it codes from a frame, or None), ``encode`` and ``decode``.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(REPO))

from flight.errors import InputError, ModelError  # noqa: E402
from flight.frame import Frame  # noqa: E402
from flight.rice import rice_decode, rice_decode_tiles, rice_encode, rice_encode_tiles  # noqa: E402
from tools.fits_input import read_fits_frames  # noqa: E402

DEFAULT_DIR = REPO.parent / "shared" / "data" / "fits"
SLOW_S = 1.0  # one run is enough for a codec/frame pair slower than this


@dataclass(frozen=True)
class Codec:
    """A codec as the benchmark sees it: ``decode(encode(a), a)`` must equal ``a = source(frame)``.

    ``decode`` gets the source array only for its shape and dtype (what a container header would carry).
    """

    source: Callable[[Frame], np.ndarray | None]
    encode: Callable[[np.ndarray], object]
    decode: Callable[[object, np.ndarray], np.ndarray]


def stored(frame: Frame) -> np.ndarray:
    return frame.pixels


def unsigned(frame: Frame) -> np.ndarray | None:
    """The plane as unsigned pixels for codecs that need them (see the module docstring); None if impossible."""
    p = frame.pixels
    if p.dtype == np.uint8:
        return p
    if p.dtype == np.int16:
        if frame.bzero == 32768:
            return p.view(np.uint16) ^ np.uint16(0x8000)  # the physical values
        return (p.astype(np.int32) + 32768).astype(np.uint16)
    if p.min() >= 0 and p.max() <= 65535:
        return p.astype(np.uint16)
    return None


def nbytes(payload: object) -> int:
    return sum(len(t) for t in payload) if isinstance(payload, list) else len(payload)


def _rows_decoder(decode_row: Callable[[bytes, np.ndarray], np.ndarray]) -> Callable[[list, np.ndarray], np.ndarray]:
    def decode(tiles: list, like: np.ndarray) -> np.ndarray:
        out = np.empty_like(like)
        for i, t in enumerate(tiles):
            out[i] = decode_row(t, like[i])
        return out

    return decode


def build_codecs() -> dict[str, Codec]:
    """The registry, in table order: name -> Codec. Add a codec by adding an entry here."""
    import imagecodecs

    aec_flags = imagecodecs.AEC.FLAG.DATA_PREPROCESS
    aec_signed = aec_flags | imagecodecs.AEC.FLAG.DATA_SIGNED

    def aec_source(frame: Frame) -> np.ndarray:
        u = unsigned(frame)
        return u if u is not None else frame.pixels

    def aec_encode(a: np.ndarray) -> bytes:
        return imagecodecs.aec_encode(a, flags=aec_signed if a.dtype.kind == "i" else aec_flags)

    def aec_decode(data: bytes, like: np.ndarray) -> np.ndarray:
        flags = aec_signed if like.dtype.kind == "i" else aec_flags
        # libaec writes whole blocks (a few samples past the end): decode into a larger buffer and trim
        out = imagecodecs.aec_decode(data, flags=flags, bitspersample=8 * like.itemsize, out=like.nbytes + 8192)
        return np.frombuffer(out, like.dtype)[: like.size].reshape(like.shape)

    return {
        "raw": Codec(
            stored,
            lambda a: a.astype(a.dtype.newbyteorder(">")).tobytes(),
            lambda d, like: np.frombuffer(d, like.dtype.newbyteorder(">")).reshape(like.shape).astype(like.dtype),
        ),
        "rice": Codec(
            stored, rice_encode_tiles, lambda t, like: rice_decode_tiles(t, like.shape, None, like.itemsize)
        ),
        "rice/rows": Codec(
            stored,
            lambda a: [rice_encode(row) for row in a],
            _rows_decoder(lambda t, row: rice_decode(t, row.size, row.itemsize)),
        ),
        "rcomp": Codec(
            stored,
            lambda a: [imagecodecs.rcomp_encode(row, nblock=32) for row in a],
            _rows_decoder(lambda t, row: imagecodecs.rcomp_decode(t, shape=row.shape, dtype=row.dtype, nblock=32)),
        ),
        "aec": Codec(aec_source, aec_encode, aec_decode),
        "jpegls": Codec(unsigned, imagecodecs.jpegls_encode, lambda d, like: imagecodecs.jpegls_decode(d)),
        "jpegxl-e7": Codec(
            unsigned,
            lambda a: imagecodecs.jpegxl_encode(a, effort=7, distance=0, lossless=True, numthreads=1),
            lambda d, like: imagecodecs.jpegxl_decode(d, numthreads=1),
        ),
        "jpegxl-e9": Codec(
            unsigned,
            lambda a: imagecodecs.jpegxl_encode(a, effort=9, distance=0, lossless=True, numthreads=1),
            lambda d, like: imagecodecs.jpegxl_decode(d, numthreads=1),
        ),
        "jpeg2k": Codec(
            unsigned,
            lambda a: imagecodecs.jpeg2k_encode(a, level=0, reversible=True, numthreads=1),
            lambda d, like: imagecodecs.jpeg2k_decode(d, numthreads=1),
        ),
    } | _idf_entry()


def _idf_entry() -> dict[str, Codec]:
    """The IDF (shipped bundle, 64x64 tiles, batched API, one thread); absent when the bundle is missing."""
    from benchmarks.idf_frames import decode_plane, encode_plane
    from flight.idf.codec import IdfCodec

    try:
        idf = IdfCodec()
    except ModelError as exc:
        print(f"idf skipped: {exc}", file=sys.stderr)
        return {}
    return {"idf": Codec(lambda f: f.pixels if idf.supports(f.bitpix) else None, lambda a: encode_plane(idf, a),
                         lambda t, like: decode_plane(idf, t, like.shape, 8 * like.itemsize))}


def load_frames(folder: Path) -> list[Frame]:
    frames = []
    for path in sorted(folder.glob("*.fit*")):
        try:
            frames += read_fits_frames(path)
        except InputError:  # float images, nothing to code losslessly here
            continue
    return frames


@dataclass
class Result:
    coded: int = 0
    enc_s: float = float("inf")
    dec_s: float = float("inf")


def measure(frames: list[Frame], codecs: dict[str, Codec], repeat: int) -> dict[str, dict[str, Result]]:
    """Per frame, per codec: coded bytes and the best encode/decode time, interleaving codecs run by run."""
    results: dict[str, dict[str, Result]] = {}
    for frame in frames:
        sources = {name: c.source(frame) for name, c in codecs.items()}
        sources = {name: np.ascontiguousarray(a) for name, a in sources.items() if a is not None}
        res = {name: Result() for name in sources}
        for run in range(repeat):
            for name, src in sources.items():
                r = res[name]
                if run > 0 and max(r.enc_s, r.dec_s) > SLOW_S:
                    continue
                codec = codecs[name]
                gc.disable()
                t0 = time.perf_counter()
                payload = codec.encode(src)
                t1 = time.perf_counter()
                back = codec.decode(payload, src)
                t2 = time.perf_counter()
                gc.enable()
                if run == 0:
                    if not (back.dtype == src.dtype and np.array_equal(back, src)):
                        raise SystemExit(f"{name} is not lossless on {frame.name}")
                    r.coded = nbytes(payload)
                r.enc_s, r.dec_s = min(r.enc_s, t1 - t0), min(r.dec_s, t2 - t1)
        results[frame.name] = res
        print(f"  {frame.name}: {frame.pixels.shape[0]}x{frame.pixels.shape[1]} {frame.pixels.dtype}", file=sys.stderr)
    return results


def warm_up(codecs: dict[str, Codec]) -> None:
    """Compile/load every codec once (numba JIT, library set-up) so that no timing includes it."""
    rng = np.random.default_rng(0)
    for pixels, bzero in ((rng.integers(-500, 500, (8, 40)).astype(np.int16), None),
                          (rng.integers(0, 2**20, (8, 40)).astype(np.int32), None)):
        frame = Frame("warm-up", pixels, 8 * pixels.itemsize, bzero)
        for c in codecs.values():
            src = c.source(frame)
            if src is not None:
                c.decode(c.encode(np.ascontiguousarray(src)), src)


def report(frames: list[Frame], codecs: dict[str, Codec], results: dict[str, dict[str, Result]]) -> str:
    raw = {f.name: f.raw_bytes for f in frames}
    npix = {f.name: f.pixels.size for f in frames}
    common = [f.name for f in frames if all(name in results[f.name] for name in codecs)]
    lines = [
        f"{len(frames)} integer frames, {sum(npix.values()) / 1e6:.2f} Mpix, {sum(raw.values()) / 1e6:.2f} MB stored; "
        f"'common' = the {len(common)} frames every codec coded",
        "",
        "| codec | frames | ratio | ratio (common) | encode Mpix/s | decode Mpix/s |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    speed: dict[str, tuple[float, float]] = {}
    for name in codecs:
        done = [f for f in raw if name in results[f]]
        coded = sum(results[f][name].coded for f in done)
        coded_common = sum(results[f][name].coded for f in common)
        pix = sum(npix[f] for f in done)
        enc = pix / sum(results[f][name].enc_s for f in done) / 1e6
        dec = pix / sum(results[f][name].dec_s for f in done) / 1e6
        speed[name] = (enc, dec)
        ratio_common = sum(raw[f] for f in common) / coded_common if common else float("nan")
        lines.append(
            f"| {name} | {len(done)} | {sum(raw[f] for f in done) / coded:.3f} | {ratio_common:.3f} "
            f"| {enc:.1f} | {dec:.1f} |"
        )
    if "rice" in speed and "rcomp" in speed:
        lines += ["", "ours / cfitsio (rcomp), same frames, same run:"]
        for ours in ("rice", "rice/rows"):
            if ours in speed:
                lines.append(
                    f"  {ours}: encode {speed[ours][0] / speed['rcomp'][0]:.2f}x, "
                    f"decode {speed[ours][1] / speed['rcomp'][1]:.2f}x"
                )
    names = list(codecs)
    lines += ["", "ratio per frame (- = not coded):", "",
              "| frame | shape | dtype | " + " | ".join(names) + " |",
              "| --- | --- | --- | " + " | ".join("---:" for _ in names) + " |"]
    for f in frames:
        cells = [
            f"{raw[f.name] / results[f.name][n].coded:.3f}" if n in results[f.name] else "-" for n in names
        ]
        lines.append(f"| {f.name} | {f.pixels.shape[0]}x{f.pixels.shape[1]} | {f.pixels.dtype} | " + " | ".join(cells)
                     + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dir", nargs="?", type=Path, default=DEFAULT_DIR, help=f"FITS folder (default {DEFAULT_DIR})")
    parser.add_argument("--repeat", type=int, default=3, help="runs per codec and frame; the best counts (default 3)")
    parser.add_argument("--codecs", default="", help="comma-separated subset of the codecs, in registry order")
    args = parser.parse_args(argv)
    codecs = build_codecs()
    if args.codecs:
        wanted = args.codecs.split(",")
        unknown = [w for w in wanted if w not in codecs]
        if unknown:
            parser.error(f"unknown codec(s) {unknown}; known: {', '.join(codecs)}")
        codecs = {k: v for k, v in codecs.items() if k in wanted}
    if not args.dir.is_dir():
        parser.error(f"{args.dir}: no such folder")
    frames = load_frames(args.dir)
    if not frames:
        parser.error(f"{args.dir}: no integer FITS frames")
    warm_up(codecs)
    results = measure(frames, codecs, max(1, args.repeat))
    print(report(frames, codecs, results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
