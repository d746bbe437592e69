"""``ground.decode --fz``: verified frames as standard tile-compressed FITS (issue 12, section 3).

Oracles: astropy's ``CompImageHDU`` (pixels and header values against the source file and the plain product),
the stream's own tile payloads (the rice heap is the downlinked bytes, nothing re-encoded), and cfitsio's
``funpack`` and ``fitsverify`` when installed (Debian packages libcfitsio-bin and fitsverify; ``.ci/run`` installs
them).
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import shutil
import subprocess
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from flight.packets import StreamStats, iter_stream
from ground.decode import run as decode
from ground.reassembly import Reassembler
from tests.shared_data import SHARED_MISSING, repo_fits_files, shared_fits_files
from tools.encode import run as encode

from .streams import card, frame, stream

STRUCTURAL = re.compile(r"(SIMPLE|BITPIX|NAXIS\d*|EXTEND|PCOUNT|GCOUNT|XTENSION|CHECKSUM|DATASUM|AF[A-Z]+)")
COMPRESSION = re.compile(r"Z(IMAGE|CMPTYPE|BITPIX|NAXIS\d*|TILE\d|NAME\d|VAL\d|SIMPLE|EXTEND)|TFIELDS|TTYPE1|TFORM1")
CROPS = repo_fits_files()
SHARED = [f for f in shared_fits_files("int") if f.name[:3] in ("s02", "s04")]  # small: an HST MEF, a Chandra image
CASES = [("rice", None), ("rice", "32x32"), ("raw", None), ("idf", None)]
needs_cfitsio = pytest.mark.skipif(not (shutil.which("funpack") and shutil.which("fitsverify")),
                                   reason="funpack/fitsverify not installed (apt-get install libcfitsio-bin "
                                   "fitsverify; .ci/run does)")


def _quiet(fn, argv: list[str]) -> int:
    with contextlib.redirect_stdout(io.StringIO()):
        return fn(argv)


def _decode_both(tmp: Path, files: list[Path], codec: str, tile: str | None) -> tuple[Path, Path, Path]:
    """(stream, folder of .fits.fz products, folder of plain products) of ``files`` coded with ``codec``."""
    stream = tmp / f"{codec}.bin"
    argv = [str(f) for f in files] + ["--codec", codec, "--out", str(stream), "--first-frame-id", "100"]
    assert _quiet(encode, argv + (["--tile", tile] if tile else [])) == 0
    assert _quiet(decode, [str(stream), "--out", str(tmp / "fz"), "--fz"]) == 0
    assert _quiet(decode, [str(stream), "--out", str(tmp / "plain")]) == 0
    return stream, tmp / "fz", tmp / "plain"


def _values(header: fits.Header) -> dict[str, list]:
    """Keyword -> its values in order, structural, status and tile-compression cards left out."""
    out: dict[str, list] = defaultdict(list)
    for c in header.cards:
        if not (STRUCTURAL.fullmatch(c.keyword) or COMPRESSION.fullmatch(c.keyword)):
            out[c.keyword].append(c.value)
    return dict(out)


def _products(folder: Path) -> list[Path]:
    report = json.loads((folder / "report.json").read_text())
    return [Path(f["path"]) for f in report["frames"]]


@pytest.mark.parametrize(("codec", "tile"), CASES, ids=[f"{c}-{t or 'default'}" for c, t in CASES])
def test_crops_read_back_as_the_source(tmp_path: Path, codec: str, tile: str | None) -> None:
    _, fz_dir, _ = _decode_both(tmp_path, CROPS, codec, tile)
    report = json.loads((fz_dir / "report.json").read_text())["frames"]
    assert [Path(f["path"]).name for f in report] == [f.stem + ".fits.fz" for f in CROPS]
    for src, entry in zip(CROPS, report, strict=True):
        with fits.open(src, do_not_scale_image_data=True) as s, \
                fits.open(entry["path"], do_not_scale_image_data=True) as z:
            assert len(z) == 2 and z[0].header["NAXIS"] == 0 and isinstance(z[1], fits.CompImageHDU)
            assert z[1].header["AFSTATUS"] == "VERIFIED"
            assert z[1].data.dtype.newbyteorder("=") == s[0].data.dtype.newbyteorder("=")
            np.testing.assert_array_equal(z[1].data, s[0].data)
            shown, source = _values(z[1].header), _values(s[0].header)
            # astropy's decompressed view leaves out a BZERO of 0 (the file keeps it: checked below)
            assert shown == {k: v for k, v in source.items() if not (k == "BZERO" and v == [0])}
        with fits.open(entry["path"], disable_image_compression=True) as table:
            comp = table[1].header  # the BINTABLE's own header as written
            assert _values(comp) == (source if "EXTNAME" in source else source | {"EXTNAME": ["COMPRESSED_IMAGE"]})
            assert comp["ZCMPTYPE"] == "RICE_1" and comp["ZNAME1"] == "BLOCKSIZE" and comp["ZNAME2"] == "BYTEPIX"
            assert comp["ZVAL1"] == 32 and comp["ZVAL2"] == comp["ZBITPIX"] // 8
            tiles = entry["fz_tiles"]
            if codec == "rice":  # every tile as downlinked, in the frame's own grid
                assert tiles["downlinked"] == tiles["tiles"] == comp["NAXIS2"]
                assert (comp["ZTILE2"], comp["ZTILE1"]) == ((32, 32) if tile else (1, comp["ZNAXIS1"]))
            if tiles["downlinked"] == 0:  # coded on the ground: one-row tiles
                assert (comp["ZTILE2"], comp["ZTILE1"]) == (1, comp["ZNAXIS1"])
                assert tiles["tiles"] == comp["NAXIS2"] == comp["ZNAXIS2"]


@pytest.mark.parametrize("tile", [None, "32x32"])
def test_rice_heap_is_the_downlinked_tiles(tmp_path: Path, tile: str | None) -> None:
    """Every heap row of a rice frame is the stream's tile payload, byte for byte (no re-encoding)."""
    stream, fz_dir, _ = _decode_both(tmp_path, CROPS, "rice", tile)
    ground = Reassembler()
    for packet in iter_stream(stream.read_bytes(), StreamStats()):
        ground.add_packet(packet)
    report = json.loads((fz_dir / "report.json").read_text())
    for entry in report["frames"]:
        payloads = ground.tile_payloads(entry["frame_id"])
        with fits.open(entry["path"], disable_image_compression=True) as z:
            heap = [bytes(row) for row in z[1].data["COMPRESSED_DATA"]]
        assert heap == [payloads[t][1] for t in range(len(payloads))]
        assert entry["fz_tiles"] == {"tiles": len(heap), "downlinked": len(heap)}
        assert entry["fz_error"] == ""


