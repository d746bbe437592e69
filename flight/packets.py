"""CCSDS Space Packets (133.0-B-2) carrying frame items, with a CRC-16/IBM-3740 on every packet.

Layout and rules: docs/formats.md. Flight cuts each frame's items into chunks and packs them so that a tile
small enough for one packet is never split across two (a lost packet then costs only the tiles it carried).
Ground parses packets one by one (``parse_packet``) or resynchronises through a damaged stream file
(``iter_stream``).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

from flight.checksums import crc16_ccsds
from flight.container import MAX_TILES
from flight.errors import FormatError

APID_FRAME_HEADER = 0x100
APID_TILE_DATA = 0x101
APID_GROUND_COMMAND = 0x180
APID_IDLE = 0x7FF
KNOWN_APIDS = frozenset({APID_FRAME_HEADER, APID_TILE_DATA, APID_GROUND_COMMAND, APID_IDLE})

SEQ_CONTINUATION, SEQ_FIRST, SEQ_LAST, SEQ_UNSEGMENTED = 0, 1, 2, 3
SEQ_COUNT_MODULO = 1 << 14  # the primary header's packet sequence count has 14 bits
APID_MASK = 0x7FF  # the primary header's APID has 11 bits
PRIMARY = struct.Struct(">HHH")
SECONDARY = struct.Struct(">III")  # frame id, part index, part count
CHUNK = struct.Struct(">IIIH")  # item index, item length, offset, chunk length
CRC_LEN = 2
OVERHEAD = PRIMARY.size + SECONDARY.size + CRC_LEN
MIN_PACKET = 64
MAX_PACKET = 65542
DEFAULT_PACKET = 2048
MAX_PARTS = 1 << 24
MAX_ITEM_LENGTH = 1 << 28


def wrap_seq(count: int) -> int:
    """``count`` on the 14-bit packet sequence counter: 0 <= result < 16384 (``count`` may be negative)."""
    return count % SEQ_COUNT_MODULO


def packet_apid(packet: bytes | memoryview) -> int:
    """The APID (11 bits) of a packet from its first two octets; FormatError if it has fewer than two.

    No CRC or length check: for packets this project built, or before :func:`parse_packet` checks the rest.
    """
    if len(packet) < 2:
        raise FormatError("packet shorter than its APID field")
    return int.from_bytes(packet[:2], "big") & APID_MASK


@dataclass(frozen=True)
class Chunk:
    item: int
    item_length: int
    offset: int
    data: bytes


@dataclass(frozen=True)
class Packet:
    """One parsed, CRC-checked packet."""

    apid: int
    packet_type: int
    seq_flags: int
    seq_count: int
    frame_id: int
    part_index: int
    part_count: int
    data: bytes  # the whole packet, header and CRC included

    def chunks(self) -> list[Chunk]:
        """The chunks in this packet; FormatError when a chunk header points outside the packet or the item."""
        body = memoryview(self.data)[OVERHEAD - CRC_LEN : len(self.data) - CRC_LEN]
        out: list[Chunk] = []
        pos = 0
        while pos < len(body):
            if pos + CHUNK.size > len(body):
                raise FormatError("chunk header truncated")
            item, item_len, offset, n = CHUNK.unpack_from(body, pos)
            pos += CHUNK.size
            if n == 0 or pos + n > len(body):
                raise FormatError("chunk length out of bounds")
            if item > MAX_TILES or item_len > MAX_ITEM_LENGTH or offset + n > item_len:
                raise FormatError("chunk item, length or offset out of bounds")
            out.append(Chunk(item, item_len, offset, bytes(body[pos : pos + n])))
            pos += n
        return out


def build_packet(apid: int, seq_flags: int, seq_count: int, secondary: bytes, body: bytes, tc: bool = False) -> bytes:
    """Primary header + secondary header + body + CRC-16 (the one place packet bytes are assembled)."""
    data_field_len = len(secondary) + len(body) + CRC_LEN
    word1 = (int(tc) << 12) | (1 << 11) | (apid & APID_MASK)
    word2 = (seq_flags << 14) | wrap_seq(seq_count)
    head = PRIMARY.pack(word1, word2, data_field_len - 1) + secondary + body
    return head + struct.pack(">H", crc16_ccsds(head))


class Packetizer:
    """Cuts encoded frames into packets; keeps one 14-bit sequence counter per APID across frames."""

    def __init__(self, max_packet_size: int = DEFAULT_PACKET, sequence_counts: dict[int, int] | None = None) -> None:
        """``sequence_counts`` (APID -> next count) resumes the counters where an earlier packetizer left them."""
        if not MIN_PACKET <= max_packet_size <= MAX_PACKET:
            raise ValueError(f"packet size must be between {MIN_PACKET} and {MAX_PACKET} octets")
        self.max_packet_size = max_packet_size
        self._seq: dict[int, int] = {apid: wrap_seq(count) for apid, count in (sequence_counts or {}).items()}

    @property
    def sequence_counts(self) -> dict[int, int]:
        """Next 14-bit sequence count per APID (what a later packetizer would resume from)."""
        return dict(self._seq)

    def _bodies(self, items: list[tuple[int, bytes]]) -> list[bytes]:
        """Pack (item index, bytes) into packet bodies: whole items where they fit, split only when too big."""
        room = self.max_packet_size - OVERHEAD
        bodies: list[bytes] = []
        cur: list[bytes] = []
        free = room
        for index, item in items:
            need = CHUNK.size + len(item)
            if need > free and need <= room and cur:
                bodies.append(b"".join(cur))
                cur, free = [], room
            offset = 0
            while offset < len(item):
                if free <= CHUNK.size:
                    bodies.append(b"".join(cur))
                    cur, free = [], room
                n = min(len(item) - offset, free - CHUNK.size)
                cur.append(CHUNK.pack(index, len(item), offset, n) + item[offset : offset + n])
                free -= CHUNK.size + n
                offset += n
        if cur:
            bodies.append(b"".join(cur))
        return bodies

    def packetize(self, encoded) -> list[bytes]:
        """All packets of one encoded frame (``flight.encoder.EncodedFrame``), header packets first."""
        head = self._bodies([(0, encoded.header)])
        tiles = self._bodies([(i + 1, t) for i, t in enumerate(encoded.tiles)])
        count = len(head) + len(tiles)
        if count > MAX_PARTS:
            raise ValueError("frame needs too many packets")
        packets: list[bytes] = []
        part = 0
        for apid, bodies in ((APID_FRAME_HEADER, head), (APID_TILE_DATA, tiles)):
            for k, body in enumerate(bodies):
                if len(bodies) == 1:
                    flags = SEQ_UNSEGMENTED
                else:
                    flags = SEQ_FIRST if k == 0 else SEQ_LAST if k == len(bodies) - 1 else SEQ_CONTINUATION
                seq = self._seq.get(apid, 0)
                self._seq[apid] = wrap_seq(seq + 1)
                packets.append(build_packet(apid, flags, seq, SECONDARY.pack(encoded.frame_id, part, count), body))
                part += 1
        return packets


def _plausible_header(data: bytes | memoryview, pos: int) -> int:
    """Total packet length if the 6 octets at ``pos`` look like one of ours, else 0 (cheap resync filter)."""
    if pos + PRIMARY.size > len(data):
        return 0
    word1, _, length = PRIMARY.unpack_from(data, pos)
    if word1 >> 13 != 0 or not word1 & (1 << 11) or (word1 & APID_MASK) not in KNOWN_APIDS:
        return 0
    total = PRIMARY.size + length + 1
    if total < OVERHEAD or total > MAX_PACKET:
        return 0
    return total


def parse_packet(data: bytes) -> Packet | None:
    """A Packet if ``data`` is exactly one valid packet (plausible header, right length, CRC matches), else None."""
    total = _plausible_header(data, 0)
    if total == 0 or total != len(data):
        return None
    (crc,) = struct.unpack_from(">H", data, total - CRC_LEN)
    if crc16_ccsds(memoryview(data)[: total - CRC_LEN]) != crc:
        return None
    word1, word2, _ = PRIMARY.unpack_from(data, 0)
    frame_id, part, count = SECONDARY.unpack_from(data, PRIMARY.size)
    if count == 0 or count > MAX_PARTS or part >= count:
        return None
    return Packet(
        apid=word1 & APID_MASK, packet_type=(word1 >> 12) & 1, seq_flags=word2 >> 14, seq_count=wrap_seq(word2),
        frame_id=frame_id, part_index=part, part_count=count, data=bytes(data),
    )


@dataclass
class StreamStats:
    packets: int = 0
    bad_bytes: int = 0  # bytes skipped while resynchronising (damaged packets, garbage)
    resyncs: int = 0


def iter_stream(data: bytes, stats: StreamStats | None = None) -> Iterator[Packet]:
    """Valid packets of a concatenated stream; skips damaged packets by resynchronising byte by byte."""
    stats = stats if stats is not None else StreamStats()
    view = memoryview(data)
    pos = 0
    in_gap = False
    while pos < len(view):
        total = _plausible_header(view, pos)
        packet = parse_packet(bytes(view[pos : pos + total])) if total and pos + total <= len(view) else None
        if packet is None:
            if not in_gap:
                stats.resyncs += 1
                in_gap = True
            stats.bad_bytes += 1
            pos += 1
            continue
        in_gap = False
        stats.packets += 1
        pos += total
        yield packet
