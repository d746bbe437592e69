"""The ground segment: receives packets, rebuilds and verifies frames, and writes the ACK/NAK report.

Exact fidelity hands every packet's bytes to ``ground.reassembly.Reassembler``: it checks each CRC-16,
reassembles the frame across passes, decodes every tile and verifies the frame checksum bit-exact; a frame is
verified only when the Reassembler says so. A frame that is complete but does not verify (a damaged packet that
slipped past CRC-16) is forgotten and requested again whole. Statistical fidelity keeps, per frame, which parts
arrived intact, and calls a complete frame verified: the claim exact fidelity checks.

State is freed as soon as a frame is verified (its product would be written to the archive here).

Decoding is memoised on the exact tile payload bytes (:class:`sim.mission.memo.MemoCodec`): captured frames repeat
the camera's few distinct source frames, so most tiles arrive with a payload the ground has decoded before, and a
decoder is a pure function of (payload, shape, BITPIX) for a given codec and model. The memo skips only that repeated
arithmetic (it matters for the IDF, whose decode takes seconds per frame); reassembly, the per-tile CRC-32 and
the frame checksum over the decoded pixels still run on every frame. ``metrics.json`` reports the counts.
"""

from __future__ import annotations

import numpy as np

from flight.uplink import Report
from ground.reassembly import VERIFIED, Reassembler
from sim.mission.memo import MemoCodec


class MemoReassembler(Reassembler):
    """``ground.reassembly.Reassembler`` with memoised tile decoders (everything else unchanged)."""

    def __init__(self, idf_model: str | None = None) -> None:
        super().__init__(idf_model, wrap_codec=MemoCodec)

    def decode_counts(self) -> tuple[int, int]:
        """(tile decodes computed, tile decodes answered from the memo)."""
        memos = [c for c in self.codecs() if isinstance(c, MemoCodec)]
        return sum(c.decoded.computed for c in memos), sum(c.decoded.hits for c in memos)


class GroundSegment:
    """Everything the ground knows, learnt only from packets."""

    def __init__(self, exact: bool, idf_model: str | None = None) -> None:
        self.exact = exact
        self.reassembler = MemoReassembler(idf_model) if exact else None
        self._parts: dict[int, np.ndarray] = {}  # statistical: parts received, per frame
        self._to_ack: list[int] = []
        self._to_resend: list[int] = []
        self.frames_decoded = 0
        self.frames_rejected = 0
        self.packets_received = 0
        self.packets_rejected = 0  # CRC or header invalid

    def receive_packets(self, frame_id: int, packets: list[bytes]) -> str | None:
        """Exact: feed packet bytes; 'verified' or 'rejected' once the frame is complete, else None."""
        assert self.reassembler is not None
        accepted = 0
        for raw in packets:
            accepted += self.reassembler.add_packet(raw)
        self.packets_received += len(packets)
        self.packets_rejected += len(packets) - accepted
        try:
            missing = self.reassembler.missing_parts(frame_id)
        except KeyError:  # no valid packet of this frame yet
            return None
        if missing:
            return None
        result = self.reassembler.result(frame_id)
        self.frames_decoded += 1
        self._close(frame_id)
        if result.status == VERIFIED:
            self._to_ack.append(frame_id)
            return "verified"
        self.frames_rejected += 1
        self._to_resend.append(frame_id)
        return "rejected"

    def receive_parts(self, frame_id: int, part_count: int, parts: np.ndarray) -> str | None:
        """Statistical: these parts arrived intact; 'verified' once all have."""
        self.packets_received += len(parts)
        mask = self._parts.get(frame_id)
        if mask is None:
            if len(parts) == 0:
                return None
            if len(parts) == part_count:  # all of it, first time (parts are distinct)
                self._to_ack.append(frame_id)
                return "verified"
            mask = self._parts[frame_id] = np.zeros(part_count, dtype=bool)
        mask[parts] = True
        if not mask.all():
            return None
        self._close(frame_id)
        self._to_ack.append(frame_id)
        return "verified"

    def _close(self, frame_id: int) -> None:
        self._parts.pop(frame_id, None)
        if self.reassembler is not None:
            self.reassembler.forget(frame_id)

    def cancel(self, frame_id: int) -> None:
        """The spacecraft gave the frame up (evicted or failed): stop asking for it."""
        self._close(frame_id)

    def known_incomplete(self) -> list[int]:
        return self.reassembler.frame_ids() if self.reassembler is not None else sorted(self._parts)

    def report(self, now: float) -> Report:
        """ACK the frames verified since the last report, NAK the missing parts of the others it knows."""
        naks: dict[int, list[int]] = {}
        for fid in self.known_incomplete():
            if self.exact:
                naks[fid] = self.reassembler.missing_parts(fid)
            else:
                naks[fid] = np.flatnonzero(~self._parts[fid]).tolist()
        report = Report(covered_s=now, acks=self._to_ack, naks=naks, resend=self._to_resend)
        self._to_ack, self._to_resend = [], []
        return report