@pytest.mark.parametrize("codec", ["rice", "raw", "idf"])
def test_fz_equals_plain_product_on_shared_frames(tmp_path: Path, codec: str) -> None:
    if not SHARED:
        pytest.skip(SHARED_MISSING)
    _, fz_dir, plain_dir = _decode_both(tmp_path, SHARED, codec, None)
    fz, plain = _products(fz_dir), _products(plain_dir)
    assert len(fz) == len(plain) >= len(SHARED) and all(p.name.endswith(".fits.fz") for p in fz)
    for z_path, p_path in zip(fz, plain, strict=True):
        with fits.open(z_path, do_not_scale_image_data=True) as z, \
                fits.open(p_path, do_not_scale_image_data=True) as p:
            np.testing.assert_array_equal(z[1].data, p[0].data)
            assert z[1].data.dtype.newbyteorder("=") == p[0].data.dtype.newbyteorder("=")
            assert _values(z[1].header) == _values(p[0].header)
        # the frame's cards stand in the .fz file exactly as in the plain product (order, comments, CONTINUE)
        raw = p_path.read_bytes()
        cards = raw[raw.index(b"EXTEND  =") + 80 : raw.index(b"AFSTATUS=")]
        assert cards in z_path.read_bytes()


def test_incomplete_frame_keeps_plain_product(tmp_path: Path) -> None:
    stream = tmp_path / "s.bin"
    assert _quiet(encode, [str(CROPS[0]), "--out", str(stream), "--first-frame-id", "7"]) == 0
    data = stream.read_bytes()
    packets = list(iter_stream(data, StreamStats()))
    (tmp_path / "cut.bin").write_bytes(b"".join(p.data for p in packets[:-1]))  # the last tile packet lost
    assert _quiet(decode, [str(tmp_path / "cut.bin"), "--out", str(tmp_path / "out"), "--fz"]) == 1
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        CROPS[0].stem + ".incomplete.fits", "report.json"]


