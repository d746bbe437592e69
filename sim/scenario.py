"""Mission scenarios: a TOML file per mission, strictly validated, every number overridable.

Why strict: a data-budget answer built on a silently ignored typo (``rate_bsp``) is worse than no answer, so an
unknown key, a value of the wrong type or out of range is a one-line :class:`ScenarioError` naming the key (the
command line turns it into exit code 2). Every key, its unit, default and source is listed in
``docs/simulator.md``; the schema below is the single place that defines them: pydantic models with extra keys
forbidden, bounds as field constraints and choices as literals. Values are not coerced across types (TOML gives
exact ones: the string ``"2"`` is not a number, ``1`` is not ``true``); pydantic's errors are turned into the
one-line messages above (:func:`_one_line`).

A scenario file may start from another with ``extends = "leo"`` (tables merge key by key; arrays such as
``stations`` are replaced whole). Overrides use dotted paths, list items by index: ``radio.rate_bps``,
``stations.0.min_elevation_deg``.
"""

from __future__ import annotations

import copy
import difflib
import math
import re
import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PrivateAttr, ValidationError

from flight.errors import InputError
from sim.tle import TleError, check_line, iso_utc, looks_like_tle, read_tle_file, tle_epoch

SCENARIO_DIR = Path(__file__).resolve().parent / "scenarios"
FRAME_SUFFIXES = (".fits", ".fit", ".fts")


class ScenarioError(InputError):
    """A scenario that cannot be simulated: the message names the key or path and says why, on one line."""


def _f(default: Any, unit: str = "", *, ge: float | None = None, gt: float | None = None, le: float | None = None,
       lt: float | None = None, doc: str = "") -> Any:
    """A schema field: default, unit, bounds (``ge``/``gt`` below, ``le``/``lt`` above) and a one-line meaning."""
    kwargs: dict[str, Any] = {"default_factory": lambda: list(default)} if isinstance(default, list) else {
        "default": default}
    return Field(**kwargs, ge=ge, gt=gt, le=le, lt=lt, description=doc, json_schema_extra={"unit": unit})


# -- value types: TOML gives exact types, so no quiet coercion (a string "2" is not a number, 1 is not true) --


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"must be a number (got {value!r})")
    if not math.isfinite(value):
        raise ValueError(f"must be a finite number (got {value!r})")
    return float(value)


def _integer(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"must be a number (integer) (got {value!r})")
    if not math.isfinite(value) or float(value) != int(value):
        raise ValueError(f"must be an integer (got {value!r})")
    return int(value)


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"must be true or false (got {value!r})")
    return value


def _string(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"must be a string (got {value!r})")
    return value


def _choice(*names: str) -> Any:
    """A string that must be one of ``names``."""

    def check(value: Any) -> str:
        if _string(value) not in names:
            raise ValueError(f"must be one of {', '.join(names)} (got {value!r})")
        return value

    return Annotated[Literal[names], BeforeValidator(check)]


def _seconds(value: Any) -> float:
    """A time given as seconds (a number) or as a duration string (``"36h"``, ``"2d"``)."""
    try:
        seconds = duration_seconds(value)
    except ValueError:
        seconds = math.nan
    if not math.isfinite(seconds):
        raise ValueError(f"expected seconds or a duration like 6h, 2d (got {value!r})")
    return seconds


def _windows(value: Any) -> list[list[float]]:
    bad = ValueError("must be a list of [start, end] pairs in seconds with 0 <= start < end")
    if not isinstance(value, list):
        raise bad
    out = []
    for pair in value:
        if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(v, int | float) for v in pair)):
            raise bad
        start, end = float(pair[0]), float(pair[1])
        if not 0 <= start < end:
            raise bad
        out.append([start, end])
    return out


Num = Annotated[float, BeforeValidator(_number)]
Int = Annotated[int, BeforeValidator(_integer)]
Bool = Annotated[bool, BeforeValidator(_boolean)]
Str = Annotated[str, BeforeValidator(_string)]
Seconds = Annotated[float, BeforeValidator(_seconds)]
Windows = Annotated[list[list[float]], BeforeValidator(_windows)]


