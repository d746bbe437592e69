"""The frames onboard and the mission-wide tallies: what every process of a run shares, and the transitions
they all use (a frame queued for the radio, verified by the ground, released, dropped, failed).

:class:`Onboard` owns the raw buffer, the packet store and the downlink queue (built here from the scenario),
the live frame records, the event log of finished ones (:class:`~sim.mission.records.EventLog`, so memory does
not grow with the run) and :class:`Counters`. It is handed the coder, the ground segment and the faults by the
engine; the processes (:mod:`sim.mission.camera`, :mod:`sim.mission.cpu`, :mod:`sim.mission.radio`) are
handed it in turn. It imports no process.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import simpy

from sim.mission.coding import Coder
from sim.mission.faults import Faults
from sim.mission.groundseg import GroundSegment
from sim.mission.queue import DownlinkQueue
from sim.mission.records import DROPPED, FAILED, VERIFIED, EventLog, FrameRecord
from sim.mission.storage import PacketStore, RawBuffer
from sim.scenario import Scenario


@dataclass
class Counters:
    """Mission-wide tallies (per-frame ones live in the FrameRecords); bytes, seconds and counts."""

    compressed: int = 0
    contacts_held: int = 0
    contacts_missed: int = 0
    contact_s: float = 0.0
    contact_missed_s: float = 0.0
    radio_busy_s: float = 0.0
    cpu_busy_s: float = 0.0
    packets_sent: int = 0
    packets_lost: int = 0
    packets_retransmitted: int = 0
    bytes_sent: int = 0
    parts_nakked: int = 0
    frames_resent_unheard: int = 0
    ground_rejections: int = 0
    uplink_reports: int = 0
    uplink_packets: int = 0
    uplink_bytes: int = 0
    verified: int = 0
    generated_bytes: int = 0
    delivered_raw_bytes: int = 0
    delivered_coded_bytes: int = 0


class Onboard:
    """Frames from capture to release: the two stores, the downlink queue, the records and the tallies."""

    def __init__(self, env: simpy.Environment, scenario: Scenario, coder: Coder, ground: GroundSegment,
                 faults: Faults) -> None:
        self.env, self.coder, self.ground, self.faults = env, coder, ground, faults
        self.max_transmissions = scenario.link.max_transmissions
        st = scenario.storage
        self.raw = RawBuffer(env, st.raw_capacity_bytes, st.policy, self.drop)
        self.store = PacketStore(env, st.capacity_bytes, st.policy, self.drop, self.release)
        self.queue = DownlinkQueue(scenario.radio.queue, scenario.radio.retransmit_first)
        self._queue_wakeup: simpy.Event | None = None
        self.live: dict[int, FrameRecord] = {}  # captured frames not yet retired into the event log
        self.retired: list[FrameRecord] = []  # released since the last retire(): final, not yet logged
        self.log = EventLog()  # finished frames' events.csv rows (spooled to disk) and metric tallies
        self.captured = 0
        self.awaiting_ack: set[int] = set()  # frames sent in full, not yet acknowledged or NAKed
        self.count = Counters()

    def capture(self, rec: FrameRecord) -> None:
        """A new frame from the camera: recorded, counted, into the raw buffer (which may drop it)."""
        self.live[rec.frame_id] = rec
        self.captured += 1
        self.count.generated_bytes += rec.raw_bytes
        self.raw.put(rec)

    def enqueue(self, rec: FrameRecord, urgent: bool = False) -> None:
        """Queue ``rec``'s pending packets for the radio (``urgent``: a retransmission) and wake the radio."""
        rec.start_sending()
        if rec.tx_count is None and self.max_transmissions:
            rec.tx_count = np.zeros(rec.n_packets, dtype=np.int32)
        self.queue.push(rec, urgent)
        if self._queue_wakeup is not None and not self._queue_wakeup.triggered:
            self._queue_wakeup.succeed()

    def queue_filled(self) -> simpy.Event:
        """An event that fires at the next :meth:`enqueue` (the radio waits on it when the queue is empty)."""
        self._queue_wakeup = self.env.event()
        return self._queue_wakeup

    def verified(self, rec: FrameRecord) -> None:
        """The ground rebuilt and checked ``rec`` (its packets stay onboard until the ACK)."""
        rec.state = VERIFIED
        rec.verified_s = self.env.now
        self.count.verified += 1
        self.count.delivered_raw_bytes += rec.raw_bytes
        self.count.delivered_coded_bytes += rec.coded_bytes
        self.awaiting_ack.discard(rec.frame_id)

    def release(self, rec: FrameRecord) -> None:
        """Acknowledged by the ground (or given up): delete its packets onboard."""
        self.store.remove(rec)
        self.raw.drop_copy(rec)
        rec.release_masks()
        self.coder.forget(rec.frame_id)
        self.faults.forget(rec.frame_id)
        self.awaiting_ack.discard(rec.frame_id)
        self.retired.append(rec)

    def retire(self) -> None:
        """Move the frames released since the last call into the event log and forget them (the engine calls
        this between run steps, so nothing still handling a frame in the same instant can touch it later)."""
        for rec in self.retired:
            if self.live.pop(rec.frame_id, None) is not None:
                self.log.add(rec)
        self.retired = []

    def finish(self) -> None:
        """The run is over: every frame still onboard goes into the event log in its end-of-run state."""
        self.retire()
        for rec in self.live.values():
            self.log.add(rec)
        self.live = {}

    def drop(self, rec: FrameRecord, reason: str) -> None:
        """End ``rec`` as dropped for ``reason`` (a full store, an eviction)."""
        self._end(rec, DROPPED, reason)

    def fail(self, rec: FrameRecord, reason: str) -> None:
        """End ``rec`` as failed for ``reason`` (retransmission limit, storage corruption)."""
        self._end(rec, FAILED, reason)

    def _end(self, rec: FrameRecord, state: str, reason: str) -> None:
        rec.state, rec.reason = state, reason
        self.ground.cancel(rec.frame_id)  # the spacecraft's cancel notice: stop NAKing it
        self.release(rec)
