"""``astroflight-encode`` (``python -m tools.encode``): FITS frames in, one CCSDS packet stream out.

The onboard pipeline (``flight.encoder``, ``flight.packets``) run on files, for ground tests and data sets.
Example::

    astroflight-encode frame.fits cube.fits --codec rice --out pass.bin --json

Every HDU is either encoded or named as skipped with the reason (text and ``--json``). Frame ids count up from
``--first-frame-id``, by default from the UTC clock in milliseconds (mod 2^32), and a run with clock ids ends only
once the clock has passed its last id, so separate runs never share one (docs/formats.md, "Item 0").

Exit code 0 on success, 2 for usage errors and unusable input (one line on stderr).
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from flight.codecs.registry import CODEC_CHOICES, get_codec
from flight.encoder import encode_frame
from flight.errors import InputError
from flight.litert_kernels import KERNEL_SETS, require_kernels
from flight.packets import DEFAULT_PACKET, MAX_PACKET, MIN_PACKET, Packetizer
from tools.cli import OneLineParser, parse_tile, run_cli
from tools.files import atomic_output
from tools.fits_input import read_fits
from tools.fits_limits import check_fits_limits

PROG = "python -m tools.encode"
#: Output names that promise a FITS file (FITS 4.0 appendix: .fits, .fit, .fts; fpack's .fz; gzip'd FITS);
#: a packet stream written under one would mislead every FITS reader, so they are refused.
FITS_NAMES = (".fits", ".fit", ".fts", ".fz", ".fits.gz", ".fit.gz", ".fts.gz")


def build_parser() -> OneLineParser:
    p = OneLineParser(
        prog=PROG,
        description="Compress FITS frames the way the flight software does and write one CCSDS packet stream. "
        "Every integer image plane (BITPIX 8/16/32; cubes as stacks of 2-D planes) becomes one frame.",
        epilog="example: python -m tools.encode a.fits b.fits --codec rice --tile 32x32 --out pass.bin --json",
    )
    p.add_argument("files", nargs="+", metavar="FILE.fits", help="input FITS files (integer images)")
    p.add_argument("--codec", default="rice", help=f"tile codec: {', '.join(CODEC_CHOICES)} (default rice)")
    p.add_argument("--out", required=True, metavar="STREAM.bin", help="output packet stream (written atomically)")
    p.add_argument("--tile", type=parse_tile, metavar="ROWSxCOLS",
                   help="tile shape (default: the codec's own: one row per tile for raw and rice, like fpack; "
                   "64x64 for idf)")
    p.add_argument("--model", metavar="BUNDLE_DIR", help="IDF model bundle (default: the shipped bundle)")
    p.add_argument("--kernels", default="numba", choices=KERNEL_SETS,
                   help="kernel set of the IDF networks: numba (default) or litert (LiteRT's reference kernels, "
                   'needs pip install "astroflight[litert]"); both give the same bytes')
    p.add_argument("--packet-size", type=int, default=DEFAULT_PACKET, metavar="OCTETS",
                   help=f"largest packet incl. headers and CRC ({MIN_PACKET}-{MAX_PACKET}, default {DEFAULT_PACKET})")
    p.add_argument("--first-frame-id", type=_frame_id, metavar="N",
                   help="frame id of the first frame, the next ones counting up (0..4294967295; default: the UTC "
                   "clock in milliseconds mod 2^32, so separate runs get separate ids)")
    p.add_argument("--json", action="store_true", help="print a JSON summary to stdout")
    return p


def _frame_id(text: str) -> int:
    """argparse type of --first-frame-id: an integer in 0..2^32-1 (the container's u32); ArgumentTypeError else."""
    try:
        value = int(text, 0)
    except ValueError:
        value = -1
    if not 0 <= value <= 0xFFFFFFFF:
        raise argparse.ArgumentTypeError(f"must be an integer from 0 to 4294967295, got {text!r}")
    return value


def clock_ms() -> int:
    """Milliseconds of the UTC clock since the Unix epoch (not wrapped)."""
    return time.time_ns() // 1_000_000


def hold_until_past(last_ms: int) -> None:
    """Return once the millisecond clock is past ``last_ms`` (at most ``last_ms`` - now + 1 ms of sleep), so the
    next run's clock-based ids start beyond this run's last id."""
    while (wait := last_ms + 1 - clock_ms()) > 0:
        time.sleep(wait / 1000)


def run(argv: list[str] | None = None) -> int:
    """Encode the files named in ``argv`` into one stream; raises InputError (and OSError) on unusable input."""
    args = build_parser().parse_args(argv)
    require_kernels(args.kernels)  # before any work: an unavailable kernel set is one line, exit 2
    if args.codec not in CODEC_CHOICES:
        raise InputError(f"unknown codec {args.codec!r} (choose from {', '.join(CODEC_CHOICES)})")
    if args.out.lower().endswith(FITS_NAMES):
        raise InputError(f"--out {args.out}: a FITS file name, but {PROG} writes a CCSDS packet stream; name it "
                         "e.g. pass.bin (FITS products come from python -m ground.decode STREAM --out DIR [--fz])")
    if not MIN_PACKET <= args.packet_size <= MAX_PACKET:
        raise InputError(f"--packet-size must be between {MIN_PACKET} and {MAX_PACKET}")
    for path in args.files:  # the container's limits, from the headers, before any pixel is allocated
        check_fits_limits(path)
    inputs = [read_fits(path) for path in args.files]  # read everything before writing
    frames = [f for one in inputs for f in one.frames]
    skipped = [{"file": str(one.path), "hdu": hdu, "reason": why} for one in inputs for hdu, why in one.skipped]
    codec = get_codec(args.codec, args.model, args.kernels)
    packetizer = Packetizer(args.packet_size)
    start_ms = clock_ms()
    first_id = start_ms if args.first_frame_id is None else args.first_frame_id
    rows = []
    seen: dict[str, int] = {}
    with atomic_output(args.out) as out:
        for k, frame in enumerate(frames):
            frame_id = (first_id + k) & 0xFFFFFFFF
            if frame.name in seen:  # same stem from two folders: keep names unique on the ground
                seen[frame.name] += 1
                frame.name = f"{frame.name}_{seen[frame.name]}"
            seen.setdefault(frame.name, 1)
            enc = encode_frame(frame, codec, args.tile, frame_id)
            packets = packetizer.packetize(enc)
            out.write(b"".join(packets))
            row = {"name": enc.name, "frame_id": enc.frame_id, "shape": list(enc.shape), "dtype": enc.dtype,
                   "raw_bytes": enc.raw_bytes,
                   "coded_bytes": enc.coded_bytes, "ratio": round(enc.ratio, 4), "encode_s": round(enc.encode_s, 6),
                   "codec": enc.codec, "packets": len(packets), "stream_bytes": sum(len(p) for p in packets),
                   "escaped_tiles": enc.escaped_tiles, "tiles": len(enc.tiles)}
            if enc.note:
                row["note"] = enc.note
            rows.append(row)
    if args.first_frame_id is None:  # ids were the clock: the next run must start beyond the last one
        hold_until_past(start_ms + len(frames) - 1)
    raw = sum(r["raw_bytes"] for r in rows)
    coded = sum(r["coded_bytes"] for r in rows)
    total = {"raw_bytes": raw, "coded_bytes": coded, "ratio": round(raw / coded, 4) if coded else 0.0,
             "stream_bytes": sum(r["stream_bytes"] for r in rows), "packets": sum(r["packets"] for r in rows)}
    if args.json:
        json.dump({"frames": rows, "skipped": skipped, "total": total}, sys.stdout, indent=1)
        print()
    else:
        print(f"{'frame':44s} {'shape':>11s} {'codec':>5s} {'raw B':>10s} {'coded B':>10s} {'ratio':>7s}")
        for r in rows:
            shape = "x".join(str(s) for s in r["shape"])
            print(f"{r['name'][:44]:44s} {shape:>11s} {r['codec']:>5s} {r['raw_bytes']:10d} "
                  f"{r['coded_bytes']:10d} {r['ratio']:7.3f}" + (f"  ({r['note']})" if "note" in r else ""))
        for s in skipped:
            print(f"skipped {s['file']} HDU {s['hdu']}: {s['reason']}")
        print(f"{'total':44s} {'':>11s} {'':>5s} {raw:10d} {coded:10d} {total['ratio']:7.3f}   "
              f"-> {args.out}: {total['packets']} packets, {total['stream_bytes']} bytes")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Console entry point: :func:`run` under the tools' error convention (``tools.cli``); the exit code."""
    return run_cli(PROG, lambda: run(argv))


if __name__ == "__main__":
    sys.exit(main())
