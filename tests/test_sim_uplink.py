"""ACK/NAK reports survive the uplink format, split across packets; damage is refused."""

from __future__ import annotations

import pytest

from flight.errors import FormatError
from flight.packets import parse_packet
from sim.uplink import Report, decode_report, encode_report, ranges


def test_ranges():
    assert ranges([1, 2, 3, 7, 9, 10]) == [(1, 3), (7, 1), (9, 2)]
    assert ranges([]) == []


def test_report_round_trip_across_packets():
    naks = {5: list(range(0, 4000, 2)), 9: [0], 11: list(range(10, 20))}
    report = Report(covered_s=12345.5, acks=[1, 2, 3], naks=naks, resend=[42])
    packets = encode_report(report, report_id=7, max_packet_size=256)
    assert len(packets) > 10 and all(len(p) <= 256 for p in packets)
    first = parse_packet(packets[0])
    assert first.apid == 0x180 and first.packet_type == 1 and first.part_count == len(packets)
    back = decode_report(packets[::-1])
    assert back == report


def test_empty_report_is_one_packet():
    packets = encode_report(Report(covered_s=1.0), report_id=0, max_packet_size=2048)
    assert len(packets) == 1 and decode_report(packets) == Report(covered_s=1.0)


def test_damaged_or_missing_packets_are_refused():
    packets = encode_report(Report(covered_s=1.0, naks={1: list(range(0, 2000, 3))}), 0, 128)
    bad = bytearray(packets[1])
    bad[20] ^= 1
    with pytest.raises(FormatError):
        decode_report([packets[0], bytes(bad), *packets[2:]])
    with pytest.raises(FormatError):
        decode_report(packets[1:])
