"""Fidelity (issue 12, section 1): a verified product carries the source header card for card and the source axes.

Card for card means the raw 80-character card images, in order (CONTINUE and HIERARCH cards, BZERO/BSCALE/BLANK
with their comments, where they stood), with only the structural cards rebuilt and the documented status cards
(AFSTATUS, AFFRAME, AFPLANE) added at the end. Files are written by astropy here, and the real frames of
../shared/data/fits are checked when present.
"""

from __future__ import annotations

import dataclasses
import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from flight.checksums import frame_digest
from flight.codecs.raw import RawCodec
from flight.codecs.rice import RiceCodec
from flight.container import FrameHeader
from flight.encoder import encode_frame
from flight.errors import FormatError
from flight.packets import Packetizer
from ground.products import product_bytes
from ground.reassembly import Reassembler
from tools.fits_input import read_fits

SHARED_FITS = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "fits"
STRUCTURAL = {"SIMPLE", "XTENSION", "BITPIX", "NAXIS", "EXTEND", "PCOUNT", "GCOUNT", "CHECKSUM", "DATASUM"}
STATUS = ("AFSTATUS", "AFFRAME", "AFPLANE")


def file_cards(data: bytes, offset: int = 0) -> list[str]:
    """Card images of the header at ``offset`` of a FITS file, read here without astropy (non-ASCII -> '?')."""
    cards = []
    pos = offset
    while pos + 80 <= len(data):
        image = data[pos : pos + 80].decode("ascii", errors="replace").replace("\ufffd", "?")
        if image.startswith("END     "):
            return cards
        cards.append(image)
        pos += 80
    raise AssertionError("no END card")


def content(cards: list[str]) -> list[str]:
    """The cards without the structural ones (a CONTINUE card goes with the card it continues)."""
    out, keep = [], True
    for image in cards:
        key = image[:8].rstrip()
        if key != "CONTINUE":
            keep = not (key in STRUCTURAL or (key.startswith("NAXIS") and key[5:].isdigit()))
        if keep:
            out.append(image)
    return out


def through_link(path: Path, codec=None) -> dict[str, bytes]:
    """Encode every frame of ``path`` in process, reassemble the packets on the ground: name -> product bytes."""
    packetizer, ground = Packetizer(), Reassembler()
    for k, frame in enumerate(read_fits(path).frames):
        for packet in packetizer.packetize(encode_frame(frame, codec or RawCodec(), None, k)):
            assert ground.add_packet(packet)
    results = [ground.result(i) for i in ground.frame_ids()]
    assert all(r.status == "verified" for r in results), [r.reason for r in results]
    return {r.name: product_bytes(r) for r in results}


def long_card_file(path: Path) -> Path:
    """8x8 int16 image (astropy-written) with a 160-character string, a long HIERARCH string and scaling cards
    with comments standing between other cards."""
    header = fits.Header()
    header["OBJECT"] = ("M31", "target")
    header["LONGSTR"] = ("x" * 70 + "y" * 90, "a 160-character value")
    header["HIERARCH ESO INS LONG NAME"] = "z" * 150
    header["AFTER"] = (1, "after the long ones")
    header["HISTORY"] = "one history card"
    data = (np.arange(64, dtype=np.int16).reshape(8, 8) * 37 - 900).astype(np.int16)
    fits.PrimaryHDU(data, header=header).writeto(path)
    with fits.open(path, mode="update", do_not_scale_image_data=True) as hdul:  # astropy drops BZERO on write
        h = hdul[0].header
        h.set("BZERO", 32768, "offset to unsigned", after="OBJECT")
        h.set("BSCALE", 1, "no scaling", after="BZERO")
        h.set("BLANK", -32768, "undefined pixels", after="AFTER")
    return path


