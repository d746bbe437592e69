"""CCSDS Space Packets (133.0-B-2) carrying frame items, with a CRC-16/IBM-3740 on every packet.

Layout and rules: docs/formats.md. Flight cuts each frame's items into chunks and packs them so that a tile
small enough for one packet is never split across two (a lost packet then costs only the tiles it carried).
Ground parses packets one by one (``parse_packet``) or resynchronises through a damaged stream file
(``iter_stream``).
"""

from __future__ import annotations

import binascii
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

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


def parse_packet(data: bytes | memoryview) -> Packet | None:
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
    """Valid packets of a concatenated stream; skips damaged bytes by resynchronising at the next valid packet.

    Accepts exactly the packets the plain byte-by-byte search would (the first offset after a bad one where
    :func:`parse_packet` succeeds), in time linear in ``len(data)``: while in sync a packet costs its own CRC;
    once sync is lost, :class:`_Resync` decides for a whole block of offsets at once which ones start a valid
    packet (``docs/reliability.md``, "Resync").
    """
    stats = stats if stats is not None else StreamStats()
    view = memoryview(data)
    scan = _Resync(view)
    pos = 0
    in_gap = False
    while pos < len(view):
        total = _plausible_header(view, pos)
        packet = None
        if total and pos + total <= len(view) and scan.may_start(pos):
            packet = parse_packet(view[pos : pos + total])
            if packet is None:
                scan.failed_at(pos)
        if packet is None:
            if not in_gap:
                stats.resyncs += 1
                in_gap = True
            nxt = scan.next_start(pos + 1)
            stats.bad_bytes += nxt - pos
            pos = nxt
            continue
        in_gap = False
        stats.packets += 1
        pos += total
        yield packet


#: Offsets are judged in blocks of this many start positions once sync is lost (a power of two; tests shrink it).
RESYNC_BLOCK = 1 << 16
_CHECKPOINT = 64  # prefix CRC values are computed in C every 64 octets, the rest in 63 vectorised steps
_CRC_POLY = 0x11021  # x^16 + x^12 + x^5 + 1, CRC-16/IBM-3740 (docs/formats.md)


@lru_cache(maxsize=1)
def _crc_tables() -> tuple[np.ndarray, np.ndarray]:
    """(byte table T, powers X): T[b] = CRC register after byte b from 0; X[n] = x^(8n) mod P for n <= MAX_PACKET.

    Both as uint32. X[n] is the register after ``n`` zero octets from register 1 (``binascii.crc_hqx``).
    """
    table = np.array([binascii.crc_hqx(bytes([b]), 0) for b in range(256)], dtype=np.uint32)
    powers = np.empty(MAX_PACKET + 1, dtype=np.uint32)
    reg = 1
    for n in range(MAX_PACKET + 1):
        powers[n] = reg
        reg = binascii.crc_hqx(b"\0", reg)
    return table, powers