class _Table(BaseModel):
    """A scenario table: known keys only, values of the declared type and range, immutable once built."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class OrbitConfig(_Table):
    """Where the spacecraft is: orbital elements, a TLE, or (deep space) a fixed contact schedule."""

    kind: _choice("elements", "tle", "schedule") = _f("elements", doc="how contacts are found")
    epoch: Str = _f("2025-03-20T00:00:00Z", doc="simulation start (UTC, ISO 8601); also the elements' epoch")
    altitude_km: Num = _f(525.0, "km", ge=100.0, le=40000.0, doc="mean altitude above the equatorial radius")
    inclination_deg: Num = _f(97.5, "deg", ge=0.0, le=180.0)
    eccentricity: Num = _f(0.0, "", ge=0.0, lt=0.1)
    raan_deg: Num | None = _f(None, "deg", ge=0.0, le=360.0, doc="right ascension of the node; default from ltan_h")
    ltan_h: Num = _f(12.0, "h", ge=0.0, lt=24.0, doc="local time of the ascending node (SSO)")
    arg_perigee_deg: Num = _f(0.0, "deg", ge=0.0, le=360.0)
    mean_anomaly_deg: Num = _f(0.0, "deg", ge=0.0, le=360.0)
    bstar: Num = _f(0.0, "1/earth radii", ge=0.0, le=0.01, doc="SGP4 drag term (0: no decay)")
    tle_line1: Str = _f("", doc="TLE line 1 (kind = 'tle')")
    tle_line2: Str = _f("", doc="TLE line 2 (kind = 'tle')")
    tle_file: Str = _f("", doc="two- or three-line TLE file: sets kind = 'tle' and both lines; the start defaults "
                               "to its epoch")
    schedule_period_s: Num = _f(86400.0, "s", gt=0.0, doc="repeat period of the contact schedule")
    schedule_windows_s: Windows = _f([], "s", doc="[[start, end], ...] within each period (kind = 'schedule')")
    schedule_station: Str = _f("DSN", doc="name reported for scheduled contacts")


class StationConfig(_Table):
    """A ground station and its elevation mask."""

    name: Str = _f("station")
    lat_deg: Num = _f(0.0, "deg", ge=-90.0, le=90.0)
    lon_deg: Num = _f(0.0, "deg", ge=-180.0, le=360.0)
    alt_m: Num = _f(0.0, "m", ge=-500.0, le=9000.0)
    min_elevation_deg: Num = _f(10.0, "deg", ge=0.0, lt=90.0, doc="elevation mask")


class SyntheticConfig(_Table):
    """A synthetic sky: bias with column structure, sky, stars, cosmic rays, Poisson and read noise."""

    pool: Int = _f(4, "frames", ge=1, le=64, doc="distinct frames generated (cycled like a folder)")
    bias_adu: Num = _f(1000.0, "ADU", ge=0.0, le=60000.0)
    read_noise_e: Num = _f(5.0, "e-", ge=0.0, le=1000.0)
    gain_e_per_adu: Num = _f(1.5, "e-/ADU", gt=0.0, le=100.0)
    sky_e: Num = _f(40.0, "e-/pixel", ge=0.0, le=1e6)
    stars: Int = _f(400, "per frame", ge=0, le=1_000_000)
    star_peak_e_max: Num = _f(200000.0, "e-", ge=0.0, le=1e9, doc="brightest star's peak (power-law fluxes)")
    fwhm_px: Num = _f(2.5, "pixels", gt=0.0, le=100.0)
    cosmic_rays: Int = _f(20, "per frame", ge=0, le=1_000_000)


class CameraConfig(_Table):
    """The detector and its cadence, and where frame content comes from."""

    rows: Int = _f(2048, "pixels", ge=1, le=65536)
    cols: Int = _f(2048, "pixels", ge=1, le=65536)
    cadence_s: Num = _f(60.0, "s", gt=0.0)
    source: Str = _f("../frames", doc="folder of FITS frames (cycled), or 'synthetic'")
    capture: _choice("always", "eclipse", "sunlit") = _f("always", doc="when the camera takes frames")
    priority_every: Int = _f(0, "frames", ge=0, doc="every Nth frame is high priority (0: none)")
    synthetic: SyntheticConfig = Field(default_factory=SyntheticConfig)


class CodecConfig(_Table):
    """Container and packet parameters shared by every codec."""

    tile_rows: Int = _f(0, "pixels", ge=0, le=65536, doc="0 and 0: the codec's default (one row; IDF 128 x 128)")
    tile_cols: Int = _f(0, "pixels", ge=0, le=65536, doc="0 with tile_rows set: the whole width")
    packet_size: Int = _f(2048, "octets", ge=64, le=65542, doc="maximum CCSDS packet size")
    idf_model: Str = _f("", doc="IDF model bundle folder ('' = default bundle)")


class CpuConfig(_Table):
    """The flight computer's compression budget."""

    profile: _choice("cortex-a72", "cortex-a9") = _f("cortex-a72", doc="cycles-per-op profile")
    cores: Int | None = _f(None, "cores", ge=1, le=64, doc="default: the profile's")
    clock_hz: Num | None = _f(None, "Hz", gt=0.0, le=1e11, doc="default: the profile's")
    duty_cycle: Num = _f(1.0, "", gt=0.0, le=1.0, doc="share of core time for compression in sunlight")
    eclipse_duty_cycle: Num = _f(0.5, "", ge=0.0, le=1.0, doc="same, in eclipse (power-limited)")