def test_long_strings_scaling_cards_and_order_travel_exactly(tmp_path):
    src = long_card_file(tmp_path / "long.fits")
    product = through_link(src, RiceCodec())["long"]
    source_cards = file_cards(src.read_bytes())
    got = file_cards(product)
    assert len([c for c in source_cards if c.startswith("CONTINUE")]) == 5  # both long values split
    assert content(got)[: -2] == content(source_cards)
    assert [c[:8].rstrip() for c in got[-2:]] == ["AFSTATUS", "AFFRAME"]
    with fits.open(io.BytesIO(product), do_not_scale_image_data=True) as hdul:
        hdul.verify("exception")
        h = hdul[0].header
        assert h["LONGSTR"] == "x" * 70 + "y" * 90 and h.comments["LONGSTR"] == "a 160-character value"
        assert h["ESO INS LONG NAME"] == "z" * 150
        assert (h["BZERO"], h.comments["BZERO"], h["BSCALE"], h.comments["BSCALE"]) == \
            (32768, "offset to unsigned", 1, "no scaling")
        assert list(h)[list(h).index("OBJECT") + 1 : list(h).index("OBJECT") + 3] == ["BZERO", "BSCALE"]
        assert (h["BLANK"], h.comments["BLANK"]) == (-32768, "undefined pixels")
        with fits.open(src, do_not_scale_image_data=True) as ref:
            assert np.array_equal(hdul[0].data, ref[0].data)


def test_checksum_identity_covers_every_continue_card(tmp_path):
    frame = read_fits(long_card_file(tmp_path / "long.fits")).frames[0]
    head = FrameHeader.unpack(encode_frame(frame, RawCodec()).header)
    assert frame_digest(frame.pixels, head.identity()) == head.checksum
    last_continue = max(i for i in range(0, len(head.cards), 80) if head.cards[i : i + 8] == "CONTINUE")
    cards = head.cards[: last_continue + 12] + "Q" + head.cards[last_continue + 13 :]
    assert frame_digest(frame.pixels, dataclasses.replace(head, cards=cards).identity()) != head.checksum


def run(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True)


@pytest.mark.parametrize("codec", ["rice", "idf"])
def test_cli_round_trip_keeps_continue_cards(codec, tmp_path):
    src = long_card_file(tmp_path / "long.fits")
    stream = tmp_path / "s.bin"
    assert run("tools.encode", str(src), "--codec", codec, "--out", str(stream)).returncode == 0
    dec = run("ground.decode", str(stream), "--out", str(tmp_path / "out"), "--json")
    assert dec.returncode == 0, dec.stdout + dec.stderr
    product = (tmp_path / "out" / "long.fits").read_bytes()
    assert content(file_cards(product))[:-2] == content(file_cards(src.read_bytes()))
    with fits.open(tmp_path / "out" / "long.fits") as hdul:
        assert hdul[0].header["LONGSTR"] == "x" * 70 + "y" * 90


def test_one_dimensional_image_comes_back_one_dimensional(tmp_path):
    src = tmp_path / "spectrum.fits"
    values = (np.arange(33, dtype=np.int16) * 97 - 1500).astype(np.int16)
    fits.PrimaryHDU(values).writeto(src)
    frame = read_fits(src).frames[0]
    assert frame.pixels.shape == (1, 33) and frame.axes == (33,)
    product = through_link(src, RiceCodec())["spectrum"]
    with fits.open(io.BytesIO(product)) as hdul:
        hdul.verify("exception")
        assert hdul[0].header["NAXIS"] == 1 and hdul[0].header["NAXIS1"] == 33 and "NAXIS2" not in hdul[0].header
        assert hdul[0].data.dtype == np.dtype(">i2") and np.array_equal(hdul[0].data, values)


