"""Onboard storage: a raw-frame buffer in front of the CPU and a packet store in front of the radio.

Both have a capacity and the scenario's policy for a full store, applied the way flight software would:

- ``drop_newest``: the frame that does not fit is dropped (reason ``raw_buffer_full`` / ``packet_store_full``);
- ``drop_oldest``: the oldest frames are evicted until it fits (``evicted_from_raw_buffer`` /
  ``evicted_from_packet_store``); a frame the ground already verified is only freed, its data is home;
- ``stop_capture``: back-pressure: the CPU waits for packet-store space, the raw buffer then fills, and the camera
  skips captures (skips are counted, but a frame never taken is not a frame).

Compressed packets stay in the packet store until the ground acknowledges them (CFDP class 2 in spirit).

With ``storage.keep_raw_until_ack`` the raw buffer also keeps each compressed frame's raw pixels until the ground
acknowledges it, so a packet corrupted in storage can be regenerated (:mod:`sim.mission.faults`). Those copies are a
safety net, not science: when a new frame needs their space, the oldest copies are freed first (counted), under
every policy.

Why not simpy's resources: both stores are hand-rolled on plain ``simpy.Event`` wake-ups, on purpose.

- ``simpy.Container`` (a level against a capacity) blocks a ``put`` that does not fit; here a full store applies
  the policy (drop the frame, or evict old ones) and only ``stop_capture`` waits. Its waiting puts are served
  strictly in order, so a large frame at the head would block a smaller one behind it that fits; here every
  waiting core wakes at a free and each one that fits goes in (first fit), which is what flight software does.
  It keeps no peak either.
- ``simpy.Store``/``PriorityStore`` (the raw frames for the cores) hand each frame to the oldest ``get``
  request, which a reset must cancel, or a frame is handed to an interrupted core and lost; a frame cut by a
  reset goes back in capture order and ``drop_oldest`` evicts from the head, both reaching into the store's
  item list. Swapping them in changes which core wakes when, and so event order and the metrics of a seeded
  run (rule: same seed, same metrics).
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable

import simpy

from sim.mission.records import FrameRecord

Drop = Callable[[FrameRecord, str], None]


class _Space:
    """Used bytes against a capacity, with the peak."""

    def __init__(self, capacity: float) -> None:
        self.capacity = float(capacity)
        self.used = 0
        self.peak = 0

    def fits(self, nbytes: int) -> bool:
        return self.used + nbytes <= self.capacity

    def _add(self, nbytes: int) -> None:
        self.used += nbytes
        self.peak = max(self.peak, self.used)


class RawBuffer(_Space):
    """Raw frames waiting for a CPU core, first in first out."""

    def __init__(self, env: simpy.Environment, capacity: float, policy: str, drop: Drop) -> None:
        super().__init__(capacity)
        self.env, self.policy, self.drop = env, policy, drop
        self.waiting: deque[FrameRecord] = deque()
        self.copies: OrderedDict[int, FrameRecord] = OrderedDict()  # kept after compression, oldest first
        self.copies_freed = 0
        self._wakeup: simpy.Event = env.event()
        self.skipped_captures = 0

    def can_capture(self, nbytes: int) -> bool:
        """False only under stop_capture with no room: the camera then skips this capture."""
        if self.policy == "stop_capture" and not self._make_room(nbytes):
            self.skipped_captures += 1
            return False
        return True

    def put(self, rec: FrameRecord) -> None:
        """Store a new raw frame, applying the policy when full."""
        self._make_room(rec.raw_bytes)
        if not self.fits(rec.raw_bytes) and self.policy == "drop_oldest":
            while self.waiting and not self.fits(rec.raw_bytes):
                old = self.waiting.popleft()
                self.release(old)
                self.drop(old, "evicted_from_raw_buffer")
        if not self.fits(rec.raw_bytes):
            self.drop(rec, "raw_buffer_full")
            return
        self._add(rec.raw_bytes)
        self.waiting.append(rec)
        if not self._wakeup.triggered:
            self._wakeup.succeed()

    def get(self):
        """simpy process step: wait for the oldest raw frame (a generator to ``yield from``).

        All idle cores wait on one shared event; the first to run takes the frame, the others wait again.
        """
        while not self.waiting:
            if self._wakeup.triggered:
                self._wakeup = self.env.event()
            yield self._wakeup
        return self.waiting.popleft()

    def requeue(self, rec: FrameRecord) -> None:
        """A frame whose compression was cut (a reset) goes back where it was: the buffer stays in capture order."""
        i = 0
        while i < len(self.waiting) and self.waiting[i].frame_id < rec.frame_id:
            i += 1
        self.waiting.insert(i, rec)
        if not self._wakeup.triggered:
            self._wakeup.succeed()

    def release(self, rec: FrameRecord) -> None:
        """The CPU is done with the raw frame (or it was evicted): free its bytes."""
        self.used -= rec.raw_bytes

    def keep(self, rec: FrameRecord) -> None:
        """Keep a compressed frame's raw pixels (its bytes stay counted) until ``drop_copy``."""
        self.copies[rec.frame_id] = rec
        rec.raw_kept = True

    def drop_copy(self, rec: FrameRecord) -> None:
        """The frame is acknowledged, dropped or failed: its kept raw copy (if any) is freed."""
        if self.copies.pop(rec.frame_id, None) is not None:
            self.used -= rec.raw_bytes
            rec.raw_kept = False

    def _make_room(self, nbytes: int) -> bool:
        """Free kept raw copies, oldest first, until ``nbytes`` fit (or none is left); True if they fit."""
        while not self.fits(nbytes) and self.copies:
            _, old = self.copies.popitem(last=False)
            self.used -= old.raw_bytes
            old.raw_kept = False
            self.copies_freed += 1
        return self.fits(nbytes)


