"""ACK/NAK reports survive the uplink format (flight.uplink), split across packets; damage and hostile bodies are
refused with FormatError and nothing else."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flight.errors import FormatError
from flight.packets import APID_GROUND_COMMAND, SECONDARY, SEQ_UNSEGMENTED, build_packet, parse_packet
from flight.uplink import Report, decode_report, encode_report, ranges


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


def _tc(body: bytes, report_id: int = 0, part: int = 0, count: int = 1) -> bytes:
    """One telecommand packet with a valid CRC around an arbitrary report body."""
    return build_packet(APID_GROUND_COMMAND, SEQ_UNSEGMENTED, 0, SECONDARY.pack(report_id, part, count), body, tc=True)


COVERED = struct.pack(">d", 1.0)


@pytest.mark.parametrize(("packets", "why"), [
    ([], "no packets"),
    ([_tc(b"")], "body truncated"),
    ([_tc(COVERED[:5])], "body truncated"),
    ([_tc(COVERED + b"\x00\x00\x00\x01\x00")], "record truncated"),
    ([_tc(COVERED + struct.pack(">IBH", 1, 1, 2) + struct.pack(">II", 0, 3))], "NAK ranges truncated"),
    ([_tc(COVERED + struct.pack(">IBH", 1, 1, 1) + struct.pack(">II", 0, 0xFFFFFFFF))], "out of bounds"),
    ([_tc(COVERED + struct.pack(">IBH", 1, 1, 1) + struct.pack(">II", 0xFFFFFFFF, 2))], "out of bounds"),
    ([_tc(COVERED + struct.pack(">IBH", 1, 9, 0))], "unknown record kind 9"),
    ([_tc(COVERED, report_id=1, part=0, count=2), _tc(COVERED, report_id=2, part=1, count=2)], "different reports"),
])
def test_hostile_bodies_are_format_errors(packets, why):
    with pytest.raises(FormatError, match=why):
        decode_report(packets)


def test_naks_beyond_a_report_bound_are_refused():
    """Many in-bounds ranges must not add up to more parts than a report may name (the parser's memory)."""
    from flight.packets import MAX_PARTS

    per = MAX_PARTS // 2 + 1
    body = COVERED + struct.pack(">IBH", 1, 1, 2) + struct.pack(">II", 0, per) + struct.pack(">II", 0, per)
    with pytest.raises(FormatError, match="out of bounds"):
        decode_report([_tc(body)])


@given(st.binary(max_size=300))
def test_any_body_parses_or_is_a_format_error(body):
    try:
        report = decode_report([_tc(body)])
    except FormatError:
        return
    assert isinstance(report, Report)


def test_mutated_report_streams_raise_format_error_only():
    """The fuzz campaign's mutations (tests/stream_mutations.py, CRCs fixed up) on real reports: parse or refuse."""
    import numpy as np

    from tests.stream_mutations import mutate

    report = Report(covered_s=5.0, acks=[1, 2], naks={3: list(range(0, 300, 2)), 4: [7]}, resend=[9])
    packets = encode_report(report, report_id=3, max_packet_size=128)
    rng = np.random.default_rng(20261130)
    outcomes = {"parsed": 0, "refused": 0}
    for _ in range(500):  # some inputs NAK millions of parts (a rewritten count): a few seconds in all
        try:
            decode_report(mutate(packets, rng, int(rng.integers(1, 4))))
            outcomes["parsed"] += 1
        except FormatError:
            outcomes["refused"] += 1
    assert outcomes["parsed"] > 0 and outcomes["refused"] > 0, outcomes
