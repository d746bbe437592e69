"""The downlink: the radio that sends the queued frames' packets in contacts, and the spacecraft's side of the
ACK/NAK exchange (CFDP class 2 in spirit).

The radio sends one frame's pending packets at a time, in part order, at the information rate with the framing
overhead, and stops at the end of the contact (a frame cut by LOS continues at the next one). Each batch is
drawn through :class:`sim.mission.link.Link`; the ground gets what survives at the batch's end time.

The order of frames is the downlink queue's (:mod:`sim.mission.queue`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

import numpy as np
import simpy

from flight.uplink import Report, decode_report, encode_report
from sim.mission.faults import FAILED_STORAGE, Faults
from sim.mission.link import Link
from sim.mission.onboard import Onboard
from sim.mission.records import STORED, FrameRecord
from sim.scenario import Scenario
from sim.world.orbit import Contact


@dataclass(frozen=True)
class Airtime:
    """Per source frame, what the radio needs for every packet (arrays of shape (n_packets,)): ``lengths``
    (octets, int), ``seconds`` on air and their running sum ``cum_seconds``, chance ``p_lost`` of loss, and the
    part indices ``parts``."""

    lengths: np.ndarray
    seconds: np.ndarray
    cum_seconds: np.ndarray
    p_lost: np.ndarray
    parts: np.ndarray


class Radio:
    """The radio and the spacecraft's side of the ACK/NAK exchange, over the run's contacts.

    Owns the air-time table per source frame and what happened to each contact (``missed_contacts``,
    ``contact_outage_s``). ``sample`` is called at every AOS and LOS (a timeline point).
    """

    def __init__(self, env: simpy.Environment, scenario: Scenario, contacts: list[Contact], link: Link,
                 onboard: Onboard, faults: Faults, exact: bool, sample: Callable[[], None]) -> None:
        self.env, self.contacts, self.link, self.onboard, self.faults = env, contacts, link, onboard, faults
        self.exact, self.sample = exact, sample
        self.rate_bps = scenario.radio.rate_bps
        self.uplink_rate_bps = scenario.radio.uplink_rate_bps
        self.bits_per_octet = 8.0 * (1.0 + scenario.radio.framing_overhead)
        self.ack_interval_s = scenario.ground.ack_interval_s
        self.packet_size = scenario.codec.packet_size
        self.max_transmissions = scenario.link.max_transmissions
        self.missed_contacts: set[int] = set()
        self.contact_outage_s: dict[int, float] = {}  # contact index -> seconds lost to outages
        self._airtime: dict[int, Airtime] = {}

    def airtime(self, source: int) -> Airtime:
        """The air-time table of source frame ``source`` (memoised)."""
        air = self._airtime.get(source)
        if air is None:
            lengths = self.onboard.coder.coded(source).packet_lengths
            seconds = lengths * self.bits_per_octet / self.rate_bps
            air = self._airtime[source] = Airtime(lengths, seconds, np.cumsum(seconds),
                                                  self.link.loss_probability(lengths), np.arange(len(lengths)))
        return air

    def process(self) -> Generator[simpy.Event, Any, None]:
        """simpy process: every contact, uplink the ground's report, then send until LOS.

        A missed pass (``link.missed_pass_probability``) loses the whole contact; an outage (``faults.outages``)
        loses the contact time inside it, and each remaining piece of the contact is worked like a contact of
        its own.
        """
        env, count, fc = self.env, self.onboard.count, self.faults.count
        for index, contact in enumerate(self.contacts):
            if contact.end <= env.now:
                continue
            if contact.start > env.now:
                yield env.timeout(contact.start - env.now)
            if self.link.pass_missed():  # drawn for every contact, so outages do not shift the draws
                self.missed_contacts.add(index)
                count.contacts_missed += 1
                count.contact_missed_s += contact.duration
                fc.passes_missed += 1
                continue
            pieces = (self.faults.usable(contact.start, contact.end) if self.faults.outages
                      else [(contact.start, contact.end)])
            held_s = sum(b - a for a, b in pieces)
            if held_s < contact.duration:
                lost_s = contact.duration - held_s
                self.contact_outage_s[index] = lost_s
                fc.outage_contact_s += lost_s
                if pieces:
                    fc.outage_contacts_cut += 1
                else:
                    fc.outage_contacts_lost += 1
                    continue
            count.contacts_held += 1
            count.contact_s += contact.duration if len(pieces) == 1 and held_s == contact.duration else held_s
            for start, end in pieces:
                if start > env.now:
                    yield env.timeout(start - env.now)
                yield from self._work_contact(end)

    def _work_contact(self, end: float):
        """Uplink the report, then send frames until ``end`` (LOS, or the start of an outage)."""
        env, ob = self.env, self.onboard
        self.sample()
        env.process(self._report_process(end))
        while end - env.now > 1e-6:
            rec = ob.queue.pop()
            if rec is None:
                yield ob.queue_filled() | env.timeout(end - env.now)
                continue
            if not (yield from self._transmit(rec, end)):
                ob.queue.push(rec, urgent=True)
                break
        self.sample()

    def _transmit(self, rec: FrameRecord, until: float):
        """Send as many of ``rec``'s pending packets as fit before ``until``; False if not even one fits."""
        env, ob, count = self.env, self.onboard, self.onboard.count
        air = self.airtime(rec.source)
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
        count.radio_busy_s += seconds
        if rec.pending is None:  # failed while on the air (a report's retransmission limit or storage check)
            rec.packets_sent += n
            count.packets_sent += n
            count.bytes_sent += int(air.lengths[parts].sum())
            return True
        erased, damaged = self.link.draw(air.p_lost[parts])
        lost_mask = erased | damaged
        corrupt = self.faults.corrupt_mask(rec.frame_id, parts)  # read from storage with flipped bits: CRC fails
        if corrupt is not None:
            self.faults.count.corrupt_packets_sent += int(np.count_nonzero(corrupt & ~erased))
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
        count.packets_sent += n
        count.packets_lost += lost
        count.packets_retransmitted += resent
        count.bytes_sent += rec.packet_bytes if (fresh and not remaining) else int(air.lengths[parts].sum())
        if not remaining:
            if math.isnan(rec.downlinked_s):
                rec.downlinked_s = env.now
            if rec.state == STORED:
                ob.awaiting_ack.add(rec.frame_id)
        if self.exact:
            packets = ob.coder.packets(rec)
            delivered = []
            for i, p in enumerate(parts.tolist()):
                if erased[i]:
                    continue
                data = (self.faults.corrupt(rec.frame_id, p, packets[p]) if corrupt is not None and corrupt[i]
                        else packets[p])
                delivered.append(self.link.damage(data) if damaged[i] else data)
            outcome = ob.ground.receive_packets(rec.frame_id, delivered)
        else:
            intact = ~lost_mask if corrupt is None else ~(lost_mask | corrupt)
            outcome = ob.ground.receive_parts(rec.frame_id, rec.n_packets, parts[intact] if lost or corrupt is not None
                                              else parts)
        if outcome == "verified":
            ob.verified(rec)
        elif outcome == "rejected":
            count.ground_rejections += 1
        if remaining:
            ob.queue.push(rec, urgent=True)
        return True

    def _report_process(self, contact_end: float):
        """simpy process: the ground's ACK/NAK report at AOS, and every ``ack_interval_s`` while in contact."""
        env, ob, count = self.env, self.onboard, self.onboard.count
        interval = self.ack_interval_s
        while True:
            started = env.now
            packets = encode_report(ob.ground.report(env.now), count.uplink_reports, self.packet_size,
                                    count.uplink_packets)
            nbytes = sum(len(p) for p in packets)
            count.uplink_reports += 1
            count.uplink_packets += len(packets)
            count.uplink_bytes += nbytes
            yield env.timeout(nbytes * self.bits_per_octet / self.uplink_rate_bps)
            self.apply_report(decode_report(packets))
            if interval <= 0 or started + interval >= contact_end:
                return
            yield env.timeout(started + interval - env.now)

    def apply_report(self, report: Report) -> None:
        """Spacecraft side: free acknowledged frames, queue NAKed parts, resend frames the ground never heard of."""
        ob = self.onboard
        for fid in report.acks:
            rec = ob.store.get(fid)
            if rec is not None:
                rec.acked_s = self.env.now
                ob.release(rec)
        max_tx = self.max_transmissions
        for fid, missing in report.naks.items():
            rec = ob.store.get(fid)
            if rec is None or rec.state != STORED:
                continue
            parts = np.asarray(missing, dtype=np.int64)
            parts = parts[(parts < rec.n_packets)]
            parts = parts[rec.sent[parts] & ~rec.pending[parts]]  # NAKs for parts not yet sent change nothing
            if len(parts) == 0:
                continue
            if max_tx and rec.tx_count is not None and (rec.tx_count[parts] >= max_tx).any():
                ob.fail(rec, "retransmission_limit")
                continue
            if not self._stored_intact(rec, parts):
                continue
            rec.pending[parts] = True
            ob.count.parts_nakked += len(parts)
            ob.awaiting_ack.discard(fid)
            ob.enqueue(rec, urgent=True)
        for fid in report.resend:
            rec = ob.store.get(fid)
            if rec is not None and rec.state == STORED and self._stored_intact(rec, self.airtime(rec.source).parts):
                rec.pending[:] = True
                ob.awaiting_ack.discard(fid)
                ob.enqueue(rec, urgent=True)
        named = set(report.naks) | set(report.resend) | set(report.acks)
        for fid in list(ob.awaiting_ack):
            rec = ob.store.get(fid)
            if rec is None or rec.state != STORED:
                ob.awaiting_ack.discard(fid)
                continue
            if fid not in named and rec.last_tx_s <= report.covered_s:
                # Sent in full before the report was written, and the ground has not heard of it: all lost.
                ob.awaiting_ack.discard(fid)
                if not self._stored_intact(rec, self.airtime(rec.source).parts):
                    continue
                rec.pending[:] = True
                ob.count.frames_resent_unheard += 1
                ob.enqueue(rec, urgent=True)

    def _stored_intact(self, rec: FrameRecord, parts: np.ndarray) -> bool:
        """Read ``parts`` from storage for a resend (:meth:`Faults.check_before_resend`); a frame whose corrupt
        packets cannot be regenerated fails (``storage_corruption``) and False is returned."""
        if self.faults.check_before_resend(rec, parts):
            return True
        self.onboard.fail(rec, FAILED_STORAGE)
        return False