class StorageConfig(_Table):
    """Onboard storage: a raw-frame buffer before the CPU and the packet store before the radio."""

    capacity_bytes: Num = _f(32e9, "bytes", gt=0.0, doc="packet store (compressed, until ACK)")
    raw_capacity_bytes: Num = _f(2e9, "bytes", gt=0.0, doc="raw frames waiting for the CPU")
    policy: _choice("drop_newest", "drop_oldest", "stop_capture") = _f(
        "drop_newest", doc="what happens when a store is full")
    keep_raw_until_ack: Bool = _f(False, doc="keep each raw frame (in the raw buffer) until the ground's ACK, so a "
                                             "corrupted stored packet can be regenerated")


class RadioConfig(_Table):
    """The downlink: information rate, framing overhead, queue order, and the uplink for ACK/NAK."""

    rate_bps: Num = _f(2e6, "bit/s", gt=0.0, doc="information rate while in contact")
    framing_overhead: Num = _f(0.10, "", ge=0.0, le=10.0, doc="extra link bits per packet bit (frames, ASM, fill)")
    queue: _choice("fifo", "lifo", "priority") = _f("fifo", doc="order of new frames on the downlink")
    retransmit_first: Bool = _f(True, doc="serve NAKed packets before new frames")
    uplink_rate_bps: Num = _f(64e3, "bit/s", gt=0.0, doc="telecommand rate for ACK/NAK lists")


class LinkConfig(_Table):
    """What the channel does to packets and passes (drawn from the run's seeded generator)."""

    ber: Num = _f(1e-7, "", ge=0.0, le=0.5, doc="bit error rate after decoding; PER = 1-(1-BER)^bits")
    packet_loss: Num = _f(0.0, "", ge=0.0, lt=1.0, doc="packet erasure probability (on top of BER)")
    missed_pass_probability: Num = _f(0.0, "", ge=0.0, le=1.0, doc="chance that a whole contact is lost")
    max_transmissions: Int = _f(0, "", ge=0, doc="per packet; 0: unlimited (CFDP class 2)")


class GroundConfig(_Table):
    """The ground segment's acknowledgement rhythm."""

    ack_interval_s: Num = _f(0.0, "s", ge=0.0, doc="ACK/NAK also every N s during a contact (0: at AOS only)")


class Outage(_Table):
    """A link outage: ``start`` and ``duration`` in seconds from the start (numbers, or strings like "2d")."""

    start: Seconds = Field(ge=0.0)
    duration: Seconds = Field(gt=0.0)


def _outages(value: Any) -> Any:
    """``[{start = "2d", duration = "3d"}, ...]``: a list of tables with exactly those two keys."""
    if not isinstance(value, list):
        raise ValueError(_OUTAGES_SHAPE)
    for i, item in enumerate(value):
        if not isinstance(item, dict | Outage) or (isinstance(item, dict) and set(item) != {"start", "duration"}):
            raise ValueError(f"{_OUTAGES_SHAPE}; item {i} is {item!r}")
    return value


_OUTAGES_SHAPE = "must be a list of {start = ..., duration = ...} tables (seconds or e.g. \"2d\")"


class FaultsConfig(_Table):
    """Faults injected on purpose (all off by default), drawn from the run's seed; see ``sim/mission/faults.py``."""

    reset_rate_per_day: Num = _f(0.0, "1/day", ge=0.0, le=1e4, doc="flight-computer resets (Poisson); a frame being "
                                                                     "compressed goes back to the raw buffer")
    reboot_s: Num = _f(60.0, "s", ge=0.0, le=86400.0, doc="time from a reset until the CPU compresses again")
    storage_upsets_per_bit_day: Num = _f(0.0, "1/(bit day)", ge=0.0, le=1.0, doc="bit flips in stored packets "
                                                                                  "(Poisson over the bytes held)")
    outages: Annotated[list[Outage], BeforeValidator(_outages)] = _f(
        [], "s", doc="link outages: [{start = \"2d\", duration = \"3d\"}, ...]; contact time inside them is lost")


