"""Progress of a run on stderr: a tqdm bar on a terminal, plain lines otherwise (logs, pipes, batch jobs).

Modes (``make_progress``): ``"bar"`` (tqdm, in simulated days), ``"lines"`` (one line per ``LINE_EVERY_DAYS``
simulated days or per ``LINE_EVERY_CPU_S`` seconds of process CPU time, whichever comes first, and one per
calibration step), ``"off"``. ``python -m sim.run`` picks ``bar`` when stderr is a terminal, ``lines``
otherwise, and ``off`` with ``--no-progress``.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

from tqdm import tqdm

MODES = ("off", "bar", "lines")
LINE_EVERY_DAYS = 30.0  # simulated days between two progress lines (a 365-day run prints ~12)
LINE_EVERY_CPU_S = 10.0  # process CPU seconds between two lines, so a slow run still shows signs of life


class ProgressBar:
    """Simulated time done out of the total; a no-op when disabled (tests, ``--no-progress``)."""

    def __init__(self, total_s: float, enabled: bool = True, label: str = "") -> None:
        self._done = 0.0
        self._bar = tqdm(total=round(total_s / 86400.0, 3), unit="d", desc=label, disable=not enabled,
                         bar_format="{desc} {percentage:3.0f}%|{bar}| {n:.2f}/{total:.2f} sim d "
                                    "[{elapsed}<{remaining}]")

    def update(self, done_s: float) -> None:
        step = round(done_s / 86400.0, 3) - self._done
        if step > 0:
            self._bar.update(step)
            self._done += step

    def calibrating(self, done: int, total: int) -> None:
        """Calibration step ``done`` of ``total`` (the bar shows simulated days only)."""

    def close(self) -> None:
        self._bar.close()


class ProgressLines:
    """Progress as plain lines on ``stream`` (default stderr), e.g.
    ``progress leo rice statistical: 30.0/365.0 sim d (8 %), 12.3 s CPU``; calibration as
    ``progress leo rice statistical: calibration 3/16 frames encoded, 4.1 s CPU``."""

    def __init__(self, total_s: float, label: str = "", stream: TextIO | None = None,
                 every_days: float = LINE_EVERY_DAYS, every_cpu_s: float = LINE_EVERY_CPU_S) -> None:
        self.total_d, self.label, self.stream = total_s / 86400.0, label, stream
        self.every_days, self.every_cpu_s = every_days, every_cpu_s
        self._cpu0 = time.process_time()
        self._last_d, self._last_cpu = 0.0, self._cpu0

    def _say(self, text: str) -> None:
        print(f"progress {self.label}: {text}, {time.process_time() - self._cpu0:.1f} s CPU",
              file=self.stream or sys.stderr, flush=True)
        self._last_cpu = time.process_time()

    def update(self, done_s: float) -> None:
        """Simulated time ``done_s`` (s) reached: a line if a period of days or CPU has passed, or at the end."""
        done_d = done_s / 86400.0
        finished = done_d >= self.total_d
        if (done_d - self._last_d >= self.every_days or time.process_time() - self._last_cpu >= self.every_cpu_s
                or (finished and self._last_d < self.total_d)):
            pct = 100.0 * done_d / self.total_d if self.total_d else 100.0
            self._say(f"{done_d:.1f}/{self.total_d:.1f} sim d ({pct:.0f} %)")
            self._last_d = done_d

    def calibrating(self, done: int, total: int) -> None:
        """Calibration step ``done`` of ``total``: a line at the first, the last, and every CPU period."""
        if done in (0, total) or time.process_time() - self._last_cpu >= self.every_cpu_s:
            self._say(f"calibration {done}/{total} frames encoded")

    def close(self) -> None:
        """Nothing to release (every line is already flushed)."""


def make_progress(mode: str, total_s: float, label: str = "") -> ProgressBar | ProgressLines:
    """The progress reporter for ``mode`` (one of ``MODES``) over ``total_s`` simulated seconds.

    Raises ValueError for an unknown mode (a programming error: the CLI only passes ``MODES``)."""
    if mode == "lines":
        return ProgressLines(total_s, label)
    if mode in ("bar", "off"):
        return ProgressBar(total_s, enabled=mode == "bar", label=label)
    raise ValueError(f"progress mode must be one of {', '.join(MODES)} (got {mode!r})")
