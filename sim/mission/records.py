"""One record per captured frame: its life from the camera to the ground, and the state it ends in.

Rule 7 of the design ("nothing is lost silently") is enforced here: a frame is in exactly one of the states
below, and the terminal ones carry a reason. ``awaiting`` is not a stored state but the union of the onboard
ones (raw, coding, stored).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

RAW, CODING, STORED = "raw", "coding", "stored"  # onboard, not yet home: "awaiting"
VERIFIED, DROPPED, FAILED = "verified", "dropped", "failed"
AWAITING_STATES = frozenset({RAW, CODING, STORED})

NAN = math.nan


@dataclass(slots=True, eq=False)
class FrameRecord:
    """A captured frame. Times are seconds from the start; NaN where the event has not happened."""

    frame_id: int
    source: int
    name: str
    priority: int
    captured_s: float
    raw_bytes: int
    state: str = RAW
    reason: str = ""
    coded_bytes: int = 0
    packet_bytes: int = 0
    n_packets: int = 0
    compressed_s: float = NAN
    cpu_s: float = 0.0
    first_tx_s: float = NAN
    downlinked_s: float = NAN  # every packet sent at least once
    verified_s: float = NAN
    acked_s: float = NAN
    last_tx_s: float = NAN
    packets_sent: int = 0  # transmissions, retransmissions included
    packets_lost: int = 0
    packets_retransmitted: int = 0
    seq_base: tuple[int, int] = (0, 0)  # sequence counts of its first header / tile packet (exact packets)
    onboard: bool = False  # holds packet-store bytes (until ACK or eviction)
    queued: bool = False  # in the downlink queue
    busy: bool = False  # being transmitted right now
    pending: np.ndarray | None = None  # parts still to send (bool per part)
    sent: np.ndarray | None = None  # parts sent at least once
    tx_count: np.ndarray | None = None  # transmissions per part (only with link.max_transmissions)
    recompressions: int = 0  # compressions cut by a flight-computer reset (faults.reset_rate_per_day)
    packets_regenerated: int = 0  # stored packets found corrupt and rebuilt from the kept raw frame
    raw_kept: bool = False  # its raw frame is still onboard after compression (storage.keep_raw_until_ack)

    @property
    def awaiting(self) -> bool:
        return self.state in AWAITING_STATES

    @property
    def latency_s(self) -> float:
        return self.verified_s - self.captured_s

    def start_sending(self) -> None:
        """Allocate the per-part masks when the frame first reaches the radio (most frames never do)."""
        if self.pending is None:
            self.pending = np.ones(self.n_packets, dtype=bool)
            self.sent = np.zeros(self.n_packets, dtype=bool)

    def release_masks(self) -> None:
        self.pending = self.sent = self.tx_count = None


CSV_FIELDS = ("frame_id", "source", "name", "priority", "state", "reason", "captured_s", "compressed_s",
              "first_tx_s", "downlinked_s", "verified_s", "acked_s", "latency_s", "raw_bytes", "coded_bytes",
              "packet_bytes", "n_packets", "packets_sent", "packets_lost", "packets_retransmitted", "cpu_s",
              "recompressions", "packets_regenerated")


def event_row(rec: FrameRecord) -> dict:
    """The per-frame event-log row (sim.output.report writes these as CSV)."""
    row = {name: getattr(rec, name) for name in CSV_FIELDS if name != "latency_s"}
    row["latency_s"] = rec.latency_s
    return row


#: events.csv columns kept as numbers in the spool (the three text columns are stored as indices into a table).
_TEXT_FIELDS = ("name", "state", "reason")
_SPOOL_DTYPE = np.dtype([(f, "i8") if f in _TEXT_FIELDS else
                         (f, "f8" if f.endswith("_s") else "i8") for f in CSV_FIELDS]
                        + [("int_mask", "i8"), ("present", "i8")])
_FLOAT_FIELDS = tuple(f for f in CSV_FIELDS if f.endswith("_s"))  # seconds; bit j of int_mask: field j was an int
SPOOL_FLUSH_ROWS = 4096  # rows buffered in memory before a write to the spool file (~1 MB)


class EventLog:
    """The events.csv rows of finished frames, spooled to a temporary file so memory does not grow with the run.

    ``add(rec)`` takes a frame that will not change again (released, or the run ended); its row is packed into
    a fixed-size binary record (``_SPOOL_DTYPE``: 8-byte ints and float64 seconds; name, state and reason as
    indices into a small table) and written to an anonymous temporary file at offset ``frame_id`` x record size
    (frame ids count captures from 0, so the file is in capture order whatever order frames finish in). The
    tallies the metrics need (states, reasons, compressed sums, downlinked count, latencies) are kept as it goes
    (:class:`Tally`).
    Iterating yields the rows as dicts in ``frame_id`` (capture) order, exactly what ``event_row`` gives;
    ``len`` is the number of rows. Memory: the write buffer, the text table and 16 bytes per verified frame
    (frame id and latency, for order-exact percentiles and mean).
    """

    def __init__(self) -> None:
        import tempfile

        self._file = tempfile.TemporaryFile(prefix="astroflight-events-")
        self._buffer: list[tuple] = []
        self._texts: dict[str, int] = {}
        self._n = 0
        self._end = 0  # one past the highest frame id written
        self.tally = Tally()

    def _text(self, value: str) -> int:
        return self._texts.setdefault(value, len(self._texts))

    def add(self, rec: FrameRecord) -> None:
        """Append the row of ``rec`` (which must not change afterwards) and count it."""
        row = event_row(rec)
        mask = sum(1 << j for j, f in enumerate(_FLOAT_FIELDS) if isinstance(row[f], int))  # e.g. simpy's now 0
        self._buffer.append((*(self._text(row[f]) if f in _TEXT_FIELDS else row[f] for f in CSV_FIELDS), mask, 1))
        self.tally.add(rec)
        self._n += 1
        if len(self._buffer) >= SPOOL_FLUSH_ROWS:
            self._flush()

    def _flush(self) -> None:
        if not self._buffer:
            return
        block = np.array(self._buffer, dtype=_SPOOL_DTYPE)
        block = block[np.argsort(block["frame_id"], kind="stable")]
        ids = block["frame_id"]
        cuts = np.flatnonzero(np.diff(ids) != 1) + 1  # runs of consecutive frame ids: one write each
        for run in np.split(np.arange(len(block)), cuts):
            self._file.seek(int(ids[run[0]]) * _SPOOL_DTYPE.itemsize)
            self._file.write(block[run[0]:run[-1] + 1].tobytes())
        self._end = max(self._end, int(ids[-1]) + 1)
        self._buffer = []

    def __len__(self) -> int:
        return self._n

    def __iter__(self):
        """Rows as dicts (Python ints, floats and strings), in frame_id order; reads the spool in blocks."""
        self._flush()
        texts = list(self._texts)
        for start in range(0, self._end, SPOOL_FLUSH_ROWS):
            self._file.seek(start * _SPOOL_DTYPE.itemsize)
            count = min(SPOOL_FLUSH_ROWS, self._end - start)
            block = np.frombuffer(self._file.read(count * _SPOOL_DTYPE.itemsize), dtype=_SPOOL_DTYPE)
            for values in block[block["present"] == 1].tolist():
                values = values[:-1]
                row = dict(zip(CSV_FIELDS, values[:-1], strict=True))
                for f in _TEXT_FIELDS:
                    row[f] = texts[row[f]]
                mask = values[-1]
                for j, f in enumerate(_FLOAT_FIELDS):
                    if mask >> j & 1:
                        row[f] = int(row[f])
                yield row

    def close(self) -> None:
        self._file.close()


class Tally:
    """What the metrics need from frame records, summed as records are added (any order gives the same result:
    integer sums, counters, and latencies kept with their frame id and sorted by it before use)."""

    def __init__(self) -> None:
        from collections import Counter

        self.states: Counter[str] = Counter()
        self.dropped: Counter[str] = Counter()
        self.failed: Counter[str] = Counter()
        self.captured = self.compressed = self.downlinked = 0
        self.raw_c = self.coded_c = self.packet_c = 0
        self._latency: list[tuple[int, float]] = []

    def add(self, rec: FrameRecord) -> None:
        """Count ``rec`` (its final or end-of-run state)."""
        self.captured += 1
        self.states[rec.state] += 1
        if rec.state == DROPPED:
            self.dropped[rec.reason] += 1
        elif rec.state == FAILED:
            self.failed[rec.reason] += 1
        elif rec.state == VERIFIED:
            self._latency.append((rec.frame_id, rec.latency_s))
        if rec.compressed_s == rec.compressed_s:
            self.compressed += 1
            self.raw_c += rec.raw_bytes
            self.coded_c += rec.coded_bytes
            self.packet_c += rec.packet_bytes
        if rec.downlinked_s == rec.downlinked_s:
            self.downlinked += 1

    def latencies(self) -> list[float]:
        """Latencies (s) of verified frames in frame_id order (the order the full record list had)."""
        return [lat for _, lat in sorted(self._latency)]