def _stations(value: Any) -> Any:
    if not isinstance(value, list | tuple):
        raise ValueError("expected an array of tables ([[stations]])")
    return tuple(value)


class Scenario(_Table):
    """A whole mission: every number the simulator uses, resolved and validated."""

    name: Str = _f("scenario")
    description: Str = _f("")
    orbit: OrbitConfig = Field(default_factory=OrbitConfig)
    stations: Annotated[tuple[StationConfig, ...], BeforeValidator(_stations)] = ()
    camera: CameraConfig = Field(default_factory=CameraConfig)
    codec: CodecConfig = Field(default_factory=CodecConfig)
    cpu: CpuConfig = Field(default_factory=CpuConfig)
    storage: StorageConfig = Field(default_factory=StorageConfig)
    radio: RadioConfig = Field(default_factory=RadioConfig)
    link: LinkConfig = Field(default_factory=LinkConfig)
    ground: GroundConfig = Field(default_factory=GroundConfig)
    faults: FaultsConfig = Field(default_factory=FaultsConfig)
    _source_path: str = PrivateAttr("")  # the file it was loaded from (not a key)
    _overrides: dict = PrivateAttr(default_factory=dict)  # what the command line changed (not a key)

    @property
    def source_path(self) -> str:
        """The scenario file this was loaded from ('' when built in code)."""
        return self._source_path

    @property
    def overrides(self) -> dict[str, Any]:
        """What the command line changed, in order: ``{"radio.rate_bps": 4e6, "--station": "Kiruna=..."}``
        (``--set`` keys as given, ``--tle``, ``--start``, ``--stations`` and ``--station`` as flags); empty when
        none. Shown in the printed header, the plot titles and metrics.json's ``description``."""
        return dict(self._overrides)

    @property
    def start(self) -> datetime:
        """Simulation time zero as an aware UTC datetime."""
        return parse_epoch(self.orbit.epoch)

    def to_dict(self) -> dict:
        """Plain dict of every resolved value (for metrics.json and cache keys)."""
        out = self.model_dump()
        out["stations"] = list(out["stations"])
        return out

    def frame_folder(self) -> Path | None:
        """The frame folder, or None for a synthetic sky."""
        return None if self.camera.source == "synthetic" else Path(self.camera.source)


# -- loading ---------------------------------------------------------------------------------------------------


def shipped_scenarios() -> list[str]:
    """Names of the scenarios shipped in sim/scenarios."""
    return sorted(p.stem for p in SCENARIO_DIR.glob("*.toml"))


def load_scenario(name_or_path: str | Path, overrides: dict[str, Any] | None = None, *,
                  stations_file: str | Path | None = None, add_stations: list[str] | tuple[str, ...] = ()) -> Scenario:
    """Load a shipped scenario by name (``leo``) or a TOML file by path, apply ``{dotted.key: value}`` overrides.

    Override values may be Python values or strings written as on the command line (``"4e6"``, ``"fifo"``).
    Relative paths (frame folder, TLE file) resolve against the scenario file (or, from an override, the working
    directory). In order: the file; ``stations_file`` (TOML or CSV, :func:`read_stations`) replaces its
    stations; each ``add_stations`` item (``NAME=LAT,LON,ALT[,MASK]``, :func:`parse_station`) is added, or
    replaces the station of the same name; then ``overrides`` (so ``stations.N.*`` reaches any of them). With an
    orbit given as a TLE and no ``orbit.epoch`` beside it, the run starts at the TLE's epoch.
    Raises ScenarioError (one line naming the file, flag or key).
    """
    path = _scenario_path(name_or_path)
    raw = _read_with_extends(path, set())
    source = raw.get("camera", {}).get("source")
    if isinstance(source, str) and source != "synthetic":
        raw["camera"]["source"] = str((path.parent / source).resolve())
    raw.setdefault("name", path.stem)
    _apply_tle(raw, f"{path.name}: ")
    # Validate the file alone first, so an error names where the mistake is: the file, or a --set.
    _validated(raw, f"{path.name}: ")
    shown: dict[str, Any] = {}
    if stations_file is not None or add_stations:
        raw = copy.deepcopy(raw)
        if stations_file is not None:
            raw["stations"] = read_stations(stations_file)
            shown["--stations"] = str(stations_file)
        for text in add_stations:
            new = parse_station(text)
            raw["stations"] = [st for st in raw.get("stations", []) if st.get("name") != new["name"]] + [new]
            shown.setdefault("--station", [])
            shown["--station"].append(text)
        _validated(raw, "--station/--stations: ")
    if overrides:
        raw = copy.deepcopy(raw)
        keys = set(overrides)
        if keys & {"orbit.tle_file", "orbit.tle_line1", "orbit.tle_line2"} and "orbit.epoch" not in keys:
            raw.get("orbit", {}).pop("epoch", None)  # a new TLE starts at its own epoch unless told otherwise
        try:
            for key, value in overrides.items():
                value = parse_value(value) if isinstance(value, str) else value
                if isinstance(value, datetime):  # TOML reads 2026-01-01T00:00:00Z as a date-time
                    value = value.isoformat().replace("+00:00", "Z")
                if key in ("camera.source", "orbit.tle_file") and isinstance(value, str) and value not in (
                        "synthetic", ""):
                    value = str(Path(value).resolve())
                _set_path(raw, key, value)
                shown[key] = value
        except ScenarioError as exc:
            raise ScenarioError(f"--set {exc}") from None
        _apply_tle(raw, "--set: ")
    scenario = _validated(raw, "--set: " if overrides else "--station/--stations: " if shown else f"{path.name}: ",
                          path)
    scenario._overrides = shown
    return scenario


