"""How a run's command-line changes are written for a reader: the header's ``changed:`` line, plot titles and
metrics.json's ``description`` all use :func:`overrides_text`, so they say the same thing."""

from __future__ import annotations

from pathlib import Path


def overrides_text(overrides: dict[str, object]) -> str:
    """``{"radio.rate_bps": 4e6, "--station": ["A=1,2,3"]}`` -> ``"radio.rate_bps=4e6, --station A=1,2,3"``."""
    parts = []
    for key, value in overrides.items():
        for v in value if isinstance(value, list) and key.startswith("--") else [value]:
            parts.append(f"{key} {v}" if key.startswith("--") else f"{key}={short_value(v)}")
    return ", ".join(parts)


def short_value(value: object) -> str:
    """A value as a reader wants it: numbers in %g, paths by their file name."""
    if isinstance(value, float):  # 4e6 as written, not 4e+06
        return f"{value:g}".replace("e+0", "e").replace("e+", "e").replace("e-0", "e-")
    if isinstance(value, str) and "/" in value:
        return Path(value).name
    return str(value)
