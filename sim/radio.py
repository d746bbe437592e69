"""The downlink: a queue of frames with packets to send, the radio that sends them in contacts, and the
spacecraft's side of the ACK/NAK exchange (CFDP class 2 in spirit).

The radio sends one frame's pending packets at a time, in part order, at the information rate with the framing
overhead, and stops at the end of the contact (a frame cut by LOS continues at the next one). Each batch is
drawn through :class:`sim.link.Link`; the ground gets what survives at the batch's end time.

Queue order: retransmissions and frames already started first (``radio.retransmit_first``; they free storage
soonest and complete frames the ground holds in part), then new frames first-in-first-out (``fifo``), newest
first (``lifo``: the freshest science), or by priority class then age (``priority``, see
``camera.priority_every``).
"""

from __future__ import annotations

import heapq
import math
from typing import TYPE_CHECKING

import numpy as np

from flight.uplink import Report, decode_report, encode_report
from sim.records import STORED, FrameRecord

if TYPE_CHECKING:
    from sim.engine import Mission


class DownlinkQueue:
    """Frames with packets waiting for the radio (each frame at most once)."""

    def __init__(self, order: str, retransmit_first: bool) -> None:
        self.order, self.retransmit_first = order, retransmit_first
        self._heap: list[tuple[int, float, float, int, FrameRecord]] = []
        self._tie = 0

    def push(self, rec: FrameRecord, urgent: bool = False) -> None:
        """Queue a frame (``urgent``: a retransmission or a frame already started)."""
        if rec.queued:
            return
        klass = 0 if (urgent and self.retransmit_first) else 1
        if self.order == "lifo":
            key: tuple[float, float] = (0.0, -rec.captured_s)
        elif self.order == "priority":
            key = (float(rec.priority), rec.captured_s)
        else:
            key = (0.0, rec.captured_s)
        self._tie += 1
        heapq.heappush(self._heap, (klass, *key, self._tie, rec))
        rec.queued = True

    def pop(self) -> FrameRecord | None:
        """The next frame to send, or None; frames no longer onboard are skipped."""
        while self._heap:
            rec = heapq.heappop(self._heap)[-1]
            rec.queued = False
            if rec.onboard and rec.pending is not None and rec.pending.any():
                return rec
        return None

    def __len__(self) -> int:
        return len(self._heap)


def radio_process(m: Mission):
    """simpy process: every contact, uplink the ground's report, then send until LOS.

    A missed pass (``link.missed_pass_probability``) loses the whole contact; an outage (``faults.outages``)
    loses the contact time inside it, and each remaining piece of the contact is worked like a contact of its own.
    """
    env = m.env
    for index, contact in enumerate(m.geometry.contacts):
        if contact.end <= env.now:
            continue
        if contact.start > env.now:
            yield env.timeout(contact.start - env.now)
        if m.link.pass_missed():  # drawn for every contact, so outages do not shift the draws
            m.missed_contacts.add(index)
            m.count.contacts_missed += 1
            m.count.contact_missed_s += contact.duration
            m.faults.count.passes_missed += 1
            continue
        pieces = m.faults.usable(contact.start, contact.end) if m.faults.outages else [(contact.start, contact.end)]
        held_s = sum(b - a for a, b in pieces)
        if held_s < contact.duration:
            lost_s = contact.duration - held_s
            m.contact_outage_s[index] = lost_s
            m.faults.count.outage_contact_s += lost_s
            if pieces:
                m.faults.count.outage_contacts_cut += 1
            else:
                m.faults.count.outage_contacts_lost += 1
                continue
        m.count.contacts_held += 1
        m.count.contact_s += contact.duration if len(pieces) == 1 and held_s == contact.duration else held_s
        for start, end in pieces:
            if start > env.now:
                yield env.timeout(start - env.now)
            yield from _work_contact(m, end)


def _work_contact(m: Mission, end: float):
    """Uplink the report, then send frames until ``end`` (LOS, or the start of an outage)."""
    env = m.env
    m.sample()
    env.process(report_process(m, end))
    while end - env.now > 1e-6:
        rec = m.queue.pop()
        if rec is None:
            m.queue_wakeup = env.event()
            yield m.queue_wakeup | env.timeout(end - env.now)
            continue
        if not (yield from _transmit(m, rec, end)):
            m.queue.push(rec, urgent=True)
            break
    m.sample()