class PacketStore(_Space):
    """Compressed frames (their packets) from compression until the ground acknowledges them."""

    def __init__(self, env: simpy.Environment, capacity: float, policy: str, drop: Drop,
                 release: Callable[[FrameRecord], None]) -> None:
        super().__init__(capacity)
        self.env, self.policy, self.drop, self.release = env, policy, drop, release
        self.frames: OrderedDict[int, FrameRecord] = OrderedDict()  # compression order
        self._freed: simpy.Event = env.event()
        self._changed: simpy.Event | None = None  # only while someone watches the fill (sim.mission.faults)
        self.evicted_verified = 0

    def changed(self) -> simpy.Event:
        """An event that fires at the next change of the bytes stored."""
        if self._changed is None or self._changed.triggered:
            self._changed = self.env.event()
        return self._changed

    def _touch(self) -> None:
        if self._changed is not None and not self._changed.triggered:
            self._changed.succeed()

    def admit(self, rec: FrameRecord):
        """simpy process step (``yield from``): store a compressed frame; True if stored, False if dropped."""
        need = rec.packet_bytes
        if need > self.capacity:
            self.drop(rec, "packet_store_full")
            return False
        if self.policy == "stop_capture":
            while not self.fits(need):
                if self._freed.triggered:
                    self._freed = self.env.event()
                yield self._freed
        elif self.policy == "drop_oldest":
            for old in list(self.frames.values()):
                if self.fits(need):
                    break
                if old.busy:
                    continue
                if old.awaiting:
                    self.drop(old, "evicted_from_packet_store")
                else:  # verified on the ground, not yet acknowledged: its data is home
                    self.release(old)
                    self.evicted_verified += 1
        if not self.fits(need):
            self.drop(rec, "packet_store_full")
            return False
        self._add(need)
        self.frames[rec.frame_id] = rec
        rec.onboard = True
        self._touch()
        return True

    def remove(self, rec: FrameRecord) -> None:
        """Free a frame's packets (acknowledged, evicted or failed)."""
        if self.frames.pop(rec.frame_id, None) is not None:
            self.used -= rec.packet_bytes
            rec.onboard = False
            if not self._freed.triggered:
                self._freed.succeed()
            self._touch()

    def __contains__(self, frame_id: int) -> bool:
        return frame_id in self.frames

    def get(self, frame_id: int) -> FrameRecord | None:
        return self.frames.get(frame_id)