def _apply_tle(raw: dict, origin: str) -> None:
    """Read ``orbit.tle_file`` into ``kind``/``tle_line1``/``tle_line2`` (the file wins over lines beside it),
    and give a TLE orbit without an ``epoch`` the TLE's own epoch. ScenarioError for a bad file or line."""
    orbit = raw.get("orbit")
    if not isinstance(orbit, dict):
        return
    try:
        if isinstance(orbit.get("tle_file"), str) and orbit["tle_file"]:
            tle = read_tle_file(orbit["tle_file"])
            orbit.update(kind="tle", tle_line1=tle.line1, tle_line2=tle.line2)
        line1 = orbit.get("tle_line1")
        if orbit.get("kind") == "tle" and "epoch" not in orbit and isinstance(line1, str) and line1:
            epoch = tle_epoch(check_line(line1, 1, "orbit.tle_line1"), "orbit.tle_line1")
            orbit["epoch"] = iso_utc(epoch)
    except TleError as exc:
        raise ScenarioError(f"{origin}{exc}") from None


def _sets_tle(orbit: Any) -> bool:
    """Whether a scenario file's [orbit] table gives a TLE (so a base file's epoch does not apply to it)."""
    return isinstance(orbit, dict) and (orbit.get("kind") == "tle" or bool(orbit.get("tle_file"))
                                        or "tle_line1" in orbit)


def parse_station(text: str) -> dict[str, Any]:
    """``"Kiruna=67.86,20.96,390"`` or with a mask ``"Kiruna=67.86,20.96,390,5"`` -> a [[stations]] table
    (degrees, degrees east, metres, degrees). ScenarioError naming ``--station`` for anything else; the
    ranges are checked with the scenario (``stations.N.lat_deg must be <= 90``)."""
    name, sep, numbers = text.partition("=")
    parts = [p.strip() for p in numbers.split(",")]
    if not sep or not name.strip() or len(parts) not in (3, 4):
        raise ScenarioError(f"--station {text!r}: expected NAME=LAT,LON,ALT[,MASK] (degrees, degrees east, metres, "
                            "degrees), e.g. Kiruna=67.86,20.96,390,5")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise ScenarioError(f"--station {text!r}: LAT, LON, ALT and MASK must be numbers") from None
    keys = ["lat_deg", "lon_deg", "alt_m", "min_elevation_deg"]
    return {"name": name.strip(), **dict(zip(keys, values, strict=False))}


STATION_CSV_COLUMNS = ("name", "lat_deg", "lon_deg", "alt_m", "min_elevation_deg")


