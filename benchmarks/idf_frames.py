"""IDF against RICE, JPEG-LS and JPEG-XL on real frames: bits per pixel, coded ratio, speed.

    python -m benchmarks.idf_frames [--data DIR] [--model BUNDLE] [--tile 64] [--only g0,s0] [--json OUT]

Every integer 8/16-bit plane is cut into tiles, coded with the batched IDF API (:func:`encode_plane`,
which gives exactly the per-tile payloads ``encode_tile`` would) and decoded; the script fails loudly if the
plane differs.  IDF bits count every tile item as the container stores it (tile codec id, CRC-32, then the
payload or the raw tile if that is smaller), not the frame header (FITS cards).  RICE is
cfitsio's RICE_1 on one-row tiles (``imagecodecs.rcomp_encode``, like fpack); JPEG-LS and JPEG-XL (lossless,
effort 7 and 9) code the plane shifted to unsigned.  Held-out instruments (never seen in training) are
marked ``*``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "fits"


def classical_bpp(p: np.ndarray) -> dict[str, float]:
    import imagecodecs

    n = p.size
    u = (p.astype(np.int64) - int(p.min())).astype(np.uint16 if p.dtype.itemsize == 2 else np.uint8)
    rice = sum(len(imagecodecs.rcomp_encode(np.ascontiguousarray(r), nblock=32)) for r in p)
    out = {"rice": 8 * rice / n, "jpegls": 8 * len(imagecodecs.jpegls_encode(u)) / n}
    for e in (7, 9):
        out[f"jxl{e}"] = 8 * len(imagecodecs.jpegxl_encode(u, lossless=True, effort=e)) / n
    return out


def encode_plane(codec, plane: np.ndarray, tile: tuple[int, int] = (64, 64)) -> list[bytes]:
    """Payloads of every tile of a plane (row-major grid, edge tiles smaller, as in the container)."""
    th, tw = tile
    tiles = [plane[r:r + th, c:c + tw] for r in range(0, plane.shape[0], th) for c in range(0, plane.shape[1], tw)]
    return codec.encode_tiles(tiles)


def decode_plane(codec, payloads: list[bytes], shape: tuple[int, int], bitpix: int,
                 tile: tuple[int, int] = (64, 64)) -> np.ndarray:
    """Inverse of :func:`encode_plane`; raises the first bad tile's FormatError."""
    th, tw = tile
    grid = [(r, c) for r in range(0, shape[0], th) for c in range(0, shape[1], tw)]
    shapes = [(min(th, shape[0] - r), min(tw, shape[1] - c)) for r, c in grid]
    out = np.empty(shape, {8: np.uint8, 16: np.int16}[bitpix])
    for (r, c), (h, w), res in zip(grid, shapes, codec.decode_tiles(payloads, shapes, bitpix), strict=True):
        out[r:r + h, c:c + w] = res.unwrap()
    return out


def idf_frame(frame, codec, tile: int) -> dict[str, float]:
    """Code a plane with the batched codec API (what the container stores per tile: payload, or the raw tile
    when the payload is not smaller, plus 5 bytes of tile codec id and CRC-32), decode it, check it."""
    p = frame.pixels
    t0 = time.perf_counter()
    payloads = encode_plane(codec, p, (tile, tile))
    enc_s = time.perf_counter() - t0
    grid = [(r, c) for r in range(0, p.shape[0], tile) for c in range(0, p.shape[1], tile)]
    raw_sizes = [p[r:r + tile, c:c + tile].nbytes for r, c in grid]
    coded = sum(5 + min(len(pl), raw) for pl, raw in zip(payloads, raw_sizes, strict=True))
    escaped = sum(len(pl) >= raw for pl, raw in zip(payloads, raw_sizes, strict=True))
    kinds = [pl[0] >> 4 for pl in payloads]
    t0 = time.perf_counter()
    back = decode_plane(codec, payloads, p.shape, frame.bitpix, (tile, tile))
    dec_s = time.perf_counter() - t0
    if not np.array_equal(back, p):
        raise SystemExit(f"MISMATCH in {frame.name}")
    n = p.size
    return {"idf": 8 * coded / n, "enc_mpix_s": n / enc_s / 1e6, "dec_mpix_s": n / dec_s / 1e6,
            "escaped_tiles": escaped, "tiles": len(payloads), "rice_tiles": kinds.count(3),
            "mosaic_tiles": kinds.count(4)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default=str(DEFAULT_DATA))
    p.add_argument("--model", default=None, help="IDF bundle (default: shipped)")
    p.add_argument("--tile", type=int, default=64)
    p.add_argument("--only", default="", help="comma-separated file-name prefixes")
    p.add_argument("--json", default=None, help="write the rows as JSON here")
    p.add_argument("--threads", type=int, default=1, help="threads for the IDF (default 1)")
    args = p.parse_args(argv)

    from flight.errors import InputError
    from flight.idf.codec import IdfCodec
    from models.data import instrument_of
    from tools.fits_input import read_fits_frames

    codec = IdfCodec(args.model, threads=args.threads)
    held = set(codec.bundle.manifest.training.get("config", {}).get("holdout", []))
    prefixes = [s for s in args.only.split(",") if s]
    rows = []
    hdr = (f"{'frame':44s} {'rice':>6s} {'jls':>6s} {'jxl7':>6s} {'jxl9':>6s} {'idf':>6s} {'ratio':>6s} "
           f"{'enc':>5s} {'dec':>5s}")
    print(hdr + "   (bits/pixel; ratio = 16/idf; Mpix/s)")
    for f in sorted(Path(args.data).glob("*.fits")):
        if prefixes and not any(f.name.startswith(s) for s in prefixes):
            continue
        try:
            frames = read_fits_frames(f)
        except InputError:
            continue  # float frames: no integer image to code
        for fr in frames:
            if not codec.supports(fr.bitpix):
                continue
            row = {"frame": fr.name, "instrument": instrument_of(f.stem), "pixels": int(fr.pixels.size)}
            row.update(classical_bpp(fr.pixels))
            row.update(idf_frame(fr, codec, args.tile))
            row["held_out"] = row["instrument"] in held
            rows.append(row)
            mark = "*" if row["held_out"] else " "
            print(f"{(fr.name[:42] + mark):44s} {row['rice']:6.3f} {row['jpegls']:6.3f} {row['jxl7']:6.3f} "
                  f"{row['jxl9']:6.3f} {row['idf']:6.3f} {fr.bitpix / row['idf'] * 1:6.3f} "
                  f"{row['enc_mpix_s']:5.2f} {row['dec_mpix_s']:5.2f}", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