@needs_cfitsio
@pytest.mark.parametrize(("codec", "tile"), CASES, ids=[f"{c}-{t or 'default'}" for c, t in CASES])
def test_funpack_and_fitsverify_accept_every_product(tmp_path: Path, codec: str, tile: str | None) -> None:
    files = CROPS + SHARED
    _, fz_dir, plain_dir = _decode_both(tmp_path, files, codec, tile)
    for z_path, p_path in zip(_products(fz_dir), _products(plain_dir), strict=True):
        check = subprocess.run(["fitsverify", str(z_path)], capture_output=True, text=True, check=False)
        assert "Verification found 0 warning(s) and 0 error(s)" in check.stdout, check.stdout[-2000:]
        out = tmp_path / (z_path.name + ".unpacked.fits")
        subprocess.run(["funpack", "-O", str(out), str(z_path)], check=True, capture_output=True)
        with fits.open(out, do_not_scale_image_data=True) as u, \
                fits.open(p_path, do_not_scale_image_data=True) as p:
            hdu = u[1] if u[0].header["NAXIS"] == 0 else u[0]
            np.testing.assert_array_equal(hdu.data, p[0].data)
            assert _values(hdu.header) == _values(p[0].header)


def test_card_the_compressed_header_writes_falls_back_to_plain_fits(tmp_path: Path) -> None:
    """A verified frame carrying ZCMPTYPE (its own card) cannot be a .fits.fz without changing what a reader sees:
    it is written as plain .fits, and the report says why; the frame beside it is a .fits.fz."""
    data = stream([frame("odd", card("ZCMPTYPE= 'MINE    '")), frame("plain", seed=1)])
    (tmp_path / "s.bin").write_bytes(data)
    assert _quiet(decode, [str(tmp_path / "s.bin"), "--out", str(tmp_path / "out"), "--fz"]) == 0
    report = json.loads((tmp_path / "out" / "report.json").read_text())["frames"]
    assert [Path(f["path"]).name for f in report] == ["odd.fits", "plain.fits.fz"]
    assert report[0]["fz_error"] == (".fits.fz not written, plain .fits instead: header card 1: keyword ZCMPTYPE "
                                     "is one the tile-compressed header writes")
    assert report[0]["fz_tiles"] is None and report[1]["fz_tiles"] == {"tiles": 6, "downlinked": 0}
    with fits.open(tmp_path / "out" / "odd.fits") as hdul:
        assert hdul[0].header["ZCMPTYPE"] == "MINE"


@needs_cfitsio
@pytest.mark.parametrize("codec", ["rice", "raw"])
def test_one_d_cube_and_long_strings(tmp_path: Path, codec: str) -> None:
    """A 1-D image, a uint8 4-D cube (one .fits.fz per plane) and a 150-character CONTINUE string under its own
    EXTNAME: funpack gives the plain product's pixels, fitsverify finds 0 errors and no warning the plain product
    does not also have (the source's CONTINUE cards without LONGSTRN give one in both)."""
    fits.PrimaryHDU(np.arange(33, dtype=np.int16)).writeto(tmp_path / "one.fits")
    cube = (np.arange(2 * 3 * 40 * 50) % 251).astype(np.uint8).reshape(2, 3, 40, 50)
    fits.PrimaryHDU(cube).writeto(tmp_path / "cube.fits")
    hdu = fits.PrimaryHDU(np.arange(20 * 30, dtype=np.int32).reshape(20, 30) - 300)
    hdu.header["LONGSTR"], hdu.header["EXTNAME"] = "x" * 150, "SCI"
    hdu.writeto(tmp_path / "long.fits")
    files = [tmp_path / n for n in ("one.fits", "cube.fits", "long.fits")]
    (tmp_path / "w").mkdir()
    _, fz_dir, plain_dir = _decode_both(tmp_path / "w", files, codec, None)
    fz, plain = _products(fz_dir), _products(plain_dir)
    assert len(fz) == 8
    for z_path, p_path in zip(fz, plain, strict=True):
        warnings = []
        for path in (z_path, p_path):
            text = subprocess.run(["fitsverify", str(path)], capture_output=True, text=True, check=False).stdout
            found = re.search(r"Verification found (\d+) warning\(s\) and (\d+) error\(s\)", text)
            assert found and found.group(2) == "0", text[-2000:]
            warnings.append(found.group(1))
        assert warnings[0] == warnings[1]
        out = tmp_path / (z_path.name + ".unpacked.fits")
        subprocess.run(["funpack", "-O", str(out), str(z_path)], check=True, capture_output=True)
        with fits.open(out, do_not_scale_image_data=True) as u, fits.open(p_path, do_not_scale_image_data=True) as p:
            unpacked = u[1] if u[0].header["NAXIS"] == 0 else u[0]
            np.testing.assert_array_equal(unpacked.data, p[0].data)
            assert unpacked.data.shape == p[0].data.shape
            assert _values(unpacked.header) == _values(p[0].header)
