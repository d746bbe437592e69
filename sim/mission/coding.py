"""Compression as the simulator sees it: what each distinct source frame codes to, and (exact) its packets.

The camera cycles a few distinct frames, so frame k shows exactly the pixels of source ``k mod n``. Coding is
deterministic and the frame id enters only the frame header and the packets' secondary headers (not the
checksum), so each distinct source frame is encoded once by ``flight.encoder.encode_frame``; a captured frame's
packets are that encoding with its own frame id written into the header item (``FrameHeader`` re-packed by
``flight.container``) and packetized by ``flight.packets.Packetizer`` with the sequence counts it would have had
onboard. ``tests/sim/test_coding.py`` checks these bytes equal a direct ``encode_frame(..., frame_id=k)``.

Each distinct frame is coded tile by tile through :class:`sim.mission.memo.MemoCodec`: a tile whose stored pixels
equal a tile already coded (mirror tiling repeats a source crop across the sensor) reuses that tile's payload, since
a tile codec's output is a pure function of the tile. The bytes are the same as a plain encode (tested); only repeated
arithmetic is skipped, which matters for the IDF (seconds per 2048 x 2048 frame).

The same encodings give the calibration table of statistical fidelity: per source frame the coded size, the
packet lengths, the codec's op counts and the host encode time. The table is cached on disk, keyed by the frames'
content, the codec and its model, the tile and packet sizes and a hash of the flight/ sources.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import flight
from flight.codecs.base import OpCounts
from flight.codecs.registry import get_codec
from flight.container import FrameHeader
from flight.encoder import EncodedFrame, encode_frame
from flight.packets import APID_FRAME_HEADER, APID_TILE_DATA, Packetizer, packet_apid, wrap_seq
from sim import cache
from sim.mission.memo import MemoCodec
from sim.mission.records import FrameRecord
from sim.scenario import CodecConfig
from sim.world.sources import FrameSource

PACKET_CACHE_FRAMES = 4  # exact: packet lists kept for the frames most recently on the radio

@functools.cache
def flight_code_hash() -> str:
    """Hash of the flight/ sources: a calibration made by other flight code is not reused."""
    h = hashlib.sha256()
    root = Path(flight.__file__).parent
    for path in sorted(root.rglob("*.py")):
        h.update(path.relative_to(root).as_posix().encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


@dataclass
class CodedSource:
    """One distinct source frame coded by one codec: one row of the calibration table."""

    index: int
    name: str
    codec: str  # the codec that really ran (a codec that cannot take the BITPIX falls back to rice)
    pixels: int
    raw_bytes: int
    coded_bytes: int
    header_packets: int
    packet_lengths: np.ndarray
    encode_s: float  # on this host, for information (flight CPU time comes from the op counts)
    ops_per_pixel: OpCounts
    escaped_tiles: int = 0
    note: str = ""

    @property
    def n_packets(self) -> int:
        return len(self.packet_lengths)

    @property
    def packet_bytes(self) -> int:
        return int(self.packet_lengths.sum())

    @property
    def ratio(self) -> float:
        return self.raw_bytes / self.coded_bytes

    def to_json(self) -> dict:
        d = dataclasses.asdict(self)
        d["packet_lengths"] = _run_lengths(self.packet_lengths)
        return d

    @classmethod
    def from_json(cls, d: dict) -> CodedSource:
        d = dict(d)
        d["packet_lengths"] = np.repeat(*np.array(d["packet_lengths"], dtype=np.int64).reshape(-1, 2).T)
        d["ops_per_pixel"] = OpCounts(**d["ops_per_pixel"])
        return cls(**d)

    def summary(self) -> dict:
        """The row as reported in metrics.json."""
        return {"name": self.name, "codec": self.codec, "raw_bytes": self.raw_bytes, "coded_bytes": self.coded_bytes,
                "ratio": round(self.ratio, 4), "packets": self.n_packets, "packet_bytes": self.packet_bytes,
                "host_encode_s": round(self.encode_s, 4), "escaped_tiles": self.escaped_tiles, "note": self.note}


def _run_lengths(a: np.ndarray) -> list[int]:
    """[value, count, value, count, ...] (packet lengths are nearly all the maximum)."""
    if len(a) == 0:
        return []
    cut = np.flatnonzero(np.diff(a)) + 1
    starts = np.concatenate([[0], cut])
    counts = np.diff(np.concatenate([starts, [len(a)]]))
    return [int(x) for pair in zip(a[starts], counts, strict=True) for x in pair]


class Coder:
    """Codes the source frames (once each) with one codec; exact fidelity also builds real packets."""

    def __init__(self, source: FrameSource, codec_name: str, cfg: CodecConfig, exact: bool,
                 use_cache: bool = True, on_calibration: Callable[[int, int], None] | None = None) -> None:
        self.on_calibration = on_calibration  # called (frames done, frames total) while building the table
        self.source, self.cfg, self.exact, self.use_cache = source, cfg, exact, use_cache
        self.codec = MemoCodec(get_codec(codec_name, cfg.idf_model or None))  # InputError if unavailable
        self.codec_name = codec_name
        # None: the codec's own default_tile_shape (scenario codec.tile_rows = tile_cols = 0)
        self.tile_shape: tuple[int, int] | None = None
        if cfg.tile_rows or cfg.tile_cols:
            self.tile_shape = (cfg.tile_rows or 1, cfg.tile_cols or 1 << 30)
        self._rows: dict[int, CodedSource] = {}
        self._encoded: dict[int, EncodedFrame] = {}
        self._packets: OrderedDict[int, list[bytes]] = OrderedDict()
        self._seq = {APID_FRAME_HEADER: 0, APID_TILE_DATA: 0}
        self.cache_hit = False
        self.distinct_encodes = 0
        self.packets_built = 0
        if not exact:
            self._load_table()

    # -- calibration ------------------------------------------------------------------------------------
    def _cache_key(self) -> dict:
        return {"source": self.source.fingerprint(), "codec": self.codec_name,
                "model": self.codec.model_hash().hex(), "tile": self.tile_shape, "packet": self.cfg.packet_size,
                "flight": flight_code_hash()}

    def _load_table(self) -> None:
        hit = cache.load("calibration", self._cache_key()) if self.use_cache else None
        if hit is not None and len(hit) == len(self.source):
            self._rows = {i: CodedSource.from_json(row) for i, row in enumerate(hit)}
            self.cache_hit = True
            return
        total = len(self.source)
        for i in range(total):
            if self.on_calibration is not None:
                self.on_calibration(i, total)
            self.coded(i)
        if self.on_calibration is not None:
            self.on_calibration(total, total)
        self._encoded.clear()  # statistical fidelity keeps sizes only
        self.save_table()

    def save_table(self) -> None:
        """Cache the calibration table once every source frame has been coded (exact runs contribute too)."""
        if self.use_cache and not self.cache_hit and len(self._rows) == len(self.source):
            cache.save("calibration", self._cache_key(), [self._rows[i].to_json() for i in range(len(self.source))])

    def coded(self, index: int) -> CodedSource:
        """The calibration row of source frame ``index`` (encoding it now if needed)."""
        row = self._rows.get(index)
        if row is None:
            frame = self.source.frame(index)
            t0 = time.perf_counter()
            enc = encode_frame(frame, self.codec, self.tile_shape, frame_id=0)
            host_s = time.perf_counter() - t0
            counter = Packetizer(self.cfg.packet_size)
            packets = counter.packetize(enc)
            head = sum(1 for p in packets if packet_apid(p) == APID_FRAME_HEADER)
            row = CodedSource(index, frame.name, enc.codec, int(frame.pixels.size), enc.raw_bytes, enc.coded_bytes,
                              head, np.array([len(p) for p in packets], dtype=np.int64), host_s, enc.ops,
                              enc.escaped_tiles, enc.note)
            self._rows[index] = row
            self.distinct_encodes += 1
            if self.exact:
                self._encoded[index] = enc
        return row

    def table(self) -> list[CodedSource]:
        return [self._rows[i] for i in sorted(self._rows)]

    # -- onboard packetization ------------------------------------------------------------------------
    def assign_sequence(self, rec: FrameRecord) -> None:
        """Give a newly stored frame the 14-bit sequence counts its packets take on each APID."""
        row = self._rows[rec.source]
        rec.seq_base = (self._seq[APID_FRAME_HEADER], self._seq[APID_TILE_DATA])
        self._seq[APID_FRAME_HEADER] = wrap_seq(self._seq[APID_FRAME_HEADER] + row.header_packets)
        self._seq[APID_TILE_DATA] = wrap_seq(self._seq[APID_TILE_DATA] + row.n_packets - row.header_packets)

    def packets(self, rec: FrameRecord) -> list[bytes]:
        """Exact fidelity: the real packets of a captured frame (rebuilt on demand, a few frames cached)."""
        cached = self._packets.get(rec.frame_id)
        if cached is not None:
            self._packets.move_to_end(rec.frame_id)
            return cached
        enc = self._encoded[rec.source]
        header = dataclasses.replace(FrameHeader.unpack(enc.header), frame_id=rec.frame_id).pack()
        relabelled = dataclasses.replace(enc, frame_id=rec.frame_id, header=header)
        # Start the counters where they stood when this frame was packetized onboard.
        packetizer = Packetizer(self.cfg.packet_size,
                                {APID_FRAME_HEADER: rec.seq_base[0], APID_TILE_DATA: rec.seq_base[1]})
        built = packetizer.packetize(relabelled)
        self.packets_built += len(built)
        self._packets[rec.frame_id] = built
        if len(self._packets) > PACKET_CACHE_FRAMES:
            self._packets.popitem(last=False)
        return built

    def forget(self, frame_id: int) -> None:
        self._packets.pop(frame_id, None)
