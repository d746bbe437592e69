"""Product names are unique per run, never another frame's product, and fit the file-system limit.

Issue 12, section 4 ("Names"). Before: a verified frame named like another product (or ``x.incomplete`` beside
an incomplete ``x``) replaced it and two report entries named one path; a ~240-character name gave "File name
too long", no product and no report.
"""

from __future__ import annotations

import contextlib
import io
import json

from astropy.io import fits

from flight.packets import APID_TILE_DATA, packet_apid, parse_packet
from ground.decode import run
from ground.names import ProductNames, fit_name

from .streams import frame, stream

LONG = "n" * 240
LONGEST = "L" * 255


def _drop_one_tile_packet(data: bytes, frame_id: int) -> bytes:
    """The stream without the first tile packet of ``frame_id`` (the frame becomes incomplete)."""
    out, pos, dropped = [], 0, False
    while pos < len(data):
        total = 7 + int.from_bytes(data[pos + 4 : pos + 6], "big")
        packet = data[pos : pos + total]
        parsed = parse_packet(packet)
        if not dropped and parsed.frame_id == frame_id and packet_apid(packet) == APID_TILE_DATA:
            dropped = True
        else:
            out.append(packet)
        pos += total
    assert dropped
    return b"".join(out)


def test_colliding_names_get_unique_products_and_nothing_is_overwritten(tmp_path):
    frames = [frame("x", seed=0, shape=(40, 60)), frame("x.incomplete", seed=1), frame("M31", seed=2),
              frame("m31", seed=3), frame("m31", seed=4), frame(LONG, seed=5, shape=(40, 60)), frame(LONGEST, seed=6),
              frame("report", seed=7)]
    data = _drop_one_tile_packet(_drop_one_tile_packet(stream(frames), 0), 5)
    (tmp_path / "s.bin").write_bytes(data)
    with contextlib.redirect_stdout(io.StringIO()):
        rc = run([str(tmp_path / "s.bin"), "--out", str(tmp_path / "o")])
    assert rc == 1
    report = json.loads((tmp_path / "o" / "report.json").read_text())
    entries = report["frames"]
    paths = [e["path"] for e in entries]
    assert None not in paths and len({p.casefold() for p in paths}) == len(paths) == 8
    names = [p.rsplit("/", 1)[1] for p in paths]
    assert names[:5] == ["x.incomplete.fits", "x.incomplete_1.fits", "M31.fits", "m31_3.fits", "m31_4.fits"]
    assert names[5] == "n" * (255 - len(".incomplete.fits")) + ".incomplete.fits"
    assert names[6] == "L" * 250 + ".fits" and names[7] == "report.fits"
    assert [e["status"] for e in entries] == ["incomplete"] + ["verified"] * 4 + ["incomplete", "verified", "verified"]
    assert [e["name"] for e in entries] == [f.name for f in frames]  # the report keeps the frames' own names
    for frame_id, (entry, src) in enumerate(zip(entries, frames, strict=True)):
        with fits.open(entry["path"], do_not_scale_image_data=True) as hdul:  # each file is its own frame's
            assert hdul[0].header["AFFRAME"] == frame_id
            if entry["status"] == "verified":
                assert (hdul[0].data == src.pixels).all()
    assert len(list((tmp_path / "o").iterdir())) == 9  # eight products and the report, no temporary left


def test_product_names_unit():
    names = ProductNames(".", limit=20)
    assert names.claim("a", ".fits", 0) == "a.fits"
    assert names.claim("A", ".fits", 1) == "A_1.fits"
    assert names.claim("a_1", ".fits", 2) == "a_1_2.fits"  # a_1.fits is taken (case-insensitively)
    assert names.claim("report", ".json", 3) == "report_3.json"
    long = names.claim("é" * 30, ".incomplete.fits", 4)
    assert len(long.encode()) <= 20 and long.endswith(".incomplete.fits") and long.startswith("é")
    assert names.claim("é" * 30, ".incomplete.fits", 5) != long
    assert fit_name("abc", ".fits", 6) == "a.fits"
