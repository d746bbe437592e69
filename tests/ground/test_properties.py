"""Property-based tests (hypothesis): codecs and container round-trip anything; damaged streams never lie.

Bounded example counts keep this in CI; the long campaign is ``python benchmarks/fuzz_ground.py``.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from flight.codecs.registry import get_codec
from flight.encoder import encode_frame
from flight.frame import Frame
from flight.packets import Packetizer
from ground.reassembly import INCOMPLETE, VERIFIED, Reassembler
from tests.stream_mutations import mutate

DTYPES = {8: np.uint8, 16: np.int16, 32: np.int32}


@st.composite
def frames(draw, max_side: int = 40) -> Frame:
    bitpix = draw(st.sampled_from([8, 16, 32]))
    rows = draw(st.integers(1, max_side))
    cols = draw(st.integers(1, max_side))
    dtype = DTYPES[bitpix]
    info = np.iinfo(dtype)
    style = draw(st.sampled_from(["any", "smooth", "constant"]))
    if style == "any":
        pixels = draw(arrays(dtype, (rows, cols), elements=st.integers(int(info.min), int(info.max))))
    else:
        base = draw(st.integers(int(info.min), int(info.max)))
        rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
        noise = rng.normal(0, 3, (rows, cols)).round() if style == "smooth" else np.zeros((rows, cols))
        pixels = np.clip(base + noise, info.min, info.max).astype(dtype)
    bzero = draw(st.sampled_from([None, 32768.0, -128.0, 2.0**31]))
    blank = draw(st.sampled_from([None, int(info.min), 0]))
    return Frame("prop", np.ascontiguousarray(pixels), bitpix, bzero=bzero, bscale=1.0 if bzero else None,
                 blank=blank, cards="OBJECT  = 'prop'".ljust(80))


def _decode(packets: list[bytes]) -> Reassembler:
    ground = Reassembler()
    for p in packets:
        ground.add_packet(p)
    return ground


@pytest.mark.parametrize("codec", ["raw", "rice"])
@given(frame=frames(), tile=st.tuples(st.integers(1, 48), st.integers(1, 48)),
       packet=st.integers(64, 3000))
def test_any_integer_frame_round_trips_bit_exact(codec, frame, tile, packet):
    enc = encode_frame(frame, get_codec(codec), tile, frame_id=11)
    res = _decode(Packetizer(packet).packetize(enc)).result(11)
    assert res.status == VERIFIED
    assert res.pixels.dtype == frame.pixels.dtype and np.array_equal(res.pixels, frame.pixels)
    h = res.header
    assert (h.bzero, h.bscale, h.blank, h.cards) == (frame.bzero, frame.bscale, frame.blank, frame.cards)


@pytest.mark.parametrize("codec", ["raw", "rice"])
@given(frame=frames(24), tile=st.tuples(st.integers(1, 24), st.integers(1, 24)), seed=st.integers(0, 2**32 - 1),
       n=st.integers(1, 6))
def test_damaged_streams_are_verified_and_identical_or_say_what_is_missing(codec, frame, tile, seed, n):
    rng = np.random.default_rng(seed)
    enc = encode_frame(frame, get_codec(codec), tile, frame_id=3)
    packets = mutate(Packetizer(int(rng.integers(64, 600))).packetize(enc), rng, n)
    ground = _decode(packets)
    for frame_id in ground.frame_ids():
        res = ground.result(frame_id)
        if res.status == VERIFIED:
            assert frame_id == 3 and np.array_equal(res.pixels, frame.pixels)
            assert (res.header.bzero, res.header.bscale, res.header.blank) == (frame.bzero, frame.bscale, frame.blank)
            assert res.header.name == frame.name and res.header.cards == frame.cards
        elif res.status == INCOMPLETE:
            assert res.missing_parts or res.missing_tiles
            assert res.missing
        else:
            assert res.reason
