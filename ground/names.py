"""Product file names for one decode run: unique, never another frame's, within the file system's limit.

A frame's product is ``<name>.fits`` when verified and ``<name>.<status>.fits`` otherwise (``ground/products.py``).
Frame names come off the wire, so two frames may ask for one file: a repeated name, names that differ only in case
(one file on case-insensitive file systems), or a verified frame named ``x.incomplete`` beside an incomplete frame
``x``. The first frame (in frame-id order) gets the plain name; a later one gets ``<name>_<frame id>`` (then
``_<frame id>_<n>``), so no product ever replaces another's and no two report entries name one path. Names are cut
(at a character boundary, keeping the suffix) to the folder's NAME_MAX bytes (255 on Linux file systems).
"""

from __future__ import annotations

import os
from itertools import count
from pathlib import Path

RESERVED_FILES = ("report.json",)  # the run's own outputs
DEFAULT_NAME_MAX = 255  # POSIX NAME_MAX on ext4, xfs, btrfs, tmpfs; used when pathconf cannot tell


def name_max(folder: str | Path) -> int:
    """The longest file name (bytes) the file system of ``folder`` takes."""
    try:
        return int(os.pathconf(folder, "PC_NAME_MAX"))
    except (OSError, ValueError, AttributeError):
        return DEFAULT_NAME_MAX


def fit_name(stem: str, tail: str, limit: int) -> str:
    """``stem + tail``, ``stem`` cut at a character boundary so the UTF-8 length is at most ``limit`` bytes."""
    room = limit - len(tail.encode("utf-8"))
    raw = stem.encode("utf-8")
    if len(raw) > room:
        stem = raw[: max(room, 0)].decode("utf-8", errors="ignore")
    return stem + tail


class ProductNames:
    """Hands out product file names for one run; case-insensitively unique (``str.casefold``)."""

    def __init__(self, folder: str | Path, limit: int | None = None) -> None:
        self.limit = limit if limit is not None else name_max(folder)
        self._taken = {name.casefold() for name in RESERVED_FILES}

    def claim(self, name: str, status_suffix: str, frame_id: int) -> str:
        """A file name for frame ``frame_id`` called ``name`` whose product ends in ``status_suffix``
        (``.fits`` or ``.incomplete.fits``...), unused so far in this run, and take it."""
        for attempt in count():
            tag = "" if attempt == 0 else f"_{frame_id}" if attempt == 1 else f"_{frame_id}_{attempt}"
            candidate = fit_name(name, tag + status_suffix, self.limit)
            if candidate.casefold() not in self._taken:
                self._taken.add(candidate.casefold())
                return candidate
        raise AssertionError("unreachable")  # pragma: no cover
