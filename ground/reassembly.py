"""Reassemble frames from packets that arrive in any order, decode complete tiles, verify checksums.

The ground's rule: a frame is ``verified`` only when every tile decoded, every tile CRC-32 matched and the
frame's SHA-256/128 over all stored pixels matched the header. Anything else is ``incomplete`` (parts missing,
named) or ``corrupt`` (everything arrived but something does not check out, with the reason; a part that arrives
twice with different bytes, i.e. two frames under one frame id, makes the frame corrupt with the parts named).
Nothing the wire claims is allocated before it is bounded (docs/formats.md, "Limits").
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from flight.checksums import frame_digest, tile_crc32
from flight.codecs.base import TileCodec
from flight.codecs.raw import RawCodec
from flight.codecs.registry import codec_for_header
from flight.container import FrameHeader, unpack_tile
from flight.errors import FormatError, ModelError
from flight.frame import BITPIX_DTYPES
from flight.packets import (
    APID_FRAME_HEADER,
    APID_TILE_DATA,
    CRC_LEN,
    OVERHEAD,
    SEQ_FIRST,
    SEQ_LAST,
    SEQ_UNSEGMENTED,
    Packet,
    parse_packet,
    wrap_seq,
)
from ground.budget import ALWAYS_LISTED, RunBudget
from ground.cards import cards_problem

#: A frame's pixel buffer is allocated only if it is this small, or small against the bytes that arrived.
ALLOC_FREE_BYTES = 64 << 20
ALLOC_PER_RECEIVED_BYTE = 4096

VERIFIED, INCOMPLETE, CORRUPT = "verified", "incomplete", "corrupt"

#: At most this many missing parts/tiles are listed one by one (counts are always exact). A hostile packet can
#: claim 2^24 parts; listing them all would cost time and memory for nothing a NAK could carry anyway.
MAX_LISTED = 65536


def _gaps(present: list[int], total: int, cap: int = MAX_LISTED) -> tuple[list[int], int]:
    """(first ``cap`` indices in range(total) not in sorted ``present``, how many are missing in all).

    Costs O(len(present) + cap), whatever ``total`` claims.
    """
    out: list[int] = []
    nxt = 0
    for p in present + [total]:
        if p > nxt and len(out) < cap:
            out.extend(range(nxt, min(p, nxt + cap - len(out))))
        nxt = max(nxt, p + 1)
    return out, total - len(present)


@dataclass
class FrameResult:
    """What the ground knows about one frame."""

    frame_id: int
    name: str
    status: str
    missing_tiles: list[int] = field(default_factory=list)
    missing_parts: list[int] = field(default_factory=list)
    missing_packets: list[dict] = field(default_factory=list)  # {"part", "apid", "seq"} where derivable
    corrupt_tiles: list[int] = field(default_factory=list)
    conflicting_parts: list[int] = field(default_factory=list)  # parts that arrived again with different bytes
    header: FrameHeader | None = None
    pixels: np.ndarray | None = None  # decoded tiles; missing tiles are zero (see ``mask``)
    mask: np.ndarray | None = None  # True where the pixel was decoded and its tile CRC matched
    reason: str = ""
    parts_received: int = 0
    part_count: int = 0
    missing_parts_count: int = 0  # exact, even when ``missing_parts`` lists only the first MAX_LISTED
    missing_tiles_count: int = 0

    @property
    def missing(self) -> list[str]:
        """Human-readable list of what is missing: the header, tiles, or (without a header) packet parts."""
        if self.header is None and self.status == INCOMPLETE:
            names = ["header"] + [f"part {p}" for p in self.missing_parts if p != 0]
            more = self.missing_parts_count - len(self.missing_parts)
        else:
            names = [f"tile {t}" for t in self.missing_tiles]
            more = self.missing_tiles_count - len(self.missing_tiles)
        return names + ([f"... and {more} more"] if more > 0 else [])


@dataclass
class _FrameState:
    part_count: int
    parts: dict[int, tuple[int, int, int]] = field(default_factory=dict)  # part -> (apid, seq, seq flags)
    prints: dict[int, int] = field(default_factory=dict)  # part -> CRC-32 of its APID and chunks (see _fingerprint)
    conflicting: set[int] = field(default_factory=set)  # parts repeated with different bytes (first MAX_LISTED)
    chunks: dict[int, dict[int, bytes]] = field(default_factory=dict)  # item -> offset -> bytes
    item_length: dict[int, int] = field(default_factory=dict)
    received_bytes: int = 0
    conflicts: int = 0
    result: FrameResult | None = None  # cached until a new part arrives


@dataclass
class GroundStats:
    packets: int = 0
    accepted: int = 0
    crc_failed: int = 0
    duplicates: int = 0  # a part again with the same APID and chunks (a retransmission): dropped
    conflicts: int = 0  # a part again with different bytes, or a different part count: the frame is corrupt
    malformed: int = 0
    ignored: int = 0


class Reassembler:
    """Collects packets across passes and answers, per frame, what is verified and what is missing.

    ``idf_model`` is the model bundle folder the ground holds (None = the default bundle) and ``kernels`` the
    kernel set its networks run on ("numba" or "litert", :mod:`flight.litert_kernels`). ``wrap_codec``, if
    given, wraps every tile decoder the ground builds (the simulator uses it to memoise repeated tiles).
    ``budget``, if given, bounds the pixel bytes allocated and the missing entries listed over all frames
    (``ground.budget``: what a decode run of untrusted bytes may cost).
    """

    def __init__(self, idf_model: str | None = None,
                 wrap_codec: Callable[[TileCodec], TileCodec] | None = None, kernels: str = "numba",
                 budget: RunBudget | None = None) -> None:
        self.idf_model = idf_model
        self.kernels = kernels
        self.wrap_codec = wrap_codec
        self.budget = budget
        self.stats = GroundStats()
        self._frames: dict[int, _FrameState] = {}
        self._codecs: dict[tuple, TileCodec] = {}

    # -- packets in -------------------------------------------------------------------------------------
    def add_packet(self, raw: bytes | Packet) -> bool:
        """Take one packet (bytes or parsed); False when it was not taken (CRC, malformed, duplicate, conflict, not
        ours). A part that arrives again with the same APID and chunks is a duplicate; with different bytes, or with
        a different part count, it is a conflict: another frame uses this frame id, and the frame becomes corrupt
        with the conflicting parts named (never silently one of the two)."""
        self.stats.packets += 1
        packet = raw if isinstance(raw, Packet) else parse_packet(raw)
        if packet is None:
            self.stats.crc_failed += 1
            return False
        if packet.packet_type != 0 or packet.apid not in (APID_FRAME_HEADER, APID_TILE_DATA):
            self.stats.ignored += 1
            return False
        state = self._frames.get(packet.frame_id)
        if state is None:
            state = self._frames[packet.frame_id] = _FrameState(part_count=packet.part_count)
        if packet.part_index in state.parts:
            if state.prints[packet.part_index] == _fingerprint(packet) and packet.part_count == state.part_count:
                self.stats.duplicates += 1
            else:
                self._conflict(state, packet.part_index)
            return False
        if packet.part_count != state.part_count:
            self._conflict(state, packet.part_index)
            return False
        try:
            chunks = packet.chunks()
        except FormatError:
            self.stats.malformed += 1
            return False
        for chunk in chunks:
            known = state.item_length.setdefault(chunk.item, chunk.item_length)
            if known != chunk.item_length or (chunk.item == 0) != (packet.apid == APID_FRAME_HEADER):
                state.conflicts += 1
                continue
            state.chunks.setdefault(chunk.item, {}).setdefault(chunk.offset, chunk.data)
            state.received_bytes += len(chunk.data)
        state.parts[packet.part_index] = (packet.apid, packet.seq_count, packet.seq_flags)
        state.prints[packet.part_index] = _fingerprint(packet)
        state.result = None
        self.stats.accepted += 1
        return True

    def _conflict(self, state: _FrameState, part: int) -> None:
        state.conflicts += 1
        if len(state.conflicting) < MAX_LISTED:
            state.conflicting.add(part)
        state.result = None
        self.stats.conflicts += 1

    # -- questions --------------------------------------------------------------------------------------
    def frame_ids(self) -> list[int]:
        return sorted(self._frames)

    def missing_parts(self, frame_id: int) -> list[int]:
        """Packet part indices not yet received (what a NAK asks for; the first MAX_LISTED of them)."""
        state = self._frames[frame_id]
        return _gaps(sorted(state.parts), state.part_count)[0]

    def forget(self, frame_id: int) -> None:
        """Drop a frame's state (after its product is written and acknowledged)."""
        self._frames.pop(frame_id, None)

    def tile_payloads(self, frame_id: int) -> dict[int, tuple[int, bytes]]:
        """Tile index -> (tile codec id, payload) of every tile item that arrived whole, as downlinked (the bytes a
        verified frame's tiles were decoded from; ``ground.fz`` places RICE_1 payloads in the heap unchanged)."""
        state = self._frames[frame_id]
        header = self.result(frame_id).header
        out: dict[int, tuple[int, bytes]] = {}
        if header is None:
            return out
        for item in sorted(i for i in state.item_length if 1 <= i <= header.n_tiles):
            raw = _assemble(state, item, header.max_item_length(item - 1))
            if raw is not None:
                try:
                    codec_id, _, payload = unpack_tile(raw)
                except FormatError:
                    continue
                out[item - 1] = (codec_id, payload)
        return out

    def result(self, frame_id: int) -> FrameResult:
        """Decode what has arrived of a frame and say whether it is verified, incomplete or corrupt."""
        state = self._frames[frame_id]
        if state.result is None:
            state.result = self._decode(frame_id, state)
        return state.result

    # -- decoding ---------------------------------------------------------------------------------------
    def _list_cap(self) -> int:
        """How many missing entries this frame may list (MAX_LISTED, or what is left of the run's budget)."""
        if self.budget is None:
            return MAX_LISTED
        return min(MAX_LISTED, max(ALWAYS_LISTED, self.budget.entries_left))

    def _decode(self, frame_id: int, state: _FrameState) -> FrameResult:
        missing_parts, n_missing = _gaps(sorted(state.parts), state.part_count, self._list_cap())
        if self.budget is not None:
            self.budget.take_entries(len(missing_parts))
        res = FrameResult(frame_id=frame_id, name=f"frame{frame_id:08d}", status=INCOMPLETE,
                          missing_parts=missing_parts, parts_received=len(state.parts),
                          part_count=state.part_count, missing_parts_count=n_missing)
        res.missing_packets = _missing_packets(state, missing_parts)
        head = _assemble(state, 0)
        if head is None:
            if n_missing:
                res.reason = "frame header not received"
            else:
                res.status, res.reason = CORRUPT, "every packet arrived but the frame header does not assemble"
            return res
        try:
            header = FrameHeader.unpack(head)
        except FormatError as exc:
            res.status, res.reason = CORRUPT, str(exc)
            return res
        res.header, res.name = header, header.name
        if header.frame_id != frame_id:
            res.status, res.reason = CORRUPT, "frame id in header differs from the packets'"
            return res
        problem = cards_problem(header.cards)  # cards that could not be written as sent make the frame corrupt
        if problem:
            res.status, res.reason = CORRUPT, problem
            return res
        dtype = BITPIX_DTYPES[header.bitpix]
        raw_size = header.rows * header.cols * dtype.itemsize
        if raw_size > ALLOC_FREE_BYTES and raw_size > ALLOC_PER_RECEIVED_BYTE * state.received_bytes:
            res.status, res.reason = CORRUPT, f"header claims {header.rows}x{header.cols} pixels, far more than arrived"
            return res
        if any(item > header.n_tiles for item in state.item_length):
            res.status, res.reason = CORRUPT, "packets carry tiles beyond the frame's tile grid"
            return res
        try:
            codec = self._codec(header)
        except (ModelError, FormatError) as exc:
            res.status, res.reason = CORRUPT, str(exc)
            return res
        done: list[int] = []  # tiles decoded and CRC-checked
        items = {}
        for index in sorted(item - 1 for item in state.item_length if item >= 1):  # only tiles that sent data
            item = _assemble(state, index + 1, header.max_item_length(index))
            if item is not None:
                items[index] = item
        charge = header.rows * header.cols * (dtype.itemsize + 1)  # pixels and mask
        if items and self.budget is not None and not self.budget.take_bytes(charge):
            res.status = INCOMPLETE if n_missing else CORRUPT
            res.reason = (f"not decoded: the run's budget of {self.budget.bytes_allowed} pixel bytes for "
                          f"{self.budget.input_bytes} stream bytes is spent ({charge} more needed)")
            res.missing_tiles, res.missing_tiles_count = _gaps(sorted(items), header.n_tiles, self._list_cap())
            self.budget.take_entries(len(res.missing_tiles))
            return res
        tiles = _decode_tiles(items, codec, header)
        good = {index: tile for index, tile in tiles.items() if tile is not None}
        res.corrupt_tiles = sorted(index for index, tile in tiles.items() if tile is None)
        if good:  # a frame with no decoded tile gets no pixel buffer and no product
            pixels = np.zeros((header.rows, header.cols), dtype=dtype)
            mask = np.zeros((header.rows, header.cols), dtype=bool)
            for index, tile in good.items():
                rs, cs = header.tile_slices(index)
                pixels[rs, cs] = tile
                mask[rs, cs] = True
                done.append(index)
            res.pixels, res.mask = pixels, mask
        elif items and self.budget is not None:
            self.budget.give_back_bytes(charge)
        cap = self._list_cap()
        res.missing_tiles, res.missing_tiles_count = _gaps(sorted(done + res.corrupt_tiles), header.n_tiles, cap)
        if self.budget is not None:
            self.budget.take_entries(len(res.missing_tiles))
        if res.missing_tiles_count and not n_missing:  # nothing left to wait for: the tile data are inconsistent
            res.corrupt_tiles = sorted(res.corrupt_tiles + res.missing_tiles)
            res.missing_tiles, res.missing_tiles_count = [], 0
        if res.missing_tiles_count:
            res.reason = f"{res.missing_tiles_count} of {header.n_tiles} tiles missing"
            if res.corrupt_tiles:
                res.reason += f", {len(res.corrupt_tiles)} corrupt"
            return res
        if res.corrupt_tiles:
            res.status, res.reason = CORRUPT, f"tiles {res.corrupt_tiles[:10]} failed to decode or verify"
            return res
        if state.conflicts:
            res.conflicting_parts = sorted(state.conflicting)
            parts = f"parts {res.conflicting_parts[:10]}" if res.conflicting_parts else "chunk lengths"
            res.status, res.reason = CORRUPT, (
                f"{state.conflicts} packets conflict ({parts} arrived again with different bytes or part count): "
                f"another frame uses frame id {frame_id}")
            return res
        if frame_digest(res.pixels, header.identity()) != header.checksum:
            res.status, res.reason = CORRUPT, "frame checksum mismatch"
            return res
        res.status, res.reason = VERIFIED, ""
        return res

    def _codec(self, header: FrameHeader) -> TileCodec:
        key = (header.codec_id, header.codec_params, header.model_hash)
        if key not in self._codecs:
            codec = codec_for_header(header.codec_id, header.codec_params, header.model_hash, self.idf_model,
                                     self.kernels)
            self._codecs[key] = self.wrap_codec(codec) if self.wrap_codec else codec
        return self._codecs[key]

    def codecs(self) -> list[TileCodec]:
        """The tile decoders built so far (one per codec, parameters and model)."""
        return list(self._codecs.values())


