"""Orbit geometry: contact windows over the ground stations and eclipse intervals, in seconds from the start.

Passes come from skyfield's ``find_events`` on an SGP4 satellite built from the scenario's elements (or TLE),
with skyfield's builtin timescale: nothing is downloaded. Eclipses use SGP4 positions (TEME, equator of date) and
the analytic Sun of :mod:`sim.world.sun` with a cylindrical Earth shadow, which is what a data-budget model needs
(penumbra lasts ~10 s in LEO). A deep-space scenario (``orbit.kind = "schedule"``) has a fixed contact schedule
and no eclipses. Results are cached on disk per scenario geometry and duration (:mod:`sim.cache`).
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from sgp4.api import WGS72, Satrec

from sim import cache
from sim.scenario import OrbitConfig, Scenario, ScenarioError
from sim.world.sun import sun_direction, sun_right_ascension_deg

R_EARTH_KM = 6378.137
MU_KM3_S2 = 398600.4418
SGP4_EPOCH_JD = 2433281.5  # 1949 Dec 31 00:00 UT, SGP4's epoch origin
ECLIPSE_STEP_S = 20.0  # sampling before bisection: shorter than any LEO eclipse (> 20 min)


@dataclass(frozen=True)
class Contact:
    """A window when the radio can talk to the ground (seconds from the start)."""

    start: float
    end: float
    station: str
    max_elevation_deg: float = 90.0

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass
class Geometry:
    """What the spacecraft's position means for the mission: passes, merged contacts, eclipses."""

    duration_s: float
    passes: list[Contact]  # per station, possibly overlapping
    contacts: list[Contact]  # merged: one radio talks to one station at a time
    eclipses: list[tuple[float, float]]
    _eclipse_starts: list[float] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        self._eclipse_starts = [s for s, _ in self.eclipses]

    def in_eclipse(self, t: float) -> bool:
        i = bisect.bisect_right(self._eclipse_starts, t) - 1
        return i >= 0 and t < self.eclipses[i][1]

    def eclipse_fraction(self) -> float:
        return sum(e - s for s, e in self.eclipses) / self.duration_s if self.duration_s else 0.0

    def clip(self, duration_s: float) -> Geometry:
        """The same geometry cut at ``duration_s`` (windows running past it are shortened)."""

        def cut(items: list[Contact]) -> list[Contact]:
            return [Contact(c.start, min(c.end, duration_s), c.station, c.max_elevation_deg)
                    for c in items if c.start < duration_s]

        ecl = [(s, min(e, duration_s)) for s, e in self.eclipses if s < duration_s]
        return Geometry(duration_s, cut(self.passes), cut(self.contacts), ecl)

    def to_json(self) -> dict:
        as_list = [[c.start, c.end, c.station, c.max_elevation_deg] for c in self.passes]
        return {"duration_s": self.duration_s, "passes": as_list, "eclipses": [list(e) for e in self.eclipses]}

    @classmethod
    def from_json(cls, data: dict) -> Geometry:
        passes = [Contact(float(a), float(b), str(n), float(m)) for a, b, n, m in data["passes"]]
        return cls(data["duration_s"], passes, merge_contacts(passes), [tuple(e) for e in data["eclipses"]])


def compute_geometry(scenario: Scenario, duration_s: float, use_cache: bool = True) -> Geometry:
    """Passes, contacts and eclipses of ``scenario`` over [0, duration_s] (cached on disk)."""
    o = scenario.orbit
    if o.kind == "schedule":
        return _schedule(o, duration_s)
    # "passes": 2 since passes cut by the window's start or end are kept with their in-window peak.
    key = {"orbit": scenario.to_dict()["orbit"], "stations": scenario.to_dict()["stations"], "duration": duration_s,
           "passes": 2}
    if use_cache and (hit := cache.load("geometry", key)) is not None:
        return Geometry.from_json(hit)
    sat = build_satellite(o, scenario.start)
    passes = []
    for st in scenario.stations:
        passes += find_passes(sat, scenario.start, duration_s, st.lat_deg, st.lon_deg, st.alt_m,
                              st.min_elevation_deg, st.name)
    passes.sort(key=lambda c: c.start)
    geo = Geometry(duration_s, passes, merge_contacts(passes), find_eclipses(sat, scenario.start, duration_s))
    if use_cache:
        cache.save("geometry", key, geo.to_json())
    return geo


