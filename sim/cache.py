"""A small on-disk cache for results that are slow to recompute and depend only on their inputs.

Pass geometry and codec calibration tables are pure functions of the scenario and the frames, so a repeated
run (or a trade study's hundred cells) reuses them. Entries are JSON files named by a hash of their key;
writes are atomic (temp file + rename) because study cells run in parallel processes. A cache that cannot be
written (read-only home) is skipped, never an error. Location: ``$ASTROFLIGHT_CACHE``, else
``$XDG_CACHE_HOME/astroflight``, else ``~/.cache/astroflight``.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from tools.files import write_atomic

#: Bump when the meaning of a cached value changes, so old entries are not reused.
CACHE_VERSION = 1


def cache_dir() -> Path:
    """Where cache entries live (not created until something is written)."""
    if os.environ.get("ASTROFLIGHT_CACHE"):
        return Path(os.environ["ASTROFLIGHT_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "astroflight"


def key_hash(key: Any) -> str:
    """Stable hash of a JSON-serialisable key."""
    text = json.dumps([CACHE_VERSION, key], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def load(kind: str, key: Any) -> Any | None:
    """The cached value for (kind, key), or None."""
    path = cache_dir() / kind / f"{key_hash(key)}.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def save(kind: str, key: Any, value: Any) -> None:
    """Store a JSON-serialisable value; silently does nothing when the cache is not writable."""
    folder = cache_dir() / kind
    try:
        folder.mkdir(parents=True, exist_ok=True)
        write_atomic(folder / f"{key_hash(key)}.json", json.dumps(value))
    except OSError:
        pass