def _assemble(state: _FrameState, item: int, limit: int | None = None) -> bytes | None:
    """The whole item if its chunks cover it exactly once, else None (missing or inconsistent)."""
    chunks = state.chunks.get(item)
    length = state.item_length.get(item)
    if not chunks or length is None or (limit is not None and length > limit):
        return None
    pos = 0
    out = []
    for offset in sorted(chunks):
        if offset != pos:
            return None
        out.append(chunks[offset])
        pos += len(chunks[offset])
    return b"".join(out) if pos == length else None


def _decode_tiles(items: dict[int, bytes], codec: TileCodec, header: FrameHeader) -> dict[int, np.ndarray | None]:
    """Each complete tile item decoded and CRC-checked, or None when it fails (a bad tile costs only itself).

    Tiles coded by the frame's codec go through its batched ``decode_tiles`` (IDF: shared network calls);
    raw-escaped tiles are copied.
    """
    out: dict[int, np.ndarray | None] = {}
    coded: dict[int, tuple[int, bytes]] = {}
    for index, item in items.items():
        try:
            codec_id, crc, payload = unpack_tile(item)
        except FormatError:
            out[index] = None
            continue
        if codec_id == RawCodec.codec_id:
            out[index] = _checked(lambda p=payload, i=index: RawCodec().decode_tile(p, header.tile_shape(i),
                                                                                   header.bitpix), crc, header, index)
        elif codec_id == header.codec_id:
            coded[index] = (crc, payload)
        else:
            out[index] = None
    if coded:
        order = list(coded)
        try:
            results = codec.decode_tiles([coded[i][1] for i in order], [header.tile_shape(i) for i in order],
                                         header.bitpix)
        except FormatError:
            results = [None] * len(order)
        for index, result in zip(order, results, strict=True):
            bad = result is None or not result.ok
            out[index] = None if bad else _checked(result.unwrap, coded[index][0], header, index)
    return out