def _mulmod(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a(x) * b(x) mod P(x) over GF(2), element-wise, for uint32 arrays of 16-bit values."""
    prod = np.zeros_like(a)
    for i in range(16):
        prod ^= ((b >> i) & 1) * (a << i)
    for i in range(30, 15, -1):
        prod ^= ((prod >> i) & 1) * np.uint32(_CRC_POLY << (i - 16))
    return prod


def _prefix_crc(view: memoryview, start: int, stop: int) -> np.ndarray:
    """R[j] = CRC-16 register (init 0xFFFF) after ``view[start:start + j]``, for 0 <= j <= stop - start; uint32.

    C-speed ``crc_hqx`` gives every 64th value; the 63 between are filled by one vectorised table step each.
    """
    table, _ = _crc_tables()
    n = stop - start
    blocks = n // _CHECKPOINT + 1
    checkpoints = np.empty(blocks, dtype=np.uint32)
    reg = 0xFFFF
    for k in range(blocks):
        checkpoints[k] = reg
        lo = start + k * _CHECKPOINT
        reg = binascii.crc_hqx(view[lo : min(lo + _CHECKPOINT, stop)], reg)
    raw = np.zeros(blocks * _CHECKPOINT, dtype=np.uint32)
    raw[:n] = np.frombuffer(view[start:stop], dtype=np.uint8)
    raw = raw.reshape(blocks, _CHECKPOINT)
    out = np.empty((blocks, _CHECKPOINT), dtype=np.uint32)
    out[:, 0] = checkpoints
    for j in range(1, _CHECKPOINT):
        prev = out[:, j - 1]
        out[:, j] = ((prev << 8) & 0xFFFF) ^ table[(prev >> 8) ^ raw[:, j - 1]]
    return out.reshape(-1)[: n + 1]


class _Resync:
    """Which offsets of a stream start a valid packet, decided one block of offsets at a time, in linear time.

    A block is examined only where sync was lost. Every offset in it is filtered at once (version, secondary
    header flag, APID, length within the stream, part < part count <= MAX_PARTS: the rules of
    :func:`_plausible_header` and :func:`parse_packet`), and the CRC of every survivor comes from prefix CRCs:
    CRC(s[a:b]) = R[b] ^ (R[a] ^ 0xFFFF) * x^(8(b-a)) mod P, with R the register after s[block start:] (the CRC
    is linear over GF(2)). A block of B offsets costs O(B + MAX_PACKET) whatever its packets claim, so hostile
    garbage (every third offset claiming a 64 KiB packet) costs linear time, not 64 KiB of CRC per offset.
    """

    def __init__(self, view: memoryview) -> None:
        self.view = view
        self.block = -1
        self.starts = np.empty(0, dtype=np.int64)  # sorted absolute offsets in ``self.block`` that start a packet

    def may_start(self, pos: int) -> bool:
        """False only where a block already examined says no packet starts at ``pos``."""
        if pos // RESYNC_BLOCK != self.block:
            return True
        i = int(np.searchsorted(self.starts, pos))
        return i < len(self.starts) and int(self.starts[i]) == pos

    def failed_at(self, pos: int) -> None:
        """A packet check at ``pos`` failed: examine its block so no other offset there is CRC'd on its own."""
        self._load(pos // RESYNC_BLOCK)

    def next_start(self, pos: int) -> int:
        """The first offset >= ``pos`` where a valid packet starts, or ``len(view)``."""
        n = len(self.view)
        while pos < n:
            self._load(pos // RESYNC_BLOCK)
            i = int(np.searchsorted(self.starts, pos))
            if i < len(self.starts):
                return int(self.starts[i])
            pos = (self.block + 1) * RESYNC_BLOCK
        return n

    def _load(self, block: int) -> None:
        if block != self.block:
            self.block, self.starts = block, _packet_starts(self.view, block * RESYNC_BLOCK,
                                                            min(len(self.view), (block + 1) * RESYNC_BLOCK))


def _packet_starts(view: memoryview, lo: int, hi: int) -> np.ndarray:
    """Sorted offsets p in [lo, hi) where ``parse_packet(view[p:p + total])`` would succeed (int64)."""
    n = len(view)
    if hi - lo <= 0 or n - lo < OVERHEAD:
        return np.empty(0, dtype=np.int64)
    head = np.zeros(hi - lo + OVERHEAD, dtype=np.int64)
    got = np.frombuffer(view[lo : min(n, hi + OVERHEAD)], dtype=np.uint8)
    head[: len(got)] = got
    m = hi - lo

    def word(offset: int, size: int) -> np.ndarray:
        out = np.zeros(m, dtype=np.int64)
        for k in range(size):
            out = (out << 8) | head[offset + k : offset + k + m]
        return out

    word1, length = word(0, 2), word(4, 2)
    part, count = word(10, 4), word(14, 4)
    pos = np.arange(lo, hi, dtype=np.int64)
    total = length + PRIMARY.size + 1
    ok = ((word1 >> 13) == 0) & ((word1 & (1 << 11)) != 0) & np.isin(word1 & APID_MASK, list(KNOWN_APIDS))
    ok &= (total >= OVERHEAD) & (pos + total <= n) & (count != 0) & (count <= MAX_PARTS) & (part < count)
    cand, total = pos[ok], total[ok]
    if len(cand) == 0:
        return cand
    end = cand + total - CRC_LEN  # the CRC covers [cand, end) and is stored at end
    prefix = _prefix_crc(view, lo, int(end.max()))
    _, powers = _crc_tables()
    got_crc = _mulmod(prefix[cand - lo] ^ 0xFFFF, powers[end - cand]) ^ prefix[end - lo]
    stored = np.frombuffer(view, dtype=np.uint8)
    want = (stored[end].astype(np.uint32) << 8) | stored[end + 1]
    return cand[got_crc == want]
