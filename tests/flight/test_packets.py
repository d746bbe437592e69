"""CCSDS Space Packets: header bytes against the spacepackets oracle, CRC variant, counters, resync."""

from __future__ import annotations

import numpy as np
import pytest

from flight.checksums import crc16_ccsds
from flight.codecs.raw import RawCodec
from flight.encoder import encode_frame
from flight.errors import FormatError
from flight.frame import Frame
from flight.packets import (
    APID_FRAME_HEADER,
    APID_TILE_DATA,
    OVERHEAD,
    SECONDARY,
    SEQ_CONTINUATION,
    SEQ_FIRST,
    SEQ_LAST,
    SEQ_UNSEGMENTED,
    Packetizer,
    StreamStats,
    build_packet,
    iter_stream,
    packet_apid,
    parse_packet,
    wrap_seq,
)

spacepackets = pytest.importorskip("spacepackets")
from spacepackets.ccsds.spacepacket import PacketType, SequenceFlags, SpacePacketHeader  # noqa: E402


def _frame(rows=64, cols=300, seed=1) -> Frame:
    rng = np.random.default_rng(seed)
    return Frame("f", rng.integers(-200, 200, (rows, cols)).astype(np.int16), 16)


def test_crc16_is_ibm_3740_not_xmodem():
    assert crc16_ccsds(b"123456789") == 0x29B1


def test_primary_header_matches_spacepackets_oracle():
    enc = encode_frame(_frame(), RawCodec(), (8, 300), frame_id=7)
    packets = Packetizer(1024).packetize(enc)
    assert len(packets) > 3
    for raw in packets:
        p = parse_packet(raw)
        oracle = SpacePacketHeader(
            packet_type=PacketType.TM, apid=p.apid, seq_count=p.seq_count, data_len=len(raw) - 7,
            sec_header_flag=True, seq_flags=SequenceFlags(p.seq_flags),
        )
        assert raw[:6] == oracle.pack()
        back = SpacePacketHeader.unpack(raw[:6])
        assert back.apid == p.apid and back.seq_count == p.seq_count and back.data_len == len(raw) - 7


def test_segmentation_flags_and_apids_per_group():
    enc = encode_frame(_frame(), RawCodec(), (8, 300), frame_id=3)
    packets = [parse_packet(r) for r in Packetizer(512).packetize(enc)]
    heads = [p for p in packets if p.apid == APID_FRAME_HEADER]
    tiles = [p for p in packets if p.apid == APID_TILE_DATA]
    assert heads[0].part_index == 0 and all(p.part_count == len(packets) for p in packets)
    assert [p.part_index for p in packets] == list(range(len(packets)))
    for group in (heads, tiles):
        flags = [p.seq_flags for p in group]
        if len(group) == 1:
            assert flags == [SEQ_UNSEGMENTED]
        else:
            assert flags[0] == SEQ_FIRST and flags[-1] == SEQ_LAST
            assert all(f == SEQ_CONTINUATION for f in flags[1:-1])
    assert all(len(r) <= 512 for r in Packetizer(512).packetize(enc))


def test_sequence_counts_are_per_apid_and_wrap_at_14_bits():
    packetizer = Packetizer(128)
    enc = encode_frame(_frame(40, 40), RawCodec(), (1, 40), frame_id=1)
    counts: dict[int, list[int]] = {}
    for frame_id in range(450):
        enc.frame_id = frame_id
        for raw in packetizer.packetize(enc):
            p = parse_packet(raw)
            counts.setdefault(p.apid, []).append(p.seq_count)
    tiles = counts[APID_TILE_DATA]
    assert len(tiles) > 16384
    assert all(b == (a + 1) % 16384 for a, b in zip(tiles, tiles[1:], strict=False))
    assert counts[APID_FRAME_HEADER][:3] == [0, 1, 2]


def test_small_tiles_are_never_split_across_packets():
    enc = encode_frame(_frame(64, 100), RawCodec(), (1, 100), frame_id=0)
    for raw in Packetizer(1000).packetize(enc)[1:]:
        for chunk in parse_packet(raw).chunks():
            assert chunk.offset == 0 and len(chunk.data) == chunk.item_length


def test_any_flipped_bit_is_caught_by_the_crc(rng):
    enc = encode_frame(_frame(8, 50), RawCodec(), None, frame_id=0)
    raw = Packetizer().packetize(enc)[1]
    for bit in rng.choice(len(raw) * 8, 64, replace=False):
        bad = bytearray(raw)
        bad[bit // 8] ^= 1 << (bit % 8)
        assert parse_packet(bytes(bad)) is None


def test_stream_resynchronises_after_damage_and_garbage():
    enc = encode_frame(_frame(32, 64), RawCodec(), (4, 64), frame_id=0)
    packets = Packetizer(400).packetize(enc)
    damaged = bytearray(packets[2])
    damaged[3] ^= 0xFF  # the length field: the parser must not lose the packets after it
    stream = b"garbage!" + b"".join(packets[:2]) + bytes(damaged) + b"".join(packets[3:]) + b"\x08\x01"
    stats = StreamStats()
    got = [p.part_index for p in iter_stream(stream, stats)]
    assert got == [i for i in range(len(packets)) if i != 2]
    assert stats.bad_bytes >= len(damaged) + 8


def test_packet_size_bounds():
    with pytest.raises(ValueError):
        Packetizer(OVERHEAD)
    with pytest.raises(ValueError):
        Packetizer(70000)


def test_wrap_seq_is_the_14_bit_counter():
    assert [wrap_seq(c) for c in (0, 1, 16383, 16384, 16385, 40000)] == [0, 1, 16383, 0, 1, 40000 - 2 * 16384]
    assert wrap_seq(-1) == 16383 and wrap_seq(5 - 7) == 16382  # a difference of counts wraps too
    assert all(wrap_seq(c) == c & 0x3FFF for c in range(-70000, 70000, 997))


def test_packet_apid_reads_the_header_without_parsing():
    for apid in (APID_FRAME_HEADER, APID_TILE_DATA, 0x180, 0x7FF):
        packet = build_packet(apid, SEQ_UNSEGMENTED, 16383, SECONDARY.pack(9, 0, 1), b"body", tc=apid == 0x180)
        assert packet_apid(packet) == apid == parse_packet(packet).apid
        assert packet_apid(memoryview(packet)[:2]) == apid
    with pytest.raises(FormatError):
        packet_apid(b"\x01")
