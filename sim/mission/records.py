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
