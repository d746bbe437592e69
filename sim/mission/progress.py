"""Progress of a long run on stderr, in simulated days (tqdm)."""

from __future__ import annotations

from tqdm import tqdm


class ProgressBar:
    """Simulated time done out of the total; a no-op when disabled (tests, ``--no-progress``, pipes)."""

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

    def close(self) -> None:
        self._bar.close()
