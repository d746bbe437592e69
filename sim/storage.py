"""Onboard storage: a raw-frame buffer in front of the CPU and a packet store in front of the radio.

Both have a capacity and the scenario's policy for a full store, applied the way flight software would:

- ``drop_newest``: the frame that does not fit is dropped (reason ``raw_buffer_full`` / ``packet_store_full``);
- ``drop_oldest``: the oldest frames are evicted until it fits (``evicted_from_raw_buffer`` /
  ``evicted_from_packet_store``); a frame the ground already verified is only freed, its data is home;
- ``stop_capture``: back-pressure: the CPU waits for packet-store space, the raw buffer then fills, and the camera
  skips captures (skips are counted, but a frame never taken is not a frame).

Compressed packets stay in the packet store until the ground acknowledges them (CFDP class 2 in spirit).
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable

import simpy

from sim.records import FrameRecord

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
        self._wakeup: simpy.Event = env.event()
        self.skipped_captures = 0

    def can_capture(self, nbytes: int) -> bool:
        """False only under stop_capture with no room: the camera then skips this capture."""
        if self.policy == "stop_capture" and not self.fits(nbytes):
            self.skipped_captures += 1
            return False
        return True

    def put(self, rec: FrameRecord) -> None:
        """Store a new raw frame, applying the policy when full."""
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

    def release(self, rec: FrameRecord) -> None:
        """The CPU is done with the raw frame (or it was evicted): free its bytes."""
        self.used -= rec.raw_bytes


class PacketStore(_Space):
    """Compressed frames (their packets) from compression until the ground acknowledges them."""

    def __init__(self, env: simpy.Environment, capacity: float, policy: str, drop: Drop,
                 release: Callable[[FrameRecord], None]) -> None:
        super().__init__(capacity)
        self.env, self.policy, self.drop, self.release = env, policy, drop, release
        self.frames: OrderedDict[int, FrameRecord] = OrderedDict()  # compression order
        self._freed: simpy.Event = env.event()
        self.evicted_verified = 0

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
        return True

    def remove(self, rec: FrameRecord) -> None:
        """Free a frame's packets (acknowledged, evicted or failed)."""
        if self.frames.pop(rec.frame_id, None) is not None:
            self.used -= rec.packet_bytes
            rec.onboard = False
            if not self._freed.triggered:
                self._freed.succeed()

    def __contains__(self, frame_id: int) -> bool:
        return frame_id in self.frames

    def get(self, frame_id: int) -> FrameRecord | None:
        return self.frames.get(frame_id)

