"""One bad frame never costs another; cards the product could not hold as sent make a frame corrupt.

Issue 12, section 4 ("One bad frame never costs another", "Cards"). Before: a non-ASCII byte or a malformed
CONTINUE in one frame's cards aborted the whole decode (astropy traceback, exit 1, no report, no product);
frames carrying SIMPLE, BITPIX, NAXISn, XTENSION, END or AFSTATUS verified and were written as FITS files that
read back as other pixels.
"""

from __future__ import annotations

import contextlib
import io
import json

import numpy as np
import pytest
from astropy.io import fits

import ground.decode as decode
from flight.errors import FormatError
from ground.cards import check_cards

from .streams import card, frame, stream

GOOD = [frame("good_a", card("OBSERVER= 'me'"), 1), frame("good_b", card("HISTORY plain"), 2)]


def _run(tmp_path, data: bytes, name: str = "s") -> tuple[int, dict]:
    (tmp_path / f"{name}.bin").write_bytes(data)
    with contextlib.redirect_stdout(io.StringIO()):
        rc = decode.run([str(tmp_path / f"{name}.bin"), "--out", str(tmp_path / name)])
    return rc, json.loads((tmp_path / name / "report.json").read_text())


def _assert_good_frames_written(tmp_path, report, name="s"):
    by_name = {f["name"]: f for f in report["frames"]}
    for f in GOOD:
        entry = by_name[f.name]
        assert entry["status"] == "verified" and entry["path"] == str(tmp_path / name / f"{f.name}.fits")
        with fits.open(entry["path"], do_not_scale_image_data=True) as hdul:
            assert np.array_equal(hdul[0].data, f.pixels)


BAD_CARDS = {
    "non-ASCII byte": (card("COMMENT caf? au lait"), (b"caf?", b"caf\xe9"), "printable ASCII"),
    "malformed CONTINUE": (card("LONGSTR = 'abc&'") + card("CONTINUE  abc"), None, "CONTINUE"),
    "SIMPLE": (card("SIMPLE  =                    T"), None, "reserved keyword SIMPLE"),
    "BITPIX": (card("BITPIX  =                    8"), None, "reserved keyword BITPIX"),
    "NAXIS2": (card("NAXIS2  =                    3"), None, "reserved keyword NAXIS2"),
    "XTENSION": (card("XTENSION= 'IMAGE   '"), None, "reserved keyword XTENSION"),
    "END": (card("END") + card("OBJECT  = 'x'"), None, "reserved keyword END"),
    "AFSTATUS": (card("AFSTATUS= 'VERIFIED'"), None, "reserved keyword AFSTATUS"),
    "AFFRAME": (card("AFFRAME =                   99"), None, "reserved keyword AFFRAME"),
}


@pytest.mark.parametrize("case", sorted(BAD_CARDS))
def test_a_frame_with_bad_cards_is_corrupt_and_the_others_are_written(tmp_path, case):
    cards, patch, reason = BAD_CARDS[case]
    frames = [GOOD[0], frame("bad", card("OBJECT  = 'm31'") + cards, 3), GOOD[1]]
    rc, report = _run(tmp_path, stream(frames, {1: patch} if patch else None))
    assert rc == 1
    bad = next(f for f in report["frames"] if f["frame_id"] == 1)
    assert bad["status"] == "corrupt" and reason in bad["reason"] and bad["path"] is None
    assert report["summary"]["verified"] == 2
    _assert_good_frames_written(tmp_path, report)
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == ["good_a.fits", "good_b.fits", "report.json"]


def test_check_cards_accepts_what_flight_sends():
    cards = card("OBJECT  = 'm31'     / target") + card("BZERO   =                32768") + card("HISTORY x")
    cards += card("LONGSTR = 'abc&'") + card("CONTINUE  'def'") + card("HIERARCH ESO DET CHIP = 'x'")
    header = check_cards(cards)
    assert header["LONGSTR"] == "abcdef" and header["BZERO"] == 32768
    assert len(check_cards("")) == 0
    with pytest.raises(FormatError, match="whole number"):
        check_cards("OBJECT  = 'x'")


def test_a_product_that_cannot_be_written_costs_only_itself(tmp_path, monkeypatch):
    real = decode.write_product

    def failing(result, out, file_name=None):
        if result.name == "victim":
            raise OSError(28, "No space left on device")
        return real(result, out, file_name)

    monkeypatch.setattr(decode, "write_product", failing)
    rc, report = _run(tmp_path, stream([GOOD[0], frame("victim", seed=4), GOOD[1]]))
    assert rc == 1
    victim = next(f for f in report["frames"] if f["name"] == "victim")
    assert victim["status"] == "verified" and victim["path"] is None
    assert victim["product_error"] == "product not written: No space left on device"
    assert report["summary"]["products_not_written"] == 1
    _assert_good_frames_written(tmp_path, report)
