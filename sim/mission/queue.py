"""The downlink queue: frames with packets waiting for the radio, in the order the scenario asks for.

Retransmissions and frames already started go first (``radio.retransmit_first``; they free storage soonest and
complete frames the ground holds in part), then new frames first-in-first-out (``fifo``), newest first
(``lifo``: the freshest science), or by priority class then age (``priority``, see ``camera.priority_every``).
"""

from __future__ import annotations

import heapq

from sim.mission.records import FrameRecord


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
