"""The CLI contract: tools.encode then ground.decode reproduces every integer frame exactly; bad input exits 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from tests.shared_data import TEST_DATA, needs_shared, repo_fits_files, shared_fits_files
from tools.fits_input import read_fits_frames


def run(*args, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, cwd=cwd)


def assert_products_match(files: list[Path], out: Path) -> int:
    """Every plane of every input equals its product: stored integers, dtype, BZERO/BSCALE/BLANK."""
    n = 0
    for f in files:
        for frame in read_fits_frames(f):
            with fits.open(out / f"{frame.name}.fits", do_not_scale_image_data=True) as hdul:
                data, head = hdul[0].data, hdul[0].header
                assert data.dtype.itemsize == frame.pixels.dtype.itemsize and data.dtype.kind == frame.pixels.dtype.kind
                assert np.array_equal(data, frame.pixels), frame.name
                assert head.get("BZERO") == frame.bzero and head.get("BSCALE") == frame.bscale
                assert head.get("BLANK") == frame.blank
                assert head["AFSTATUS"] == "VERIFIED"
            n += 1
    return n


def _round_trip(files, codec, tmp_path, tile=None):
    stream = tmp_path / f"{codec}.bin"
    extra = ["--tile", tile] if tile else []
    enc = run("tools.encode", *map(str, files), "--codec", codec, "--out", str(stream), "--json", *extra)
    assert enc.returncode == 0, enc.stderr
    summary = json.loads(enc.stdout)
    for row in summary["frames"]:
        assert set(row) >= {"name", "shape", "dtype", "raw_bytes", "coded_bytes", "ratio", "encode_s"}
    assert set(summary["total"]) >= {"raw_bytes", "coded_bytes", "ratio"}
    dec = run("ground.decode", str(stream), "--out", str(tmp_path / codec), "--json")
    assert dec.returncode == 0, dec.stdout + dec.stderr
    report = json.loads(dec.stdout)
    assert all(f["status"] == "verified" for f in report["frames"])
    assert json.loads((tmp_path / codec / "report.json").read_text()) == report
    assert len(report["frames"]) == assert_products_match(files, tmp_path / codec)
    return summary


@needs_shared
@pytest.mark.parametrize("codec", ["raw", "rice", "idf"])
def test_every_shared_integer_frame_round_trips(codec, tmp_path):
    files = shared_fits_files("int")
    summary = _round_trip(files, codec, tmp_path)
    if codec in ("rice", "idf"):
        assert summary["total"]["ratio"] > 1.5
    if codec == "idf":  # 32-bit frames fall back to RICE, and say so
        notes = {f["name"]: f.get("note", "") for f in summary["frames"]}
        assert all(("rice" in notes[f["name"]]) == (f["dtype"] == "int32") for f in summary["frames"])


@pytest.mark.parametrize(
    "codec,tile", [("raw", None), ("rice", None), ("rice", "7x13"), ("idf", None), ("idf", "33x17")]
)
def test_repo_crops_round_trip(codec, tile, tmp_path):
    files = repo_fits_files()
    if not files:
        pytest.skip("no FITS crops in tests/data")
    _round_trip(files, codec, tmp_path, tile)


def test_litert_kernels_write_the_same_stream_and_cross_decode(tmp_path):
    """``--kernels litert`` (LiteRT's reference kernels) writes the numba kernels' stream byte for byte, and a
    stream coded on one kernel set verifies when the ground decodes it on the other."""
    src = TEST_DATA / "crop_saao1m-ste3_u16.fits"
    streams = {}
    for kernels in ("numba", "litert"):
        streams[kernels] = tmp_path / f"{kernels}.bin"
        enc = run("tools.encode", str(src), "--codec", "idf", "--kernels", kernels, "--first-frame-id", "0",
                  "--out", str(streams[kernels]))
        assert enc.returncode == 0, enc.stderr
    assert streams["numba"].read_bytes() == streams["litert"].read_bytes()
    for coded, decoding in (("litert", "numba"), ("numba", "litert")):
        out = tmp_path / f"{coded}-on-{decoding}"
        dec = run("ground.decode", str(streams[coded]), "--kernels", decoding, "--out", str(out), "--json")
        assert dec.returncode == 0, dec.stdout + dec.stderr
        assert [f["status"] for f in json.loads(dec.stdout)["frames"]] == ["verified"]
        assert assert_products_match([src], out) == 1


def test_unavailable_kernel_set_is_one_line(monkeypatch):
    """Without ai-edge-litert, asking for the litert kernel set is an InputError naming the install command."""
    from flight.errors import InputError
    from flight.litert_kernels import require_kernels

    monkeypatch.setitem(sys.modules, "ai_edge_litert", None)  # import fails as if not installed
    with pytest.raises(InputError, match=r'pip install "astroflight\[litert\]"'):
        require_kernels("litert")
    with pytest.raises(InputError, match="unknown kernel set 'xnnpack'"):
        require_kernels("xnnpack")


def test_flipped_bit_in_stream_reports_incomplete_and_names_tile(tmp_path):
    src = tmp_path / "sky.fits"
    rng = np.random.default_rng(3)
    fits.PrimaryHDU((1000 + rng.poisson(50, (64, 128))).astype(np.int16)).writeto(src)
    stream = tmp_path / "s.bin"
    enc = run("tools.encode", str(src), "--codec", "rice", "--out", str(stream), "--packet-size", "512")
    assert enc.returncode == 0
    data = bytearray(stream.read_bytes())
    data[len(data) // 2] ^= 0x04
    stream.write_bytes(bytes(data))
    dec = run("ground.decode", str(stream), "--out", str(tmp_path / "o"), "--json")
    assert dec.returncode == 1
    frame = json.loads(dec.stdout)["frames"][0]
    assert frame["status"] == "incomplete" and frame["missing"] and frame["missing"][0].startswith("tile ")
    assert not (tmp_path / "o" / "sky.fits").exists()
    assert (tmp_path / "o" / "sky.incomplete.fits").exists()


def _bad_inputs(tmp_path: Path) -> dict[str, list[str]]:
    good = tmp_path / "good.fits"
    fits.PrimaryHDU(np.arange(64, dtype=np.int16).reshape(8, 8)).writeto(good)
    flt = tmp_path / "float.fits"
    fits.PrimaryHDU(np.ones((8, 8), np.float32)).writeto(flt)
    text = tmp_path / "notes.fits"
    text.write_text("this is not FITS\n")
    trunc = tmp_path / "trunc.fits"
    trunc.write_bytes(good.read_bytes()[:2880 + 50])
    locked = tmp_path / "locked"
    locked.mkdir()
    os.chmod(locked, 0o500)
    out = str(tmp_path / "out.bin")
    return {
        "float image": [str(flt), "--out", out],
        "non-FITS file": [str(text), "--out", out],
        "missing file": [str(tmp_path / "nope.fits"), "--out", out],
        "truncated FITS": [str(trunc), "--out", out],
        "unknown codec": [str(good), "--codec", "zip", "--out", out],
        "unwritable output": [str(good), "--out", str(tmp_path / "no-such-dir" / "x.bin")],
        "directory as output": [str(good), "--out", str(tmp_path)],
        "directory as input": [str(tmp_path), "--out", out],
        "bad tile": [str(good), "--tile", "0x4", "--out", out],
    }


@pytest.mark.parametrize("case", [
    "float image", "non-FITS file", "missing file", "truncated FITS", "unknown codec", "unwritable output",
    "directory as output", "directory as input", "bad tile"])
def test_encode_bad_input_is_one_line_exit_2_no_output(case, tmp_path):
    args = _bad_inputs(tmp_path)[case]
    before = set(tmp_path.rglob("*"))
    res = run("tools.encode", *args)
    assert res.returncode == 2, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in res.stderr and "error" in lines[0]
    assert set(tmp_path.rglob("*")) == before  # nothing written, not even a temporary file


def test_decode_bad_input(tmp_path):
    junk = tmp_path / "junk.bin"
    junk.write_bytes(os.urandom(5000))
    for args in ([str(tmp_path / "none.bin"), "--out", str(tmp_path / "o")],
                 [str(junk), "--out", str(tmp_path / "o")],
                 [str(tmp_path), "--out", str(tmp_path / "o")]):
        res = run("ground.decode", *args)
        assert res.returncode == 2 and len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert not (tmp_path / "o" / "report.json").exists()


def test_help_explains_every_flag_with_an_example():
    for mod, flags in (("tools.encode", ["--codec", "--out", "--tile", "--json", "--model"]),
                       ("ground.decode", ["--out", "--json", "--model"])):
        res = run(mod, "--help")
        assert res.returncode == 0 and "example:" in res.stdout
        assert all(f in res.stdout for f in flags)