def read_stations(path: str | Path) -> list[dict[str, Any]]:
    """Ground stations from a file: TOML (``.toml``: ``[[stations]]`` tables with the scenario's station keys) or
    CSV (any other name: a header row naming columns of :data:`STATION_CSV_COLUMNS`, ``min_elevation_deg``
    optional, then one station a row). ScenarioError naming the file (and row) when it cannot be used."""
    p = Path(path)
    where = f"--stations {p}"
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError(f"{where}: not found") from None
    except UnicodeDecodeError:
        raise ScenarioError(f"{where}: not text (not UTF-8)") from None
    except OSError as exc:
        raise ScenarioError(f"{where}: cannot read ({exc.strerror})") from None
    if p.suffix.lower() == ".toml":
        try:
            stations = tomllib.loads(text).get("stations")
        except tomllib.TOMLDecodeError as exc:
            raise ScenarioError(f"{where}: not valid TOML ({exc})") from None
        if not isinstance(stations, list) or not stations:
            raise ScenarioError(f"{where}: expected one or more [[stations]] tables")
        return stations
    import csv
    import io

    rows = list(csv.DictReader(io.StringIO(text)))
    columns = set(rows[0]) if rows else set()
    missing = [c for c in STATION_CSV_COLUMNS[:4] if c not in columns]
    if not rows or missing:
        raise ScenarioError(f"{where}: expected a CSV header with {', '.join(STATION_CSV_COLUMNS)} "
                            f"(min_elevation_deg optional) and a row per station"
                            + (f"; missing {', '.join(missing)}" if rows else ""))
    unknown = sorted(c for c in columns if c not in STATION_CSV_COLUMNS)
    if unknown:
        raise ScenarioError(f"{where}: unknown column {unknown[0]} (columns: {', '.join(STATION_CSV_COLUMNS)})")
    out = []
    for i, row in enumerate(rows, start=2):
        station: dict[str, Any] = {"name": (row["name"] or "").strip()}
        for key in STATION_CSV_COLUMNS[1:]:
            value = (row.get(key) or "").strip()
            if not value and key == "min_elevation_deg":
                continue
            try:
                station[key] = float(value)
            except ValueError:
                raise ScenarioError(f"{where}: line {i}: {key} must be a number (got {value!r})") from None
        out.append(station)
    return out


def _validated(raw: dict, origin: str, path: Path | None = None) -> Scenario:
    """Build and cross-check a scenario; errors get ``origin`` in front (file name or --set)."""
    try:
        try:
            scenario = Scenario.model_validate(raw)
        except ValidationError as exc:
            raise ScenarioError(_one_line(exc)) from None
        _check(scenario)
    except ScenarioError as exc:
        raise ScenarioError(f"{origin}{exc}") from None
    scenario._source_path = str(path or "")
    return scenario


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """``["radio.rate_bps=4e6", ...]`` -> ``{"radio.rate_bps": 4e6}`` (values parsed as TOML, else strings)."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ScenarioError(f"--set {item!r}: expected KEY=VALUE, e.g. radio.rate_bps=4e6")
        out[key.strip()] = parse_value(value.strip())
    return out


def parse_value(text: str) -> Any:
    """A command-line value: a TOML literal (``4e6``, ``true``, ``[[0, 60]]``, ``"x"``), else the plain string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


_DURATION = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*(s|sec|m|min|h|hr|d|day|days|w)?\s*$")
_UNIT_S = {None: 1.0, "s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "hr": 3600.0, "d": 86400.0,
           "day": 86400.0, "days": 86400.0, "w": 604800.0}


