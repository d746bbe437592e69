"""What one decode run may allocate and list: a multiple of the stream bytes it read, plus a constant.

A hostile stream is cheap and can claim anything: ten 146-octet header packets each claiming a 4096 x 4096
int32 frame, or 35-octet packets each claiming 2^24 parts. Limits per frame (``docs/formats.md``, "Limits") do
not bound a run of many such frames, so a decode run keeps one :class:`RunBudget` for all its frames:

- pixel bytes: a frame's pixel buffer and mask (rows x cols x (bytes per pixel + 1)) are charged before they
  are allocated; a frame that would exceed ``FREE_BYTES + BYTES_PER_INPUT_BYTE x stream bytes`` (summed over
  the run) is not decoded and its report entry says why;
- report entries: missing parts (each listed as its index and as its packet) and missing tiles are listed while
  the run has listed fewer than ``FREE_ENTRIES + stream bytes // INPUT_BYTES_PER_ENTRY``, and then still the
  first ``ALWAYS_LISTED`` of each frame (a frame costs at least one 20-octet packet, so the total stays below
  ``FREE_ENTRIES`` + the stream bytes); the counts stay exact.

The resulting bounds on peak memory and bytes written are stated and measured in ``docs/reliability.md``
("Amplification").
"""

from __future__ import annotations

from dataclasses import dataclass

#: Pixel bytes any run may allocate whatever its size: one 4096 x 4096 int32 frame (64 MiB) fits. Same value as
#: ``ground.reassembly.ALLOC_FREE_BYTES``, the per-frame rule for runs without a budget.
FREE_BYTES = 64 << 20
#: Pixel bytes allowed per stream byte read. Lossless coding of real frames gains 1.5-5x; cfitsio RICE_1's best
#: case (a constant block: a few bits per 32 pixels) about 100x; the mask adds one byte per pixel. 256 leaves room
#: for every real stream while a hostile one gains no more than this.
BYTES_PER_INPUT_BYTE = 256
#: Report entries any run may list: one frame's full listing (``ground.reassembly.MAX_LISTED``).
FREE_ENTRIES = 65536
#: One more report entry per this many stream bytes (an entry costs about 100 bytes of report JSON).
INPUT_BYTES_PER_ENTRY = 8
#: Entries every frame may list even when the run's entries are spent (what the decoder's text output shows).
ALWAYS_LISTED = 8


@dataclass
class RunBudget:
    """Pixel bytes and report entries one decode run of ``input_bytes`` stream bytes may still spend."""

    input_bytes: int
    bytes_spent: int = 0
    entries_spent: int = 0

    @property
    def bytes_allowed(self) -> int:
        """FREE_BYTES + BYTES_PER_INPUT_BYTE x input bytes."""
        return FREE_BYTES + BYTES_PER_INPUT_BYTE * self.input_bytes

    @property
    def entries_allowed(self) -> int:
        """FREE_ENTRIES + input bytes // INPUT_BYTES_PER_ENTRY."""
        return FREE_ENTRIES + self.input_bytes // INPUT_BYTES_PER_ENTRY

    @property
    def entries_left(self) -> int:
        return max(0, self.entries_allowed - self.entries_spent)

    def take_bytes(self, n: int) -> bool:
        """Charge ``n`` pixel bytes if they fit in what is left (True), else charge nothing (False)."""
        if self.bytes_spent + n > self.bytes_allowed:
            return False
        self.bytes_spent += n
        return True

    def give_back_bytes(self, n: int) -> None:
        """Return ``n`` bytes charged for a buffer that was not allocated after all."""
        self.bytes_spent -= n

    def take_entries(self, n: int) -> None:
        """Charge ``n`` listed report entries (callers list at most ``entries_left``)."""
        self.entries_spent += n
