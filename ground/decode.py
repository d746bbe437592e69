"""``astroflight-decode`` (``python -m ground.decode``): a downlinked packet stream in, verified FITS products
and a report out.

Example::

    astroflight-decode pass.bin --out products/ --json

Exit code 0 when every frame is verified and written, 1 when some are not, 2 for usage errors and unreadable
input (one line on stderr: the convention of ``tools.cli``). Hostile streams cost a bounded multiple of their
size (``ground.budget``); product names are unique in a run (``ground.names``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from flight.errors import FormatError, InputError
from flight.litert_kernels import KERNEL_SETS, require_kernels
from flight.packets import StreamStats, iter_stream
from ground.budget import RunBudget
from ground.fz import FZ_SUFFIX, write_fz_product
from ground.names import ProductNames
from ground.products import status_suffix, write_product
from ground.reassembly import VERIFIED, Reassembler
from tools.cli import EXIT_NOT_ALL_VERIFIED, EXIT_OK, OneLineParser, run_cli
from tools.files import atomic_output, check_writable_dir

PROG = "python -m ground.decode"


def build_parser() -> OneLineParser:
    p = OneLineParser(
        prog=PROG,
        description="Reassemble frames from a CCSDS packet stream (packets in any order; damaged ones are "
        "dropped by their CRC), decode every complete tile, verify each frame bit-exact against its checksum "
        "and write DIR/<name>.fits per verified frame (<name>.incomplete.fits / <name>.corrupt.fits otherwise, "
        "with a MASK extension; <name>_<frame id> when names collide) and DIR/report.json.",
        epilog="example: python -m ground.decode pass.bin --out products/ --json",
    )
    p.add_argument("stream", metavar="STREAM.bin", help="packet stream written by tools.encode or the simulator")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (created if needed)")
    p.add_argument("--model", metavar="BUNDLE_DIR", help="IDF model bundle the ground holds (default: shipped)")
    p.add_argument("--kernels", default="numba", choices=KERNEL_SETS,
                   help="kernel set of the IDF networks: numba (default) or litert (LiteRT's reference kernels, "
                   'needs pip install "astroflight[litert]"); both give the same bytes')
    p.add_argument("--fz", action="store_true",
                   help="write each verified frame as a tile-compressed FITS file DIR/<name>.fits.fz (RICE_1, the "
                   "FITS tiled image convention, as fpack writes it; rice tiles placed as downlinked, raw and idf "
                   "frames coded in one-row tiles); frames not verified are written as without --fz")
    p.add_argument("--json", action="store_true", help="print the report to stdout as JSON")
    return p


def run(argv: list[str] | None = None) -> int:
    """Decode the stream named in ``argv``; 0 all verified, 1 not; raises InputError (and OSError) on bad input."""
    args = build_parser().parse_args(argv)
    require_kernels(args.kernels)  # before any work: an unavailable kernel set is one line, exit 2
    path = Path(args.stream)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        raise InputError(f"{path}: is a directory, expected a packet stream file")
    data = path.read_bytes()
    out = check_writable_dir(args.out)
    budget = RunBudget(len(data))  # what this run may allocate and list (ground.budget)
    ground = Reassembler(args.model, kernels=args.kernels, budget=budget)
    stats = StreamStats()
    for packet in iter_stream(data, stats):
        ground.add_packet(packet)
    if stats.packets == 0:
        raise InputError(f"{path}: no valid packets in the stream ({len(data)} bytes)")
    frames = []
    names = ProductNames(out)  # unique file names in this run, never another frame's product
    for frame_id in ground.frame_ids():
        result = ground.result(frame_id)
        fz_error, fz_tiles = "", None
        try:  # a product that cannot be written costs only itself
            if args.fz and result.status == VERIFIED and result.pixels is not None:
                try:
                    written, tiles = write_fz_product(result, ground.tile_payloads(frame_id), out,
                                                      names.claim(result.name, FZ_SUFFIX, frame_id))
                    fz_tiles = {"tiles": len(tiles.payloads), "downlinked": tiles.downlinked}
                except FormatError as exc:  # e.g. a card the compressed header writes itself: plain .fits
                    fz_error = f".fits.fz not written, plain .fits instead: {exc}"
            if fz_tiles is None:
                file_name = None if result.pixels is None else names.claim(result.name, status_suffix(result),
                                                                           frame_id)
                written = write_product(result, out, file_name)
            product_error = ""
        except FormatError as exc:
            written, product_error = None, f"product not written: {exc}"
        except OSError as exc:
            written, product_error = None, f"product not written: {exc.strerror or exc}"
        frames.append({
            "name": result.name, "status": result.status, "missing": result.missing,
            "path": str(written) if written else None, "frame_id": frame_id, "reason": result.reason,
            "product_error": product_error,
            **({"fz_error": fz_error, "fz_tiles": fz_tiles} if args.fz else {}),
            "missing_parts": result.missing_parts, "missing_packets": result.missing_packets,
            "corrupt_tiles": result.corrupt_tiles, "conflicting_parts": result.conflicting_parts,
            "missing_parts_count": result.missing_parts_count,
            "missing_tiles_count": result.missing_tiles_count,
            "parts_received": result.parts_received, "part_count": result.part_count,
        })
        ground.forget(frame_id)  # its pixels are written: free them before the next frame
    report = {
        "stream": str(path),
        "frames": frames,
        "summary": {
            "frames": len(frames),
            "verified": sum(f["status"] == VERIFIED for f in frames),
            "incomplete": sum(f["status"] == "incomplete" for f in frames),
            "corrupt": sum(f["status"] == "corrupt" for f in frames),
            "products_not_written": sum(bool(f["product_error"]) for f in frames),
            "packets_valid": stats.packets, "bytes_skipped": stats.bad_bytes, "resyncs": stats.resyncs,
            "duplicates": ground.stats.duplicates, "conflicts": ground.stats.conflicts,
            "malformed": ground.stats.malformed,
        },
    }
    with atomic_output(out / "report.json", "w") as fh:
        json.dump(report, fh, indent=1)
    if args.json:
        json.dump(report, sys.stdout, indent=1)
        print()
    else:
        for f in frames:
            extra = f"  missing: {', '.join(f['missing'][:8])}{' ...' if len(f['missing']) > 8 else ''}" \
                if f["missing"] else ""
            why = "".join(f"  ({text})" for text in (f["reason"], f["product_error"], f.get("fz_error")) if text)
            print(f"{f['status']:>10s}  {f['name']}{extra}{why}")
        s = report["summary"]
        print(f"{s['verified']}/{s['frames']} frames verified; {s['packets_valid']} valid packets, "
              f"{s['bytes_skipped']} damaged bytes skipped -> {out}")
    ok = all(f["status"] == VERIFIED and not f["product_error"] for f in frames)
    return EXIT_OK if ok else EXIT_NOT_ALL_VERIFIED


def main(argv: list[str] | None = None) -> int:
    """Console entry point: :func:`run` under the tools' error convention (``tools.cli``); the exit code."""
    return run_cli(PROG, lambda: run(argv))


if __name__ == "__main__":
    sys.exit(main())
