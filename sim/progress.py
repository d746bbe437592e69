"""A one-line progress bar on stderr for long runs (no dependency; silent when stderr is not a terminal
unless forced, so logs and tests stay clean)."""

from __future__ import annotations

import sys
import time


class ProgressBar:
    """Simulated time done out of the total, with wall time and an estimate of what is left."""

    def __init__(self, total: float, enabled: bool = True, label: str = "", width: int = 30) -> None:
        self.total, self.enabled, self.label, self.width = total, enabled, label, width
        self.t0 = time.perf_counter()
        self._last = -1.0

    def update(self, done: float) -> None:
        if not self.enabled:
            return
        now = time.perf_counter()
        if now - self._last < 0.2 and done < self.total:
            return
        self._last = now
        frac = min(1.0, done / self.total) if self.total else 1.0
        elapsed = now - self.t0
        eta = elapsed * (1 - frac) / frac if frac > 0 else 0.0
        filled = int(self.width * frac)
        bar = "#" * filled + "." * (self.width - filled)
        sys.stderr.write(f"\r{self.label} [{bar}] {frac:6.1%} sim {done / 86400:6.2f} d  "
                         f"wall {elapsed:5.1f} s  left ~{eta:4.0f} s ")
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            self.update(self.total)
            sys.stderr.write("\n")
            sys.stderr.flush()