def build_satellite(o: OrbitConfig, start: datetime) -> Satrec:
    """An SGP4 satellite from a TLE or from mean elements (node from ``raan_deg`` or the local time ``ltan_h``)."""
    if o.kind == "tle":
        try:
            sat = Satrec.twoline2rv(o.tle_line1, o.tle_line2)
        except ValueError as exc:
            raise ScenarioError(f"orbit.tle_line1/tle_line2: not a valid TLE ({exc})") from None
        if sat.error:
            raise ScenarioError(f"orbit.tle_line1/tle_line2: SGP4 rejects the TLE (error {sat.error})")
        return sat
    jd = julian_date(start)
    a = R_EARTH_KM + o.altitude_km
    mean_motion = math.sqrt(MU_KM3_S2 / a**3) * 60.0  # rad/min
    if o.raan_deg is not None:
        raan = o.raan_deg
    else:
        # Local time of the node = 12 h + (node RA - Sun RA) / 15 deg/h.
        raan = (sun_right_ascension_deg(jd) + (o.ltan_h - 12.0) * 15.0) % 360.0
    sat = Satrec()
    sat.sgp4init(WGS72, "i", 1, jd - SGP4_EPOCH_JD, o.bstar, 0.0, 0.0, o.eccentricity,
                 math.radians(o.arg_perigee_deg), math.radians(o.inclination_deg),
                 math.radians(o.mean_anomaly_deg), mean_motion, math.radians(raan))
    return sat


def julian_date(dt: datetime) -> float:
    """Julian date (UTC) of an aware datetime."""
    return 2440587.5 + dt.timestamp() / 86400.0


def find_passes(sat: Satrec, start: datetime, duration_s: float, lat: float, lon: float, alt_m: float,
                mask_deg: float, name: str) -> list[Contact]:
    """Passes above ``mask_deg`` over [0, duration_s] (skyfield ``find_events``), in seconds from ``start``.

    A pass already under way at the start, or still under way at the end, is clipped to the window and kept:
    skyfield reports no rise (or no set) for it, and none at all when the whole window is inside one pass, so
    the elevation at both ends is looked at whatever the events are. ``max_elevation_deg`` is the highest
    elevation inside the window: the culmination when it falls inside, else the elevation at the clipped end
    (the elevation is monotonic on either side of a culmination).
    """
    from skyfield.api import EarthSatellite, load, wgs84

    ts = load.timescale(builtin=True)
    t0 = ts.from_datetime(start)
    t1 = t0 + duration_s / 86400.0
    es = EarthSatellite.from_satrec(sat, ts)
    station = wgs84.latlon(lat, lon, elevation_m=alt_m)
    times, events = es.find_events(station, t0, t1, altitude_degrees=mask_deg)
    secs = (times.tt - t0.tt) * 86400.0
    out: list[Contact] = []
    rise: float | None = None
    el_start = _elevation(es, station, t0)
    peak = mask_deg
    if el_start > mask_deg and not (len(events) and events[0] == 0):
        rise, peak = 0.0, el_start  # in view at the start
    for t, ev, tt in zip(secs, events, times, strict=True):
        if ev == 0:
            rise, peak = float(t), mask_deg
        elif ev == 1:
            peak = max(peak, _elevation(es, station, tt))
            if rise is None:
                rise, peak = 0.0, max(peak, el_start)
        elif ev == 2:
            if rise is None:  # set before any rise: in view at the start, by a hair above the mask
                rise, peak = 0.0, max(peak, el_start)
            out.append(Contact(rise, float(t), name, round(peak, 2)))
            rise = None
    if rise is not None:
        peak = max(peak, _elevation(es, station, t1))
        out.append(Contact(rise, duration_s, name, round(peak, 2)))
    return out


ACCESS_STEP_S = 5.0  # sampling of the slant range within a contact; the minimum is refined by a parabola


def access_geometry(scenario: Scenario, contacts: list[tuple[float, float, str]]) -> list[dict[str, float]]:
    """Azimuth at AOS and LOS and the minimum slant range of each contact, for an access report.

    ``contacts``: (start_s, end_s, station) with merged station names joined by '+'; the AOS azimuth is from the
    first station named, the LOS azimuth from the last, the minimum range over every station named. Returns one
    dict a contact: ``aos_azimuth_deg``, ``los_azimuth_deg`` (degrees clockwise from true north, 0-360) and
    ``min_range_km`` (km, sampled every ``ACCESS_STEP_S`` seconds and at both ends, the minimum refined by
    :func:`_min_refined` to metres); NaN for a schedule orbit
    (no geometry) or a station name the scenario does not have.
    """
    nan = {"aos_azimuth_deg": math.nan, "los_azimuth_deg": math.nan, "min_range_km": math.nan}
    if scenario.orbit.kind == "schedule" or not contacts:
        return [dict(nan) for _ in contacts]
    from skyfield.api import EarthSatellite, load, wgs84

    ts = load.timescale(builtin=True)
    es = EarthSatellite.from_satrec(build_satellite(scenario.orbit, scenario.start), ts)
    t0 = ts.from_datetime(scenario.start)
    where = {st.name: es - wgs84.latlon(st.lat_deg, st.lon_deg, elevation_m=st.alt_m) for st in scenario.stations}
    # One vectorised skyfield call per station over every contact's samples (a call per contact cost ~17 ms).
    samples = [np.append(np.arange(start, end, ACCESS_STEP_S), end) for start, end, _ in contacts]
    bounds = np.cumsum([0] + [len(x) for x in samples])
    times = ts.tt_jd(t0.tt + np.concatenate(samples) / 86400.0)
    ranges, azimuths = {}, {}
    for name, vec in where.items():
        _, az, dist = vec.at(times).altaz()
        ranges[name], azimuths[name] = dist.km, az.degrees
    out = []
    for k, (_, _, names) in enumerate(contacts):
        seen = [n for n in names.split("+") if n in where]
        if not seen:
            out.append(dict(nan))
            continue
        lo, hi = bounds[k], bounds[k + 1]
        out.append({"aos_azimuth_deg": round(float(azimuths[seen[0]][lo]), 2),
                    "los_azimuth_deg": round(float(azimuths[seen[-1]][hi - 1]), 2),
                    "min_range_km": round(min(_min_refined(ranges[n][lo:hi]) for n in seen), 2)})
    return out