def test_cube_planes_carry_source_axes_and_plane(tmp_path):
    src = tmp_path / "cube.fits"
    cube = np.arange(2 * 3 * 4 * 5, dtype=np.int16).reshape(2, 3, 4, 5)
    fits.PrimaryHDU(cube).writeto(src)
    frames = read_fits(src).frames
    assert [f.plane for f in frames] == list(range(6)) and {f.axes for f in frames} == {(5, 4, 3, 2)}
    head = FrameHeader.unpack(encode_frame(frames[4], RawCodec()).header)
    assert (head.axes, head.plane, head.rows, head.cols) == ((5, 4, 3, 2), 4, 4, 5)
    products = through_link(src)
    with fits.open(io.BytesIO(products["cube_p4"])) as hdul:
        assert hdul[0].header["AFPLANE"] == "1,1"  # numpy index (NAXIS4, NAXIS3) of plane 4
        assert np.array_equal(hdul[0].data, cube[1, 1])


def test_container_refuses_other_versions_with_one_line():
    frame = read_fits_frame_free()
    raw = bytearray(encode_frame(frame, RawCodec()).header)
    raw[4] = 1
    with pytest.raises(FormatError, match="container version 1; this ground reads version 2 only"):
        FrameHeader.unpack(bytes(raw))


def test_container_refuses_axes_that_do_not_hold_the_plane():
    head = FrameHeader.unpack(encode_frame(read_fits_frame_free(), RawCodec()).header)
    with pytest.raises(ValueError, match="do not fit"):
        dataclasses.replace(head, axes=(3, 2, 2), plane=2).pack()
    packed = bytearray(dataclasses.replace(head, axes=(3, 2, 2), plane=1).pack())
    packed[-5] = 7  # the last axis byte: NAXIS3 = 7 is fine, then the plane index: beyond 1 plane
    FrameHeader.unpack(bytes(packed))
    packed[-1] = 9
    with pytest.raises(FormatError, match="plane 9 beyond the 7 planes"):
        FrameHeader.unpack(bytes(packed))


def read_fits_frame_free():
    """A small 2x3 frame without a FITS file."""
    from flight.frame import Frame

    return Frame("tiny", np.arange(6, dtype=np.int16).reshape(2, 3), 16)


@pytest.mark.skipif(not SHARED_FITS.is_dir(), reason=f"{SHARED_FITS} not present")
@pytest.mark.parametrize("name", sorted(p.name for p in SHARED_FITS.glob("[gsx]*.fits")) if SHARED_FITS.is_dir()
                         else ["none"])
def test_real_files_keep_every_card_and_axis(name):
    """Every image HDU of every real integer file: its cards, in order, and its axes (planes for cubes)."""
    src = SHARED_FITS / name
    data = src.read_bytes()
    products = through_link(src)
    with fits.open(src, do_not_scale_image_data=True) as hdul:
        images = [(i, h) for i, h in enumerate(hdul) if h.header.get("NAXIS", 0) and h.header["BITPIX"] > 0]
        checked = 0
        for index, hdu in images:
            stem = src.stem + (f"_h{index}" if len(images) > 1 else "")
            names = [n for n in products if n == stem or n.startswith(stem + "_p")]
            want = content(file_cards(data, hdu._header_offset))
            axes = [hdu.header[f"NAXIS{k}"] for k in range(1, hdu.header["NAXIS"] + 1)]
            for product_name in names:
                got = file_cards(products[product_name])
                status = [c for c in got if c[:8].rstrip() in STATUS]
                assert content(got)[: -len(status)] == want, product_name
                got_axes = [int(c[10:30]) for c in got if c.startswith("NAXIS") and c[5] != " "]
                assert got_axes == (axes if len(axes) <= 2 else axes[:2]), product_name
                checked += 1
        assert checked == len(products) > 0
        source_is_valid = _valid(hdul)
    if source_is_valid:  # cards copied exactly: a product is valid FITS whenever its source is
        for product in products.values():
            with fits.open(io.BytesIO(product)) as out:
                out.verify("exception")


def _valid(hdul) -> bool:
    try:
        hdul.verify("exception")
    except fits.VerifyError:
        return False
    return True



