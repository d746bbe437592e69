"""Stream resynchronisation: the same packets as the plain byte-by-byte search, in time linear in the stream.

Hostile inputs (issue 12, section 4) are kept in ``tests/fuzz/corpus/`` and replayed here and by
``test_corpus.py``.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from flight import packets as pk
from flight.codecs.raw import RawCodec
from flight.encoder import encode_frame
from flight.frame import Frame
from flight.packets import Packetizer, StreamStats, build_packet, iter_stream, parse_packet

from .ground_fuzz import CORPUS

#: Every third offset of this 1 MB looks like a 65,542-octet idle packet (issue 12: 88 s before the fix).
GARBAGE_1MB = CORPUS / "resync-1f-ffff-1MB.bin"
#: Every 18th offset is a plausible idle packet claiming 64 KiB with a valid secondary header (part 0 of 1), so
#: the cheap header filters pass and only the CRC can refuse it.
CRAFTED_1MB = CORPUS / "resync-idle-64k-claims-1MB.bin"


def _naive(data: bytes) -> tuple[list[bytes], int, int]:
    """The reference: try parse_packet at every offset after a bad one (quadratic on hostile input)."""
    out, bad, resyncs, pos, gap = [], 0, 0, 0, False
    while pos < len(data):
        total = pk._plausible_header(data, pos)
        packet = parse_packet(data[pos : pos + total]) if total and pos + total <= len(data) else None
        if packet is None:
            resyncs += not gap
            gap = True
            bad += 1
            pos += 1
            continue
        gap = False
        out.append(packet.data)
        pos += total
    return out, bad, resyncs


def _fast(data: bytes) -> tuple[list[bytes], int, int]:
    stats = StreamStats()
    got = [p.data for p in iter_stream(data, stats)]
    return got, stats.bad_bytes, stats.resyncs


def _random_stream(rng: np.random.Generator) -> bytes:
    """Real packets (20 octets to 3 KB), garbage, damaged packets and packets whose CRC is fixed after damage."""
    frame = Frame("f", rng.integers(-300, 300, (int(rng.integers(1, 40)), int(rng.integers(1, 90)))).astype(np.int16),
                  16)
    enc = encode_frame(frame, RawCodec(), (int(rng.integers(1, 8)), int(rng.integers(1, 90))), frame_id=3)
    packets = Packetizer(int(rng.integers(64, 3000))).packetize(enc)
    packets.append(build_packet(pk.APID_IDLE, 3, 0, pk.SECONDARY.pack(0, 0, 1), b""))  # 20 octets, no body
    pieces: list[bytes] = []
    for p in packets:
        roll = rng.random()
        if roll < 0.2:
            pieces.append(rng.integers(0, 256, int(rng.integers(1, 40)), dtype=np.uint8).tobytes())
        if roll < 0.1:
            pieces.append(b"\x1f\xff\xff" * int(rng.integers(1, 30)))  # plausible headers claiming 64 KiB
        if 0.2 <= roll < 0.35:
            bad = bytearray(p)
            bad[int(rng.integers(len(bad)))] ^= 1 << int(rng.integers(8))
            p = bytes(bad)
        if 0.35 <= roll < 0.4:
            p = p[: int(rng.integers(1, len(p)))]
        pieces.append(p)
    return b"".join(pieces)


@pytest.mark.parametrize("block", [16, 64, 4096, pk.RESYNC_BLOCK])
def test_same_packets_as_the_byte_by_byte_search(monkeypatch, block):
    monkeypatch.setattr(pk, "RESYNC_BLOCK", block)
    rng = np.random.default_rng(block)
    for _ in range(40):
        data = _random_stream(rng)
        assert _fast(data) == _naive(data)


def test_crafted_claims_and_a_good_packet_after_garbage():
    good = build_packet(pk.APID_TILE_DATA, 3, 5, pk.SECONDARY.pack(7, 0, 1), pk.CHUNK.pack(1, 3, 0, 3) + b"abc")
    fake = b"\x1f\xff\xff\xff\xff\xff" + pk.SECONDARY.pack(0, 0, 1)  # plausible, claims 65,542 octets
    for data in (fake * 50 + good, b"\x1f\xff\xff" * 7000 + good + fake + good, good + b"\x00" + good * 3):
        assert _fast(data) == _naive(data)
        assert _fast(data)[0][-1] == good
    # a real 65,542-octet packet right after garbage that claims the same length
    body = pk.CHUNK.pack(1, 65522 - pk.CHUNK.size, 0, 65522 - pk.CHUNK.size) + bytes(65522 - pk.CHUNK.size)
    big = build_packet(pk.APID_TILE_DATA, 3, 0, pk.SECONDARY.pack(1, 0, 1), body)
    assert len(big) == pk.MAX_PACKET
    data = b"\x1f\xff\xff" * 40 + big + b"\x1f\xff" + big
    got = _fast(data)
    assert got == _naive(data) and got[0] == [big, big]


@pytest.mark.parametrize("path", [GARBAGE_1MB, CRAFTED_1MB], ids=lambda p: p.name)
def test_one_megabyte_of_hostile_garbage_takes_under_a_cpu_second(path):
    data = path.read_bytes()
    assert len(data) >= 1_000_000
    list(iter_stream(data[:200_000]))  # warm-up: CRC tables, numpy
    t0 = time.process_time()
    stats = StreamStats()
    assert list(iter_stream(data, stats)) == []
    cpu = time.process_time() - t0
    assert stats.bad_bytes == len(data) and stats.resyncs == 1
    assert cpu < 1.0, f"{cpu:.2f} CPU s for {len(data)} bytes of garbage"


def test_resync_work_is_linear_in_the_stream():
    """Doubling the hostile garbage at most a little more than doubles the CPU time (work is O(n), not O(n^2))."""
    data = CRAFTED_1MB.read_bytes()
    list(iter_stream(data[:100_000]))
    cost = []
    for n in (250_000, 1_000_000):
        t0 = time.process_time()
        list(iter_stream(data[:n]))
        cost.append(time.process_time() - t0)
    assert cost[1] < 4 * 3 * max(cost[0], 0.01)  # quadratic would be 16x
