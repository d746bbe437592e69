"""Analytic Sun direction (Astronomical Almanac low-precision formulae, ~0.01 deg from 1950 to 2050).

Why analytic: eclipse entry and exit only need the Sun's direction to a few hundredths of a degree (a 0.01 deg
error moves a shadow boundary by under a second in LEO), and an ephemeris file would mean a download. The
direction is in the mean equator and equinox of date, the frame SGP4's TEME positions are (nearly) in.
"""

from __future__ import annotations

import numpy as np

J2000_JD = 2451545.0


def sun_direction(jd_utc: np.ndarray | float) -> np.ndarray:
    """Unit vector(s) from Earth to the Sun, shape (..., 3), equator of date, for Julian date(s) in UTC."""
    n = np.asarray(jd_utc, dtype=float) - J2000_JD
    mean_lon = np.radians((280.460 + 0.9856474 * n) % 360.0)
    anomaly = np.radians((357.528 + 0.9856003 * n) % 360.0)
    ecl_lon = mean_lon + np.radians(1.915) * np.sin(anomaly) + np.radians(0.020) * np.sin(2 * anomaly)
    obliquity = np.radians(23.439 - 0.0000004 * n)
    return np.stack(
        [np.cos(ecl_lon), np.cos(obliquity) * np.sin(ecl_lon), np.sin(obliquity) * np.sin(ecl_lon)], axis=-1
    )


def sun_right_ascension_deg(jd_utc: float) -> float:
    """The Sun's right ascension in degrees [0, 360): the reference for a sun-synchronous node's local time."""
    x, y, _ = sun_direction(jd_utc)
    return float(np.degrees(np.arctan2(y, x)) % 360.0)