def mixed_file(path: Path) -> Path:
    """Header-only primary, int16 image, int64 image, float32 image, binary table (astropy-written)."""
    table = fits.BinTableHDU.from_columns([fits.Column(name="a", format="J", array=[1, 2])])
    fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(np.ones((4, 4), np.int16)), fits.ImageHDU(np.ones((4, 4), np.int64)),
                  fits.ImageHDU(np.ones((4, 4), np.float32)), table]).writeto(path)
    return path


MIXED_SKIPPED = [
    (0, "header only (NAXIS = 0, no pixels)"),
    (2, "64-bit integers (BITPIX 64): the container carries 8-, 16- and 32-bit integers only"),
    (3, "floating-point pixels (BITPIX -32): lossless float support is not provided"),
    (4, "BinTableHDU: a table, not an image"),
]


def test_every_hdu_is_encoded_or_named_as_skipped(tmp_path):
    src = mixed_file(tmp_path / "mixed.fits")
    stream = tmp_path / "s.bin"
    text = run("tools.encode", str(src), "--out", str(stream))
    assert text.returncode == 0, text.stderr
    for hdu, why in MIXED_SKIPPED:
        assert f"skipped {src} HDU {hdu}: {why}\n" in text.stdout
    js = run("tools.encode", str(src), "--out", str(stream), "--json")
    summary = json.loads(js.stdout)
    assert [f["name"] for f in summary["frames"]] == ["mixed"]
    assert summary["skipped"] == [{"file": str(src), "hdu": h, "reason": w} for h, w in MIXED_SKIPPED]


@pytest.mark.parametrize("data,why", [
    (np.ones((4, 4), np.int64), "HDU 0: 64-bit integers (BITPIX 64): the container carries 8-, 16- and 32-bit "
     "integers only"),
    (np.zeros((0, 5), np.int16), "HDU 0: empty image (NAXIS2 = 0, no pixels)"),
])
def test_int64_and_empty_images_are_refused_for_the_right_reason(data, why, tmp_path):
    src = tmp_path / "bad.fits"
    fits.PrimaryHDU(data).writeto(src)
    out = run("tools.encode", str(src), "--out", str(tmp_path / "s.bin"))
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr == f"python -m tools.encode: error: {src}: no integer image to compress ({why})\n"
    assert "float" not in out.stderr and not (tmp_path / "s.bin").exists()


def test_header_of_40000_history_cards_goes_through(tmp_path):
    src = tmp_path / "history.fits"
    header = fits.Header.fromstring("".join(f"HISTORY step {k}".ljust(80) for k in range(40_000)))
    fits.PrimaryHDU(np.arange(64, dtype=np.int16).reshape(8, 8), header=header).writeto(src)
    product = through_link(src)["history"]
    got = file_cards(product)
    assert len(got) == 6 + 40_000 + 2 and got[6 + 39_999].rstrip() == "HISTORY step 39999"
    assert content(got)[:-2] == content(file_cards(src.read_bytes()))


def test_header_beyond_the_container_limit_is_one_line_and_exit_2(tmp_path, monkeypatch, capsys):
    """The limit (3,000,000 cards) is lowered here to 100 cards so the test stays small."""
    import tools.fits_input
    from tools.encode import main

    src = tmp_path / "history.fits"
    fits.PrimaryHDU(np.ones((2, 2), np.int16), header=fits.Header.fromstring("HISTORY x".ljust(80) * 101)).writeto(src)
    monkeypatch.setattr(tools.fits_input, "MAX_CARDS", 100 * 80)
    assert main([str(src), "--out", str(tmp_path / "s.bin")]) == 2
    err = capsys.readouterr().err
    assert err == f"python -m tools.encode: error: {src}: HDU 0 has 101 header cards, more than the container " \
        "carries (100)\n"
    assert not (tmp_path / "s.bin").exists()


