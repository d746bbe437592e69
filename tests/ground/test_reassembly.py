"""Ground reassembly: any order, duplicates, losses and corruption never give a false 'verified'."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from flight.codecs.raw import RawCodec
from flight.codecs.rice import RiceCodec
from flight.container import pack_tile
from flight.encoder import encode_frame
from flight.frame import Frame
from flight.packets import SECONDARY, Packetizer, build_packet, parse_packet
from ground.reassembly import CORRUPT, INCOMPLETE, VERIFIED, Reassembler


def _frame(rng, rows=48, cols=70) -> Frame:
    sky = 1000 + rng.poisson(30, (rows, cols)) + rng.normal(0, 4, (rows, cols)).round()
    return Frame("sky", sky.astype(np.int16), 16, bzero=32768.0, bscale=1.0)


def _packets(frame, codec=None, tile=(8, 70), size=300, frame_id=5):
    enc = encode_frame(frame, codec or RawCodec(), tile, frame_id)
    return enc, Packetizer(size).packetize(enc)


def test_packets_in_any_order_with_duplicates_verify(rng):
    frame = _frame(rng)
    _, packets = _packets(frame)
    shuffled = packets + packets[:3]
    rng.shuffle(shuffled)
    ground = Reassembler()
    for p in shuffled:
        ground.add_packet(p)
    res = ground.result(5)
    assert res.status == VERIFIED and res.name == "sky"
    assert np.array_equal(res.pixels, frame.pixels) and res.header.bzero == 32768.0
    assert ground.stats.duplicates == 3


def test_flipped_bit_costs_only_its_tiles_and_names_them(rng):
    frame = _frame(rng)
    enc, packets = _packets(frame, tile=(1, 70), size=400)
    victim = 3
    lost_tiles = sorted(c.item - 1 for c in parse_packet(packets[victim]).chunks())
    bad = bytearray(packets[victim])
    bad[40] ^= 0x10
    ground = Reassembler()
    for i, p in enumerate(packets):
        ground.add_packet(bytes(bad) if i == victim else p)
    res = ground.result(5)
    assert res.status == INCOMPLETE
    assert res.missing_tiles == lost_tiles and res.missing == [f"tile {t}" for t in lost_tiles]
    assert res.missing_parts == [victim]
    assert res.missing_packets[0]["seq"] == parse_packet(packets[victim]).seq_count
    ok = res.mask
    assert np.array_equal(res.pixels[ok], frame.pixels[ok]) and (~ok).sum() == 70 * len(lost_tiles)
    ground.add_packet(packets[victim])  # retransmission completes it
    assert ground.result(5).status == VERIFIED


def test_missing_header_is_named(rng):
    _, packets = _packets(_frame(rng))
    ground = Reassembler()
    for p in packets[1:]:
        ground.add_packet(p)
    res = ground.result(5)
    assert res.status == INCOMPLETE and res.missing[0] == "header" and res.missing_parts == [0]


def _repack(packets, part, new_body):
    """Rebuild packet ``part`` with another body and a valid CRC: corruption the CRC cannot see."""
    p = parse_packet(packets[part])
    return build_packet(p.apid, p.seq_flags, p.seq_count, SECONDARY.pack(p.frame_id, part, p.part_count), new_body)


@pytest.mark.parametrize("codec", [RawCodec(), RiceCodec()])
def test_wrong_pixels_behind_a_valid_packet_crc_are_never_verified(rng, codec):
    frame = _frame(rng)
    _, packets = _packets(frame, codec=codec, tile=(8, 70), size=4096)
    p = parse_packet(packets[1])
    body = bytearray(p.data[18:-2])
    body[40] ^= 0x01  # inside the first tile's payload
    ground = Reassembler()
    for i, raw in enumerate(packets):
        ground.add_packet(_repack(packets, 1, bytes(body)) if i == 1 else raw)
    res = ground.result(5)
    assert res.status == CORRUPT and res.corrupt_tiles


def test_tile_crc_right_but_frame_checksum_wrong_is_corrupt(rng):
    frame = _frame(rng, 8, 70)
    enc = encode_frame(frame, RawCodec(), (8, 70), 5)
    other = frame.pixels.copy()
    other[0, 0] += 1
    from flight.checksums import tile_crc32

    enc.tiles[0] = pack_tile(0, tile_crc32(other), RawCodec().encode_tile(other))
    ground = Reassembler()
    for raw in Packetizer().packetize(enc):
        ground.add_packet(raw)
    assert ground.result(5).status == CORRUPT
    assert "checksum" in ground.result(5).reason


def test_header_claiming_a_huge_frame_is_not_allocated(rng):
    enc = encode_frame(_frame(rng, 4, 8), RawCodec(), None, 5)
    head = bytearray(enc.header)
    struct.pack_into(">II", head, 10, 65536, 4096)
    struct.pack_into(">II", head, 18, 1, 4096)
    enc.header = bytes(head)
    ground = Reassembler()
    for raw in Packetizer().packetize(enc):
        ground.add_packet(raw)
    res = ground.result(5)
    assert res.status == CORRUPT and res.pixels is None


def test_packet_claiming_millions_of_parts_costs_what_arrived_not_what_it_claims(rng):
    import time

    enc = encode_frame(_frame(rng, 8, 70), RawCodec(), (1, 70), 5)
    first = parse_packet(Packetizer(300).packetize(enc)[1])  # a tile packet: the header stays missing
    claims = (1 << 24) - 1
    hostile = build_packet(first.apid, first.seq_flags, first.seq_count, SECONDARY.pack(5, 7, claims),
                           first.data[18:-2])
    ground = Reassembler()
    assert ground.add_packet(hostile)
    t0 = time.process_time()
    res = ground.result(5)
    assert time.process_time() - t0 < 1.0
    assert res.status == INCOMPLETE and res.missing_parts_count == claims - 1
    assert len(res.missing_parts) <= 65536 and res.missing[-1].startswith("... and ")
    assert len(ground.missing_parts(5)) <= 65536