def _min_refined(r: np.ndarray) -> float:
    """The minimum of a range curve sampled every ``ACCESS_STEP_S``: the vertex of the parabola through the
    lowest sample and its neighbours (the sampled minimum alone is up to ~0.4 km high at 5 s in LEO, where
    range ~ sqrt(r0^2 + v^2 t^2) curves by v^2 / 2 r0 ~ 0.06 km/s^2); the sample itself at an end."""
    i = int(np.argmin(r))
    if 0 < i < len(r) - 2:  # the last step may be shorter than the others: keep the parabola off it
        a, b, c = float(r[i - 1]), float(r[i]), float(r[i + 1])
        curve = a - 2 * b + c
        if curve > 0:
            return b - (c - a) ** 2 / (8 * curve)
    return float(r[i])


def _elevation(es, station, t) -> float:
    alt, _, _ = (es - station).at(t).altaz()
    return float(alt.degrees)


def merge_contacts(passes: list[Contact]) -> list[Contact]:
    """Union of overlapping windows (one radio): a merged window names its stations joined by '+'."""
    merged: list[Contact] = []
    for c in sorted(passes, key=lambda c: c.start):
        if merged and c.start <= merged[-1].end:
            last = merged[-1]
            names = last.station if c.station in last.station.split("+") else f"{last.station}+{c.station}"
            merged[-1] = Contact(last.start, max(last.end, c.end), names,
                                 max(last.max_elevation_deg, c.max_elevation_deg))
        else:
            merged.append(c)
    return merged


def _positions_km(sat: Satrec, jd0: float, t: np.ndarray) -> np.ndarray:
    """TEME positions (km), shape (n, 3), at ``t`` seconds after Julian date ``jd0``."""
    jd_int = np.full(t.shape, math.floor(jd0))
    fr = (jd0 - math.floor(jd0)) + t / 86400.0
    err, r, _ = sat.sgp4_array(jd_int, fr)
    if np.any(err):
        raise ScenarioError(f"orbit: SGP4 propagation failed (error {int(err[err != 0][0])}); check the elements")
    return r


def _shadow_margin(sat: Satrec, jd0: float, t: np.ndarray) -> np.ndarray:
    """Distance (km) from the shadow cylinder's wall: negative inside the Earth's shadow."""
    r = _positions_km(sat, jd0, t)
    s = sun_direction(jd0 + t / 86400.0)
    along = np.einsum("ij,ij->i", r, s)
    perp = np.linalg.norm(r - along[:, None] * s, axis=1)
    return np.where(along < 0, perp - R_EARTH_KM, perp + R_EARTH_KM)


def find_eclipses(sat: Satrec, start: datetime, duration_s: float) -> list[tuple[float, float]]:
    """Intervals in the cylindrical shadow, sampled every 20 s and refined by bisection to ~1 ms."""
    jd0 = julian_date(start)
    t = np.arange(0.0, duration_s + ECLIPSE_STEP_S, ECLIPSE_STEP_S)
    t[-1] = min(t[-1], duration_s)
    inside = _shadow_margin(sat, jd0, t) < 0
    change = np.flatnonzero(inside[1:] != inside[:-1])
    lo, hi = t[change].copy(), t[change + 1].copy()
    lo_in = inside[change]
    for _ in range(15):  # 20 s / 2^15 < 1 ms
        mid = 0.5 * (lo + hi)
        mid_in = _shadow_margin(sat, jd0, mid) < 0 if len(mid) else np.zeros(0, bool)
        same = mid_in == lo_in
        lo = np.where(same, mid, lo)
        hi = np.where(same, hi, mid)
    edges = 0.5 * (lo + hi)
    out: list[tuple[float, float]] = []
    begin = 0.0 if inside[0] else None
    for edge, entering in zip(edges, ~lo_in, strict=True):
        if entering:
            begin = float(edge)
        elif begin is not None:
            out.append((begin, float(edge)))
            begin = None
    if begin is not None:
        out.append((begin, float(duration_s)))
    return out


def _schedule(o: OrbitConfig, duration_s: float) -> Geometry:
    contacts = []
    period = o.schedule_period_s
    for k in range(int(math.ceil(duration_s / period))):
        for a, b in o.schedule_windows_s:
            if k * period + a < duration_s:
                contacts.append(Contact(k * period + a, min(k * period + b, duration_s), o.schedule_station))
    return Geometry(duration_s, contacts, list(contacts), [])