def duration_seconds(value: str | float) -> float:
    """Seconds from a number (taken as seconds) or a duration string: ``"6h"``, ``"30d"``, ``"90min"``,
    ``"3600"``. Raises ValueError for anything else; the sign and range are the caller's to check."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(f"not a duration: {value!r}")
    if not isinstance(value, str):
        return float(value)
    match = _DURATION.match(value)
    if not match:
        raise ValueError(f"not a duration: {value!r}")
    return float(match.group(1)) * _UNIT_S[match.group(2)]


def parse_duration(text: str | float) -> float:
    """A run length from the command line or a study: ``"6h"``, ``"30d"``, ``3600`` -> seconds (> 0, finite);
    ScenarioError otherwise."""
    try:
        seconds = duration_seconds(text)
    except ValueError:
        raise ScenarioError(f"duration {text!r}: expected a number with unit s, min, h or d (e.g. 6h, 30d)") from None
    if not seconds > 0 or math.isinf(seconds):
        raise ScenarioError(f"duration {text!r}: must be > 0")
    return seconds


def parse_epoch(text: str) -> datetime:
    """ISO 8601 UTC time (``2025-03-20T00:00:00Z``) -> aware datetime; ScenarioError naming orbit.epoch."""
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ScenarioError(f"orbit.epoch {text!r}: expected ISO 8601 UTC, e.g. 2025-03-20T00:00:00Z") from None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def _scenario_path(name_or_path: str | Path) -> Path:
    text = str(name_or_path)
    if text in shipped_scenarios():
        return SCENARIO_DIR / f"{text}.toml"
    path = Path(text)
    if path.suffix == ".toml" or "/" in text or path.exists():
        if path.is_dir():
            raise ScenarioError(f"scenario file {text}: is a folder, not a TOML file")
        if not path.is_file():
            raise ScenarioError(f"scenario file {text}: not found")
        return path.resolve()
    raise ScenarioError(f"unknown scenario {text!r} (shipped: {', '.join(shipped_scenarios())}; or a .toml path)")


def _read_with_extends(path: Path, seen: set[Path]) -> dict:
    if path in seen:
        raise ScenarioError(f"scenario {path}: 'extends' loops back to itself")
    seen.add(path)
    try:
        text = path.read_text(encoding="utf-8")
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        if looks_like_tle(text):
            raise ScenarioError(f"scenario {path}: this is a TLE, not a scenario TOML: use --tle {path}") from None
        raise ScenarioError(f"scenario {path}: not valid TOML ({exc})") from None
    except UnicodeDecodeError:
        raise ScenarioError(f"scenario {path}: not valid TOML (not UTF-8 text)") from None
    except OSError as exc:
        raise ScenarioError(f"scenario {path}: cannot read ({exc.strerror})") from None
    orbit = raw.get("orbit")
    if isinstance(orbit, dict) and isinstance(orbit.get("tle_file"), str) and orbit["tle_file"]:
        orbit["tle_file"] = str((path.parent / orbit["tle_file"]).resolve())
    base_name = raw.pop("extends", None)
    if base_name is None:
        return raw
    if not isinstance(base_name, str):
        raise ScenarioError(f"scenario {path}: 'extends' must be a scenario name or path")
    base_path = _scenario_path(base_name) if base_name in shipped_scenarios() else (path.parent / base_name)
    if not base_path.is_file():
        raise ScenarioError(f"scenario {path}: extends {base_name!r}, which is not found")
    base = _read_with_extends(base_path.resolve(), seen)
    # The base's relative frame folder is relative to the base file, so resolve it before merging.
    src = base.get("camera", {}).get("source")
    if isinstance(src, str) and src != "synthetic":
        base["camera"]["source"] = str((base_path.parent / src).resolve())
    if _sets_tle(raw.get("orbit")) and "epoch" not in raw["orbit"] and isinstance(base.get("orbit"), dict):
        base["orbit"].pop("epoch", None)  # a TLE starts at its own epoch unless this file says otherwise
    return _merge(base, raw)


def _merge(base: dict, top: dict) -> dict:
    out = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _set_path(raw: dict, dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    node: Any = raw
    for i, part in enumerate(parts[:-1]):
        where = ".".join(parts[: i + 1])
        if isinstance(node, list):
            node = _list_item(node, part, where)
        else:
            if part not in node:
                node[part] = [] if part == "stations" else {}
            node = node[part]
        if not isinstance(node, dict | list):
            raise ScenarioError(f"--set {dotted}: {where} is a value, not a table")
    last = parts[-1]
    if isinstance(node, list):
        index = _list_index(node, last, dotted)
        node[index] = value
    else:
        node[last] = value


def _list_index(node: list, part: str, where: str) -> int:
    if not part.isdigit() or int(part) >= len(node):
        raise ScenarioError(f"{where}: no item {part!r} (the list has {len(node)} items, indexed from 0)")
    return int(part)


def _list_item(node: list, part: str, where: str) -> Any:
    return node[_list_index(node, part, where)]


_BOUNDS = {"greater_than": (">", "gt"), "greater_than_equal": (">=", "ge"), "less_than": ("<", "lt"),
           "less_than_equal": ("<=", "le")}


def _one_line(exc: ValidationError) -> str:
    """The first problem pydantic found, as today's one line naming the key: unknown keys first (with a
    did-you-mean), then the first bad value in the order of the schema."""
    errors = exc.errors(include_url=False)
    unknown = [e for e in errors if e["type"] == "extra_forbidden"]
    err = min(unknown, key=lambda e: len(e["loc"])) if unknown else errors[0]
    loc = [str(part) for part in err["loc"]]
    key = ".".join(loc)
    kind, value = err["type"], err.get("input")
    if kind == "extra_forbidden":
        known = _table_keys(err["loc"][:-1])
        guess = difflib.get_close_matches(loc[-1], known, n=1)
        prefix = ".".join(loc[:-1] + [""])
        return f"unknown key {key}" + (f" (did you mean {prefix}{guess[0]}?)" if guess else "")
    if kind in _BOUNDS:
        op, name = _BOUNDS[kind]
        return f"{key} must be {op} {err['ctx'][name]:g} (got {value:g})"
    if kind == "model_type":
        return f"{key or 'scenario'}: expected a table of keys, got {type(value).__name__}"
    text = str(err["ctx"]["error"]) if kind == "value_error" else err["msg"]
    return f"{key} {text}" if text.startswith("must") else f"{key}: {text}"


def _table_keys(loc: tuple) -> list[str]:
    """The keys of the table at ``loc`` (e.g. ``("stations", 0)``, ``("camera", "synthetic")``)."""
    model: type[BaseModel] = Scenario
    for part in loc:
        if isinstance(part, int):
            continue
        model = _SUBTABLES[part]
    return list(model.model_fields)


_SUBTABLES: dict[str, type[BaseModel]] = {
    "orbit": OrbitConfig, "stations": StationConfig, "camera": CameraConfig, "synthetic": SyntheticConfig,
    "codec": CodecConfig, "cpu": CpuConfig, "storage": StorageConfig, "radio": RadioConfig, "link": LinkConfig,
    "ground": GroundConfig, "faults": FaultsConfig, "outages": Outage}


def _check(s: Scenario) -> None:
    """Rules that involve several keys, or the file system."""
    o = s.orbit
    parse_epoch(o.epoch)
    if o.kind == "schedule":
        if not o.schedule_windows_s:
            raise ScenarioError("orbit.schedule_windows_s: a schedule orbit needs at least one [start, end] window")
        ends = sorted(o.schedule_windows_s)
        for (a0, a1), (b0, _b1) in zip(ends, ends[1:], strict=False):
            if b0 < a1:
                raise ScenarioError(f"orbit.schedule_windows_s: windows [{a0:g}, {a1:g}] and [{b0:g}, ...] overlap")
        if ends[-1][1] > o.schedule_period_s:
            raise ScenarioError("orbit.schedule_windows_s: a window ends after orbit.schedule_period_s")
    else:
        if not s.stations:
            raise ScenarioError("stations: an orbiting scenario needs at least one [[stations]] entry")
        if o.kind == "tle" and not (o.tle_line1.startswith("1 ") and o.tle_line2.startswith("2 ")):
            raise ScenarioError("orbit.tle_line1/tle_line2: kind = 'tle' needs both TLE lines")
        if o.kind == "tle":
            try:
                check_line(o.tle_line1, 1, "orbit.tle_line1")
                check_line(o.tle_line2, 2, "orbit.tle_line2")
            except TleError as exc:
                raise ScenarioError(str(exc)) from None
    folder = s.frame_folder()
    if folder is not None:
        if not folder.is_dir():
            raise ScenarioError(f"camera.source: frame folder not found: {folder}")
        try:
            names = list(folder.iterdir())
        except OSError as exc:
            raise ScenarioError(f"camera.source: cannot read {folder} ({exc.strerror or exc})") from None
        if not any(p.suffix.lower() in FRAME_SUFFIXES for p in names):
            raise ScenarioError(f"camera.source: no FITS files (*.fits, *.fit, *.fts) in {folder}")
    if s.cpu.eclipse_duty_cycle == 0 and s.camera.capture == "eclipse":
        raise ScenarioError("cpu.eclipse_duty_cycle = 0 with camera.capture = 'eclipse': nothing could be coded")


def schema_keys() -> list[tuple[str, Any, str, str]]:
    """(dotted key, default, unit, meaning) for every scenario key: what docs/simulator.md documents."""
    out: list[tuple[str, Any, str, str]] = []

    def walk(model: type[BaseModel], prefix: str) -> None:
        for name, info in model.model_fields.items():
            sub = _SUBTABLES.get(name) if name != "outages" else None
            if sub is not None:
                walk(sub, f"{prefix}{name}.N." if name == "stations" else f"{prefix}{name}.")
            else:
                extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
                out.append((f"{prefix}{name}", info.get_default(call_default_factory=True), str(extra.get("unit", "")),
                            info.description or ""))

    walk(Scenario, "")
    return out
