"""ACK/NAK reports from the ground to the spacecraft, as CCSDS telecommand packets (APID 0x180, type 1).

The one definition of the uplink byte format (docs/formats.md): the ground builds reports with
:func:`encode_report`, the spacecraft parses them with :func:`decode_report`, which raises
:class:`~flight.errors.FormatError` (and nothing else) for damaged, missing, foreign or malformed packets and
never expands more parts than a frame can have.

The ground tells the spacecraft, at the start of each contact (and every ``ground.ack_interval_s`` during a long
one), which frames it verified (the spacecraft may delete them) and which packet parts it is missing (NAK: send
them again), as in CFDP class 2. The report also says up to when it covers the downlink, so the spacecraft can
tell a frame the ground never heard of (every packet lost: send it all again) from one still in flight.

Layout (big-endian), one report cut into as many packets as needed, each a whole number of records:
  - packet: CCSDS primary header (type 1, APID 0x180), secondary header (report id, part index, part count,
    as for frame packets: ``flight.packets.SECONDARY``), body, CRC-16;
  - body: ``covered_s`` (float64, seconds since the mission start), then records:
    ``frame id`` (u32), ``kind`` (u8: 0 ACK, 1 NAK ranges, 2 send all again), ``n`` (u16), then n ranges of
    (first part u32, count u32).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from flight.errors import FormatError
from flight.packets import (
    APID_GROUND_COMMAND,
    CRC_LEN,
    MAX_PARTS,
    OVERHEAD,
    PRIMARY,
    SECONDARY,
    SEQ_UNSEGMENTED,
    build_packet,
    parse_packet,
    wrap_seq,
)

ACK, NAK, RESEND = 0, 1, 2
_COVERED = struct.Struct(">d")
_RECORD = struct.Struct(">IBH")
_RANGE = struct.Struct(">II")
#: Most NAKed parts one report may name in all (a frame has at most MAX_PARTS parts): bounds the parser's memory.
MAX_REPORT_PARTS = MAX_PARTS


@dataclass
class Report:
    """What the ground says in one uplink."""

    covered_s: float
    acks: list[int] = field(default_factory=list)
    naks: dict[int, list[int]] = field(default_factory=dict)  # frame id -> missing parts (sorted)
    resend: list[int] = field(default_factory=list)  # complete but rejected on the ground: send all again


def ranges(parts: list[int]) -> list[tuple[int, int]]:
    """Sorted part indices -> (first, count) runs, e.g. [1, 2, 3, 7] -> [(1, 3), (7, 1)]."""
    out: list[tuple[int, int]] = []
    for p in parts:
        if out and out[-1][0] + out[-1][1] == p:
            out[-1] = (out[-1][0], out[-1][1] + 1)
        else:
            out.append((p, 1))
    return out


def encode_report(report: Report, report_id: int, max_packet_size: int, seq: int = 0) -> list[bytes]:
    """The report as telecommand packets (at least one, even when it acknowledges nothing).

    ``max_packet_size`` (octets, headers and CRC included) bounds every packet; ``seq`` is the 14-bit sequence
    count of the first packet (wrapped); ``report_id`` goes in the secondary header's frame-id field (mod 2**32).
    """
    room = max_packet_size - OVERHEAD - _COVERED.size
    max_ranges = (room - _RECORD.size) // _RANGE.size
    records: list[bytes] = [_RECORD.pack(fid, ACK, 0) for fid in report.acks]
    for fid, parts in report.naks.items():
        runs = ranges(parts)
        for k in range(0, len(runs), max_ranges):
            chunk = runs[k : k + max_ranges]
            records.append(_RECORD.pack(fid, NAK, len(chunk)) + b"".join(_RANGE.pack(a, n) for a, n in chunk))
    records += [_RECORD.pack(fid, RESEND, 0) for fid in report.resend]
    bodies: list[list[bytes]] = [[]]
    free = room
    for rec in records:
        if len(rec) > free:
            bodies.append([])
            free = room
        bodies[-1].append(rec)
        free -= len(rec)
    covered = _COVERED.pack(report.covered_s)
    return [
        build_packet(APID_GROUND_COMMAND, SEQ_UNSEGMENTED, wrap_seq(seq + i),
                     SECONDARY.pack(report_id & 0xFFFFFFFF, i, len(bodies)), covered + b"".join(body), tc=True)
        for i, body in enumerate(bodies)
    ]


def decode_report(packets: list[bytes]) -> Report:
    """Parse a whole report (CRC-checked, packets in any order).

    Raises FormatError, and only FormatError, when a packet is damaged, foreign or missing, when the packets
    belong to different reports, or when a body is truncated or malformed (unknown record kind, a NAK range
    outside a frame's possible parts, more than ``MAX_REPORT_PARTS`` parts in all).
    """
    if not packets:
        raise FormatError("uplink report: no packets")
    parsed = [parse_packet(p) for p in packets]
    if any(p is None or p.apid != APID_GROUND_COMMAND or p.packet_type != 1 for p in parsed):
        raise FormatError("uplink report: damaged or foreign packet")
    if len({(p.frame_id, p.part_count) for p in parsed}) != 1:
        raise FormatError("uplink report: packets of different reports")
    parsed.sort(key=lambda p: p.part_index)
    if [p.part_index for p in parsed] != list(range(parsed[0].part_count)):
        raise FormatError("uplink report: packets missing")
    report = Report(covered_s=0.0)
    total = 0
    for p in parsed:
        body = memoryview(p.data)[PRIMARY.size + SECONDARY.size : len(p.data) - CRC_LEN]
        if len(body) < _COVERED.size:
            raise FormatError("uplink report: body truncated")
        (report.covered_s,) = _COVERED.unpack_from(body, 0)
        pos = _COVERED.size
        while pos < len(body):
            if pos + _RECORD.size > len(body):
                raise FormatError("uplink report: record truncated")
            fid, kind, n = _RECORD.unpack_from(body, pos)
            pos += _RECORD.size
            if kind == ACK:
                report.acks.append(fid)
            elif kind == RESEND:
                report.resend.append(fid)
            elif kind == NAK:
                if pos + n * _RANGE.size > len(body):
                    raise FormatError("uplink report: NAK ranges truncated")
                parts = report.naks.setdefault(fid, [])
                for _ in range(n):
                    first, count = _RANGE.unpack_from(body, pos)
                    pos += _RANGE.size
                    total += count
                    if first + count > MAX_PARTS or total > MAX_REPORT_PARTS:
                        raise FormatError("uplink report: NAK range out of bounds")
                    parts.extend(range(first, first + count))
            else:
                raise FormatError(f"uplink report: unknown record kind {kind}")
    return report