def _checked(decode: Callable[[], np.ndarray], crc: int, header: FrameHeader, index: int) -> np.ndarray | None:
    """The decoded tile if decoding succeeds, its shape is right and its CRC-32 matches, else None."""
    try:
        tile = decode()
    except FormatError:
        return None
    if tile.shape != header.tile_shape(index) or tile_crc32(tile) != crc:
        return None
    return tile


def _fingerprint(packet: Packet) -> int:
    """CRC-32 of a packet's APID and chunks: equal for a retransmission (whatever its sequence count), different
    for another frame's packet under the same frame id and part index."""
    return zlib.crc32(packet.data[OVERHEAD - CRC_LEN : len(packet.data) - CRC_LEN], packet.apid)


def _missing_packets(state: _FrameState, missing: list[int]) -> list[dict]:
    """(part, APID, sequence count) of missing packets, where the received packets let us derive them.

    Header packets come first and tile packets after, each APID with consecutive sequence counts, so a missing
    part's APID is known once the header/tile boundary is, and its count follows from any packet on that APID.
    """
    boundary = None  # number of header packets, when a packet's segmentation flags tell it
    first_tile = last_header = None
    anchors: dict[int, tuple[int, int]] = {}
    for q, (apid, seq, flags) in state.parts.items():
        anchors.setdefault(apid, (q, seq))
        if apid == APID_FRAME_HEADER:
            last_header = q if last_header is None else max(last_header, q)
            if flags in (SEQ_LAST, SEQ_UNSEGMENTED):
                boundary = q + 1
        elif apid == APID_TILE_DATA:
            first_tile = q if first_tile is None else min(first_tile, q)
            if flags in (SEQ_FIRST, SEQ_UNSEGMENTED):
                boundary = q
    out = []
    for p in missing:
        if boundary is not None:
            apid = APID_FRAME_HEADER if p < boundary else APID_TILE_DATA
        elif first_tile is not None and first_tile < p:
            apid = APID_TILE_DATA
        elif last_header is not None and last_header > p:
            apid = APID_FRAME_HEADER
        else:
            apid = None
        if apid is not None and apid in anchors:
            q, seq = anchors[apid]
            out.append({"part": p, "apid": apid, "seq": wrap_seq(seq + p - q)})
        else:
            out.append({"part": p})
    return out
