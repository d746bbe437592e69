"""Faults injected on purpose: flight-computer resets, bit flips in stored packets, and link outages.

Why: rule 7 of the design ("nothing is lost silently") only means something if the simulator can be made to
hurt. Each fault is drawn from its own stream of the run's seed (the link's streams are untouched, so turning a
fault on does not reshuffle packet losses), every consequence is counted, and every frame a fault costs ends in
a named state. All faults are off by default (scenario table ``[faults]``, keys in ``docs/simulator.md``).

- **Reset** (``faults.reset_rate_per_day``, Poisson): the flight computer reboots for ``faults.reboot_s``. A frame
  being compressed is not lost: its raw frame is still in the raw buffer (it is released only once compression
  ends), so it goes back to the head of the buffer and is compressed again after the reboot. The camera, the
  radio and the stores keep running (they have their own controllers and nonvolatile memory in this model); a
  core that has finished compressing and waits for packet-store space keeps its result.
- **Storage upset** (``faults.storage_upsets_per_bit_day``): bits of the packet store flip at this rate per
  stored bit, so a fuller store takes more hits. The hit packet is marked with the exact bits flipped (exact
  fidelity flips them in the packet's bytes whenever it is read for the radio, so the ground's CRC-16 drops it
  for real; statistical fidelity counts it as not received). When the ground NAKs the part, the flight software
  reads the stored packet for the retransmission and checks its CRC-16: if the raw frame is still onboard
  (``storage.keep_raw_until_ack``) the packet is regenerated from it (coding is deterministic: the same bytes),
  otherwise the frame fails with reason ``storage_corruption``.
- **Outage** (``faults.outages``, windows of time): contact time inside an outage is lost (ground station down,
  spacecraft safe mode). Storage fills meanwhile and the storage policy drops frames with its usual reasons.
- Missed passes (``link.missed_pass_probability``) are drawn by :mod:`sim.mission.link`; their count is reported here
  too, so one place lists what went wrong in a run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
import simpy

from sim.mission.records import FrameRecord
from sim.mission.storage import PacketStore
from sim.scenario import FaultsConfig

Reset = Callable[[float], tuple[float, bool]]  # reboot for s seconds -> (reboot s added, a core was compressing)
PacketLengths = Callable[[int], np.ndarray]  # source frame index -> packet lengths in octets, int64 (n_packets,)

DAY_S = 86400.0
FAILED_STORAGE = "storage_corruption"


@dataclass
class FaultCounters:
    """What the injected faults did in one run (reported as ``metrics.json`` ``faults``)."""

    resets: int = 0
    resets_during_compression: int = 0
    frames_recompressed: int = 0
    cpu_s_lost: float = 0.0
    reboot_s: float = 0.0
    storage_upsets: int = 0
    corrupt_packets_sent: int = 0
    corrupt_packets_found_onboard: int = 0
    packets_regenerated: int = 0
    frames_regenerated: int = 0
    frames_failed_storage_corruption: int = 0
    raw_copies_freed_for_space: int = 0
    outage_contacts_lost: int = 0
    outage_contacts_cut: int = 0
    outage_contact_s: float = 0.0
    passes_missed: int = 0


class Faults:
    """The fault processes of one run and what they left behind (flipped bits per stored packet)."""

    def __init__(self, cfg: FaultsConfig, seed: int) -> None:
        self.cfg = cfg
        # Children 3 and 4 of the run's seed sequence (sim.mission.link draws from children 0-2 of the same sequence).
        children = np.random.SeedSequence(seed).spawn(5)[3:]
        self._resets, self._upsets = (np.random.default_rng(c) for c in children)
        self.outages = sorted((o.start, o.start + o.duration) for o in cfg.outages)
        self.flips: dict[int, dict[int, set[int]]] = {}  # frame id -> part -> bit positions flipped (odd times)
        self.count = FaultCounters()

    @property
    def enabled(self) -> bool:
        return bool(self.cfg.reset_rate_per_day or self.cfg.storage_upsets_per_bit_day or self.outages)

    def start(self, env: simpy.Environment, reset: Reset, store: PacketStore, lengths: PacketLengths) -> None:
        """Start the fault processes the scenario asks for: resets call ``reset`` (the CPU's), upsets hit
        ``store``, whose frames' packet lengths ``lengths`` gives."""
        if self.cfg.reset_rate_per_day > 0:
            env.process(self._reset_process(env, reset))
        if self.cfg.storage_upsets_per_bit_day > 0:
            env.process(self._upset_process(env, store, lengths))

    # -- resets ----------------------------------------------------------------------------------------------
    def _reset_process(self, env: simpy.Environment, reset: Reset):
        """simpy process: resets at Poisson times; the CPU interrupts its cores that are compressing or idle."""
        mean_gap_s = DAY_S / self.cfg.reset_rate_per_day
        while True:
            yield env.timeout(float(self._resets.exponential(mean_gap_s)))
            self.count.resets += 1
            added_s, compressing = reset(self.cfg.reboot_s)
            self.count.reboot_s += added_s
            if compressing:
                self.count.resets_during_compression += 1

    def compression_lost(self, rec: FrameRecord, busy_s: float) -> None:
        """A reset cut ``rec``'s compression after ``busy_s`` seconds (the CPU puts its raw frame back)."""
        self.count.frames_recompressed += 1
        self.count.cpu_s_lost += busy_s
        rec.recompressions += 1

    # -- storage upsets ----------------------------------------------------------------------------------------
    def _upset_process(self, env: simpy.Environment, store: PacketStore, lengths: PacketLengths):
        """simpy process: bit flips in the packet store.

        The rate is per stored bit, so it changes whenever the store fills or empties. Each upset needs an
        exponentially distributed amount of exposure (bit-days); the process spends it at the current fill and
        re-plans whenever the store changes, so upsets follow the fill history exactly and cost nothing while
        the store is empty. The upset lands on a uniformly drawn stored byte, then a uniformly drawn bit of it.
        """
        per_byte_s = self.cfg.storage_upsets_per_bit_day * 8.0 / DAY_S
        while True:
            exposure = float(self._upsets.exponential())  # in expected upsets
            while True:
                used, t0 = store.used, env.now
                change = store.changed()
                if used > 0:
                    due = env.timeout(exposure / (per_byte_s * used))
                    fired = yield due | change
                else:
                    due, fired = None, (yield change)
                exposure -= per_byte_s * used * (env.now - t0)
                if due is not None and due in fired:
                    break
            self._upset(store, lengths, int(self._upsets.random() * store.used), int(self._upsets.integers(8)))

    def _upset(self, store: PacketStore, packet_lengths: PacketLengths, offset: int, bit: int) -> None:
        """Flip bit ``bit`` of the stored byte at ``offset`` (counted over the frames in storage order)."""
        for rec in store.frames.values():
            if offset < rec.packet_bytes:
                break
            offset -= rec.packet_bytes
        else:  # pragma: no cover - the store was empty
            return
        self.count.storage_upsets += 1
        lengths = packet_lengths(rec.source)
        ends = np.cumsum(lengths)
        part = int(np.searchsorted(ends, offset, side="right"))
        pos = (offset - int(ends[part] - lengths[part])) * 8 + bit
        bits = self.flips.setdefault(rec.frame_id, {}).setdefault(part, set())
        bits ^= {pos}  # a bit flipped twice is back to its value
        if not bits:
            del self.flips[rec.frame_id][part]

    def corrupt_mask(self, frame_id: int, parts: np.ndarray) -> np.ndarray | None:
        """Which of ``parts`` are corrupt in storage right now (None: none of the frame's packets is)."""
        parts_hit = self.flips.get(frame_id)
        if not parts_hit:
            return None
        return np.isin(parts, np.fromiter(parts_hit, dtype=np.int64, count=len(parts_hit)))

    def corrupt(self, frame_id: int, part: int, packet: bytes) -> bytes:
        """The stored bytes of a corrupt packet: ``packet`` with its flipped bits applied (exact fidelity)."""
        data = bytearray(packet)
        for pos in self.flips[frame_id][part]:
            data[pos // 8] ^= 0x80 >> (pos % 8)
        return bytes(data)

    def check_before_resend(self, rec: FrameRecord, parts: np.ndarray) -> bool:
        """The flight software reads ``parts`` to send them again and checks their CRC-16.

        Corrupt ones are regenerated from the raw frame when it is still onboard. Returns False when they
        cannot be: the caller then fails the frame with reason ``FAILED_STORAGE``.
        """
        mask = self.corrupt_mask(rec.frame_id, parts)
        if mask is None or not mask.any():
            return True
        bad = parts[mask]
        self.count.corrupt_packets_found_onboard += len(bad)
        if not rec.raw_kept:
            self.count.frames_failed_storage_corruption += 1
            return False
        for part in bad.tolist():
            del self.flips[rec.frame_id][part]
        rec.packets_regenerated += len(bad)
        self.count.packets_regenerated += len(bad)
        self.count.frames_regenerated += 1
        return True

    def forget(self, frame_id: int) -> None:
        """The frame left the packet store: its flipped bits went with it."""
        self.flips.pop(frame_id, None)

    # -- outages -------------------------------------------------------------------------------------------------
    def usable(self, start: float, end: float) -> list[tuple[float, float]]:
        """The parts of the contact [start, end] outside every outage."""
        pieces = [(start, end)]
        for a, b in self.outages:
            if b <= start or a >= end:
                continue
            pieces = [piece for s, e in pieces for piece in ((s, min(e, a)), (max(s, b), e)) if piece[1] > piece[0]]
        return pieces

    def metrics(self) -> dict:
        """The ``faults`` entry of metrics.json: the configuration, then what happened."""
        out: dict = {"config": {"reset_rate_per_day": self.cfg.reset_rate_per_day, "reboot_s": self.cfg.reboot_s,
                                "storage_upsets_per_bit_day": self.cfg.storage_upsets_per_bit_day,
                                "outages": [list(w) for w in self.outages]}}
        counts = asdict(self.count)
        for key in ("cpu_s_lost", "reboot_s", "outage_contact_s"):
            counts[key] = round(counts[key], 3)
        out.update(counts)
        out["corrupt_packets_onboard_at_end"] = sum(len(p) for p in self.flips.values())
        return out