def _transmit(m: Mission, rec: FrameRecord, until: float):
    """Send as many of ``rec``'s pending packets as fit before ``until``; False if not even one fits."""
    env = m.env
    air = m.airtime(rec.source)
    fresh = rec.packets_sent == 0  # every part pending, in order: use the precomputed air times
    parts = air.parts if fresh else np.flatnonzero(rec.pending)
    ends = air.cum_seconds if fresh else np.cumsum(air.seconds[parts])
    n = int(np.searchsorted(ends, until - env.now + 1e-9, side="right"))
    if n == 0:
        return False
    remaining = n < len(parts)
    parts, seconds = parts[:n], float(ends[n - 1])
    if math.isnan(rec.first_tx_s):
        rec.first_tx_s = env.now
    rec.busy = True
    yield env.timeout(seconds)
    rec.busy = False
    m.count.radio_busy_s += seconds
    if rec.pending is None:  # failed while on the air (a report's retransmission limit or storage check)
        rec.packets_sent += n
        m.count.packets_sent += n
        m.count.bytes_sent += int(air.lengths[parts].sum())
        return True
    erased, damaged = m.link.draw(air.p_lost[parts])
    lost_mask = erased | damaged
    corrupt = m.faults.corrupt_mask(rec.frame_id, parts)  # read from storage with flipped bits: CRC fails
    if corrupt is not None:
        m.faults.count.corrupt_packets_sent += int(np.count_nonzero(corrupt & ~erased))
    resent = 0 if fresh else int(np.count_nonzero(rec.sent[parts]))
    rec.pending[parts] = False
    rec.sent[parts] = True
    if rec.tx_count is not None:
        rec.tx_count[parts] += 1
    lost = int(np.count_nonzero(lost_mask))
    rec.packets_sent += n
    rec.packets_lost += lost
    rec.packets_retransmitted += resent
    rec.last_tx_s = env.now
    m.count.packets_sent += n
    m.count.packets_lost += lost
    m.count.packets_retransmitted += resent
    m.count.bytes_sent += rec.packet_bytes if (fresh and not remaining) else int(air.lengths[parts].sum())
    if not remaining:
        if math.isnan(rec.downlinked_s):
            rec.downlinked_s = env.now
        if rec.state == STORED:
            m.awaiting_ack.add(rec.frame_id)
    if m.exact:
        packets = m.coder.packets(rec)
        delivered = []
        for i, p in enumerate(parts.tolist()):
            if erased[i]:
                continue
            data = m.faults.corrupt(rec.frame_id, p, packets[p]) if corrupt is not None and corrupt[i] else packets[p]
            delivered.append(m.link.damage(data) if damaged[i] else data)
        outcome = m.ground.receive_packets(rec.frame_id, delivered)
    else:
        intact = ~lost_mask if corrupt is None else ~(lost_mask | corrupt)
        outcome = m.ground.receive_parts(rec.frame_id, rec.n_packets, parts[intact] if lost or corrupt is not None
                                         else parts)
    if outcome == "verified":
        m.verified(rec)
    elif outcome == "rejected":
        m.count.ground_rejections += 1
    if remaining:
        m.queue.push(rec, urgent=True)
    return True


def report_process(m: Mission, contact_end: float):
    """simpy process: the ground's ACK/NAK report at AOS, and every ``ack_interval_s`` while in contact."""
    env = m.env
    interval = m.scenario.ground.ack_interval_s
    while True:
        started = env.now
        packets = encode_report(m.ground.report(env.now), m.count.uplink_reports, m.scenario.codec.packet_size,
                                m.count.uplink_packets)
        nbytes = sum(len(p) for p in packets)
        m.count.uplink_reports += 1
        m.count.uplink_packets += len(packets)
        m.count.uplink_bytes += nbytes
        yield env.timeout(nbytes * m.bits_per_octet / m.scenario.radio.uplink_rate_bps)
        apply_report(m, decode_report(packets))
        if interval <= 0 or started + interval >= contact_end:
            return
        yield env.timeout(started + interval - env.now)


def apply_report(m: Mission, report: Report) -> None:
    """Spacecraft side: free acknowledged frames, queue NAKed parts, resend frames the ground never heard of."""
    for fid in report.acks:
        rec = m.store.get(fid)
        if rec is not None:
            rec.acked_s = m.env.now
            m.release(rec)
    max_tx = m.scenario.link.max_transmissions
    for fid, missing in report.naks.items():
        rec = m.store.get(fid)
        if rec is None or rec.state != STORED:
            continue
        parts = np.asarray(missing, dtype=np.int64)
        parts = parts[(parts < rec.n_packets)]
        parts = parts[rec.sent[parts] & ~rec.pending[parts]]  # NAKs for parts not yet sent change nothing
        if len(parts) == 0:
            continue
        if max_tx and rec.tx_count is not None and (rec.tx_count[parts] >= max_tx).any():
            m.fail(rec, "retransmission_limit")
            continue
        if not m.faults.check_before_resend(m, rec, parts):
            continue
        rec.pending[parts] = True
        m.count.parts_nakked += len(parts)
        m.awaiting_ack.discard(fid)
        m.enqueue(rec, urgent=True)
    for fid in report.resend:
        rec = m.store.get(fid)
        if rec is not None and rec.state == STORED and m.faults.check_before_resend(m, rec, air_parts(m, rec)):
            rec.pending[:] = True
            m.awaiting_ack.discard(fid)
            m.enqueue(rec, urgent=True)
    named = set(report.naks) | set(report.resend) | set(report.acks)
    for fid in list(m.awaiting_ack):
        rec = m.store.get(fid)
        if rec is None or rec.state != STORED:
            m.awaiting_ack.discard(fid)
            continue
        if fid not in named and rec.last_tx_s <= report.covered_s:
            # Sent in full before the report was written, and the ground has not heard of it: all lost.
            m.awaiting_ack.discard(fid)
            if not m.faults.check_before_resend(m, rec, air_parts(m, rec)):
                continue
            rec.pending[:] = True
            m.count.frames_resent_unheard += 1
            m.enqueue(rec, urgent=True)


def air_parts(m: Mission, rec: FrameRecord) -> np.ndarray:
    """Every part index of ``rec`` (for a resend of the whole frame)."""
    return m.airtime(rec.source).parts