def two_observations(tmp_path: Path) -> tuple[Path, Path]:
    """a/m31.fits and b/m31.fits: same name and shape, different pixels."""
    rng = np.random.default_rng(31)
    paths = []
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        paths.append(tmp_path / folder / "m31.fits")
        fits.PrimaryHDU(rng.integers(0, 500, (40, 50)).astype(np.int16)).writeto(paths[-1])
    return paths[0], paths[1]


def encode_both(tmp_path: Path, *extra: str) -> subprocess.CompletedProcess:
    """Encode a/ and b/ in two runs, concatenate the streams, decode; the decode run."""
    streams = []
    for src in two_observations(tmp_path):
        streams.append(tmp_path / f"{src.parent.name}.bin")
        assert run("tools.encode", str(src), "--out", str(streams[-1]), *extra).returncode == 0
    both = tmp_path / "both.bin"
    both.write_bytes(b"".join(s.read_bytes() for s in streams))
    return run("ground.decode", str(both), "--out", str(tmp_path / "out"), "--json")


def test_frames_of_separate_runs_both_arrive(tmp_path):
    dec = encode_both(tmp_path)
    assert dec.returncode == 0, dec.stdout + dec.stderr
    report = json.loads(dec.stdout)
    assert report["summary"]["verified"] == 2 and report["summary"]["duplicates"] == 0
    assert report["frames"][0]["frame_id"] != report["frames"][1]["frame_id"]
    a, b = (fits.getdata(tmp_path / "out" / f["path"].split("/")[-1]) for f in report["frames"])
    assert {a.tobytes(), b.tobytes()} == {fits.getdata(p).tobytes() for p in (tmp_path / "a" / "m31.fits",
                                                                               tmp_path / "b" / "m31.fits")}


def test_same_frame_id_with_different_bytes_is_a_named_conflict(tmp_path):
    dec = encode_both(tmp_path, "--first-frame-id", "7")
    assert dec.returncode == 1
    report = json.loads(dec.stdout)
    (frame,) = report["frames"]
    assert frame["status"] == "corrupt" and frame["frame_id"] == 7
    assert frame["conflicting_parts"] == [0, 1, 2]
    assert frame["reason"] == ("3 packets conflict (parts [0, 1, 2] arrived again with different bytes or part "
                               "count): another frame uses frame id 7")
    assert report["summary"]["conflicts"] == 3 and report["summary"]["duplicates"] == 0


def test_retransmission_with_new_sequence_counts_is_a_duplicate():
    frame = read_fits_frame_free()
    enc = encode_frame(frame, RawCodec(), None, 5)
    ground = Reassembler()
    for packet in Packetizer().packetize(enc) + Packetizer(sequence_counts={0x100: 900, 0x101: 77}).packetize(enc):
        ground.add_packet(packet)
    assert (ground.stats.duplicates, ground.stats.conflicts, ground.result(5).status) == (2, 0, "verified")


def test_first_frame_id_and_clock_ids(tmp_path, capsys):
    from tools.encode import main

    src = tmp_path / "cube.fits"
    fits.PrimaryHDU(np.arange(3 * 4 * 5, dtype=np.int16).reshape(3, 4, 5)).writeto(src)
    assert main([str(src), "--out", str(tmp_path / "s.bin"), "--json", "--first-frame-id", "4294967295"]) == 0
    assert [r["frame_id"] for r in json.loads(capsys.readouterr().out)["frames"]] == [4294967295, 0, 1]
    runs = []
    for _ in range(2):  # default ids: the millisecond clock; a run holds until the clock has passed its last id
        assert main([str(src), "--out", str(tmp_path / "s.bin"), "--json"]) == 0
        runs.append([r["frame_id"] for r in json.loads(capsys.readouterr().out)["frames"]])
    assert not set(runs[0]) & set(runs[1])
    assert runs[0][1:] == [(runs[0][0] + k) & 0xFFFFFFFF for k in (1, 2)]
