"""``astroflight-encode`` (``python -m tools.encode``): FITS frames in, one CCSDS packet stream out.

The onboard pipeline (``flight.encoder``, ``flight.packets``) run on files, for ground tests and data sets.
Example::

    astroflight-encode frame.fits cube.fits --codec rice --out pass.bin --json

Exit code 0 on success, 2 for usage errors and unusable input (one line on stderr).
"""

from __future__ import annotations

import json
import sys

from flight.codecs.registry import CODEC_CHOICES, get_codec
from flight.encoder import encode_frame
from flight.errors import InputError
from flight.packets import DEFAULT_PACKET, MAX_PACKET, MIN_PACKET, Packetizer
from tools.cli import OneLineParser, parse_tile, run_cli
from tools.files import atomic_output
from tools.fits_input import read_fits_frames
from tools.fits_limits import check_fits_limits

PROG = "python -m tools.encode"


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
    p.add_argument("--packet-size", type=int, default=DEFAULT_PACKET, metavar="OCTETS",
                   help=f"largest packet incl. headers and CRC ({MIN_PACKET}-{MAX_PACKET}, default {DEFAULT_PACKET})")
    p.add_argument("--json", action="store_true", help="print a JSON summary to stdout")
    return p


def run(argv: list[str] | None = None) -> int:
    """Encode the files named in ``argv`` into one stream; raises InputError (and OSError) on unusable input."""
    args = build_parser().parse_args(argv)
    if args.codec not in CODEC_CHOICES:
        raise InputError(f"unknown codec {args.codec!r} (choose from {', '.join(CODEC_CHOICES)})")
    if not MIN_PACKET <= args.packet_size <= MAX_PACKET:
        raise InputError(f"--packet-size must be between {MIN_PACKET} and {MAX_PACKET}")
    for path in args.files:  # the container's limits, from the headers, before any pixel is allocated
        check_fits_limits(path)
    frames = [f for path in args.files for f in read_fits_frames(path)]  # read everything before writing
    codec = get_codec(args.codec, args.model)
    packetizer = Packetizer(args.packet_size)
    rows = []
    seen: dict[str, int] = {}
    with atomic_output(args.out) as out:
        for frame_id, frame in enumerate(frames):
            if frame.name in seen:  # same stem from two folders: keep names unique on the ground
                seen[frame.name] += 1
                frame.name = f"{frame.name}_{seen[frame.name]}"
            seen.setdefault(frame.name, 1)
            enc = encode_frame(frame, codec, args.tile, frame_id)
            packets = packetizer.packetize(enc)
            out.write(b"".join(packets))
            row = {"name": enc.name, "shape": list(enc.shape), "dtype": enc.dtype, "raw_bytes": enc.raw_bytes,
                   "coded_bytes": enc.coded_bytes, "ratio": round(enc.ratio, 4), "encode_s": round(enc.encode_s, 6),
                   "codec": enc.codec, "packets": len(packets), "stream_bytes": sum(len(p) for p in packets),
                   "escaped_tiles": enc.escaped_tiles, "tiles": len(enc.tiles)}
            if enc.note:
                row["note"] = enc.note
            rows.append(row)
    raw = sum(r["raw_bytes"] for r in rows)
    coded = sum(r["coded_bytes"] for r in rows)
    total = {"raw_bytes": raw, "coded_bytes": coded, "ratio": round(raw / coded, 4) if coded else 0.0,
             "stream_bytes": sum(r["stream_bytes"] for r in rows), "packets": sum(r["packets"] for r in rows)}
    if args.json:
        json.dump({"frames": rows, "total": total}, sys.stdout, indent=1)
        print()
    else:
        print(f"{'frame':44s} {'shape':>11s} {'codec':>5s} {'raw B':>10s} {'coded B':>10s} {'ratio':>7s}")
        for r in rows:
            shape = "x".join(str(s) for s in r["shape"])
            print(f"{r['name'][:44]:44s} {shape:>11s} {r['codec']:>5s} {r['raw_bytes']:10d} "
                  f"{r['coded_bytes']:10d} {r['ratio']:7.3f}" + (f"  ({r['note']})" if "note" in r else ""))
        print(f"{'total':44s} {'':>11s} {'':>5s} {raw:10d} {coded:10d} {total['ratio']:7.3f}   "
              f"-> {args.out}: {total['packets']} packets, {total['stream_bytes']} bytes")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Console entry point: :func:`run` under the tools' error convention (``tools.cli``); the exit code."""
    return run_cli(PROG, lambda: run(argv))


if __name__ == "__main__":
    sys.exit(main())
